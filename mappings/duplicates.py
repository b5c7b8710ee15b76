"""O8 repair, pure: which of several Gestionix documents carrying one `HANDY-<id>` reference is
the order's document, and what becomes of the others.

Two documents can carry one reference only when a create went out from a run that had lost its
lease and the record of that stale create was lost too (a store restored in the same window).
Nothing else may decide which one is the order's, so the rule is fixed and deterministic:

1. the document the store's binding points at (status pushed);
2. else the document the Handy order's `externalId` names (written back after a push, O9);
3. else the oldest one: the lowest id (Gestionix ids grow), pedidos before ventas on a tie.

Every other one is deleted, unless it is invoiced or stamped (or a pedido already turned into a
venta): such a document cannot be deleted by the integration (D3) and an operator decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mappings import gestionix_fields as G

# A document Gestionix flags (G.DOCUMENT_LOCKED_FLAGS) or whose status is one of these can no
# longer be deleted (assumed, like the rest of the document shape; a DELETE answering 409 is
# the final word either way).
LOCKED_STATUSES = frozenset({"invoiced", "stamped", "converted", "cancelled"})
DOC_TYPE_ORDER = {"sales_order": 0, "sale": 1}

Document = tuple[str, Mapping[str, Any]]  # (doc_type, document as listed)


@dataclass(frozen=True)
class DuplicateVerdict:
    """For one reference: the document kept, those to delete, those an operator must decide on."""

    reference: str
    keep: Document
    keep_is_bound: bool  # False: the kept one must be bound (the store did not point at it)
    delete: list[Document] = field(default_factory=list)
    locked: list[Document] = field(default_factory=list)


def document_label(document: Document) -> str:
    doc_type, body = document
    return f"{doc_type}:{body.get(G.DOCUMENT_ID)}"


def is_locked(document: Mapping[str, Any]) -> bool:
    """Invoiced, stamped or converted: not for the integration to delete."""
    if any(document.get(name) is True for name in G.DOCUMENT_LOCKED_FLAGS):
        return True
    return str(document.get(G.DOCUMENT_STATUS) or "").strip().lower() in LOCKED_STATUSES


def group_by_reference(documents: Iterable[Document]) -> dict[str, list[Document]]:
    """reference -> its documents, for references carried by two or more documents."""
    groups: dict[str, list[Document]] = {}
    for doc_type, document in documents:
        ref = document.get(G.DOCUMENT_REFERENCE)
        if isinstance(ref, str) and ref:
            groups.setdefault(ref, []).append((doc_type, document))
    return {ref: docs for ref, docs in groups.items() if len(docs) > 1}


def _age(document: Document) -> tuple[int, str, int]:
    """Oldest first: numeric ids by value, then any other id by text; pedidos before ventas."""
    doc_type, body = document
    raw = str(body.get(G.DOCUMENT_ID))
    rank = DOC_TYPE_ORDER.get(doc_type, 9)
    return (0, raw.zfill(20), rank) if raw.isdigit() else (1, raw, rank)


def choose_kept(
    documents: Iterable[Document], *, bound_key: str | None = None, external_id: str | None = None
) -> tuple[Document, bool]:
    """(the document to keep, whether it is the bound one). `bound_key` is the binding's
    Gestionix key `doc_type:id` (only when the binding is pushed); `external_id` the Handy
    order's externalId."""
    candidates = sorted(documents, key=_age)
    if not candidates:
        raise ValueError("choose_kept needs at least one document")
    if bound_key:
        for document in candidates:
            if document_label(document) == bound_key:
                return document, True
    wanted = (external_id or "").strip()
    if wanted:
        for document in candidates:
            if str(document[1].get(G.DOCUMENT_ID)) == wanted:
                return document, False
    return candidates[0], False


def sort_duplicates(
    reference: str,
    documents: Iterable[Document],
    *,
    bound_key: str | None = None,
    external_id: str | None = None,
) -> DuplicateVerdict:
    documents = list(documents)
    keep, is_bound = choose_kept(documents, bound_key=bound_key, external_id=external_id)
    others = [d for d in sorted(documents, key=_age) if document_label(d) != document_label(keep)]
    return DuplicateVerdict(
        reference=reference,
        keep=keep,
        keep_is_bound=is_bound,
        delete=[d for d in others if not is_locked(d[1])],
        locked=[d for d in others if is_locked(d[1])],
    )
