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

from mappings.orders import DocType
from tasks.connect import resolve_branch

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
