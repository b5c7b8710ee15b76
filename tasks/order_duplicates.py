"""O8's repairs of documents that carry one order's reference twice.

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

from dataclasses import dataclass, field

from prefect import task

from clients.errors import Permanent, Retryable
from mappings import gestionix_fields as G
from mappings.bindings import BindingStatus, Entity
from mappings.duplicates import (
    Document,
    DuplicateVerdict,
    document_label,
    group_by_reference,
    sort_duplicates,
)
from mappings.orders import REFERENCE_PREFIX, reference
from mappings.tenant import TenantConfig
from store import binder, dead_letters
from tasks.audit import RunAudit
from tasks.connect import Connection
from tasks.documents import DOC_TYPES, bind_found, document_key, ensure_resolved, split_document_key
from tasks.options import RETRY_ON_OUTAGE
from tasks.store_calls import store_call

STALE_CREATE = "order_stale_create"  # dead-letter entity: a create sent after the lease was lost
DUPLICATE = "order_duplicate"  # dead-letter entity: an invoiced duplicate an operator decides on


@dataclass
class Healed:
    """One duplicated reference after `heal_duplicates`: the rule's verdict and the documents
    actually removed (would be, in a dry run)."""

    verdict: DuplicateVerdict
    removed: list[Document] = field(default_factory=list)


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
        await bind_found(
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
