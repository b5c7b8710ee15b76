"""O8 without trusting the store to be the newest copy: an order with no binding is created only
after looking, in bulk, for what an earlier push left behind.

A store restored from a backup, or lost, forgets the bindings of the orders pushed since. Those
orders come back with no binding, and creating them again would duplicate their documents
(with Gestionix's duplicate-reference check off, nothing else stops it). So before any create:

- the documents of the sucursal dated around the unbound orders are listed once per document type
  (paged; never one call per order) and indexed by reference `HANDY-<id>`;
- an order whose reference is found is bound to that document (the oldest, should there be
  several), not created;
- an order whose Handy record carries an `externalId` (written back after a push, O9) but whose
  document was not in the listing is looked up by reference alone (rare); if Gestionix has no
  such document any more it is NOT created again: it is dead-lettered for an operator.

deletion_sync does the same for deleted orders with no binding before it tombstones them (D1-D2):
a document pushed after the backup is found and deleted, not left behind.

Stale creates. A run frozen (SIGSTOP, VM pause) after its write gate let a create through but
before the request left sends it after thawing, when another run may already have created the
order's document. Its binding is then refused by the fence; it records the document it created
(`record_stale_create`), and the next holder of the lease deletes it unless it is the order's
bound document (`settle_stale_creates`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from prefect import task

from clients.handy import EXTERNAL_ID_FIELD
from mappings.orders import OrderRejected, document_date, reference
from mappings.tenant import TenantConfig
from store import binder, dead_letters
from tasks.audit import RunAudit
from tasks.connect import Connection
from tasks.documents import INTENT, ORDER, PUSHED, document_key, ensure_resolved
from tasks.fencing import fence_for
from tasks.options import RETRYING_TASK
from tasks.store_calls import store_call

STALE_CREATE = "order_stale_create"  # dead-letter entity: a create sent after the lease was lost
DOC_TYPES = ("sales_order", "sale")
REFERENCE, DOCUMENT_ID, FOLIO, SERIE = "reference", "id", "folio", "serie"
FILTER_BRANCH, FILTER_FROM, FILTER_TO = "branch_id", "date_from", "date_to"
DATE_MARGIN = timedelta(days=1)  # a document's date is the order's dateCreated (UTC): margin for zones


@task(name="adopt-pushed-orders", **RETRYING_TASK)
async def adopt_pushed_orders(
    connection: Connection, tenant: TenantConfig, plan: Any, audit: RunAudit, dry_run: bool
) -> int:
    """Bind the unbound orders of `plan` whose document already exists in Gestionix (their work
    becomes `pushed`: only externalId is left to write); dead-letter those whose Handy record says
    pushed but whose document is gone. Returns how many were bound."""
    unbound = {work.key: work for work in plan.work if work.status is None and work.key}
    bound, gone = await _bind_found(connection, tenant, [w.order for w in unbound.values()], audit, dry_run)
    for key in bound:
        unbound[key].status = PUSHED
    for key, external_id in gone.items():
        unbound[key].problem = OrderRejected(
            key,
            f"the Handy order carries externalId {external_id} (pushed before) but Gestionix has "
            f"no document {reference(key)} any more: not created again; an operator decides "
            "(recreate it in Gestionix, or clear the externalId in Handy)",
        )
    if bound:
        audit.note(f"{len(bound)} orders without a binding were already in Gestionix (store older "
                   "than Gestionix, e.g. restored from a backup): bound, not created again.")
    return len(bound)


@task(name="adopt-deleted-documents", **RETRYING_TASK)
async def adopt_deleted_documents(
    connection: Connection, tenant: TenantConfig, deleted_orders: list[dict], audit: RunAudit,
    dry_run: bool,
) -> int:
    """D1 without trusting the store either: a deleted Handy order with no binding may have been
    pushed after the store's backup. Its document, found by reference, is bound so deletion_sync
    deletes it instead of tombstoning the order. Returns how many were bound."""
    keys = [str(order.get("id")) for order in deleted_orders]
    bindings = await store_call(binder.get_many, tenant.slug, ORDER, keys)
    unbound = [order for order, key in zip(deleted_orders, keys, strict=True) if key not in bindings]
    bound, _gone = await _bind_found(connection, tenant, unbound, audit, dry_run)
    return len(bound)


async def _bind_found(
    connection: Connection, tenant: TenantConfig, orders: list[dict], audit: RunAudit, dry_run: bool
) -> tuple[set[str], dict[str, str]]:
    """(keys bound to a document found by reference, {key: externalId} of orders whose Handy
    record says pushed but whose document Gestionix no longer has)."""
    if not orders:
        return set(), {}
    await ensure_resolved(connection)
    found = await _documents_by_reference(connection, orders)
    bound: set[str] = set()
    gone: dict[str, str] = {}
    for order in orders:
        key = str(order.get("id"))
        ref = reference(key)
        external_id = _text(order.get(EXTERNAL_ID_FIELD))
        match = found.get(ref)
        if match is None and external_id:
            match = await _find_one(connection, ref)
        if match is None:
            if external_id:
                gone[key] = external_id
            continue
        doc_type, document = match
        bound.add(key)
        audit.count("recovered")
        audit.item(ORDER, key, "would bind" if dry_run else "bound", "",
                   folio=_folio(document), document=document[DOCUMENT_ID],
                   note="already in Gestionix (found by reference), not known to the store")
        if not dry_run:
            await store_call(
                binder.bind, tenant.slug, ORDER, key, document_key(doc_type, document[DOCUMENT_ID]),
                status=PUSHED,
                data={
                    "doc_type": doc_type,
                    "reference": ref,
                    "folio": _folio(document),
                    "external_id_written": external_id == str(document[DOCUMENT_ID]),
                },
                fence=fence_for(connection.lease),
            )
    return bound, gone


async def _documents_by_reference(
    connection: Connection, orders: Iterable[dict]
) -> dict[str, tuple[str, dict]]:
    """reference -> (doc_type, oldest document) for the sucursal's documents dated around the
    orders: one paged listing per document type."""
    days = sorted(day for day in (_day(order) for order in orders) if day is not None)
    if not days:
        return {}
    filters = {
        FILTER_BRANCH: connection.branch_id,
        FILTER_FROM: (days[0] - DATE_MARGIN).isoformat(),
        FILTER_TO: (days[-1] + DATE_MARGIN).isoformat(),
    }
    found: dict[str, tuple[str, dict]] = {}
    for doc_type in DOC_TYPES:
        for document in await connection.gestionix.list_documents(doc_type, **filters):
            ref = document.get(REFERENCE)
            if not isinstance(ref, str) or not ref:
                continue
            current = found.get(ref)
            if current is None or _older(document, current[1]):
                found[ref] = (doc_type, document)
    return found


async def _find_one(connection: Connection, ref: str) -> tuple[str, dict] | None:
    for doc_type in DOC_TYPES:
        document = await connection.gestionix.find_document_by_reference(doc_type, ref)
        if document is not None:
            return doc_type, document
    return None


def _day(order: dict) -> date | None:
    try:
        return date.fromisoformat(document_date(order)[:10])
    except OrderRejected:
        return None  # an unreadable date is dead-lettered by the push itself


def _older(document: dict, other: dict) -> bool:
    return str(document[DOCUMENT_ID]).zfill(20) < str(other[DOCUMENT_ID]).zfill(20)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _folio(document: dict) -> str:
    serie, folio = document.get(SERIE), document.get(FOLIO)
    return f"{serie}-{folio}" if serie and folio is not None else str(folio or "")


def record_stale_create(slug: str, order_key: str) -> None:
    """Called by a run that lost its lease while a create of `order_key` was (maybe) out."""
    dead_letters.put(
        slug, STALE_CREATE, order_key,
        f"a document for order {order_key} may have been created after this run lost its lease; "
        "the next run keeps only the order's bound document",
        retry=True,
    )


@task(name="settle-stale-creates", **RETRYING_TASK)
async def settle_stale_creates(
    connection: Connection, tenant: TenantConfig, audit: RunAudit, dry_run: bool
) -> int:
    """O8: for each order a run may have created after losing its lease, delete the documents
    carrying its reference other than the one it is bound to (all of them when the order was
    deleted or tombstoned meanwhile); an order not settled yet (no binding, or an intent) waits
    for its push, which binds one of them. Returns how many documents were deleted."""
    letters = await store_call(dead_letters.open_letters, tenant.slug, STALE_CREATE)
    if not letters:
        return 0
    bindings = await store_call(binder.get_many, tenant.slug, ORDER, [letter.key for letter in letters])
    await ensure_resolved(connection)
    deleted = 0
    for letter in letters:
        binding = bindings.get(letter.key)
        if binding is None or binding.status == INTENT:
            continue
        keep = binding.gestionix_key if binding.status == PUSHED else None
        for doc_type in DOC_TYPES:
            ref = reference(letter.key)
            for document in await connection.gestionix.list_documents(doc_type, **{REFERENCE: ref}):
                if document.get(REFERENCE) != ref or document_key(doc_type, document[DOCUMENT_ID]) == keep:
                    continue
                audit.item(ORDER, letter.key, "would delete" if dry_run else "deleted duplicate", "",
                           document=document[DOCUMENT_ID],
                           note="created by a run that had lost its lease")
                if not dry_run:
                    await connection.gestionix.delete_document(doc_type, document[DOCUMENT_ID])
                    deleted += 1
        if not dry_run:
            await store_call(dead_letters.resolve, tenant.slug, STALE_CREATE, letter.key)
    return deleted
