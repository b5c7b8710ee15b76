"""What order_push and deletion_sync share about order documents: their binding keys, how many
are handled per task run and at once, and resolving the Gestionix branch on first need. The lease
is tasks/lease.py, the window over a cursor tasks/window.py.

Order bindings (Entity.ORDER): handy_key = str(Handy order id), gestionix_key =
"<doc_type>:<gestionix id>" (pedidos and ventas number independently), status a BindingStatus
(intent | pushed | deleted | tombstoned | skipped), data {doc_type, reference, folio,
external_id_written}.
"""

from __future__ import annotations

from typing import Any

from mappings import gestionix_fields as G
from mappings.bindings import BindingStatus, Entity
from mappings.orders import DocType, reference
from mappings.tenant import TenantConfig
from store import binder
from tasks.audit import RunAudit
from tasks.connect import Connection, resolve_branch
from tasks.fencing import LeaseGuard, fence_for
from tasks.store_calls import store_call

DOC_TYPES: tuple[DocType, ...] = ("sales_order", "sale")
DOC_LABEL = {"sales_order": "pedido", "sale": "venta"}  # for people, as Gestionix names them

CONCURRENCY = 16  # orders in flight per run; the clients rate-limit each system on their own
BATCH_SIZE = (
    200  # orders per task run; the lease is checked between batches (and before each write)
)


def document_key(doc_type: DocType, document_id: object) -> str:
    return f"{doc_type}:{document_id}"


def split_document_key(binding: Any) -> tuple[DocType | None, str | None]:
    """(doc_type, Gestionix id) of an order binding; data.doc_type wins over the key's prefix."""
    data = binding.data or {}
    key = binding.gestionix_key
    doc_type = data.get("doc_type")
    document_id = None
    if key and ":" in key:
        prefix, document_id = key.split(":", 1)
        doc_type = doc_type or prefix
    elif key:
        document_id = key
    return doc_type, document_id


async def ensure_resolved(connection: Any) -> None:
    """Resolve the Gestionix company and sucursal (A1) on first need, so a run with nothing to
    push or delete never logs in to Gestionix."""
    if connection.branch is None:
        await resolve_branch(connection)


def folio(document: dict) -> str:
    """The document's serie-folio as people read it ("" when Gestionix gave none)."""
    serie, number = document.get(G.DOCUMENT_SERIE), document.get(G.DOCUMENT_FOLIO)
    return f"{serie}-{number}" if serie and number is not None else str(number or "")


async def bind_pushed(
    slug: str,
    key: str,
    doc_type: str,
    document: dict,
    lease: LeaseGuard | None,
    *,
    external_id_written: bool = False,
) -> None:
    """O8: the order bound as pushed to its Gestionix document (created, or found by reference),
    fenced by the lease: a run that lost it is refused (LeaseLost) and the order keeps its intent,
    resolved by reference by the next run."""
    await store_call(
        binder.bind,
        slug,
        Entity.ORDER,
        key,
        document_key(doc_type, document[G.DOCUMENT_ID]),
        status=BindingStatus.PUSHED,
        data={
            "doc_type": doc_type,
            "reference": reference(key),
            "folio": folio(document),
            "external_id_written": external_id_written,
        },
        fence=fence_for(lease),
    )


async def bind_found(
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
    """O8: an order with no binding (or a duplicate's keeper) bound to the document found for it
    in Gestionix, audited as recovered; externalId counts as written when the Handy order already
    names that document."""
    doc_type, document = match
    audit.count("recovered")
    audit.item(
        Entity.ORDER,
        key,
        "would bind" if dry_run else "bound",
        "",
        folio=folio(document),
        document=document[G.DOCUMENT_ID],
        note=note or "already in Gestionix (found by reference), not known to the store",
    )
    if not dry_run:
        await bind_pushed(
            tenant.slug,
            key,
            doc_type,
            document,
            connection.lease,
            external_id_written=external_id == str(document[G.DOCUMENT_ID]),
        )
