"""Money and Mexican taxes, in one place (RULES P6, O5): the one Decimal parser, the one reader of
a Gestionix product's taxes, after-tax from pre-tax and back. Used by the catalog (P6), the order
push (O5) and reconciliation; nothing else in the code parses money or applies a tax rate.

Taxes (gestionix-api-v3.md, "Catalog" and "Documents"). Only transferred percentage taxes
(`type` "transferred", `factor` "rate") count. IEPS is charged first and IVA on the price plus
IEPS (LIVA art. 12), so

    after-tax = pre-tax x (1 + IEPS) x (1 + IVA)        e.g. 100 + IEPS 8 % + IVA 16 % = 125.28

A product with no transferred percentage tax is exempt: after-tax = pre-tax, and its order lines
carry no taxes (O6). Fixed-amount taxes (cuotas, `factor` "fixed") are left out, as the seed says
("se consideran los impuestos trasladados de porcentaje"); the reader names them so the run can
report the product. Withheld taxes are left out silently (they are not part of a price).
A tax is IVA or IEPS by its SAT code when given (002 IVA, 003 IEPS), else by its name; a
transferred percentage tax that is neither is refused with the reason rather than guessed.

Rates are fractions (0.16). IVA must be below 1; IEPS may exceed 1 (tabacos labrados pay 160 %)
up to MAX_IEPS_RATE (3); a larger rate was written as a percentage (16 for 16 %) and is refused.
Rounding is ROUND_HALF_UP to cents, as the spec's "rounded to 2 decimals".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cached_property, lru_cache
from typing import Any

from mappings import gestionix_fields as G

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")

# Gestionix tax fields (TAX_*): mappings.gestionix_fields. Tax names and SAT codes:
IVA = "IVA"
IEPS = "IEPS"
SAT_CODES = {"002": IVA, "2": IVA, "003": IEPS, "3": IEPS}
MAX_IVA_RATE = ONE  # exclusive
MAX_IEPS_RATE = Decimal(3)  # inclusive
EXEMPT_LABEL = "Exento"

# --- O5: the pre-tax unit price sent to Gestionix (see unit_price_for).
UNIT_PRICE_MIN_DECIMALS = 2
UNIT_PRICE_MAX_DECIMALS = 10
LINE_TOLERANCE = Decimal("0.0001")


# ----------------------------------------------------------------------------- parsing


def to_decimal(value: Any, *, text: bool = True) -> Decimal | None:
    """The one parser: a finite Decimal from a JSON number (int or float, never bool), a Decimal,
    or, when `text`, a numeric string; None for anything else (NaN, infinities, containers...).
    Floats go through their shortest repr, so 10.34 is 10.34, not 10.339999..."""
    kind = type(value)
    if kind is float:
        return Decimal(repr(value)) if math.isfinite(value) else None
    if kind is int:
        return Decimal(value)
    if value is None or kind is bool:
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, float):  # numpy floats and other subclasses
        return Decimal(repr(float(value))) if math.isfinite(value) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(int(value))
    if text and isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    try:  # numpy integers and floats that are not Python subclasses
        import numpy as np

        if isinstance(value, np.integer):
            return Decimal(int(value))
        if isinstance(value, np.floating) and math.isfinite(float(value)):
            return Decimal(repr(float(value)))
    except ImportError:  # pragma: no cover - numpy ships with pandas
        pass
    return None


def require_decimal(value: Any, what: str, *, text: bool = False) -> Decimal:
    """to_decimal, or ValueError naming `what` and the value (the API sends numbers, so text is
    refused unless `text`)."""
    number = to_decimal(value, text=text)
    if number is not None:
        return number
    if isinstance(value, (float, Decimal)) and not isinstance(value, bool):
        raise ValueError(f"{what} is not a finite number ({value!r})")  # noqa: TRY004
    raise ValueError(f"{what} is not a number ({type(value).__name__} {value!r})")


def cents(value: Decimal) -> Decimal:
    """ROUND_HALF_UP to 2 decimals."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def as_sent(value: Decimal) -> Decimal:
    """The value the other side receives once a JSON body carries it as a float."""
    return Decimal(repr(float(value)))


def percent_text(rate: Decimal) -> str:
    """0.265 -> "26.5", 0.16 -> "16", 0 -> "0"."""
    text = format((rate * HUNDRED).normalize(), "f")
    return "0" if text in ("-0", "0") else text


# ----------------------------------------------------------------------------- taxes of a product


@dataclass(frozen=True)
class ProductTaxes:
    """The taxes of one product that make its price (P6) and its order lines (O5)."""

    ieps: Decimal = ZERO  # Σ IEPS rates, charged on the price
    iva: Decimal = ZERO  # Σ IVA rates, charged on the price plus IEPS
    tax_ids: tuple[Any, ...] = ()  # Gestionix ids of those percentage taxes, first seen first
    missing_id: bool = False  # a percentage tax without tax_id (orders cannot reference it)
    fixed: tuple[str, ...] = ()  # names of the fixed-amount taxes left out (reported, P6)
    label: str = EXEMPT_LABEL  # "IVA 16% + IEPS 8%", "IVA 0%", "Exento"

    @property
    def exempt(self) -> bool:
        """No transferred percentage tax at all: the price is the pre-tax price, no breakdown."""
        return not self.tax_ids and not self.missing_id

    @cached_property  # the reader's answers are cached, so each is computed once per tax list
    def factor(self) -> Decimal:
        """after-tax / pre-tax = (1 + IEPS) x (1 + IVA)."""
        return (ONE + self.ieps) * (ONE + self.iva)

    @cached_property
    def percent(self) -> Decimal:
        """The one combined rate in percent (IEPS 8 % + IVA 16 % -> 25.28): Handy's `tax`."""
        return ((self.factor - ONE) * HUNDRED).normalize()


EXEMPT = ProductTaxes()


def _kind(name: Any, sat_code: Any) -> str | None:
    if sat_code is not None:
        found = SAT_CODES.get(str(sat_code).strip())
        if found:
            return found
    words = str(name or "").upper()
    if IEPS in words:
        return IEPS
    if IVA in words:
        return IVA
    return None


@lru_cache(maxsize=1024, typed=True)
def _read_tax(tax_id: Any, name: Any, kind_field: Any, factor: Any, rate: Any, sat_code: Any):
    """(kind, rate) of one transferred percentage tax, ("fixed", None) for a cuota, None for a
    tax that does not count (withheld). Raises ValueError naming the tax."""
    label = f"{tax_id} {name!r}" if tax_id is not None else repr(name)
    if kind_field == G.TAX_WITHHELD:
        return None
    if kind_field != G.TAX_TRANSFERRED:
        raise ValueError(f"tax {label} has type {kind_field!r}, expected transferred or withheld")
    if factor == G.TAX_FACTOR_FIXED:
        return ("fixed", None)
    if factor != G.TAX_FACTOR_RATE:
        raise ValueError(f"tax {label} has factor {factor!r}, expected rate or fixed")
    kind = _kind(name, sat_code)
    if kind is None:
        raise ValueError(f"tax {label} is neither IVA nor IEPS (by name or SAT code)")
    number = require_decimal(rate, f"rate of tax {label}")
    highest = MAX_IVA_RATE if kind == IVA else MAX_IEPS_RATE
    if number < 0 or number > highest or (kind == IVA and number == highest):
        raise ValueError(
            f"tax {label} has rate {number}, expected a fraction from 0 to "
            f"{'below ' if kind == IVA else ''}{highest}"
        )
    return (kind, number)


def _hashable(value: Any) -> Any:
    """Cache key part: scalars as they are (typed cache: True is not 1), anything else as its repr
    (a container in a tax field is refused by the reader anyway)."""
    return value if isinstance(value, (str, int, float, Decimal, type(None))) else repr(value)


def product_taxes(taxes: Any) -> ProductTaxes:
    """The one reader of a Gestionix product's `taxes` (P6, O5). None or [] -> exempt.
    Raises ValueError with the reason for a list that cannot be read.

    A catalog has a handful of distinct tax lists, so the answer is cached by the list's values
    (with the rate's type: True is not a rate of 1)."""
    if taxes is None:
        return EXEMPT
    if not isinstance(taxes, (list, tuple)):
        raise ValueError(f"taxes is not a list ({type(taxes).__name__})")  # noqa: TRY004
    try:
        key = tuple((tuple(tax.items()), type(tax.get(G.TAX_RATE))) for tax in taxes)
        return _cached_taxes(key)
    except (AttributeError, TypeError):  # an entry that is not an object, or unhashable values
        return _read_taxes(taxes)


@lru_cache(maxsize=256)
def _cached_taxes(key: tuple) -> ProductTaxes:
    return _read_taxes([dict(items) for items, _ in key])


def _read_taxes(taxes: list | tuple) -> ProductTaxes:
    rates: dict[str, Decimal] = {IEPS: ZERO, IVA: ZERO}
    labels: dict[str, list[str]] = {IEPS: [], IVA: []}
    ids: list[Any] = []
    missing_id = False
    fixed: list[str] = []
    for tax in taxes:
        if not isinstance(tax, Mapping):
            raise ValueError(f"tax entry is not an object ({tax!r})")  # noqa: TRY004
        tax_id = tax.get(G.TAX_ID)
        read = _read_tax(
            _hashable(tax_id),
            _hashable(tax.get(G.TAX_NAME)),
            _hashable(tax.get(G.TAX_TYPE)),
            _hashable(tax.get(G.TAX_FACTOR)),
            _hashable(tax.get(G.TAX_RATE)),
            _hashable(tax.get(G.TAX_SAT_CODE)),
        )
        if read is None:
            continue
        kind, rate = read
        if kind == "fixed":
            fixed.append(str(tax.get(G.TAX_NAME) or tax_id))
            continue
        if tax_id is None or isinstance(tax_id, (bool, dict, list)):
            missing_id = True
        elif tax_id in ids:
            continue  # the same tax listed twice counts once
        else:
            ids.append(tax_id)
        rates[kind] += rate
        labels[kind].append(f"{kind} {percent_text(rate)}%")
    if not ids and not missing_id:
        return ProductTaxes(fixed=tuple(fixed)) if fixed else EXEMPT
    return ProductTaxes(
        ieps=rates[IEPS],
        iva=rates[IVA],
        tax_ids=tuple(ids),
        missing_id=missing_id,
        fixed=tuple(fixed),
        label=" + ".join(labels[IVA] + labels[IEPS]),
    )


# ----------------------------------------------------------------------------- P6 prices


def after_tax(pre_tax: Decimal, taxes: ProductTaxes) -> Decimal:
    """P6: pre-tax x (1 + IEPS) x (1 + IVA), ROUND_HALF_UP to cents."""
    return cents(pre_tax * taxes.factor)


def pre_tax(after_tax_amount: Decimal, taxes: ProductTaxes) -> Decimal:
    """The exact (unrounded) pre-tax amount of a tax-included amount: amount / factor."""
    return after_tax_amount / taxes.factor


def after_tax_price(pre_tax_price: Any, taxes: Any) -> Decimal:
    """P6 from the raw API values: the price (a number >= 0) and the product's `taxes` list.
    Raises ValueError with the reason."""
    price = require_decimal(pre_tax_price, "price")
    if price < 0:
        raise ValueError(f"price is negative ({price})")
    return after_tax(price, product_taxes(taxes))


# ----------------------------------------------------------------------------- O5 lines


def line_total(
    quantity: Decimal, unit_price: Decimal, discount: Decimal, factor: Decimal
) -> Decimal:
    """Gestionix's line total (spec): q x u x (1 - d/100) x (1 + IEPS) x (1 + IVA), to cents."""
    return cents(_unrounded_line(quantity, unit_price, discount, factor))


def _unrounded_line(quantity: Decimal, unit_price: Decimal, discount: Decimal, factor: Decimal):
    return quantity * unit_price * (ONE - discount / HUNDRED) * factor


def unit_price_for(handy_line_total: Decimal, quantity: Decimal, factor: Decimal) -> Decimal:
    """O5: the pre-tax unit price that makes Gestionix's line equal Handy's tax-included line
    total: handy_line_total / (quantity x factor), with the fewest decimals (2..10) that keep
    Gestionix's unrounded line within LINE_TOLERANCE (0.0001) of Handy's, checked on the float
    actually sent. Bound: |Gestionix line - Handy line| <= 0.005 + 0.0001 < 0.01. At 10 decimals
    the unrounded error is at most quantity x factor x 0.5e-10 (1.5e-6 for 10 000 units at
    IEPS 160 % + IVA 16 %), so the tolerance is reachable for any realistic line."""
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    exact = handy_line_total / (quantity * factor)
    candidate = exact
    for decimals in range(UNIT_PRICE_MIN_DECIMALS, UNIT_PRICE_MAX_DECIMALS + 1):
        candidate = as_sent(exact.quantize(ONE.scaleb(-decimals), rounding=ROUND_HALF_UP))
        line = _unrounded_line(quantity, candidate, ZERO, factor)
        if abs(line - handy_line_total) <= LINE_TOLERANCE:
            return candidate
    return candidate  # only for absurd magnitudes; still the closest we can express
