"""A Handy order as the Gestionix document to POST, pure (RULES O5-O7, O9, O11): the header
(mappings/orders.py) and the lines (mappings/order_lines.py) put together, with the totals the run
reports. No invoicing field ever (O11).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mappings import gestionix_fields as G
from mappings import handy_fields as H
from mappings.money import to_decimal
from mappings.order_lines import PushedLine, build_lines, line_body
from mappings.orders import (
    DocType,
    ExcludedLine,
    OrderRejected,
    _order_id,
    _text,
    document_date,
    observations,
    reference,
)


@dataclass(frozen=True)
class OrderDocument:
    """A Gestionix document ready to POST, plus what the run reports about it."""

    order_id: object
    doc_type: DocType
    reference: str
    body: dict[str, Any]  # exactly the JSON body of POST /sales_orders or /sales
    lines: tuple[PushedLine, ...]
    excluded_returns: tuple[ExcludedLine, ...] = field(default_factory=tuple)
    handy_total: Decimal = Decimal(0)  # sum of Handy line totals of the pushed lines
    handy_total_sales: Decimal | None = None  # the order's own totalSales, as Handy reports it
    expected_gestionix_total: Decimal = Decimal(0)  # sum of Gestionix line totals

    @property
    def total_difference(self) -> Decimal:
        return self.expected_gestionix_total - self.handy_total

    @property
    def untaxed_products(self) -> tuple[str, ...]:
        """O6: claves of the lines pushed without taxes (reported by the run)."""
        return tuple(dict.fromkeys(line.product_code for line in self.lines if line.untaxed))


def build_document(
    order: object,
    *,
    doc_type: DocType,
    branch_id: object,
    client_id: object,
    seller_id: object | None,
    products_by_key: dict[str, dict],
    branch_name: str | None = None,
) -> OrderDocument:
    """The Gestionix body of one Handy order (O5-O7, O9; no invoicing field ever, O11).

    Raises OrderRejected (dead letter, O6) or OrderSkipped (only returns, O7)."""
    order_id = _order_id(order)
    if not isinstance(order, dict):
        raise OrderRejected(None, f"order is not an object ({type(order).__name__})")
    if order_id is None or isinstance(order_id, (bool, dict, list)) or not _text(order_id):
        raise OrderRejected(order_id, f"order has no usable {H.ORDER_ID}")
    if doc_type not in ("sales_order", "sale"):
        raise OrderRejected(order_id, f"unknown Gestionix document type {doc_type!r}")
    date = document_date(order)
    lines, excluded = build_lines(order, products_by_key or {}, branch_name=branch_name)
    body = {
        G.DOCUMENT_BRANCH_ID: branch_id,
        G.DOCUMENT_CLIENT_ID: client_id,
        G.DOCUMENT_DATE: date,
        G.DOCUMENT_SELLER_ID: seller_id,
        G.DOCUMENT_REFERENCE: reference(order_id),
        G.DOCUMENT_OBSERVATIONS: observations(order),
        G.DOCUMENT_ITEMS: [line_body(line) for line in lines],
    }
    return OrderDocument(
        order_id=order_id,
        doc_type=doc_type,
        reference=body[G.DOCUMENT_REFERENCE],
        body=body,
        lines=lines,
        excluded_returns=excluded,
        handy_total=sum((line.handy_line_total for line in lines), Decimal(0)),
        handy_total_sales=to_decimal(order.get(H.ORDER_TOTAL_SALES)),
        expected_gestionix_total=sum((line.gestionix_line_total for line in lines), Decimal(0)),
    )
