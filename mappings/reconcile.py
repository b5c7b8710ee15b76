"""Reconciliation of one day (X1): Handy orders vs bindings vs Gestionix documents, pure.

Outcomes per order or document: ok, missing (a live Handy order without its Gestionix document),
extra (a Gestionix document with a HANDY reference but no live Handy order), total_mismatch
(document total differs from the Handy total by more than a cent per pushed line),
explained (not pushed for a recorded reason: dead letter, only returns, deleted before push),
duplicate (a second document carrying an order's reference, deleted by the repair: O8).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from mappings import gestionix_fields as G
from mappings import handy_fields as H
from mappings.money import CENT, to_decimal
from mappings.orders import REFERENCE_PREFIX, reference
from mappings.windows import parse_timestamp

OUTCOMES = ("ok", "explained", "missing", "extra", "total_mismatch", "duplicate")
PROBLEMS = ("missing", "extra", "total_mismatch", "duplicate")


@dataclass(frozen=True)
class ReconcileRow:
    order_id: str
    outcome: str
    reason: str
    doc_type: str = ""
    document_id: str = ""
    handy_total: str = ""
    gestionix_total: str = ""

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items()}


def _money(value: Any) -> Decimal | None:
    return to_decimal(value)


def handy_id_of(document: Mapping[str, Any]) -> str | None:
    ref = str(document.get(G.DOCUMENT_REFERENCE) or "")
    return ref[len(REFERENCE_PREFIX) :] if ref.startswith(REFERENCE_PREFIX) else None


def document_in_day(
    documents: Iterable[tuple[str, Mapping]], start: datetime, end: datetime
) -> dict[str, bool]:
    """Handy order id -> whether one of the documents carrying its reference is dated in
    [start, end): the Gestionix listing is read a day wider on each side, and a document of
    another day with no order in this one is not this day's `extra`."""
    inside: dict[str, bool] = {}
    for _, document in documents:
        handy_id = handy_id_of(document)
        if handy_id is None:
            continue
        try:
            stamp = parse_timestamp(str(document.get(G.DOCUMENT_DATE)))
        except (ValueError, TypeError):
            stamp = None
        inside[handy_id] = inside.get(handy_id, False) or (
            stamp is not None and start <= stamp < end
        )
    return inside


def only_returns(order: Mapping[str, Any]) -> bool:
    items = order.get(H.ORDER_ITEMS) or []
    return bool(items) and all(
        bool(i.get(H.ITEM_IS_RETURN)) for i in items if isinstance(i, Mapping)
    )


def reconcile_day(
    live_orders: Iterable[Mapping[str, Any]],
    documents: Iterable[tuple[str, Mapping[str, Any]]],
    *,
    reasons: Mapping[str, str],
    deleted_ids: Iterable[str] = (),
    document_in_day: Mapping[str, bool] | None = None,
) -> list[ReconcileRow]:
    """`documents` are (doc_type, document) pairs; `reasons` maps Handy order id -> why it was not
    pushed (open dead letter, tombstone...); `deleted_ids` are Handy orders known deleted;
    `document_in_day[handy_id]` says whether an unmatched document belongs to the day (others are
    another day's business and are left out)."""
    by_ref: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for doc_type, document in documents:
        handy_id = handy_id_of(document)
        if handy_id is not None:
            by_ref.setdefault(handy_id, []).append((doc_type, document))
    rows: list[ReconcileRow] = []
    live_ids: set[str] = set()
    for order in live_orders:
        order_id = str(order.get(H.ORDER_ID))
        live_ids.add(order_id)
        found = by_ref.get(order_id, [])
        handy_total = _money(order.get(H.ORDER_TOTAL_SALES))
        if not found:
            rows.append(_undocumented(order, order_id, handy_total, reasons))
            continue
        if len(found) > 1:
            ids = ", ".join(f"{t}:{d.get(G.DOCUMENT_ID)}" for t, d in found)
            rows.append(
                ReconcileRow(
                    order_id, "extra", f"{len(found)} documents carry {reference(order_id)}: {ids}"
                )
            )
        rows.append(_compared_totals(order_id, handy_total, *found[0]))
    deleted = {str(i) for i in deleted_ids}
    in_day = document_in_day or {}
    for handy_id, found in by_ref.items():
        if handy_id in live_ids or not in_day.get(handy_id, False):
            continue
        rows.extend(_orphans(handy_id, found, deleted, reasons))
    return rows


def _undocumented(
    order: Mapping[str, Any], order_id: str, handy_total: Decimal | None, reasons: Mapping[str, str]
) -> ReconcileRow:
    """A live order no document carries: explained (a known reason, only returns) or missing."""
    if order_id in reasons:
        return ReconcileRow(
            order_id, "explained", reasons[order_id], handy_total=str(handy_total or "")
        )
    if only_returns(order):
        return ReconcileRow(order_id, "explained", "only return lines: nothing to push (O7)")
    return ReconcileRow(
        order_id,
        "missing",
        f"no Gestionix document with reference {reference(order_id)}",
        handy_total=str(handy_total or ""),
    )


def _orphans(
    handy_id: str,
    found: list[tuple[str, Mapping[str, Any]]],
    deleted: set[str],
    reasons: Mapping[str, str],
) -> list[ReconcileRow]:
    """The day's documents whose Handy order is not live: extra, each saying why."""
    rows = []
    for doc_type, document in found:
        why = "its Handy order is deleted" if handy_id in deleted else "no live Handy order"
        if handy_id in reasons:
            why += f" ({reasons[handy_id]})"
        rows.append(
            ReconcileRow(
                handy_id,
                "extra",
                f"Gestionix {doc_type} {document.get(G.DOCUMENT_ID)}: {why}",
                doc_type,
                str(document.get(G.DOCUMENT_ID)),
                "",
                str(document.get(G.DOCUMENT_TOTAL, "")),
            )
        )
    return rows


def _compared_totals(
    order_id: str, handy_total: Decimal | None, doc_type: str, document: Mapping[str, Any]
) -> ReconcileRow:
    """ok, or total_mismatch when the totals differ by more than a cent per pushed line."""
    gestionix_total = _money(document.get(G.DOCUMENT_TOTAL))
    lines = max(1, len(document.get(G.DOCUMENT_ITEMS) or []))
    if handy_total is None or gestionix_total is None:
        outcome, reason = "total_mismatch", "a total is missing or not a number"
    elif abs(handy_total - gestionix_total) > CENT * lines:
        outcome, reason = (
            "total_mismatch",
            (
                f"Handy {handy_total} vs Gestionix {gestionix_total} (tolerance {CENT * lines} for {lines} lines)"
            ),
        )
    else:
        outcome, reason = "ok", ""
    return ReconcileRow(
        order_id,
        outcome,
        reason,
        doc_type,
        str(document.get(G.DOCUMENT_ID)),
        str(handy_total),
        str(gestionix_total),
    )


def problems(rows: Iterable[ReconcileRow]) -> list[ReconcileRow]:
    return [row for row in rows if row.outcome in PROBLEMS]


@dataclass(frozen=True)
class Repairs:
    """What a reconcile can heal through the integration's own protocols: live orders with no
    document are pushed (O1, O8: exactly once, as order_push does), documents of orders deleted
    in Handy are deleted (D1); a second document carrying an order's reference was deleted
    before (O8, tasks/order_duplicates.heal_duplicates) unless it is invoiced. Every other
    difference is only reported: a total that differs, an invoiced duplicate, need a person."""

    push: list[Mapping[str, Any]]
    delete: list[ReconcileRow]

    def __bool__(self) -> bool:
        return bool(self.push or self.delete)


def plan_repairs(
    rows: Iterable[ReconcileRow],
    live_orders: Iterable[Mapping[str, Any]],
    deleted_ids: Iterable[str],
) -> Repairs:
    rows = list(rows)
    by_id = {str(order.get(H.ORDER_ID)): order for order in live_orders}
    deleted = {str(i) for i in deleted_ids}
    push = [
        by_id[row.order_id] for row in rows if row.outcome == "missing" and row.order_id in by_id
    ]
    delete = [
        row
        for row in rows
        if row.outcome == "extra"
        and row.order_id in deleted
        and row.order_id not in by_id
        and row.document_id
        and row.doc_type
    ]
    return Repairs(push=push, delete=delete)
