"""Prefect events the automations listen to (X4): held orders, reconciliation differences, runs
with issues. Every event names the tenant as a related resource, so one automation serves all
tenants and its notification says which one.

Event names (the automations in automations.yaml match these exactly):
  hgsync.order.held       an order (or its deletion) was held for the first time (dead letter opened)
  hgsync.order.resolved   a held order went through, or was closed (its dead letter resolved)
  hgsync.reconcile.difference   one order of a reconciled day differs (missing, orphan, ...)
  hgsync.run.issues       a run ended "Completed with issues"
"""

from __future__ import annotations

from typing import Any

from prefect.events import emit_event

ORDER_HELD = "hgsync.order.held"
ORDER_RESOLVED = "hgsync.order.resolved"
RECONCILE_DIFFERENCE = "hgsync.reconcile.difference"
RUN_ISSUES = "hgsync.run.issues"


def tenant_resource(slug: str) -> dict[str, str]:
    return {
        "prefect.resource.id": f"hgsync.tenant.{slug}",
        "prefect.resource.role": "tenant",
        "prefect.resource.name": slug,
    }


def order_resource(slug: str, entity: str, key: str) -> dict[str, str]:
    """One resource per tenant, kind (order push / order deletion) and Handy order id, so a
    proactive trigger can wait for the `resolved` of the very `held` it saw."""
    return {
        "prefect.resource.id": f"hgsync.{entity}.{slug}.{key}",
        "prefect.resource.name": f"{entity} {key}",
        "hgsync.tenant": slug,
        "hgsync.entity": entity,
        "hgsync.key": str(key),
    }


def _emit(event: str, resource: dict[str, str], slug: str, payload: dict[str, Any]) -> None:
    emit_event(
        event=event,
        resource=resource,
        related=[tenant_resource(slug)],
        payload={"tenant": slug, **{k: str(v)[:500] for k, v in payload.items()}},
    )


def order_held(slug: str, entity: str, key: str, reason: str) -> None:
    _emit(ORDER_HELD, order_resource(slug, entity, key), slug, {"reason": reason})


def order_resolved(slug: str, entity: str, key: str) -> None:
    _emit(ORDER_RESOLVED, order_resource(slug, entity, key), slug, {})


def reconcile_difference(slug: str, day: str, order_id: str, outcome: str, reason: str) -> None:
    _emit(
        RECONCILE_DIFFERENCE,
        order_resource(slug, "order", order_id),
        slug,
        {"day": day, "outcome": outcome, "reason": reason},
    )


def run_issues(slug: str, flow: str, headline: str, summary: str) -> None:
    resource = {
        "prefect.resource.id": f"hgsync.run.{slug}.{flow}",
        "prefect.resource.name": f"{slug} {flow}",
        "hgsync.tenant": slug,
        "hgsync.flow": flow,
    }
    _emit(RUN_ISSUES, resource, slug, {"headline": headline, "summary": summary})
