"""Gestionix branch products -> desired Handy products (RULES P1-P7), pure and batch-sized. What
Handy holds and the bodies sent to it: mappings/handy_products.py.

Decisions (documented limits and defaults):
- Join key (P2): the clave is the Handy code AND the binding's gestionix_key (handy_key ==
  gestionix_key == clave). The Gestionix numeric product id travels along as `gestionix_id`.
- A clave is usable when it is a str, non-empty (P3), without `/` (P4), without surrounding
  spaces or control characters, at most MAX_CODE_LENGTH (50) characters, and unique in the
  branch; anything else is rejected with the reason (never guessed, never "fixed").
- Names: surrounding whitespace stripped, inner runs collapsed to one space, cut to
  MAX_DESCRIPTION_LENGTH (255) characters; empty or non-text names are rejected.
- Family (P5) = the category name cleaned like a name; no category -> DEFAULT_FAMILY.
  Families are compared by normalize_name, so "Bebidas" and "BEBIDAS " are one family.
- Price (P6): mappings.money (IEPS first, IVA on price + IEPS, ROUND_HALF_UP to cents). The
  pre-tax price must be an int or float (not bool, not text), finite and >= 0; unreadable taxes
  reject the product (P6) with the reason. Exempt products (no transferred percentage tax) keep
  their pre-tax price. Fixed-amount taxes are left out and listed in `tax_notes` (reported).
- Handy's own tax (P6): `tax` = one tax with the combined rate, `basePrice` = the Gestionix
  pre-tax price, `taxOptional` cleared (handy_tax_body; the [A] is in sandbox/README.md).
- Not-for-sale rows (P1) are dropped silently but listed in `not_for_sale`, so the planner can
  disable a product that was bound before (P7). Rejected rows list their clave in `held_keys`
  when it is a usable one: a bound product with bad data this run is left alone, not disabled.
- The fingerprint (P8) covers description, family (normalised), price, basePrice and Handy's
  tax (and taxOptional, which must stay empty). `enabled` is tracked
  by the binding status (enabled/disabled) and stock by the inventory split, separately.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from mappings import gestionix_fields as G
from mappings import handy_fields as H
from mappings.fingerprint import canonical_number, fingerprint
from mappings.money import (
    ProductTaxes,
    after_tax,
    after_tax_price,  # noqa: F401 - P6 from raw values, re-exported for callers of this module
    cents,
    product_taxes,
    require_decimal,
    to_decimal,
)
from mappings.names import MAX_DESCRIPTION_LENGTH, clean_text, normalize_name

if (
    TYPE_CHECKING
):  # pandas is imported inside the functions that build frames: order runs never load it
    import pandas as pd

MAX_CODE_LENGTH = 50
DEFAULT_FAMILY = "Sin categoría"

# What a Handy write of a product takes from its desired row (tasks/catalog.py: Write.row).
CONTENT_COLUMNS = [
    "code",
    "description",
    "family",
    "price",
    "base_price",
    "tax_name",
    "tax_amount",
    "enabled",
]
DESIRED_COLUMNS = ["key", "gestionix_key", "gestionix_id", *CONTENT_COLUMNS, "stock", "fingerprint"]
REJECTED_COLUMNS = ["gestionix_id", "key", "code", "name", "rule", "reason"]
NOT_FOR_SALE_COLUMNS = ["gestionix_id", "gestionix_key", "code"]
TAX_NOTE_COLUMNS = ["key", "reason"]
HANDY_CURRENT_COLUMNS = ["key", "fingerprint", "enabled", "quantity", "family"]


class Rejected(ValueError):
    """A record that cannot be synced: `rule` is the RULES id, the message says why."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule


# ----------------------------------------------------------------------------- small helpers


def _empty_frame(columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(columns=columns)


def clave_problem(clave: Any) -> tuple[str, str] | None:
    """(rule, reason) when `clave` cannot be a Handy product code, else None (P2, P3, P4)."""
    if clave is None or (isinstance(clave, str) and not clave.strip()):
        return "P3", "empty clave"
    if not isinstance(clave, str):
        return "P2", f"clave is not text ({type(clave).__name__} {clave!r})"
    if "/" in clave:
        return "P4", "clave contains '/' (Handy uses the code inside URLs)"
    if clave != clave.strip():
        return "P2", "clave has leading or trailing spaces"
    if not clave.isprintable():  # control, format, separator (other than " ") characters
        return "P2", "clave contains control or invisible characters"
    if len(clave) > MAX_CODE_LENGTH:
        return "P2", f"clave is longer than {MAX_CODE_LENGTH} characters ({len(clave)})"
    return None


# ----------------------------------------------------------------------------- P6 price and tax


def _price_and_tax(product: Mapping[str, Any]) -> tuple[Decimal, Decimal, ProductTaxes]:
    """(after-tax price, pre-tax price, taxes) of a Gestionix product; Rejected("P6") with the
    reason when the price or the taxes cannot be read."""
    try:
        pre_tax = require_decimal(product.get(G.PRODUCT_PRICE), "price")
        if pre_tax < 0:
            raise ValueError(f"price is negative ({pre_tax})")
        taxes = product_taxes(product.get(G.PRODUCT_TAXES))
    except ValueError as exc:
        raise Rejected("P6", str(exc)) from None
    return after_tax(pre_tax, taxes), pre_tax, taxes


def handy_tax_body(name: Any, amount: Any) -> dict[str, Any]:
    """Handy's own tax of a product ([A], sandbox/README.md): ONE tax with the combined rate
    (IEPS 8 % + IVA 16 % -> 25.28 %), so Handy's basePrice = price / (1 + tax%) is the Gestionix
    pre-tax price. Handy adds `tax` and `taxOptional` (no IVA on IEPS), so IEPS is never split
    into taxOptional, which the integration keeps empty."""
    return {H.TAX_NAME: name, H.TAX_AMOUNT: float(amount)}


# ----------------------------------------------------------------------------- fingerprint


@lru_cache(maxsize=4096)
def _family_key(family: Any) -> str:
    return normalize_name(family)


def _cents_or_none(value: Any) -> Decimal | None:
    number = value if isinstance(value, Decimal) else to_decimal(value, text=False)
    return None if number is None else cents(number)


def _tax_text(name: Any, amount: Any) -> str:
    """Handy's tax as one fingerprint value ("IVA 16% + IEPS 8%|25.28"); a catalog has a handful."""
    try:
        return _tax_text_cached(name if isinstance(name, str) else None, amount)
    except TypeError:  # an unhashable amount from a broken record
        return f"{name!r}|{amount!r}"


@lru_cache(maxsize=256)
def _tax_text_cached(name: str | None, amount: Any) -> str:
    return f"{name}|{canonical_number(amount) if amount is not None else None}"


def product_fingerprint(
    description: Any,
    family: Any,
    price: Any,
    base_price: Any = None,
    tax_name: Any = None,
    tax_amount: Any = None,
    tax_optional: Any = None,
) -> str:
    """P8: fingerprint of the content written to a Handy product (family compared normalised;
    price to cents; basePrice and the tax rate to fingerprint's 4 places)."""
    return fingerprint(
        {
            H.PRODUCT_DESCRIPTION: description,
            H.PRODUCT_FAMILY: _family_key(family if isinstance(family, str) else None),
            H.PRODUCT_PRICE: _cents_or_none(price),
            H.PRODUCT_BASE_PRICE: base_price,  # numbers are canonicalised by the fingerprint
            H.PRODUCT_TAX: _tax_text(tax_name, tax_amount),
            H.PRODUCT_TAX_OPTIONAL: tax_optional,
        }
    )


# ----------------------------------------------------------------------------- the mapping


@dataclass(frozen=True)
class ProductMapping:
    """desired: DESIRED_COLUMNS, one row per syncable product (key = clave).
    rejected: REJECTED_COLUMNS, one row per product that cannot be synced, with rule and reason.
    not_for_sale: NOT_FOR_SALE_COLUMNS, rows dropped by P1 (counted, and used to disable).
    tax_notes: TAX_NOTE_COLUMNS, synced products whose fixed-amount taxes were left out (P6)."""

    desired: pd.DataFrame
    rejected: pd.DataFrame
    not_for_sale: pd.DataFrame
    held_keys: list[str] = field(default_factory=list)
    # P6: synced products with a fixed-amount tax left out (key, reason): reported once per run
    tax_notes: pd.DataFrame = field(default_factory=lambda: _empty_frame(TAX_NOTE_COLUMNS))


def _branch_stock(stock: Any, branch_id: Any) -> float:
    """Quantity of the branch's stock entry (missing -> 0.0; unreadable -> NaN, reported later)."""
    if stock is None:
        return 0.0
    if not isinstance(stock, (list, tuple)):
        return math.nan
    total = 0.0
    for entry in stock:
        if not isinstance(entry, Mapping) or str(entry.get(G.STOCK_BRANCH_ID)) != str(branch_id):
            continue
        quantity = entry.get(G.STOCK_QUANTITY)
        if isinstance(quantity, bool) or not isinstance(quantity, (int, float)):
            return math.nan
        total += float(quantity)
    return total


def _family(category: Any) -> str:
    """P5: the category name, or DEFAULT_FAMILY when there is none."""
    if category is None:
        return DEFAULT_FAMILY
    if isinstance(category, str):  # tolerate a bare name
        return clean_text(category) or DEFAULT_FAMILY
    if not isinstance(category, Mapping):
        raise Rejected("P5", f"category is not an object ({type(category).__name__} {category!r})")
    name = category.get(G.CATEGORY_NAME)
    if name is not None and not isinstance(name, str):
        raise Rejected("P5", f"category name is not text ({type(name).__name__} {name!r})")
    return clean_text(name) or DEFAULT_FAMILY


def _label(product_id: Any, clave: Any) -> str:
    return f"product {product_id!r} (clave {clave!r})"


def _map_one(product: Mapping[str, Any], branch_id: Any) -> dict[str, Any] | None:
    """One desired row; None when not for sale (P1). Raises Rejected with a reason."""
    for_sale = product.get(G.PRODUCT_FOR_SALE)
    if for_sale is False:
        return None
    if for_sale is not True:
        raise Rejected("P1", f"for_sale is missing or not a boolean ({for_sale!r})")
    clave = product.get(G.PRODUCT_KEY)
    problem = clave_problem(clave)
    if problem:
        raise Rejected(*problem)
    description = clean_text(product.get(G.PRODUCT_NAME))
    if description is None:
        raise Rejected("NAME", f"name is empty or not text ({product.get(G.PRODUCT_NAME)!r})")
    price, pre_tax, taxes = _price_and_tax(product)
    family = _family(product.get(G.PRODUCT_CATEGORY))
    active = product.get(G.PRODUCT_ACTIVE)
    if not isinstance(active, bool):
        raise Rejected("P7", f"active is missing or not a boolean ({active!r})")
    return {
        "key": clave,
        "gestionix_key": clave,
        "gestionix_id": product.get(G.PRODUCT_ID),
        "code": clave,
        "description": description,
        "family": family,
        "price": float(price),
        "base_price": float(pre_tax),
        "tax_name": taxes.label,
        "tax_amount": float(taxes.percent),
        "enabled": active,
        "stock": _branch_stock(product.get(G.PRODUCT_STOCK), branch_id),
        "fingerprint": product_fingerprint(
            description, family, price, pre_tax, taxes.label, taxes.percent
        ),
        "fixed_taxes": taxes.fixed,
    }


class ProductMapper:
    """map_products one page at a time: `add` each page as it arrives (the raw records can be
    dropped at once, and a page is mapped while the next one is read), then `result`. Pages
    must be added in order, one at a time (positions and duplicate detection span pages)."""

    def __init__(self, branch_id: Any) -> None:
        self.branch_id = branch_id
        self.desired: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []
        self.not_for_sale: list[dict[str, Any]] = []
        self.tax_notes: list[dict[str, Any]] = []
        self.position = 0

    def add(self, products: Iterable[Any]) -> None:
        for product in products:
            position, self.position = self.position, self.position + 1
            if not isinstance(product, Mapping):
                self.rejected.append(
                    {
                        "gestionix_id": None,
                        "key": None,
                        "code": None,
                        "name": None,
                        "rule": "DATA",
                        "reason": f"record #{position} is not an object ({type(product).__name__})",
                    }
                )
                continue
            try:
                row = _map_one(product, self.branch_id)
            except Rejected as exc:
                clave = product.get(G.PRODUCT_KEY)
                name = product.get(G.PRODUCT_NAME)
                self.rejected.append(
                    {
                        "gestionix_id": product.get(G.PRODUCT_ID),
                        "key": clave if clave_problem(clave) is None else None,
                        "code": None if clave is None else str(clave),
                        "name": None if name is None else str(name)[:MAX_DESCRIPTION_LENGTH],
                        "rule": exc.rule,
                        "reason": f"{_label(product.get(G.PRODUCT_ID), clave)}: {exc}",
                    }
                )
                continue
            if row is None:
                clave = product.get(G.PRODUCT_KEY)
                self.not_for_sale.append(
                    {
                        "gestionix_id": product.get(G.PRODUCT_ID),
                        "gestionix_key": clave if clave_problem(clave) is None else None,
                        "code": None if clave is None else str(clave),
                    }
                )
            else:
                fixed = row.pop("fixed_taxes")
                if fixed:
                    self.tax_notes.append(
                        {
                            "key": row["key"],
                            "reason": f"{_label(row['gestionix_id'], row['key'])}: fixed-amount "
                            f"tax {', '.join(fixed)} not considered (only percentage taxes count)",
                        }
                    )
                self.desired.append(row)

    def result(self) -> ProductMapping:
        """The mapping of every record added (claves shared by several products rejected, P2)."""
        import pandas as pd

        rejected = self.rejected
        # object first: a gestionix_id column with a None stays ints and None (not floats)
        desired_frame = pd.DataFrame(self.desired, columns=DESIRED_COLUMNS, dtype=object)
        self.desired = []  # the frame holds them now
        duplicated = desired_frame["key"].duplicated(keep=False)
        if duplicated.any():
            dupes = desired_frame[duplicated]
            ids_by_key = dupes.groupby("key", sort=False)["gestionix_id"].agg(
                lambda s: ", ".join(map(str, s))
            )
            for row in dupes.itertuples(index=False):
                rejected.append(
                    {
                        "gestionix_id": row.gestionix_id,
                        "key": row.key,
                        "code": row.code,
                        "name": row.description,
                        "rule": "P2",
                        "reason": f"{_label(row.gestionix_id, row.key)}: clave is shared by products "
                        f"{ids_by_key[row.key]} of the branch",
                    }
                )
            desired_frame = desired_frame[~duplicated].reset_index(drop=True)
        desired_frame = desired_frame.astype(
            {
                "enabled": bool,
                "price": float,
                "base_price": float,
                "tax_amount": float,
                "stock": float,
            }
        )
        rejected_frame = pd.DataFrame(rejected, columns=REJECTED_COLUMNS, dtype=object)
        held = [key for key in rejected_frame["key"].tolist() if isinstance(key, str)]
        return ProductMapping(
            desired=desired_frame,
            rejected=rejected_frame,
            not_for_sale=pd.DataFrame(
                self.not_for_sale, columns=NOT_FOR_SALE_COLUMNS, dtype=object
            ),
            held_keys=sorted(set(held)),
            tax_notes=pd.DataFrame(self.tax_notes, columns=TAX_NOTE_COLUMNS, dtype=object),
        )


def map_products(products: Iterable[Any], branch_id: Any) -> ProductMapping:
    """Gestionix branch products (API dicts) -> desired Handy products, rejected and not-for-sale.

    Never raises for bad records: each ends as a `rejected` row naming the product and the reason.
    """
    mapper = ProductMapper(branch_id)
    mapper.add(products)
    return mapper.result()
