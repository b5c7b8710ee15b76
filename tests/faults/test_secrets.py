"""A2: the Handy token and the Gestionix password never appear in a log line (DEBUG included, our
loggers and the Prefect run logs), an artifact, a flow run's parameters, an audit row (runs, run
items, dead letters) or an exception text — across every flow, retries, a re-login after token
expiry, and runs that fail on refused credentials."""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlmodel import select

from flows.catalog import catalog_pull
from flows.customers import customer_sync
from flows.deletions import deletion_sync
from flows.orders import order_push
from sandbox.gestionix import DEMO_USER
from store.db import session_scope
from store.models import DeadLetter, RunItem, SyncRun
from tests.kit.fast_clients import fast_clients
from tests.kit.prefect_texts import prefect_texts
from tests.kit.sandbox_orders import activate, customer, delete, order
from tests.kit.tenants import make_tenant

pytestmark = [pytest.mark.flow, pytest.mark.faults]

# Distinctive values that cannot occur by chance in any text.
HANDY_TOKEN = f"hndy-tok-{uuid.uuid4().hex}"
GESTIONIX_PASSWORD = f"gx-pass-{uuid.uuid4().hex}"
SECRETS = (HANDY_TOKEN, GESTIONIX_PASSWORD)


def leaks(text: str) -> list[str]:
    return [
        name
        for name, secret in zip(("Handy token", "Gestionix password"), SECRETS, strict=True)
        if secret in text or secret[-16:] in text
    ]


def use_distinct_secrets(sb) -> None:
    sb.handy.token = sb.handy_token = HANDY_TOKEN
    sb.gestionix.users[DEMO_USER]["password"] = sb.gestionix_password = GESTIONIX_PASSWORD


def store_texts() -> str:
    with session_scope() as session:
        rows = list(session.exec(select(SyncRun))) + list(session.exec(select(RunItem)))
        rows += list(session.exec(select(DeadLetter)))
        return "\n".join(repr(row.model_dump()) for row in rows)


async def test_a2_no_secret_in_logs_artifacts_parameters_audit_rows_or_errors(
    prefect_harness, sandbox, caplog
):
    """A2: every flow at DEBUG, with 5xx retries and a Gestionix re-login mid-run, then runs that
    fail because each credential is refused: neither secret appears anywhere."""
    sb = sandbox
    use_distinct_secrets(sb)
    sb.set_handy_knobs(rate_limit_per_minute=0)
    tenant = make_tenant(sb)
    fast_clients(tenant.slug)
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []

    await catalog_pull(tenant)
    await customer_sync(tenant)
    codes = list(sb.handy.products)[:3]
    customer(sb, "C-1", "Depósito El Sol")
    activate(tenant.slug)
    placed = [
        order(sb, "C-1", [(codes[0], 1)]),
        order(sb, {"code": "H-NEW-1", "description": "Tiendita Nueva"}, [(codes[1], 2)]),
    ]
    sb.set_knobs(fail_rate=0.2)
    sb.gestionix.expire_tokens()  # the next Gestionix call re-logs in (sends the password)
    for flow in (order_push, deletion_sync):
        try:
            await flow(tenant)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{exc!s} {exc!r}")
    sb.set_knobs(fail_rate=0)
    await order_push(tenant)
    delete(sb, placed[0]["id"])
    await deletion_sync(tenant)

    # Refused credentials: the error says so without quoting what was sent.
    sb.handy.token = "another-token-entirely"
    with pytest.raises(Exception) as handy_refused:
        await catalog_pull(tenant)
    sb.handy.token = HANDY_TOKEN
    sb.gestionix.users[DEMO_USER]["password"] = "changed-by-the-customer"
    sb.gestionix.expire_tokens()
    order(sb, "C-1", [(codes[2], 1)])
    with pytest.raises(Exception) as gestionix_refused:
        await order_push(tenant)
    for info in (handy_refused, gestionix_refused):
        errors.append(f"{info.value!s} {info.value!r} {info.value.__cause__!r}")
    assert (
        "401" in errors[-2] or "refused" in errors[-2].lower() or "credential" in errors[-2].lower()
    )

    assert not leaks(caplog.text), "secret in a log record"
    assert any(r.levelno == logging.DEBUG for r in caplog.records), "DEBUG was not captured"
    assert not leaks("\n".join(errors)), "secret in an exception text"
    assert not leaks(store_texts()), "secret in an audit row"
    assert not leaks(await prefect_texts()), "secret in Prefect logs, artifacts or parameters"
