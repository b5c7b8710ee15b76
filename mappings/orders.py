"""Handy order -> Gestionix pedido/venta, pure (RULES O2-O7, O9-O11; O1/O8 live in the flow;
the order's client and seller, O3/O4, in mappings/order_customers.py).

No I/O and no Prefect here: the order_push flow reads Handy and Gestionix, calls these functions,
and writes the result. Every function either returns its result or raises `OrderRejected`
(the flow dead-letters the order, O6) / `OrderSkipped` (nothing to push, O7). Malformed input
of any shape ends in one of those two, never in another exception.

Money (O5). Handy's `price` is the unit price after discount, tax included, and its line total
is price x quantity. Gestionix computes a line as
    round(quantity x unit_price x (1 - discount/100) x (1 + IEPS) x (1 + IVA), 2)
from the pre-tax `unit_price` we send and the tax ids of the product (IVA on price + IEPS, as
Mexican law and the spec say). So we send unit_price = handy_line_total / (quantity x factor),
rounded to the fewest decimals that keep Gestionix's line within 0.0001 of Handy's: the maths,
its bound and the tax reader live in mappings.money, shared with the catalog's P6 prices. Most
lines need 4-6 decimals (CFDI unit values carry at most 6; Gestionix invoicing is not ours, O11).
The tight per-line tolerance also keeps the *document* total right if Gestionix rounds only the
sum (the spec can be read both ways).

Untaxed products (O6). A product with no transferred percentage tax in Gestionix (exempt; or
only fixed-amount/withheld ones) does not hold the order: its line is sent with "taxes": [] and
the unit price is Handy's price (factor 1); the line says so (`untaxed`) for the run's report.

Discount: we send discount 0 and Handy's already-discounted `price`. Handy's line total is
price x quantity with that price, so it is the amount the customer was charged; re-deriving it
from `originalPrice` and `discountPercentage` would reintroduce Handy's own rounding of the
discounted price (and breaks down at 100 %), while one formula with discount 0 has one answer.

Sales type (O2), switch off: an unknown `salesType` is rejected rather than guessed. A venta
moves stock and receivables in Gestionix while a pedido does not, a wrong guess must be undone
by hand (and a pedido turned into a venta cannot be deleted), and the route-sale value
"Venta en ruta" is only assumed by the spec: an unknown value means that assumption is wrong
and should be loud. The dead letter is retried on later runs once the mapping is fixed.
With the switch on every order is a pedido, so the sales type is not even read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from mappings import gestionix_fields as G
from mappings import handy_fields as H
from mappings.money import (
    UNIT_PRICE_MAX_DECIMALS,  # noqa: F401 - the bound of the unit price, re-exported for callers
    ZERO,
    as_sent,
    line_total,
    product_taxes,
    to_decimal,
    unit_price_for,
)
from mappings.names import normalize_name

DocType = Literal["sales_order", "sale"]

REFERENCE_PREFIX = "HANDY-"
ROUTE_SALE_TYPES = frozenset({"venta en ruta", "route"})  # compared after normalize_name
PRESALE_TYPES = frozenset({"preventa", "presale"})
OBSERVATIONS_MAX_LENGTH = 250  # Gestionix's limit is unknown; this fits any sane text column
MAX_QUANTITY = Decimal("1e9")  # beyond these a value is a data error, and floats lose cents
MAX_PRICE = Decimal("1e9")
MIN_QUANTITY = Decimal("1e-6")  # below a milligram per kg: a data error, and unsafe to divide by


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


@dataclass(frozen=True)
class PushedLine:
    """What one Gestionix line was built from, for the audit."""

    position: int
    product_code: str
    product_id: object
    quantity: Decimal
    handy_unit_price: Decimal  # tax included, after discount
    handy_line_total: Decimal  # handy_unit_price x quantity
    unit_price: Decimal  # pre-tax, exactly as sent
    tax_ids: tuple[object, ...]
    tax_factor: Decimal  # (1 + IEPS) x (1 + IVA); 1 for an untaxed product
    gestionix_line_total: Decimal  # Gestionix's formula on what we send, rounded to cents
    is_reward: bool
    untaxed: bool = False  # O6: no transferred percentage tax in Gestionix, pushed without taxes
    fixed_taxes: tuple[str, ...] = ()  # P6/O5: fixed-amount taxes of the product, left out


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


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


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


# ---------------------------------------------------------------------------------------------
# O5-O7 lines
# ---------------------------------------------------------------------------------------------


def _is_return(item: dict) -> bool:
    return item.get(H.ITEM_IS_RETURN) is True


def _is_reward(item: dict) -> bool:
    return item.get(H.ITEM_IS_REWARD) is True or item.get(H.ITEM_PRICE_TYPE) == H.PRICE_TYPE_REWARD


def _item_code(item: dict) -> str:
    """The clave as Handy holds it (P2: exact join key), only surrounding blanks removed."""
    product = item.get(H.ITEM_PRODUCT)
    code = product.get(H.PRODUCT_CODE) if isinstance(product, dict) else None
    return str(code).strip() if _text(code) else ""


def _item_label(position: int, item: dict) -> str:
    item_id = item.get(H.ITEM_ID)
    code = _item_code(item)
    parts = [
        f"item {item_id}" if item_id is not None else None,
        f"product {code}" if code else None,
    ]
    details = ", ".join(p for p in parts if p)
    return f"line {position}" + (f" ({details})" if details else "")


def split_returns(order: object) -> tuple[list[tuple[int, dict]], tuple[ExcludedLine, ...]]:
    """O7: (position, item) of the lines to push, and the excluded return lines.
    Raises OrderRejected when the order has no item list or no items at all."""
    order_id = _order_id(order)
    items = order.get(H.ORDER_ITEMS) if isinstance(order, dict) else None
    if not isinstance(items, list):
        raise OrderRejected(order_id, f"order has no {H.ORDER_ITEMS} list")
    if not items:
        raise OrderRejected(order_id, "order has no items")
    kept: list[tuple[int, dict]] = []
    excluded: list[ExcludedLine] = []
    problems: list[str] = []
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            problems.append(f"line {position} is not an object ({type(item).__name__})")
        elif _is_return(item):
            excluded.append(
                ExcludedLine(
                    position=position,
                    item_id=item.get(H.ITEM_ID),
                    product_code=_item_code(item) or None,
                    quantity=item.get(H.ITEM_QUANTITY),
                    price=item.get(H.ITEM_PRICE),
                    reason="return line (isReturn): not pushed as a sold line",
                )
            )
        else:
            kept.append((position, item))
    if problems:
        raise OrderRejected(order_id, problems)
    return kept, tuple(excluded)


def build_lines(
    order: object, products_by_key: dict[str, dict], *, branch_name: str | None = None
) -> tuple[tuple[PushedLine, ...], tuple[ExcludedLine, ...]]:
    """O5-O7: the Gestionix lines of an order and its excluded return lines.
    Raises OrderRejected listing every bad line (O6), OrderSkipped when only returns remain (O7)."""
    order_id = _order_id(order)
    kept, excluded = split_returns(order)
    if not kept:
        raise OrderSkipped(
            order_id, f"only return lines ({len(excluded)}): nothing to push", excluded
        )
    where = f"Gestionix branch {branch_name}" if branch_name else "the Gestionix branch"
    problems: list[str] = []
    lines: list[PushedLine] = []
    for position, item in kept:
        label = _item_label(position, item)
        code = _item_code(item)
        quantity = to_decimal(item.get(H.ITEM_QUANTITY))
        price = to_decimal(item.get(H.ITEM_PRICE))
        line_problems = [] if code else [f"{label}: missing product code"]
        line_problems += _amount_problems(label, item, quantity, price)
        product = products_by_key.get(code) if code else None
        taxes, product_problems = _product_taxes(code, product, label, where)
        line_problems += product_problems
        if line_problems:
            problems.extend(line_problems)
            continue
        assert quantity is not None and price is not None and isinstance(product, dict)
        assert taxes is not None
        handy_line_total = price * quantity
        sent_quantity = as_sent(quantity)  # what Gestionix multiplies by
        unit_price = unit_price_for(handy_line_total, sent_quantity, taxes.factor)
        lines.append(
            PushedLine(
                position=position,
                product_code=code,
                product_id=product[G.PRODUCT_ID],
                quantity=sent_quantity,
                handy_unit_price=price,
                handy_line_total=handy_line_total,
                unit_price=unit_price,
                tax_ids=taxes.tax_ids,
                tax_factor=taxes.factor,
                gestionix_line_total=line_total(sent_quantity, unit_price, ZERO, taxes.factor),
                is_reward=_is_reward(item),
                untaxed=taxes.exempt,
                fixed_taxes=taxes.fixed,
            )
        )
    if problems:
        raise OrderRejected(order_id, problems)
    return tuple(lines), excluded


def _amount_problems(
    label: str, item: dict, quantity: Decimal | None, price: Decimal | None
) -> list[str]:
    """O6: a quantity or price that is not a plausible number holds the order."""
    problems = []
    if quantity is None:
        problems.append(f"{label}: quantity {item.get(H.ITEM_QUANTITY)!r} is not a number")
    elif quantity <= 0:
        problems.append(f"{label}: quantity {quantity} is not positive")
    elif quantity < MIN_QUANTITY:
        problems.append(f"{label}: quantity {quantity} is implausibly small")
    elif quantity > MAX_QUANTITY:
        problems.append(f"{label}: quantity {quantity} is implausibly large")
    if price is None:
        problems.append(f"{label}: price {item.get(H.ITEM_PRICE)!r} is not a number")
    elif price < 0:
        problems.append(f"{label}: price {price} is negative")
    elif price > MAX_PRICE:
        problems.append(f"{label}: price {price} is implausibly large")
    return problems


def _product_taxes(code: str, product: Any, label: str, where: str) -> tuple[Any, list[str]]:
    """O5/O6: the Gestionix taxes of a line's product, or why the line cannot be pushed."""
    if not code:
        return None, []
    if product is None:
        return None, [f"product {code} not in {where} ({label})"]
    if not isinstance(product, dict):
        return None, [f"product {code} is malformed in the Gestionix index ({label})"]
    problems = []
    product_id = product.get(G.PRODUCT_ID)
    if product_id is None or isinstance(product_id, (bool, dict, list)):
        problems.append(f"product {code} has no product_id in Gestionix ({label})")
    try:
        taxes = product_taxes(product.get(G.PRODUCT_TAXES))
    except ValueError as exc:
        return None, [*problems, f"product {code}: {exc} ({label})"]
    if taxes.missing_id:
        problems.append(f"product {code} has a transferred tax without tax_id ({label})")
    return taxes, problems


def _line_body(line: PushedLine) -> dict[str, Any]:
    return {
        G.LINE_PRODUCT_ID: line.product_id,
        G.LINE_QUANTITY: _json_number(line.quantity),
        G.LINE_UNIT_PRICE: float(line.unit_price),
        G.LINE_DISCOUNT: 0.0,  # price is already discounted (module docstring)
        G.LINE_TAXES: [{G.TAX_ID: tax_id} for tax_id in line.tax_ids],
    }


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
        G.DOCUMENT_ITEMS: [_line_body(line) for line in lines],
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
