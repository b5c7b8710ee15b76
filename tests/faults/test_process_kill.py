"""O8 with a real kill: order_push runs in a worker process that gets SIGKILL while it is creating
documents (no finally, no except, no lease release); a rerun in another process resolves the
intents by reference and leaves exactly one document per order (duplicate check off).

The kill lands at a point the sandbox reports, not after a timed sleep: Gestionix holds the
answers from the seed's N-th created document on, and signals when it has created N
(GET /_sandbox/documents_created long-polls); so the worker dies with documents created whose
ids it never received."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from flows.orders import order_push
from store import binder
from store.db import session_scope
from store.models import Lease
from tests.kit.fast_clients import fast_clients
from tests.kit.sandbox_orders import activate, by_reference, customer, order, seed_catalog
from tests.kit.tenants import make_tenant

pytestmark = [pytest.mark.flow, pytest.mark.faults]

WORKER = """
import asyncio, sys
from flows.orders import order_push
from mappings.tenant import TenantConfig
asyncio.run(order_push(TenantConfig.model_validate_json(sys.argv[1])))
"""


def expire_leases(slug: str) -> None:
    """What the lease TTL does for a killed holder, without waiting 15 minutes."""
    with session_scope() as session:
        for lease in session.exec(select(Lease).where(Lease.tenant == slug)):
            lease.expires_at = datetime.now(UTC) - timedelta(seconds=1)
            session.add(lease)


@pytest.mark.parametrize("seed", [1, 2])
async def test_o8_sigkill_of_the_worker_mid_push_then_rerun_leaves_one_document_per_order(
    prefect_harness, sandbox, seed
):
    from prefect.settings import PREFECT_API_URL

    sb = sandbox
    rng = random.Random(seed)
    sb.set_handy_knobs(rate_limit_per_minute=0)
    hold_from = rng.randint(1, 8)  # the worker sends at most 8 creates at once: 24 never all land
    sb.set_gestionix_knobs(reject_duplicate_reference=False, hold_answers_from_document=hold_from)
    tenant = make_tenant(sb)
    codes = seed_catalog(sb, 4)
    customer(sb, "C-1", "Depósito El Sol")
    placed = [order(sb, "C-1", [(codes[n % 4], n + 1)]) for n in range(24)]
    activate(tenant.slug)
    env = {
        **os.environ,
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, tenant.model_dump_json()],
        env=env,
        cwd=os.getcwd(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    for _ in range(60):  # one-second long polls, so a worker that dies early is reported
        if sb.wait_documents_created(hold_from, timeout=1.0) >= hold_from:
            break
        assert worker.poll() is None, worker.stderr.read().decode()[-2000:]
    else:
        pytest.fail(f"the worker created fewer than {hold_from} documents in 60 s")
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    sb.set_gestionix_knobs(hold_answers_from_document=0)  # answers to a dead worker go nowhere
    created_before_kill = sb.gestionix.stats.calls["POST /sales_orders"]
    assert 1 <= created_before_kill < len(placed), "the kill did not land mid-push"
    left = [b for b in binder.all_for(tenant.slug, "order") if b.status == "intent"]
    unanswered = sb.gestionix.documents_created - hold_from + 1
    assert unanswered >= 1 and len(left) >= unanswered, "created documents must be left as intents"

    expire_leases(tenant.slug)
    fast_clients(tenant.slug)
    await order_push(tenant)

    assert by_reference(sb) == {f"HANDY-{o['id']}": 1 for o in placed}
    assert not [b for b in binder.all_for(tenant.slug, "order") if b.status == "intent"]
    for o in placed:
        assert sb.handy.orders[o["id"]]["externalId"] is not None
    print(f"seed {seed}: killed after {created_before_kill} creates, {len(left)} intents left")
