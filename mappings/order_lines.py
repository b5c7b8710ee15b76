"""The Gestionix lines of a Handy order, pure (RULES O5-O7): return lines left out (O7), every bad
line named (O6), the pre-tax unit price Gestionix needs to arrive at Handy's line total (O5).

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
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mappings import gestionix_fields as G
from mappings import handy_fields as H
from mappings.money import (
    ZERO,
    as_sent,
    line_total,
    product_taxes,
    to_decimal,
    unit_price_for,
)
from mappings.orders import ExcludedLine, OrderRejected, OrderSkipped, _order_id, _text

MAX_QUANTITY = Decimal("1e9")  # beyond these a value is a data error, and floats lose cents
MAX_PRICE = Decimal("1e9")
MIN_QUANTITY = Decimal("1e-6")  # below a milligram per kg: a data error, and unsafe to divide by


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


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


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


def line_body(line: PushedLine) -> dict[str, Any]:
    return {
        G.LINE_PRODUCT_ID: line.product_id,
        G.LINE_QUANTITY: _json_number(line.quantity),
        G.LINE_UNIT_PRICE: float(line.unit_price),
        G.LINE_DISCOUNT: 0.0,  # price is already discounted (module docstring)
        G.LINE_TAXES: [{G.TAX_ID: tax_id} for tax_id in line.tax_ids],
    }
