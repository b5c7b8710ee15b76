"""Handy order -> Gestionix pedido/venta, pure (RULES O2-O7, O9-O11; O1/O8 live in the flow;
the order's client and seller, O3/O4, in mappings/order_customers.py).

This module: what an order is (O2), its reference and texts (O9, O10), the two ways an order
is not pushed, and readers that never raise on odd input. Its lines (O5-O7, money) are
mappings/order_lines.py, the whole document mappings/order_documents.py.

No I/O and no Prefect here: the order_push flow reads Handy and Gestionix, calls these functions,
and writes the result. Every function either returns its result or raises `OrderRejected`
(the flow dead-letters the order, O6) / `OrderSkipped` (nothing to push, O7). Malformed input
of any shape ends in one of those two, never in another exception.

Sales type (O2), switch off: an unknown `salesType` is rejected rather than guessed. A venta
moves stock and receivables in Gestionix while a pedido does not, a wrong guess must be undone
by hand (and a pedido turned into a venta cannot be deleted), and the route-sale value
"Venta en ruta" is only assumed by the spec: an unknown value means that assumption is wrong
and should be loud. The dead letter is retried on later runs once the mapping is fixed.
With the switch on every order is a pedido, so the sales type is not even read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from mappings import handy_fields as H
from mappings.money import to_decimal
from mappings.names import normalize_name

DocType = Literal["sales_order", "sale"]

REFERENCE_PREFIX = "HANDY-"
ROUTE_SALE_TYPES = frozenset({"venta en ruta", "route"})  # compared after normalize_name
PRESALE_TYPES = frozenset({"preventa", "presale"})
OBSERVATIONS_MAX_LENGTH = 250  # Gestionix's limit is unknown; this fits any sane text column


# ---------------------------------------------------------------------------------------------
# Outcomes
# ---------------------------------------------------------------------------------------------


class OrderNotPushable(Exception):
    """Base of the two ways an order is not pushed. `reason` is for humans and the audit."""

    def __init__(self, order_id: object, reason: str) -> None:
        self.order_id = order_id
        self.reason = reason
        super().__init__(f"Handy order {order_id}: {reason}")


class OrderRejected(OrderNotPushable):
    """The order cannot be pushed as it is (O6, bad data): dead-letter it, retry on later runs."""

    def __init__(self, order_id: object, reasons: list[str] | str) -> None:
        self.reasons = tuple([reasons] if isinstance(reasons, str) else reasons)
        super().__init__(order_id, "; ".join(self.reasons))


@dataclass(frozen=True)
class ExcludedLine:
    """A Handy line not pushed as a sold line (O7: returns)."""

    position: int  # 1-based position in Handy's item list
    item_id: object
    product_code: object
    quantity: object
    price: object
    reason: str


class OrderSkipped(OrderNotPushable):
    """Nothing left to push (O7: only return lines). Final: report it, do not retry."""

    def __init__(self, order_id: object, reason: str, excluded: tuple[ExcludedLine, ...]) -> None:
        self.excluded = excluded
        super().__init__(order_id, reason)


# ---------------------------------------------------------------------------------------------
# Small readers that never raise on odd input
# ---------------------------------------------------------------------------------------------


def _order_id(order: object) -> object:
    return order.get(H.ORDER_ID) if isinstance(order, dict) else None


def _text(value: object) -> str:
    """Stripped text of a scalar; "" for None, containers and blanks."""
    if value is None or isinstance(value, (dict, list, tuple, set, bool)):
        return ""
    return " ".join(str(value).split())


def _as_id_key(value: object) -> tuple[int, object]:
    """Sort key: numeric ids by value, anything else after them."""
    number = to_decimal(value)
    return (0, number) if number is not None else (1, str(value))


# ---------------------------------------------------------------------------------------------
# O2, O9, O10
# ---------------------------------------------------------------------------------------------


def handy_sales_kind(order: object) -> Literal["route_sale", "presale"] | None:
    """'route_sale' / 'presale' from Handy's salesType (either spelling), None when unknown."""
    raw = order.get(H.ORDER_SALES_TYPE) if isinstance(order, dict) else None
    key = normalize_name(raw) if isinstance(raw, str) else ""
    if key in ROUTE_SALE_TYPES:
        return "route_sale"
    if key in PRESALE_TYPES:
        return "presale"
    return None


def document_type(order: object, treat_all_as_sales_orders: bool) -> DocType:
    """O2: Gestionix document type of a Handy order. Raises OrderRejected on an unknown salesType
    when the switch is off (see the module docstring for why it is not guessed)."""
    if treat_all_as_sales_orders:
        return "sales_order"
    kind = handy_sales_kind(order)
    if kind == "route_sale":
        return "sale"
    if kind == "presale":
        return "sales_order"
    raw = order.get(H.ORDER_SALES_TYPE) if isinstance(order, dict) else None
    raise OrderRejected(
        _order_id(order),
        f"unknown {H.ORDER_SALES_TYPE} {raw!r}: expected 'Venta en ruta'/'ROUTE' (venta) or "
        "'Preventa'/'PRESALE' (pedido); not guessed because a venta moves stock in Gestionix",
    )


def reference(order_id: object) -> str:
    """O9: the searchable, per-company unique Gestionix reference of a Handy order."""
    return f"{REFERENCE_PREFIX}{_text(order_id)}"


def edited_from_id(order: object) -> object | None:
    """O10: id of the order this one replaces (Handy embeds the full old order in editedFrom)."""
    if not isinstance(order, dict):
        return None
    previous = order.get(H.ORDER_EDITED_FROM)
    if isinstance(previous, dict):
        previous = previous.get(H.ORDER_ID)
    if previous is None or isinstance(previous, (bool, list, dict)) or _text(previous) == "":
        return None
    return previous


def observations(order: object) -> str:
    """O9: text printed on Gestionix's PDF/Excel exports: the Handy folio, the old folio of an
    edit, then the seller's comment, cut to OBSERVATIONS_MAX_LENGTH (the folio always survives)."""
    order_id = _text(_order_id(order))
    label = "Venta" if handy_sales_kind(order) == "route_sale" else "Pedido"
    head = f"{label} Handy {order_id}"
    old_id = edited_from_id(order)
    if old_id is not None:
        head += f" (edita {_text(old_id)})"
    comment = _text(order.get(H.ORDER_SELLER_COMMENT)) if isinstance(order, dict) else ""
    if not comment:
        return head[:OBSERVATIONS_MAX_LENGTH]
    text = f"{head} - {comment}"
    if len(text) > OBSERVATIONS_MAX_LENGTH:
        text = text[: OBSERVATIONS_MAX_LENGTH - 1].rstrip() + "…"
    return text


def document_date(order: object) -> str:
    """Handy's server receipt time (dateCreated) as ISO-8601 UTC with Z, seconds precision."""
    raw = order.get(H.ORDER_DATE_CREATED) if isinstance(order, dict) else None
    if not isinstance(raw, str) or not raw.strip():
        raise OrderRejected(_order_id(order), f"missing {H.ORDER_DATE_CREATED}")
    text = raw.strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise OrderRejected(
            _order_id(order), f"unreadable {H.ORDER_DATE_CREATED} {raw!r}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # Handy answers in UTC
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def distinct_orders(orders: list[tuple[dict, bool]]) -> tuple[list[tuple[dict, bool]], int]:
    """O8: one entry per order id, the first seen (a window read before a dead-letter retry),
    and how many repeats were dropped. A list answer may repeat an order (same-second orders
    in unstable order across pages); two entries would be two pushes."""
    seen: set[str] = set()
    kept: list[tuple[dict, bool]] = []
    for order, from_window in orders:
        key = str(order.get(H.ORDER_ID))
        if key not in seen:
            seen.add(key)
            kept.append((order, from_window))
    return kept, len(orders) - len(kept)
