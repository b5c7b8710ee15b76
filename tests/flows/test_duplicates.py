"""O8 self-healing: two Gestionix documents carrying one `HANDY-<id>` (a create sent by a run that
had lost its lease, whose record a store restore then erased) are healed by the next pass that
lists them: the order's document is kept (and bound), the other deleted, an invoiced one held
for an operator; a dry run writes nothing."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from flows.orders import order_push
from flows.reconcile import reconcile
from store import binder, dead_letters, runs
from store.leases import LeaseLost
from tasks.audit import ISSUES_STATE, RunAudit
from tasks.connect import connect
from tasks.order_duplicates import DUPLICATE, heal_duplicates
from tests.kit.sandbox_orders import (
    activate,
    by_reference,
    company,
    customer,
    document_of,
    documents,
    order,
    seed_catalog,
    writes,
)

pytestmark = pytest.mark.flow


def _doc_type(document: dict) -> str:
    return "sales_order" if "sales_order_id" in document else "sale"


def _doc_id(document: dict) -> int:
    return document["sales_order_id" if "sales_order_id" in document else "sale_id"]


def _second_document(sandbox, original: dict) -> dict:
    """What a create sent after its run lost the lease leaves behind: the same order again,
    with Gestionix's duplicate-reference check off."""
    body = {
        "branch_id": original["branch_id"],
        "client_id": original["client_id"],
        "date": original["date"],
        "reference": original["reference"],
        "items": [
            {k: line[k] for k in ("product_id", "quantity", "unit_price")}
            | {"taxes": [{"tax_id": t["tax_id"]} for t in line["taxes"]]}
            for line in original["items"]
        ],
    }
    return sandbox.gestionix.create_document(
        company(sandbox), _doc_type(original), body, check_duplicate=False
    )


def _local_day(tenant, handy_order):
    created = datetime.fromisoformat(handy_order["dateCreated"])
    return created.astimezone(ZoneInfo(tenant.handy_timezone)).date()


async def _pushed(sandbox, tenant) -> tuple[dict, str]:
    """One order pushed by order_push; (the Handy order, its product code)."""
    (code,) = seed_catalog(sandbox, 1)
    customer(sandbox, "C-1", "Depósito El Sol")
    handy_order = order(sandbox, "C-1", [(code, 2)])
    activate(tenant.slug)
    await order_push(tenant)
    return handy_order, code


def _actions(tenant, flow: str) -> list[tuple[str, str, str]]:
    run = runs.recent(tenant.slug, flow=flow, limit=1)[0]
    return [(i.key, i.action, i.reason) for i in runs.items(tenant.slug, run.id)]


async def test_o8_order_push_listing_deletes_the_duplicate_of_a_bound_order(sandbox, tenant):
    """O8: binding for X, Gestionix holds X and Y with the same reference; the next order_push
    (its bulk listing runs for a new unbound order of the day) deletes Y, keeps X bound, and
    the run ends "Completed with issues", not clean."""
    first, code = await _pushed(sandbox, tenant)
    kept = document_of(sandbox, first["id"])
    extra = _second_document(sandbox, kept)
    newer = order(sandbox, "C-1", [(code, 1)])

    state = await order_push(tenant, return_state=True)

    assert state.name == ISSUES_STATE, state.message
    assert "1 duplicate document deleted" in state.message
    assert set(by_reference(sandbox).values()) == {1}  # 0 duplicates
    assert document_of(sandbox, first["id"]) is kept
    assert _doc_id(extra) not in {_doc_id(d) for d in documents(sandbox)}
    binding = binder.get(tenant.slug, "order", str(first["id"]))
    assert (
        binding.status == "pushed" and binding.gestionix_key == f"{_doc_type(kept)}:{_doc_id(kept)}"
    )
    document_of(sandbox, newer["id"])  # the new order went through
    actions = _actions(tenant, "orders")
    assert (str(first["id"]), "deleted duplicate", "") in actions

    again = await order_push(tenant, return_state=True)  # healed: the next pass is clean
    assert again.name == "Completed", again.message


async def test_o8_stale_create_whose_record_a_restore_erased_is_healed_by_order_push(
    sandbox, tenant
):
    """O8 (campaign seed 1170): a create sent after its run lost the lease left a second document,
    and a store restore erased both the order's binding and the stale-create record. The next
    order_push, listing before it creates, binds the document the externalId names, deletes the
    other, creates nothing, and ends "Completed with issues"."""
    first, _ = await _pushed(sandbox, tenant)
    kept = document_of(sandbox, first["id"])
    extra = _second_document(sandbox, kept)
    binder.delete(tenant.slug, "order", str(first["id"]))

    state = await order_push(tenant, return_state=True)

    assert state.name == ISSUES_STATE and "1 duplicate document deleted" in state.message
    assert set(by_reference(sandbox).values()) == {1}
    assert document_of(sandbox, first["id"]) is kept
    assert _doc_id(extra) not in {_doc_id(d) for d in documents(sandbox)}
    binding = binder.get(tenant.slug, "order", str(first["id"]))
    assert (
        binding.status == "pushed" and binding.gestionix_key == f"{_doc_type(kept)}:{_doc_id(kept)}"
    )
    actions = {(key, action) for key, action, _ in _actions(tenant, "orders")}
    assert {(str(first["id"]), "bound"), (str(first["id"]), "deleted duplicate")} <= actions


async def test_o8_reconcile_keeps_the_document_externalid_names_and_binds_it(sandbox, tenant):
    """O8: no binding left (store restored) and two documents: reconcile keeps the one the Handy
    order's externalId names, binds it, deletes the other and ends Failed, listing the repair."""
    first, _ = await _pushed(sandbox, tenant)
    kept = document_of(sandbox, first["id"])
    extra = _second_document(sandbox, kept)
    assert str(sandbox.handy.orders[first["id"]]["externalId"]) == str(_doc_id(kept))
    binder.delete(tenant.slug, "order", str(first["id"]))

    state = await reconcile(tenant, day=_local_day(tenant, first), return_state=True)

    assert state.is_failed()
    assert (
        f"{first['id']} duplicate: deleted duplicate {_doc_type(extra)}:{_doc_id(extra)}"
        in state.message
    )
    assert "1 deleted" in state.message
    assert document_of(sandbox, first["id"]) is kept
    binding = binder.get(tenant.slug, "order", str(first["id"]))
    assert (
        binding.status == "pushed" and binding.gestionix_key == f"{_doc_type(kept)}:{_doc_id(kept)}"
    )

    calm = await reconcile(tenant, day=_local_day(tenant, first), return_state=True)
    assert calm.is_completed(), calm.message


async def test_o8_an_invoiced_duplicate_is_kept_and_reported_naming_both_documents(sandbox, tenant):
    """O8/D3: an invoiced duplicate is not deleted: a dead letter names the order and both
    documents, the run is not clean, and nothing is deleted."""
    first, _ = await _pushed(sandbox, tenant)
    kept = document_of(sandbox, first["id"])
    extra = _second_document(sandbox, kept)
    extra["invoiced"], extra["status"] = True, "invoiced"
    before = writes(sandbox)

    state = await reconcile(tenant, day=_local_day(tenant, first), return_state=True)

    assert state.is_failed()
    assert writes(sandbox) == before
    assert by_reference(sandbox)[f"HANDY-{first['id']}"] == 2
    letter = dead_letters.get(tenant.slug, DUPLICATE, str(first["id"]))
    assert letter is not None and letter.resolved_at is None and not letter.retry
    for document in (kept, extra):
        assert f"{_doc_type(document)}:{_doc_id(document)}" in letter.reason
    assert f"order {first['id']}" in letter.reason and "invoiced" in letter.reason

    # The operator removes the duplicate by hand: the next pass closes the letter.
    sandbox.gestionix.delete_document(
        company(sandbox), _doc_type(extra), _doc_id(extra), force=True
    )
    await reconcile(tenant, day=_local_day(tenant, first), return_state=True)
    assert dead_letters.get(tenant.slug, DUPLICATE, str(first["id"])).resolved_at is not None


async def test_o8_a_dry_run_names_the_duplicate_and_writes_nothing(sandbox, tenant):
    """O8/X3: reconcile and order_push in dry run say "would delete duplicate", delete and bind
    nothing."""
    first, _ = await _pushed(sandbox, tenant)
    kept = document_of(sandbox, first["id"])
    extra = _second_document(sandbox, kept)
    binder.delete(tenant.slug, "order", str(first["id"]))  # the store restored: nothing bound
    before = writes(sandbox)

    state = await reconcile(tenant, day=_local_day(tenant, first), dry_run=True, return_state=True)
    pushed = await order_push(tenant, dry_run=True, return_state=True)

    assert state.is_failed() and "would repair" in state.message
    assert pushed.name == ISSUES_STATE and "1 duplicate document to delete" in pushed.message
    assert writes(sandbox) == before
    assert by_reference(sandbox)[f"HANDY-{first['id']}"] == 2
    assert binder.get(tenant.slug, "order", str(first["id"])) is None
    for flow in ("reconcile", "orders"):
        assert (str(first["id"]), "would delete duplicate", "") in _actions(tenant, flow)
    assert _doc_id(extra) in {_doc_id(d) for d in documents(sandbox)}


class _LostLease:
    """A lease the run no longer holds (taken over, or the process was frozen past its TTL)."""

    def check(self) -> None:
        raise LeaseLost("lease taken over by another run")

    def fence(self, session) -> None:
        self.check()


async def test_o8_healing_asks_the_lease_before_each_deletion(sandbox, tenant):
    """O8/S3: a run that lost its lease deletes no duplicate: the DELETE is refused before it
    leaves, the run stops with LeaseLost, and both documents are left for the next holder."""
    first, _ = await _pushed(sandbox, tenant)
    kept = document_of(sandbox, first["id"])
    _second_document(sandbox, kept)
    listed = {
        kept["reference"]: [
            (_doc_type(d), {**d, "id": _doc_id(d)})
            for d in documents(sandbox)
            if d["reference"] == kept["reference"]
        ]
    }
    before = writes(sandbox)

    async with connect(tenant) as connection:
        connection.lease = _LostLease()
        with pytest.raises(LeaseLost):
            await heal_duplicates(
                connection, tenant, listed, {}, RunAudit(tenant.slug, "orders"), False
            )

    assert writes(sandbox) == before
    assert by_reference(sandbox)[kept["reference"]] == 2
