"""S3/O8 in the store: leases judged by the database's clock, fencing in the writer's own
transaction, and audit rows of dead holders closed as `abandoned` — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

import store.models
from store import binder, leases, runs
from store.db import database_time, session_scope
from store.leases import LeaseHeld, LeaseLost
from store.models import Lease, SyncRun
from store.reporting import build_report


@pytest.fixture
def worker_clock_20_minutes_ahead(monkeypatch):
    """Everything that asks Python for the time in the store gets a clock 20 minutes ahead."""

    def ahead():
        return datetime.now(UTC) + timedelta(minutes=20)

    monkeypatch.setattr(store.models, "utcnow", ahead)
    monkeypatch.setattr(runs, "utcnow", ahead)
    monkeypatch.setattr(binder, "utcnow", ahead)


def test_s3_a_worker_whose_clock_runs_20_minutes_ahead_cannot_take_a_live_lease(
    db, worker_clock_20_minutes_ahead
):
    """S3: expiry is judged by the database's clock, so a 2-minute lease held by a live worker
    is not "expired" for a worker whose own clock is 20 minutes ahead."""
    holder = leases.acquire("acme", "orders", timedelta(minutes=2), store=db)
    with pytest.raises(LeaseHeld, match="held by"):
        leases.acquire("acme", "orders", timedelta(minutes=2), store=db)
    holder.renew()
    with session_scope(db) as session:
        row = session.get(Lease, ("acme", "orders"))
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    assert expires - database_time(db) <= timedelta(minutes=2)


def test_o8_fence_refuses_the_write_of_a_holder_whose_lease_was_taken(db):
    """O8: the intent row of a holder that lost its lease (expired and taken) is never written:
    the check runs in the same transaction as the binding."""
    stale = leases.acquire("acme", "orders", timedelta(seconds=-1), holder="frozen", store=db)
    with pytest.raises(LeaseLost):  # expired: refused even before anyone takes it over
        binder.bind(
            "acme",
            "order",
            "77",
            None,
            status="intent",
            store=db,
            fence=lambda session: leases.fence(session, stale),
        )
    taker = leases.acquire("acme", "orders", timedelta(minutes=2), store=db)
    with pytest.raises(LeaseLost):
        binder.bind(
            "acme",
            "order",
            "77",
            None,
            status="intent",
            store=db,
            fence=lambda session: leases.fence(session, stale),
        )
    assert binder.get("acme", "order", "77", store=db) is None
    binder.bind(
        "acme",
        "order",
        "77",
        None,
        status="intent",
        store=db,
        fence=lambda session: leases.fence(session, taker),
    )
    assert binder.get("acme", "order", "77", store=db).status == "intent"
    with pytest.raises(LeaseLost, match="lost"):
        stale.renew()


def test_s3_a_dead_holder_frees_the_tenant_within_its_ttl(db):
    dead = leases.acquire("acme", "orders", timedelta(seconds=1), holder="dead", store=db)
    with pytest.raises(LeaseHeld):
        leases.acquire("acme", "orders", timedelta(minutes=2), store=db)
    with session_scope(db) as session:  # one TTL later, by the database's clock
        row = session.get(Lease, ("acme", "orders"))
        row.expires_at = database_time(db) - timedelta(milliseconds=10)
        session.add(row)
    assert leases.acquire("acme", "orders", timedelta(minutes=2), store=db).holder != dead.holder


def test_x1_rows_left_running_by_a_dead_holder_show_and_end_as_abandoned(db, monkeypatch):
    """X1: a run that died with its row `running` is shown `abandoned` once its lease is past its
    TTL, and the next holder of the lease closes it as such; dry runs and other flows are left."""
    monkeypatch.setenv("HGSYNC_DATABASE_URL", db.url)
    dead_run = runs.start("acme", "orders")
    dry = runs.start("acme", "deletions", dry_run=True)
    catalog = runs.start("acme", "catalog")
    holder = leases.acquire("acme", "orders", timedelta(minutes=2))
    shown = {run["id"]: run["status"] for run in build_report("acme")["runs"]}
    assert shown[dead_run] == "running"  # its lease is live: maybe still working
    leases.release(holder)
    report = build_report("acme")
    shown = {run["id"]: run for run in report["runs"]}
    assert shown[dead_run]["status"] == "abandoned" and "abandoned" in shown[dead_run]["summary"]
    assert shown[dry]["status"] == "running" and shown[catalog]["status"] == "running"
    assert runs.abandon_running("acme", leases.ORDERS_LEASE_FLOWS) == 1
    with session_scope() as session:
        rows = {row.id: row for row in session.exec(select(SyncRun))}
    assert rows[dead_run].status == "abandoned" and rows[dead_run].finished_at is not None
    assert rows[dry].status == "running"
