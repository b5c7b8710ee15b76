"""Reconciliation reads (X1): one day of Handy orders, the Gestionix documents around it, and
what the store knows about why an order was not pushed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from prefect import task

from mappings import gestionix_fields as G
from mappings import handy_fields as H
from mappings import reconcile as rules
from mappings.bindings import BindingStatus, Entity
from mappings.duplicates import document_label
from mappings.orders import reference
from mappings.tenant import TenantConfig
from mappings.windows import day_bounds
from store import binder, dead_letters
from tasks.audit import RunAudit
from tasks.connect import Connection
from tasks.deletions import DeletionWork
from tasks.documents import document_key
from tasks.options import RETRY_ON_OUTAGE, RUN_ONCE
from tasks.order_duplicates import heal_duplicates
from tasks.store_calls import store_call

DOC_TYPES = ("sales_order", "sale")


@dataclass
class DayData:
    start: datetime
    end: datetime
    live: list[dict]
    deleted: list[dict]
    documents: list[tuple[str, dict]]


@task(name="read-day", **RETRY_ON_OUTAGE)
async def read_day(connection: Connection, day: date) -> DayData:
    start, end = day_bounds(day, connection.tenant.handy_timezone)
    last = end - timedelta(seconds=1)  # Handy windows are inclusive, to the second
    live, deleted = [
        await connection.handy.list_sales_orders(
            start, last, filter_with_date="dateCreated", deleted=is_deleted
        )
        for is_deleted in (False, True)
    ]
    documents = []
    for doc_type in DOC_TYPES:
        found = await connection.gestionix.list_documents(
            doc_type,
            **{
                G.FILTER_BRANCH: connection.branch_id,
                G.FILTER_DATE_FROM: (start - timedelta(days=1)).date().isoformat(),
                G.FILTER_DATE_TO: (end + timedelta(days=1)).date().isoformat(),
            },
        )
        documents.extend((doc_type, document) for document in found)
    return DayData(start, end, live, deleted, documents)


@task(name="heal-duplicates", **RETRY_ON_OUTAGE)
async def heal_day_duplicates(
    connection: Connection, tenant: TenantConfig, data: DayData, audit: RunAudit, dry_run: bool
) -> tuple[list[tuple[str, dict]], list[rules.ReconcileRow]]:
    """O8 repair: of the documents that share one `HANDY-<id>` the order's one is kept (and
    bound), the others deleted, an invoiced one held for an operator (tasks/order_duplicates).
    Returns the day's documents without the deleted ones, and one `duplicate` row per deletion
    (would-be deletion in a dry run): a healed day is never a clean day."""
    listed: dict[str, list[tuple[str, dict]]] = {}
    for doc_type, document in data.documents:
        listed.setdefault(str(document.get(G.DOCUMENT_REFERENCE) or ""), []).append(
            (doc_type, document)
        )
    external_ids = {
        str(order.get(H.ORDER_ID)): str(order.get(H.ORDER_EXTERNAL_ID) or "").strip()
        for order in data.live + data.deleted
    }
    healed = await heal_duplicates(connection, tenant, listed, external_ids, audit, dry_run)
    removed = {document_label(doc) for outcome in healed.values() for doc in outcome.removed}
    verb = "would delete" if dry_run else "deleted"
    rows = [
        rules.ReconcileRow(
            key,
            "duplicate",
            f"{verb} duplicate {doc_type}:{body.get(G.DOCUMENT_ID)} of {outcome.verdict.reference}; "
            f"kept {document_label(outcome.verdict.keep)}",
            doc_type,
            str(body.get(G.DOCUMENT_ID)),
        )
        for key, outcome in healed.items()
        for doc_type, body in outcome.removed
    ]
    return [doc for doc in data.documents if document_label(doc) not in removed], rows


@task(name="why-not-pushed", **RUN_ONCE)
async def known_reasons(tenant: TenantConfig) -> dict[str, str]:
    """Order id -> the recorded reason it has no (or still has a) document."""
    return await store_call(_known_reasons, tenant.slug)


def _known_reasons(slug: str) -> dict[str, str]:
    reasons: dict[str, str] = {}
    for binding in binder.all_for(slug, Entity.ORDER, status=BindingStatus.TOMBSTONED):
        reasons[binding.handy_key] = "deleted in Handy before it was pushed (D2)"
    for letter in dead_letters.open_letters(slug):
        prefix = (
            "push dead-lettered"
            if letter.entity == Entity.ORDER
            else "deletion refused by Gestionix"
        )
        reasons[letter.key] = f"{prefix}: {letter.reason}"
    return reasons


@task(name="prepare-repair-deletions", **RUN_ONCE)
async def prepare_repair_deletions(
    tenant: TenantConfig, rows: list[rules.ReconcileRow], dry_run: bool
) -> list[DeletionWork]:
    """D1 repair: a document whose Handy order is deleted is bound to that order as pushed (the
    store may not know it: a deletion read was missed, the store was restored), so the one
    deletion path of deletion_sync deletes exactly that document (404 done, 409 dead letter)."""
    if not dry_run:
        await store_call(_bind_found_documents, tenant.slug, rows)
    return [DeletionWork(row.order_id, from_window=False) for row in rows]


def _bind_found_documents(slug: str, rows: list[rules.ReconcileRow]) -> None:
    for row in rows:
        binding = binder.get(slug, Entity.ORDER, row.order_id)
        key = document_key(row.doc_type, row.document_id)
        if (
            binding is None
            or binding.status != BindingStatus.PUSHED
            or binding.gestionix_key != key
        ):
            binder.bind(
                slug,
                Entity.ORDER,
                row.order_id,
                key,
                status=BindingStatus.PUSHED,
                data={
                    "doc_type": row.doc_type,
                    "reference": reference(row.order_id),
                    "found_by": "reconcile",
                },
            )
