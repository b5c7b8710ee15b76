"""Run names and tags (X4): every flow run is named `<tenant> · <flow> · <local time>` and tagged
`tenant:<slug>` and the flow's tag, however it starts (deployment, `hgsync run`, the demo, serve,
a subflow), so the UI's tag filter `tenant:<slug>` finds all of a tenant's runs."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from prefect import tags
from prefect.context import FlowRunContext


def _tenant_field(tenant: Any, name: str) -> Any:
    # A deployment run may still hold the tenant as the dict of prefect.yaml.
    return tenant.get(name) if isinstance(tenant, dict) else getattr(tenant, name, None)


def run_name(flow_key: str) -> Callable[[], str]:
    """A `flow_run_name` callable: Prefect calls it inside the new run, where the parameters are."""

    def name() -> str:
        context = FlowRunContext.get()
        tenant = (context.parameters or {}).get("tenant") if context else None
        slug = _tenant_field(tenant, "slug") or "?"
        try:
            zone = ZoneInfo(_tenant_field(tenant, "handy_timezone") or "UTC")
        except (KeyError, ValueError):
            zone = UTC
        return f"{slug} · {flow_key} · {datetime.now(zone):%Y-%m-%d %H:%M}"

    return name


def tenant_tags(slug: str, flow_key: str) -> AbstractContextManager:
    """Tags for the runs started inside (flow runs from code and subflows): the deployment's own
    tags, `tenant:<slug>` and the flow key, as prefect.yaml gives them."""
    return tags(f"tenant:{slug}", flow_key)
