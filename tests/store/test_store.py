"""Store repositories: bindings, cursors, leases, runs, dead letters — on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from mappings.bindings import BindingRecord
from store import binder, cursors, dead_letters, leases, runs
from store.binder import BindingConflict
from store.db import Store
from store.leases import LeaseHeld

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_given_new_binding_when_bound_again_then_updated_not_duplicated(db):
    binder.bind("acme", "product", "REF-1", "5012", status="enabled", fingerprint="a", store=db)
    binder.bind("acme", "product", "REF-1", "5012", status="disabled", fingerprint="b", store=db)
    rows = binder.all_for("acme", "product", store=db)
    assert len(rows) == 1
    assert (rows[0].status, rows[0].fingerprint) == ("disabled", "b")


def test_given_gestionix_key_bound_when_bound_to_other_handy_key_then_conflict(db):
    binder.bind("acme", "customer", "GX-1", "1201", status="enabled", store=db)
    with pytest.raises(BindingConflict, match="customer"):
        binder.bind("acme", "customer", "OTHER", "1201", status="enabled", store=db)
    assert binder.get("acme", "customer", "OTHER", store=db) is None


def test_given_same_keys_in_two_entities_then_both_allowed(db):
    binder.bind("acme", "product", "K", "1", status="enabled", store=db)
    binder.bind("acme", "customer", "K", "1", status="enabled", store=db)
    assert binder.get("acme", "product", "K", store=db).gestionix_key == "1"
    assert binder.get_by_gestionix("acme", "customer", "1", store=db).handy_key == "K"


def test_given_two_tenants_then_neither_sees_the_others_rows(db):
    binder.bind("acme", "product", "REF-1", "1", status="enabled", store=db)
    binder.bind("zeta", "product", "REF-1", "1", status="enabled", store=db)
    binder.bind("zeta", "product", "REF-2", "2", status="enabled", store=db)
    assert [b.handy_key for b in binder.all_for("acme", "product", store=db)] == ["REF-1"]
    assert len(binder.records("zeta", "product", store=db)) == 2
    cursors.set("acme", "orders", T0, store=db)
    assert cursors.get("zeta", "orders", store=db) is None
    dead_letters.put("acme", "order", "1", "product REF-9 not in Gestionix", store=db)
    assert dead_letters.open_letters("zeta", store=db) == []
    run_id = runs.start("acme", "order_push", store=db)
    assert runs.recent("zeta", store=db) == []
    assert runs.items("zeta", run_id, store=db) == []
    with leases.lease("acme", "orders", store=db), leases.lease("zeta", "orders", store=db):
        pass


def test_binding_records_and_get_many(db):
    binder.bind_many(
        "acme",
        "product",
        [
            {"handy_key": f"K{i}", "gestionix_key": str(i), "status": "enabled", "fingerprint": "f"}
            for i in range(1200)
        ],
        store=db,
    )
    binder.bind("acme", "product", "K7", "7", status="disabled", data={"quantity": 4.0}, store=db)
    records = binder.records("acme", "product", store=db)
    assert len(records) == 1200
    assert all(isinstance(r, BindingRecord) for r in records)
    k7 = next(r for r in records if r.handy_key == "K7")
    assert (k7.status, k7.data, k7.gestionix_key) == ("disabled", {"quantity": 4.0}, "7")
    assert k7.synced_at == binder.get("acme", "product", "K7", store=db).synced_at
    assert set(binder.get_many("acme", "product", ["K1", "K1100", "missing"], store=db)) == {
        "K1",
        "K1100",
    }
    assert binder.records("acme", "family", store=db) == []


def test_binding_data_is_merged_and_status_set(db):
    binder.bind("acme", "order", "77", None, status="intent", data={"doc_type": "sale"}, store=db)
    binder.bind("acme", "order", "77", "sale:9", status="pushed", data={"folio": 3}, store=db)
    row = binder.get("acme", "order", "77", store=db)
    assert row.data == {"doc_type": "sale", "folio": 3}
    assert binder.set_status("acme", "order", "77", "deleted", store=db).status == "deleted"
    assert binder.set_status("acme", "order", "missing", "deleted", store=db) is None


def test_tombstone_creates_or_marks_but_never_hides_a_pushed_document(db):
    assert (
        binder.tombstone("acme", "order", "1", reason="deleted in Handy", store=db).status
        == "tombstoned"
    )
    binder.bind("acme", "order", "2", "sales_order:5", status="pushed", store=db)
    assert binder.tombstone("acme", "order", "2", store=db).status == "pushed"


def test_cursor_advances_forward_only(db):
    assert cursors.get("acme", "orders", store=db) is None
    cursors.advance("acme", "orders", T0, store=db)
    cursors.advance("acme", "orders", T0 - timedelta(hours=1), store=db)
    assert cursors.get("acme", "orders", store=db) == T0
    cursors.advance("acme", "orders", T0 + timedelta(minutes=10), store=db)
    assert cursors.get("acme", "orders", store=db) == T0 + timedelta(minutes=10)
    cursors.set("acme", "orders", T0 - timedelta(days=3), store=db)
    assert cursors.get("acme", "orders", store=db) == T0 - timedelta(days=3)
    with pytest.raises(ValueError, match="timezone-aware"):
        cursors.advance("acme", "orders", datetime(2026, 1, 1), store=db)


def test_s3_lease_is_mutually_exclusive_and_fails_fast(db):
    """S3: a second holder of the same tenant lease is refused at once, not queued."""
    with leases.lease("acme", "orders", store=db), pytest.raises(LeaseHeld, match="acme"):
        with leases.lease("acme", "orders", store=db):
            pass
    with leases.lease("acme", "orders", store=db):
        pass


def test_lease_only_one_of_many_concurrent_acquirers_wins(db):
    winners, losers = [], []
    barrier = threading.Barrier(6)

    def contend():
        barrier.wait()
        try:
            winners.append(leases.acquire("acme", "orders", timedelta(minutes=5), store=db))
        except LeaseHeld:
            losers.append(1)

    threads = [threading.Thread(target=contend) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1 and len(losers) == 5


def test_lease_left_by_killed_process_expires_and_can_be_taken(db):
    stale = leases.acquire("acme", "orders", timedelta(seconds=-1), holder="dead-worker", store=db)
    taken = leases.acquire("acme", "orders", timedelta(minutes=5), store=db)
    assert taken.holder != stale.holder
    with pytest.raises(LeaseHeld, match="lost"):
        stale.renew()
    taken.renew()
    leases.release(taken)


def test_run_items_past_one_insert_batch_are_all_stored_in_order(db):
    """A dry run of a big catalog explains tens of thousands of records (inserted in batches)."""
    run_id = runs.start("acme", "catalog", store=db)
    count = runs.ITEMS_PER_INSERT * 2 + 1
    items = [
        {"entity": "product", "key": f"K{i}", "action": "would create", "reason": "new", "n": i}
        for i in range(count)
    ]
    assert runs.add_items("acme", run_id, iter(items), store=db) == count
    stored = runs.items("acme", run_id, store=db)
    assert [i.key for i in stored] == [f"K{i}" for i in range(count)]
    assert stored[-1].details == {"n": str(count - 1)} and stored[-1].tenant == "acme"


def test_runs_record_counts_items_and_prune(db):
    run_id = runs.start("acme", "catalog_pull", window_start=T0, store=db)
    runs.add_items(
        "acme",
        run_id,
        [
            {"entity": "product", "key": "A/B", "action": "skipped", "reason": "P4"},
            {
                "entity": "order",
                "key": "7",
                "action": "created",
                "document": "pedido P-1001",
                "note": None,
            },
        ],
        store=db,
    )
    run = runs.finish(
        "acme", run_id, counts={"read": 3, "skipped": 1}, status="completed", store=db
    )
    assert run.counts == {"read": 3, "skipped": 1} and run.finished_at is not None
    stored = runs.items("acme", run_id, store=db)
    assert [i.key for i in stored] == ["A/B", "7"]
    assert stored[0].details == {} and stored[1].details == {"document": "pedido P-1001"}
    assert [r.id for r in runs.recent("acme", flow="catalog_pull", store=db)] == [run_id]
    with pytest.raises(ValueError, match="unknown status"):
        runs.finish("acme", run_id, counts={}, status="weird", store=db)
    assert runs.prune("acme", datetime.now(UTC) + timedelta(seconds=1), store=db) == 1
    assert runs.recent("acme", store=db) == []


def test_dead_letters_count_attempts_resolve_and_reopen(db):
    dead_letters.put("acme", "order", "42", "product REF-9 not in Gestionix", store=db)
    letter = dead_letters.put("acme", "order", "42", "product REF-9 not in Gestionix", store=db)
    assert letter.attempts == 2
    dead_letters.put("acme", "order_deletion", "43", "invoiced", retry=False, store=db)
    assert [d.key for d in dead_letters.open_letters("acme", retry_only=True, store=db)] == ["42"]
    assert dead_letters.resolve("acme", "order", "42", store=db) is True
    assert dead_letters.resolve("acme", "order", "42", store=db) is False
    reopened = dead_letters.put("acme", "order", "42", "again", store=db)
    assert reopened.attempts == 1 and reopened.resolved_at is None
    with pytest.raises(ValueError, match="reason"):
        dead_letters.put("acme", "order", "44", "", store=db)


def test_a_store_never_shows_its_password():
    """A2: the store's URL may carry the database password; its repr (logs, tracebacks) hides it."""
    shown = repr(Store("postgresql://hgsync:s3cr3t-pw@db.example/hgsync"))
    assert "s3cr3t-pw" not in shown and "db.example" in shown
