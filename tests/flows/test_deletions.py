"""deletion_sync against the loopback sandbox (RULES D1-D4, O10, S3, X3)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

import flows.leased
import tasks.lease as lease_module
import tasks.window as window_module
from flows.deletions import deletion_sync
from flows.orders import order_push
from store import binder, cursors, dead_letters, leases, runs
from tests.kit.sandbox_orders import (
    activate,
    by_reference,
    company,
    customer,
    delete,
    document_of,
    documents,
    edit,
    handy_product,
    order,
    seed_catalog,
    writes,
)
from tests.kit.tenants import make_tenant

pytestmark = pytest.mark.flow


def setup_orders(sb, count: int = 2, **spec) -> list[dict]:
    codes = seed_catalog(sb, 1)
    customer(sb, "C-1", "Depósito El Sol")
    return [order(sb, "C-1", [(codes[0], n + 1)], **spec) for n in range(count)]


async def test_d1_delete_after_push_removes_the_pedido_or_venta(sandbox):
    """D1: a pushed order deleted in Handy deletes its Gestionix document, of the type recorded
    in the binding (a venta with treat_all_as_sales_orders off, a pedido otherwise)."""
    sb = sandbox
    tenant = make_tenant(sb, treat_all_as_sales_orders=False)
    sale, presale = setup_orders(sb, 1, salesType="ROUTE") + setup_orders_more(sb, "PRESALE")
    activate(tenant.slug)
    await order_push(tenant)
    assert len(documents(sb, "sale")) == 1 and len(documents(sb, "sales_order")) == 1
    delete(sb, sale["id"])
    delete(sb, presale["id"])

    summary = await deletion_sync(tenant)

    assert documents(sb) == [] and "2 deleted" in summary
    for placed in (sale, presale):
        assert binder.get(tenant.slug, "order", str(placed["id"])).status == "deleted"


def setup_orders_more(sb, sales_type: str) -> list[dict]:
    code = next(iter(sb.handy.products))
    return [order(sb, "C-1", [(code, 5)], salesType=sales_type)]


async def test_d2_delete_before_push_never_pushes(sandbox, tenant):
    """D2: an order deleted before it was pushed is tombstoned and never pushed, also when it
    was dead-lettered earlier (its letter is closed, not retried)."""
    sb = sandbox
    (early,) = setup_orders(sb, 1)
    handy_product(sb, "REF-9", 20.0)
    blocked = order(sb, "C-1", [("REF-9", 1)])
    activate(tenant.slug)
    await order_push(tenant)  # `blocked` dead-letters; `early` is pushed
    fresh = order(sb, "C-1", [(next(iter(sb.handy.products)), 1)])
    delete(sb, fresh["id"])
    delete(sb, blocked["id"])
    pushed_docs = by_reference(sb)

    await deletion_sync(tenant)
    cursors.set(tenant.slug, "orders", datetime.now(UTC) + timedelta(hours=1))
    await order_push(tenant)
    await order_push(tenant, since=datetime.now(UTC) - timedelta(hours=1))

    assert binder.get(tenant.slug, "order", str(fresh["id"])).status == "tombstoned"
    assert binder.get(tenant.slug, "order", str(blocked["id"])).status == "tombstoned"
    assert dead_letters.get(tenant.slug, "order", str(blocked["id"])).resolved_at is not None
    assert by_reference(sb) == pushed_docs == {f"HANDY-{early['id']}": 1}


async def test_d2_deletion_late_in_a_windows_last_second_is_tombstoned_by_the_next_run(
    sandbox, monkeypatch
):
    """D2 at the window's edge (the campaign's seed 19): a window ends at the store's now cut to
    the second and Handy filters by whole seconds, so a deletion stamped later in that second is
    not in it, however often a run in that same second reads it. The first run in a later second
    reads that second again from the cursor (even with no lookback) and tombstones the order."""
    sb = sandbox
    tenant = make_tenant(sb, order_lookback_minutes=0)
    (placed,) = setup_orders(sb, 1)
    activate(tenant.slug)
    await deletion_sync(tenant)
    edge = cursors.get(tenant.slug, "deletions")  # that run's window end: a whole second
    shift = edge.timestamp() + 0.5 - sb.clock.now()
    sb.clock.advance(shift)  # Handy deletes the order half a second into that second
    sb.handy.delete_order(placed["id"])
    sb.clock.advance(-shift)

    async def no_skew(connection, audit):  # Handy's clock is ours: no widening of the window
        return 0.0

    monkeypatch.setattr(flows.leased, "measure_handy_clock", no_skew)

    def store_clock_at(moment):  # the store's clock and the worker's, both at `moment`
        monkeypatch.setattr(window_module, "database_time", lambda store=None: moment)
        monkeypatch.setattr(
            window_module,
            "time",
            SimpleNamespace(time=moment.timestamp, monotonic=time.monotonic),
        )

    store_clock_at(edge + timedelta(seconds=0.9))  # another run within the same second
    await deletion_sync(tenant)
    assert binder.get(tenant.slug, "order", str(placed["id"])) is None
    assert cursors.get(tenant.slug, "deletions") == edge
    store_clock_at(edge + timedelta(seconds=1))  # the next run, in the next second
    await deletion_sync(tenant)

    binding = binder.get(tenant.slug, "order", str(placed["id"]))
    assert binding is not None and binding.status == "tombstoned"
    await order_push(tenant)
    assert documents(sb) == []


async def test_d3_404_is_done(sandbox, tenant):
    """D3: a document already gone in Gestionix counts as deleted."""
    sb = sandbox
    (placed,) = setup_orders(sb, 1)
    activate(tenant.slug)
    await order_push(tenant)
    doc = document_of(sb, placed["id"])
    sb.gestionix.delete_document(company(sb), "sales_order", doc["sales_order_id"], force=True)
    delete(sb, placed["id"])

    summary = await deletion_sync(tenant)

    assert "1 deleted" in summary and "failed" not in summary
    binding = binder.get(tenant.slug, "order", str(placed["id"]))
    assert binding.status == "deleted" and binding.data["deletion"] == "gone"


async def test_d3_409_dead_letters_with_gestionix_reason_and_is_not_retried_until_replayed(
    sandbox, tenant
):
    """D3: an invoiced document Gestionix refuses to delete is kept with Gestionix's reason,
    not tried again by later runs, and deleted once an operator replays it."""
    sb = sandbox
    invoiced, converted = setup_orders(sb, 2)
    activate(tenant.slug)
    await order_push(tenant)
    company(sb).documents["sales_order"][document_of(sb, invoiced["id"])["sales_order_id"]][
        "invoiced"
    ] = True
    company(sb).documents["sales_order"][document_of(sb, converted["id"])["sales_order_id"]][
        "status"
    ] = "converted"
    delete(sb, invoiced["id"])
    delete(sb, converted["id"])

    summary = await deletion_sync(tenant)
    await deletion_sync(tenant)  # same window again: no second DELETE

    assert "2 failed" in summary
    letter = dead_letters.get(tenant.slug, "order_deletion", str(invoiced["id"]))
    assert letter.retry is False and "ya fue facturado" in letter.reason
    assert (
        "convirtió en venta"
        in dead_letters.get(tenant.slug, "order_deletion", str(converted["id"])).reason
    )
    assert sum(n for call, n in sb.gestionix.stats.calls.items() if call.startswith("DELETE ")) == 2
    assert binder.get(tenant.slug, "order", str(invoiced["id"])).status == "pushed"
    assert len(documents(sb)) == 2

    doc = document_of(sb, invoiced["id"])
    doc["invoiced"] = False  # the invoice was cancelled in Gestionix; the operator replays
    dead_letters.put(tenant.slug, "order_deletion", str(invoiced["id"]), "replay", retry=True)
    cursors.set(tenant.slug, "deletions", datetime.now(UTC) + timedelta(hours=1))
    await deletion_sync(tenant)

    assert binder.get(tenant.slug, "order", str(invoiced["id"])).status == "deleted"
    assert dead_letters.get(tenant.slug, "order_deletion", str(invoiced["id"])).resolved_at
    assert [d["reference"] for d in documents(sb)] == [f"HANDY-{converted['id']}"]


async def test_d4_switch_off_reads_and_deletes_nothing(sandbox):
    """D4: with sync_deletions off nothing is read from Handy or deleted in Gestionix."""
    sb = sandbox
    tenant = make_tenant(sb, sync_deletions=False)
    (placed,) = setup_orders(sb, 1)
    activate(tenant.slug)
    await order_push(tenant)
    delete(sb, placed["id"])
    handy_reads = sb.handy.stats.reads

    summary = await deletion_sync(tenant)

    assert "sync_deletions is off" in summary
    assert sb.handy.stats.reads == handy_reads
    assert len(documents(sb)) == 1
    assert binder.get(tenant.slug, "order", str(placed["id"])).status == "pushed"


async def test_o10_edit_ends_with_only_the_new_document(sandbox, tenant):
    """O10: edited after its push -> the old document is deleted and the new one pushed; edited
    before any push -> the old version is tombstoned, only the new one reaches Gestionix."""
    sb = sandbox
    pushed_first, edited_early = setup_orders(sb, 2)
    activate(tenant.slug)
    await order_push(tenant)
    delete_and_edit = edit(
        sb, pushed_first["id"], items=[{"product": next(iter(sb.handy.products)), "quantity": 9}]
    )
    code = next(iter(sb.handy.products))
    unpushed = order(sb, "C-1", [(code, 1)])
    replacement = edit(sb, unpushed["id"], items=[{"product": code, "quantity": 2}])

    await deletion_sync(tenant)
    await order_push(tenant)
    await deletion_sync(tenant)

    assert by_reference(sb) == {
        f"HANDY-{edited_early['id']}": 1,
        f"HANDY-{delete_and_edit['id']}": 1,
        f"HANDY-{replacement['id']}": 1,
    }
    assert binder.get(tenant.slug, "order", str(pushed_first["id"])).status == "deleted"
    assert binder.get(tenant.slug, "order", str(unpushed["id"])).status == "tombstoned"


async def test_x3_deletion_dry_run_writes_nothing(sandbox, tenant):
    """X3: a dry run names what it would delete and tombstone, and writes nothing."""
    sb = sandbox
    pushed, _ = setup_orders(sb, 2)
    activate(tenant.slug)
    await order_push(tenant)
    unpushed = order(sb, "C-1", [(next(iter(sb.handy.products)), 1)])
    delete(sb, pushed["id"])
    delete(sb, unpushed["id"])
    before = writes(sb)
    cursor = cursors.get(tenant.slug, "deletions")

    summary = await deletion_sync(tenant, dry_run=True)

    assert summary.startswith("[dry run]") and "1 deleted" in summary
    assert writes(sb) == before and len(documents(sb)) == 2
    assert binder.get(tenant.slug, "order", str(unpushed["id"])) is None
    assert cursors.get(tenant.slug, "deletions") == cursor
    run = runs.recent(tenant.slug, flow="deletions", limit=1)[0]
    actions = {(i.key, i.action) for i in runs.items(tenant.slug, run.id)}
    assert {
        (str(pushed["id"]), "would delete"),
        (str(unpushed["id"]), "would tombstone"),
    } <= actions


async def test_s3_orders_and_deletions_never_interleave(sandbox, tenant, monkeypatch):
    """S3: order_push and deletion_sync of one tenant started together run one after the other
    (the second waits for the shared lease); a lease that stays taken ends the run Cancelled,
    having read and written nothing."""
    sb = sandbox
    (placed,) = setup_orders(sb, 1)
    activate(tenant.slug)
    await order_push(tenant)
    delete(sb, placed["id"])
    setup_orders_more(sb, "PRESALE")
    monkeypatch.setattr(lease_module, "LEASE_POLL_SECONDS", 0.05)
    events: list[str] = []
    acquire, release = leases.acquire, leases.release

    def logged_acquire(*args, **kwargs):
        handle = acquire(*args, **kwargs)
        events.append("acquire")
        return handle

    def logged_release(handle):
        events.append("release")
        release(handle)

    monkeypatch.setattr(leases, "acquire", logged_acquire)
    monkeypatch.setattr(leases, "release", logged_release)

    await asyncio.gather(order_push(tenant), deletion_sync(tenant))

    assert events == ["acquire", "release", "acquire", "release"]
    assert len(documents(sb)) == 1  # the new order pushed, the deleted one's document deleted

    monkeypatch.setattr(lease_module, "LEASE_WAIT", timedelta(seconds=0.2))
    holder = acquire(tenant.slug, "orders", timedelta(minutes=5))
    try:
        state = await deletion_sync(tenant, return_state=True)
        push_state = await order_push(tenant, return_state=True)
    finally:
        release(holder)
    assert state.is_cancelled() and push_state.is_cancelled()
    assert "lease" in state.message and "still taken" in state.message
    assert runs.recent(tenant.slug, flow="deletions", limit=1)[0].status == "skipped"
