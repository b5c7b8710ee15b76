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

Duplicates. Should that record be lost too (a store restored in the same window), two documents
carry one reference. Whenever the bulk listing (or reconcile) sees that, `heal_duplicates` keeps
the order's document (mappings/duplicates.py: the bound one, else the one the Handy order's
externalId names, else the oldest; bound if it was not) and deletes the others, one audited item
each, after the lease check every Gestionix write makes; an invoiced one is not deleted but
dead-lettered (`order_duplicate`) naming the order and both documents, for an operator.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from prefect import task

from clients.errors import Permanent, Retryable
from mappings import gestionix_fields as G
from mappings import handy_fields as H
from mappings.bindings import BindingStatus, Entity
from mappings.duplicates import (
    Document,
    DuplicateVerdict,
    document_label,
    group_by_reference,
    sort_duplicates,
)
from mappings.orders import REFERENCE_PREFIX, OrderRejected, document_date, reference
from mappings.tenant import TenantConfig
from store import binder, dead_letters
from tasks.audit import RunAudit
from tasks.connect import Connection
from tasks.documents import document_key, ensure_resolved, split_document_key
from tasks.fencing import fence_for
from tasks.options import RETRY_ON_OUTAGE
from tasks.store_calls import store_call

STALE_CREATE = "order_stale_create"  # dead-letter entity: a create sent after the lease was lost
DUPLICATE = "order_duplicate"  # dead-letter entity: an invoiced duplicate an operator decides on
DOC_TYPES = ("sales_order", "sale")
DATE_MARGIN = timedelta(
    days=1
)  # a document's date is the order's dateCreated (UTC): margin for zones


@dataclass
class Healed:
    """One duplicated reference after `heal_duplicates`: the rule's verdict and the documents
    actually removed (would be, in a dry run)."""

    verdict: DuplicateVerdict
    removed: list[Document] = field(default_factory=list)


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
        await _bind_adopted(connection, tenant, key, match, external_id, audit, dry_run)
    return bound, gone


async def _bind_adopted(
    connection: Connection,
    tenant: TenantConfig,
    key: str,
    match: tuple[str, dict],
    external_id: str,
    audit: RunAudit,
    dry_run: bool,
    *,
    note: str = "",
) -> None:
    doc_type, document = match
    audit.count("recovered")
    audit.item(
        Entity.ORDER,
        key,
        "would bind" if dry_run else "bound",
        "",
        folio=_folio(document),
        document=document[G.DOCUMENT_ID],
        note=note or "already in Gestionix (found by reference), not known to the store",
    )
    if not dry_run:
        await store_call(
            binder.bind,
            tenant.slug,
            Entity.ORDER,
            key,
            document_key(doc_type, document[G.DOCUMENT_ID]),
            status=BindingStatus.PUSHED,
            data={
                "doc_type": doc_type,
                "reference": reference(key),
                "folio": _folio(document),
                "external_id_written": external_id == str(document[G.DOCUMENT_ID]),
            },
            fence=fence_for(connection.lease),
        )


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


async def heal_duplicates(
    connection: Connection,
    tenant: TenantConfig,
    listed: dict[str, list[Document]],
    external_ids: dict[str, str],
    audit: RunAudit,
    dry_run: bool,
    *,
    adopting: set[str] | None = None,
) -> dict[str, Healed]:
    """O8 repair of references carried by two or more listed documents. `external_ids` maps the
    Handy orders read by the caller to their externalId. With `adopting` (the bulk listing
    before creates), only the unbound orders being adopted and the orders bound as pushed are
    healed (an intent is its push's to settle); without it (reconcile, under the lease with no
    push in flight) every duplicated reference is. Returns what was done by order key; a
    deletion that failed is an audited failure (or held, on a 409), tried again by the next pass."""
    groups = {
        ref: docs
        for ref, docs in group_by_reference(doc for docs in listed.values() for doc in docs).items()
        if ref.startswith(REFERENCE_PREFIX)
    }
    await store_call(_settle_letters, tenant, listed, dry_run)
    if not groups:
        return {}
    keys = {ref[len(REFERENCE_PREFIX) :]: ref for ref in groups}
    bindings = await store_call(binder.get_many, tenant.slug, Entity.ORDER, list(keys))
    healed: dict[str, Healed] = {}
    for key, ref in keys.items():
        binding = bindings.get(key)
        status = binding.status if binding is not None else None
        if adopting is not None and not (
            status == BindingStatus.PUSHED or (status is None and key in adopting)
        ):
            continue
        bound_key = (
            document_key(*split_document_key(binding)) if status == BindingStatus.PUSHED else None
        )
        healed[key] = await _heal_reference(
            connection, tenant, key, ref, groups[ref], bound_key, external_ids, audit, dry_run
        )
    return healed


async def _heal_reference(
    connection: Connection,
    tenant: TenantConfig,
    key: str,
    ref: str,
    documents: list[Document],
    bound_key: str | None,
    external_ids: dict[str, str],
    audit: RunAudit,
    dry_run: bool,
) -> Healed:
    """One duplicated reference: bind the document the rule keeps (unless it is the bound one),
    delete the others, hold the invoiced ones for an operator."""
    verdict = sort_duplicates(
        ref, documents, bound_key=bound_key, external_id=external_ids.get(key)
    )
    healed = Healed(verdict)
    if not verdict.keep_is_bound:
        await _bind_adopted(
            connection,
            tenant,
            key,
            verdict.keep,
            external_ids.get(key, ""),
            audit,
            dry_run,
            note=f"kept of {len(documents)} documents carrying {ref}",
        )
    for document in verdict.delete:
        if await _delete_duplicate(connection, tenant, key, verdict, document, audit, dry_run):
            healed.removed.append(document)
    for document in verdict.locked:
        await _hold_duplicate(
            tenant, key, verdict, document, "it is invoiced or stamped", audit, dry_run
        )
    return healed


async def _delete_duplicate(
    connection: Connection,
    tenant: TenantConfig,
    key: str,
    verdict: DuplicateVerdict,
    document: Document,
    audit: RunAudit,
    dry_run: bool,
) -> bool:
    """True when the document is gone (would be, in a dry run). The D3 semantics of every
    deletion: 404 is done, 409 is for an operator, a transient error is tried again by the next
    pass. The client asks the lease before the DELETE leaves (a lost lease raises LeaseLost)."""
    doc_type, body = document
    kept = document_label(verdict.keep)
    note = f"{verdict.reference} is carried by {document_label(document)} and {kept}; kept {kept}"
    if dry_run:
        audit.count("deleted")
        audit.item(
            Entity.ORDER,
            key,
            "would delete duplicate",
            "",
            document=document_label(document),
            note=note,
        )
        return True
    try:
        result = await connection.gestionix.delete_document(doc_type, body[G.DOCUMENT_ID])
    except Retryable as exc:
        audit.fail(
            Entity.ORDER,
            key,
            f"temporary: duplicate {document_label(document)} of {verdict.reference} "
            f"not deleted ({exc}); tried again by the next run",
        )
        return False
    except Permanent as exc:  # 409: invoiced or converted since it was listed
        await _hold_duplicate(
            tenant,
            key,
            verdict,
            document,
            f"Gestionix refused to delete it: {exc.message or exc}",
            audit,
            dry_run,
        )
        return False
    audit.count("deleted")
    audit.item(
        Entity.ORDER,
        key,
        "deleted duplicate",
        "",
        document=document_label(document),
        note=note + ("; already gone in Gestionix (404)" if result == "gone" else ""),
    )
    return True


async def _hold_duplicate(
    tenant: TenantConfig,
    key: str,
    verdict: DuplicateVerdict,
    document: Document,
    why: str,
    audit: RunAudit,
    dry_run: bool,
) -> None:
    reason = (
        f"order {key}: {verdict.reference} is carried by {document_label(verdict.keep)} (kept, the "
        f"order's document) and {document_label(document)}, not deleted because {why}; an operator "
        "decides which one stays"
    )
    audit.count("failed")
    audit.item(Entity.ORDER, key, "dead-lettered", reason, document=document_label(document))
    if not dry_run:
        await store_call(dead_letters.put, tenant.slug, DUPLICATE, key, reason, retry=False)


def _settle_letters(tenant: TenantConfig, listed: dict[str, list[Document]], dry_run: bool) -> None:
    """An operator resolved a held duplicate in Gestionix: its reference now lists once."""
    if dry_run:
        return
    for letter in dead_letters.open_letters(tenant.slug, DUPLICATE):
        if len(listed.get(reference(letter.key), ())) == 1:
            dead_letters.resolve(tenant.slug, DUPLICATE, letter.key)


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


def _folio(document: dict) -> str:
    serie, folio = document.get(G.DOCUMENT_SERIE), document.get(G.DOCUMENT_FOLIO)
    return f"{serie}-{folio}" if serie and folio is not None else str(folio or "")


def record_stale_create(slug: str, order_key: str) -> None:
    """Called by a run that lost its lease while a create of `order_key` was (maybe) out."""
    dead_letters.put(
        slug,
        STALE_CREATE,
        order_key,
        f"a document for order {order_key} may have been created after this run lost its lease; "
        "the next run keeps only the order's bound document",
        retry=True,
    )


@task(name="settle-stale-creates", **RETRY_ON_OUTAGE)
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
    bindings = await store_call(
        binder.get_many, tenant.slug, Entity.ORDER, [letter.key for letter in letters]
    )
    await ensure_resolved(connection)
    deleted = 0
    for letter in letters:
        binding = bindings.get(letter.key)
        if binding is None or binding.status == BindingStatus.INTENT:
            continue
        keep = binding.gestionix_key if binding.status == BindingStatus.PUSHED else None
        for doc_type in DOC_TYPES:
            ref = reference(letter.key)
            for document in await connection.gestionix.list_documents(
                doc_type, **{G.DOCUMENT_REFERENCE: ref}
            ):
                if (
                    document.get(G.DOCUMENT_REFERENCE) != ref
                    or document_key(doc_type, document[G.DOCUMENT_ID]) == keep
                ):
                    continue
                audit.item(
                    Entity.ORDER,
                    letter.key,
                    "would delete" if dry_run else "deleted duplicate",
                    "",
                    document=document[G.DOCUMENT_ID],
                    note="created by a run that had lost its lease",
                )
                if not dry_run:
                    await connection.gestionix.delete_document(doc_type, document[G.DOCUMENT_ID])
                    deleted += 1
        if not dry_run:
            await store_call(dead_letters.resolve, tenant.slug, STALE_CREATE, letter.key)
    return deleted
