"""S3/O8/X1 against lease and store faults, on PostgreSQL (HGSYNC_TEST_POSTGRES_URL), with
Gestionix's duplicate-reference rejection OFF so only our fencing stands between a fault and a
duplicate:

- a holder frozen (SIGSTOP) past its lease TTL, a worker whose clock runs 20 minutes ahead takes
  over, then the frozen holder resumes (SIGCONT): the resumed holder stops, and after the next
  run 0 duplicates (a create already past the write gate when it froze is recorded and removed);
- a worker 20 minutes ahead meets a live holder: it does not take the lease;
- PostgreSQL stops mid-run: no audit row is left `running` and the next run proceeds at once
  (store back soon) or within the lease TTL (store back late), again with 0 duplicates.

The lease TTL is shortened to a few seconds (HGSYNC_LEASE_TTL_SECONDS) so nothing waits 2 min.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

import store.models
from flows.orders import order_push
from store import binder, cursors, leases, runs
from store.db import dispose_all, session_scope
from store.models import SyncRun
from store.reporting import build_report
from tests.kit.fast_clients import fast_clients
from tests.kit.sandbox_orders import activate, by_reference, customer, order, seed_catalog
from tests.kit.tenants import make_tenant

pytestmark = [pytest.mark.flow, pytest.mark.faults]

POSTGRES_URL = os.environ.get("HGSYNC_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="HGSYNC_TEST_POSTGRES_URL not set")
TTL_SECONDS = 3.0
ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import asyncio, sys
from flows.orders import order_push
from mappings.tenant import TenantConfig
asyncio.run(order_push(TenantConfig.model_validate_json(sys.argv[1])))
"""


@pytest.fixture
def short_lease(monkeypatch):
    monkeypatch.setenv("HGSYNC_LEASE_TTL_SECONDS", str(TTL_SECONDS))


@pytest.fixture
def postgres_store(monkeypatch, short_lease):
    monkeypatch.setenv("HGSYNC_DATABASE_URL", POSTGRES_URL)
    yield POSTGRES_URL
    dispose_all()


def clock_ahead(monkeypatch, minutes: float = 20) -> None:
    """This process's notion of "now" in the store and the windows runs `minutes` ahead."""

    def ahead():
        return datetime.now(UTC) + timedelta(minutes=minutes)

    for module in (store.models, runs, binder, cursors):
        monkeypatch.setattr(module, "utcnow", ahead, raising=False)


def start_worker(tenant, env_extra: dict[str, str]) -> subprocess.Popen:
    from prefect.settings import PREFECT_API_URL

    env = {
        **os.environ,
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        **env_extra,
    }
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, tenant.model_dump_json()],
        env=env,
        cwd=str(ROOT),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for_creates(
    sb, worker: subprocess.Popen | None, at_least: int, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while sb.gestionix.stats.calls["POST /sales_orders"] < at_least:
        assert time.monotonic() < deadline, "no document was created"
        if worker is not None:
            assert worker.poll() is None, worker.stderr.read().decode()[-3000:]
        time.sleep(0.01)


def one_document_per_order(sb, tenant, placed) -> None:
    assert by_reference(sb) == {f"HANDY-{o['id']}": 1 for o in placed}
    assert not [b for b in binder.all_for(tenant.slug, "order") if b.status == "intent"]


def world(sb, orders: int, latency_ms: int):
    sb.set_handy_knobs(rate_limit_per_minute=0)
    sb.set_gestionix_knobs(reject_duplicate_reference=False, latency_ms=latency_ms)
    tenant = make_tenant(sb)
    codes = seed_catalog(sb, 4)
    customer(sb, "C-1", "Depósito El Sol")
    placed = [order(sb, "C-1", [(codes[n % 4], n + 1)]) for n in range(orders)]
    activate(tenant.slug)
    return tenant, placed


@needs_postgres
async def test_o8_s3_frozen_holder_and_worker_20_minutes_ahead_make_no_duplicate(
    prefect_harness, sandbox, postgres_store, monkeypatch
):
    """O8, S3: holder frozen (SIGSTOP) mid-push past its TTL; a worker whose clock is 20 minutes
    ahead takes the expired lease (by the database's clock) and finishes the window; the holder
    resumes (SIGCONT), finds its lease lost and stops before its next create; a create that was
    already past its write gate is recorded and removed by the next run: 0 duplicates."""
    sb = sandbox
    tenant, placed = world(sb, orders=30, latency_ms=60)
    holder = start_worker(tenant, {"HGSYNC_DATABASE_URL": postgres_store})
    wait_for_creates(sb, holder, at_least=3)
    holder.send_signal(signal.SIGSTOP)
    try:
        frozen_at = sb.gestionix.stats.calls["POST /sales_orders"]
        assert frozen_at < len(placed), "the holder finished before it was frozen"
        await asyncio.sleep(TTL_SECONDS + 1.0)  # its lease expires (database clock)

        clock_ahead(monkeypatch)
        sb.set_gestionix_knobs(latency_ms=0)
        fast_clients(tenant.slug)
        state = await order_push(tenant, return_state=True)
        assert state.is_completed(), state.message
    finally:
        holder.send_signal(signal.SIGCONT)
    _, stderr = holder.communicate(timeout=60)
    assert holder.returncode != 0 and b"lease" in stderr, stderr.decode()[-2000:]
    # A create that had passed the write gate when the holder froze leaves after the thaw (the
    # window Gestionix cannot fence); the holder records it and the next run keeps only the
    # bound document. So the end state is checked after the next scheduled run.
    late = sum(count - 1 for count in by_reference(sb).values() if count > 1)
    state = await order_push(tenant, return_state=True)
    assert state.is_completed(), state.message
    one_document_per_order(sb, tenant, placed)
    assert all(sb.handy.orders[o["id"]]["externalId"] for o in placed)
    print(f"documents created after the thaw and removed by the next run: {late}")
    statuses = [run.status for run in runs.recent(tenant.slug)]
    assert "running" not in statuses and "completed" in statuses


@needs_postgres
async def test_s3_worker_20_minutes_ahead_does_not_take_a_live_lease(
    prefect_harness, sandbox, postgres_store, monkeypatch
):
    """S3: with a live holder (heartbeat renewing), a worker whose clock is 20 minutes ahead
    waits and ends Cancelled instead of taking the lease; the holder finishes alone."""
    import tasks.lease

    sb = sandbox
    tenant, placed = world(sb, orders=40, latency_ms=800)  # ~5 rounds of 8 creates: > 4 s
    holder = start_worker(tenant, {"HGSYNC_DATABASE_URL": postgres_store})
    wait_for_creates(sb, holder, at_least=1)
    clock_ahead(monkeypatch)
    monkeypatch.setattr(tasks.lease, "LEASE_WAIT", timedelta(seconds=1.5))
    monkeypatch.setattr(tasks.lease, "LEASE_POLL_SECONDS", 0.2)
    state = await order_push(tenant, return_state=True)
    assert state.is_cancelled() and "still taken" in state.message
    assert holder.poll() is None, "the holder finished before the wait ended: nothing was tested"
    _, stderr = holder.communicate(timeout=120)
    assert holder.returncode == 0, stderr.decode()[-2000:]
    one_document_per_order(sb, tenant, placed)


# ---------------------------------------------------------------------------------------------
# Store outage: our own throwaway cluster, crashed and restarted mid-run
# ---------------------------------------------------------------------------------------------
PG_SCRIPT = ROOT / "scripts" / "pg-throwaway.sh"


@pytest.fixture
def own_postgres(tmp_path_factory, monkeypatch, short_lease):
    if not POSTGRES_URL:
        pytest.skip("HGSYNC_TEST_POSTGRES_URL not set (PostgreSQL tests off)")
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    directory = Path("/tmp") / f"hgsync-outage-{os.getpid()}-{port}"
    started = subprocess.run(
        [str(PG_SCRIPT), "start", str(directory), str(port)],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    if started.returncode != 0:
        pytest.skip(f"cannot start a throwaway PostgreSQL: {started.stderr[-500:]}")
    url = started.stdout.strip().splitlines()[-1]
    monkeypatch.setenv("HGSYNC_DATABASE_URL", url)

    def down() -> None:
        subprocess.run([str(PG_SCRIPT), "down", str(directory)], check=True, timeout=60)

    def up() -> None:
        subprocess.run([str(PG_SCRIPT), "up", str(directory), str(port)], check=True, timeout=120)

    try:
        yield down, up
    finally:
        dispose_all()
        subprocess.run([str(PG_SCRIPT), "stop", str(directory)], timeout=60, check=False)


def crash_store_after_creates(sb, down, up, *, creates: int, outage: float) -> threading.Thread:
    def outage_thread() -> None:
        wait_for_creates(sb, None, at_least=creates)
        down()
        time.sleep(outage)
        up()

    thread = threading.Thread(target=outage_thread, daemon=True)
    thread.start()
    return thread


def rows_of(slug: str) -> list[SyncRun]:
    with session_scope() as session:
        return list(session.exec(select(SyncRun).where(SyncRun.tenant == slug)))


@pytest.mark.parametrize("outage", ["short", "longer than the lease TTL"])
async def test_x1_s3_store_outage_mid_run_leaves_no_running_row_and_next_run_proceeds(
    prefect_harness, sandbox, own_postgres, outage
):
    """X1, S3, O8: PostgreSQL crashes mid-push. Short outage: the failed run ends its audit row
    `failed` when the store answers again and releases its lease, so the next run starts at
    once. Outage past the TTL: the row is shown `abandoned` once the lease has expired, the next
    run takes the lease (within the TTL) and closes the row as `abandoned`. Either way the rerun
    leaves exactly one document per order."""
    down, up = own_postgres
    sb = sandbox
    tenant, placed = world(sb, orders=20, latency_ms=80)
    fast_clients(tenant.slug)
    seconds = 0.3 if outage == "short" else TTL_SECONDS + 3
    thread = crash_store_after_creates(sb, down, up, creates=3, outage=seconds)
    state = await order_push(tenant, return_state=True)
    assert state.is_failed(), state.message
    thread.join(timeout=120)

    rows = rows_of(tenant.slug)
    if outage == "short":
        assert [row.status for row in rows] == ["failed"], [(r.status, r.summary) for r in rows]
        assert not leases.live(tenant.slug, leases.ORDERS_LEASE)
    else:
        assert [row.status for row in rows] == ["running"]  # the store never answered in time
        assert [run["status"] for run in build_report(tenant.slug)["runs"]] == ["abandoned"]
    sb.set_gestionix_knobs(latency_ms=0)
    started = time.monotonic()
    rerun = await order_push(tenant, return_state=True)
    assert rerun.is_completed(), rerun.message
    assert time.monotonic() - started < TTL_SECONDS + 30
    statuses = sorted(row.status for row in rows_of(tenant.slug))
    assert statuses == (
        ["completed", "failed"] if outage == "short" else ["abandoned", "completed"]
    )
    one_document_per_order(sb, tenant, placed)
