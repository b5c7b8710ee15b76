"""Store repositories: bindings, cursors, leases, runs, dead letters — on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from store import binder, cursors, dead_letters, leases, runs
from store.binder import BindingConflict
from store.leases import LeaseHeld

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


def test_given_new_binding_when_bound_again_then_updated_not_duplicated(db_url):
    binder.bind("acme", "product", "REF-1", "5012", status="enabled", fingerprint="a", url=db_url)
    binder.bind("acme", "product", "REF-1", "5012", status="disabled", fingerprint="b", url=db_url)
    rows = binder.all_for("acme", "product", url=db_url)
    assert len(rows) == 1
    assert (rows[0].status, rows[0].fingerprint) == ("disabled", "b")


def test_given_gestionix_key_bound_when_bound_to_other_handy_key_then_conflict(db_url):
    binder.bind("acme", "customer", "GX-1", "1201", status="enabled", url=db_url)
    with pytest.raises(BindingConflict, match="customer"):
        binder.bind("acme", "customer", "OTHER", "1201", status="enabled", url=db_url)
    assert binder.get("acme", "customer", "OTHER", url=db_url) is None


def test_given_same_keys_in_two_entities_then_both_allowed(db_url):
    binder.bind("acme", "product", "K", "1", status="enabled", url=db_url)
    binder.bind("acme", "customer", "K", "1", status="enabled", url=db_url)
    assert binder.get("acme", "product", "K", url=db_url).gestionix_key == "1"
    assert binder.get_by_gestionix("acme", "customer", "1", url=db_url).handy_key == "K"


def test_given_two_tenants_then_neither_sees_the_others_rows(db_url):
    binder.bind("acme", "product", "REF-1", "1", status="enabled", url=db_url)
    binder.bind("zeta", "product", "REF-1", "1", status="enabled", url=db_url)
    binder.bind("zeta", "product", "REF-2", "2", status="enabled", url=db_url)
    assert [b.handy_key for b in binder.all_for("acme", "product", url=db_url)] == ["REF-1"]
    assert len(binder.frame("zeta", "product", url=db_url)) == 2
    cursors.set("acme", "orders", T0, url=db_url)
    assert cursors.get("zeta", "orders", url=db_url) is None
    dead_letters.put("acme", "order", "1", "product REF-9 not in Gestionix", url=db_url)
    assert dead_letters.open_letters("zeta", url=db_url) == []
    run_id = runs.start("acme", "order_push", url=db_url)
    assert runs.recent("zeta", url=db_url) == []
    assert runs.items("zeta", run_id, url=db_url) == []
    with leases.lease("acme", "orders", url=db_url):
        with leases.lease("zeta", "orders", url=db_url):
            pass


def test_binding_frame_and_get_many(db_url):
    binder.bind_many(
        "acme",
        "product",
        [{"handy_key": f"K{i}", "gestionix_key": str(i), "status": "enabled", "fingerprint": "f"} for i in range(1200)],
        url=db_url,
    )
    binder.bind("acme", "product", "K7", "7", status="disabled", data={"quantity": 4.0}, url=db_url)
    frame = binder.frame("acme", "product", url=db_url)
    assert list(frame.columns) == binder.BINDING_COLUMNS
    assert len(frame) == 1200
    k7 = frame.set_index("handy_key").loc["K7"]
    assert (k7["status"], k7["data"], k7["gestionix_key"]) == ("disabled", {"quantity": 4.0}, "7")
    assert k7["synced_at"] == binder.get("acme", "product", "K7", url=db_url).synced_at
    assert set(binder.get_many("acme", "product", ["K1", "K1100", "missing"], url=db_url)) == {"K1", "K1100"}
    assert binder.frame("acme", "family", url=db_url).empty


def test_binding_data_is_merged_and_status_set(db_url):
    binder.bind("acme", "order", "77", None, status="intent", data={"doc_type": "sale"}, url=db_url)
    binder.bind("acme", "order", "77", "sale:9", status="pushed", data={"folio": 3}, url=db_url)
    row = binder.get("acme", "order", "77", url=db_url)
    assert row.data == {"doc_type": "sale", "folio": 3}
    assert binder.set_status("acme", "order", "77", "deleted", url=db_url).status == "deleted"
    assert binder.set_status("acme", "order", "missing", "deleted", url=db_url) is None


def test_tombstone_creates_or_marks_but_never_hides_a_pushed_document(db_url):
    assert binder.tombstone("acme", "order", "1", reason="deleted in Handy", url=db_url).status == "tombstoned"
    binder.bind("acme", "order", "2", "sales_order:5", status="pushed", url=db_url)
    assert binder.tombstone("acme", "order", "2", url=db_url).status == "pushed"


def test_cursor_advances_forward_only(db_url):
    assert cursors.get("acme", "orders", url=db_url) is None
    cursors.advance("acme", "orders", T0, url=db_url)
    cursors.advance("acme", "orders", T0 - timedelta(hours=1), url=db_url)
    assert cursors.get("acme", "orders", url=db_url) == T0
    cursors.advance("acme", "orders", T0 + timedelta(minutes=10), url=db_url)
    assert cursors.get("acme", "orders", url=db_url) == T0 + timedelta(minutes=10)
    cursors.set("acme", "orders", T0 - timedelta(days=3), url=db_url)
    assert cursors.get("acme", "orders", url=db_url) == T0 - timedelta(days=3)
    with pytest.raises(ValueError, match="timezone-aware"):
        cursors.advance("acme", "orders", datetime(2026, 1, 1), url=db_url)


def test_s3_lease_is_mutually_exclusive_and_fails_fast(db_url):
    """S3: a second holder of the same tenant lease is refused at once, not queued."""
    with leases.lease("acme", "orders", url=db_url):
        with pytest.raises(LeaseHeld, match="acme"):
            with leases.lease("acme", "orders", url=db_url):
                pass
    with leases.lease("acme", "orders", url=db_url):
        pass


def test_lease_only_one_of_many_concurrent_acquirers_wins(db_url):
    winners, losers = [], []
    barrier = threading.Barrier(6)

    def contend():
        barrier.wait()
        try:
            winners.append(leases.acquire("acme", "orders", timedelta(minutes=5), url=db_url))
        except LeaseHeld:
            losers.append(1)

    threads = [threading.Thread(target=contend) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1 and len(losers) == 5


def test_lease_left_by_killed_process_expires_and_can_be_taken(db_url):
    stale = leases.acquire("acme", "orders", timedelta(seconds=-1), holder="dead-worker", url=db_url)
    taken = leases.acquire("acme", "orders", timedelta(minutes=5), url=db_url)
    assert taken.holder != stale.holder
    with pytest.raises(LeaseHeld, match="lost"):
        stale.renew()
    taken.renew()
    leases.release(taken)


def test_run_items_past_one_insert_batch_are_all_stored_in_order(db_url):
    """A dry run of a big catalog explains tens of thousands of records (inserted in batches)."""
    run_id = runs.start("acme", "catalog", url=db_url)
    count = runs.ITEMS_PER_INSERT * 2 + 1
    items = [{"entity": "product", "key": f"K{i}", "action": "would create", "reason": "new", "n": i}
             for i in range(count)]
    assert runs.add_items("acme", run_id, iter(items), url=db_url) == count
    stored = runs.items("acme", run_id, url=db_url)
    assert [i.key for i in stored] == [f"K{i}" for i in range(count)]
    assert stored[-1].details == {"n": str(count - 1)} and stored[-1].tenant == "acme"


def test_runs_record_counts_items_and_prune(db_url):
    run_id = runs.start("acme", "catalog_pull", window_start=T0, url=db_url)
    runs.add_items("acme", run_id, [{"entity": "product", "key": "A/B", "action": "skipped", "reason": "P4"},
                                    {"entity": "order", "key": "7", "action": "created", "document": "pedido P-1001",
                                     "note": None}], url=db_url)
    run = runs.finish("acme", run_id, counts={"read": 3, "skipped": 1}, status="completed", url=db_url)
    assert run.counts == {"read": 3, "skipped": 1} and run.finished_at is not None
    stored = runs.items("acme", run_id, url=db_url)
    assert [i.key for i in stored] == ["A/B", "7"]
    assert stored[0].details == {} and stored[1].details == {"document": "pedido P-1001"}
    assert [r.id for r in runs.recent("acme", flow="catalog_pull", url=db_url)] == [run_id]
    with pytest.raises(ValueError, match="unknown status"):
        runs.finish("acme", run_id, counts={}, status="weird", url=db_url)
    assert runs.prune("acme", datetime.now(timezone.utc) + timedelta(seconds=1), url=db_url) == 1
    assert runs.recent("acme", url=db_url) == []


def test_dead_letters_count_attempts_resolve_and_reopen(db_url):
    dead_letters.put("acme", "order", "42", "product REF-9 not in Gestionix", url=db_url)
    letter = dead_letters.put("acme", "order", "42", "product REF-9 not in Gestionix", url=db_url)
    assert letter.attempts == 2
    dead_letters.put("acme", "order_deletion", "43", "invoiced", retry=False, url=db_url)
    assert [d.key for d in dead_letters.open_letters("acme", retry_only=True, url=db_url)] == ["42"]
    assert dead_letters.resolve("acme", "order", "42", url=db_url) is True
    assert dead_letters.resolve("acme", "order", "42", url=db_url) is False
    reopened = dead_letters.put("acme", "order", "42", "again", url=db_url)
    assert reopened.attempts == 1 and reopened.resolved_at is None
    with pytest.raises(ValueError, match="reason"):
        dead_letters.put("acme", "order", "44", "", url=db_url)

