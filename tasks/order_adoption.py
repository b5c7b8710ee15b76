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

Duplicates the listing shows are healed on the way (tasks/order_duplicates.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from prefect import task

from mappings import gestionix_fields as G
from mappings import handy_fields as H
from mappings.bindings import BindingStatus, Entity
from mappings.duplicates import Document
from mappings.orders import OrderRejected, document_date, reference
from mappings.tenant import TenantConfig
from store import binder
from tasks.audit import RunAudit
from tasks.connect import Connection
from tasks.documents import DOC_TYPES, bind_found, ensure_resolved
from tasks.options import RETRY_ON_OUTAGE
from tasks.order_duplicates import heal_duplicates
from tasks.store_calls import store_call

DATE_MARGIN = timedelta(
    days=1
)  # a document's date is the order's dateCreated (UTC): margin for zones


@task(name="adopt-pushed-orders", **RETRY_ON_OUTAGE)
async def adopt_pushed_orders(
    connection: Connection, tenant: TenantConfig, plan: Any, audit: RunAudit, dry_run: bool
) -> int:
    """Bind the unbound orders of `plan` whose document already exists in Gestionix (their work
    becomes `pushed`: only externalId is left to write); dead-letter those whose Handy record says
    pushed but whose document is gone. Returns how many were bound."""
    unbound = {work.key: work for work in plan.work if work.status is None and work.key}
    bound, gone = await _bind_found(
        connection, tenant, [w.order for w in unbound.values()], audit, dry_run
    )
    for key in bound:
        unbound[key].status = BindingStatus.PUSHED
    for key, external_id in gone.items():
        unbound[key].problem = OrderRejected(
            key,
            f"the Handy order carries externalId {external_id} (pushed before) but Gestionix has "
            f"no document {reference(key)} any more: not created again; an operator decides "
            "(recreate it in Gestionix, or clear the externalId in Handy)",
        )
    if bound:
        audit.note(
            f"{len(bound)} orders without a binding were already in Gestionix (store older "
            "than Gestionix, e.g. restored from a backup): bound, not created again."
        )
    return len(bound)


@task(name="adopt-deleted-documents", **RETRY_ON_OUTAGE)
async def adopt_deleted_documents(
    connection: Connection,
    tenant: TenantConfig,
    deleted_orders: list[dict],
    audit: RunAudit,
    dry_run: bool,
) -> int:
    """D1 without trusting the store either: a deleted Handy order with no binding may have been
    pushed after the store's backup. Its document, found by reference, is bound so deletion_sync
    deletes it instead of tombstoning the order. Returns how many were bound."""
    keys = [str(order.get(H.ORDER_ID)) for order in deleted_orders]
    bindings = await store_call(binder.get_many, tenant.slug, Entity.ORDER, keys)
    unbound = [
        order for order, key in zip(deleted_orders, keys, strict=True) if key not in bindings
    ]
    bound, _gone = await _bind_found(connection, tenant, unbound, audit, dry_run)
    return len(bound)


async def _bind_found(
    connection: Connection, tenant: TenantConfig, orders: list[dict], audit: RunAudit, dry_run: bool
) -> tuple[set[str], dict[str, str]]:
    """(keys bound to a document found by reference, {key: externalId} of orders whose Handy
    record says pushed but whose document Gestionix no longer has). Duplicates the listing shows
    are healed on the way: those of these orders, and those of orders already bound (pushed)."""
    if not orders:
        return set(), {}
    await ensure_resolved(connection)
    listed = await _documents_by_reference(connection, orders)
    found = {ref: docs[0] for ref, docs in listed.items()}
    external_ids = {
        str(order.get(H.ORDER_ID)): _text(order.get(H.ORDER_EXTERNAL_ID)) for order in orders
    }
    healed = await heal_duplicates(
        connection, tenant, listed, external_ids, audit, dry_run, adopting=set(external_ids)
    )
    bound: set[str] = set()
    gone: dict[str, str] = {}
    for order in orders:
        key = str(order.get(H.ORDER_ID))
        ref = reference(key)
        external_id = external_ids[key]
        if key in healed:
            bound.add(key)  # heal_duplicates bound the one it kept
            continue
        match = found.get(ref)
        if match is None and external_id:
            match = await _find_one(connection, ref)
        if match is None:
            if external_id:
                gone[key] = external_id
            continue
        bound.add(key)
        await bind_found(connection, tenant, key, match, external_id, audit, dry_run)
    return bound, gone


async def _documents_by_reference(
    connection: Connection, orders: Iterable[dict]
) -> dict[str, list[Document]]:
    """reference -> [(doc_type, document)] for the sucursal's documents dated
    around the orders: one paged listing per document type."""
    days = sorted(day for day in (_day(order) for order in orders) if day is not None)
    if not days:
        return {}
    filters = {
        G.FILTER_BRANCH: connection.branch_id,
        G.FILTER_DATE_FROM: (days[0] - DATE_MARGIN).isoformat(),
        G.FILTER_DATE_TO: (days[-1] + DATE_MARGIN).isoformat(),
    }
    found: dict[str, list[Document]] = {}
    for doc_type in DOC_TYPES:
        for document in await connection.gestionix.list_documents(doc_type, **filters):
            ref = document.get(G.DOCUMENT_REFERENCE)
            if isinstance(ref, str) and ref:
                found.setdefault(ref, []).append((doc_type, document))
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


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()
