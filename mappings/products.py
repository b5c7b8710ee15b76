"""Gestionix branch products -> desired Handy products (RULES P1-P7), pure and batch-sized.

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
- Price (P6): Decimal maths, ROUND_HALF_UP to 2 decimals. The pre-tax price must be an int or
  float (not bool, not text), finite and >= 0. Tax rates are fractions (0.16) in [0, 1].
- Not-for-sale rows (P1) are dropped silently but listed in `not_for_sale`, so the planner can
  disable a product that was bound before (P7). Rejected rows list their clave in `held_keys`
  when it is a usable one: a bound product with bad data this run is left alone, not disabled.
- The fingerprint (P8) covers description, family (normalised) and price. `enabled` is tracked
  by the binding status (enabled/disabled) and stock by the inventory split, separately.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import pandas as pd

from mappings.fingerprint import fingerprint
from mappings.names import normalize_name

# --- Gestionix product fields (gestionix-api-v3.md, "Catalog", [A]): the one place to fix them.
GX_PRODUCT_ID = "product_id"
GX_KEY = "key"
GX_NAME = "name"
GX_CATEGORY = "category"
GX_CATEGORY_NAME = "name"
GX_FOR_SALE = "for_sale"
GX_ACTIVE = "active"
GX_PRICE = "price"  # before taxes
GX_TAXES = "taxes"
GX_TAX_RATE = "rate"  # a fraction: 0.16 = 16 %
GX_TAX_TYPE = "type"
GX_TAX_FACTOR = "factor"
GX_TAX_TYPE_TRANSFERRED = "transferred"
GX_TAX_FACTOR_RATE = "rate"
GX_STOCK = "stock"
GX_STOCK_BRANCH = "branch_id"
GX_STOCK_QUANTITY = "quantity"

# --- Handy product fields (handy-api-v2.md, "Products").
HANDY_CODE = "code"
HANDY_DESCRIPTION = "description"
HANDY_FAMILY = "family"
HANDY_FAMILY_ID = "id"
HANDY_FAMILY_DESCRIPTION = "description"
HANDY_PRICE = "price"
HANDY_ENABLED = "enabled"
HANDY_QUANTITY = "quantity"

MAX_CODE_LENGTH = 50
MAX_DESCRIPTION_LENGTH = 255
DEFAULT_FAMILY = "Sin categoría"
MAX_TAX_RATE = Decimal(1)
CENT = Decimal("0.01")

DESIRED_COLUMNS = [
    "key",
    "gestionix_key",
    "gestionix_id",
    "code",
    "description",
    "family",
    "price",
    "enabled",
    "stock",
    "fingerprint",
]
REJECTED_COLUMNS = ["gestionix_id", "key", "code", "name", "rule", "reason"]
NOT_FOR_SALE_COLUMNS = ["gestionix_id", "gestionix_key", "code"]
HANDY_CURRENT_COLUMNS = ["key", "fingerprint", "enabled", "quantity", "family"]


class Rejected(ValueError):
    """A record that cannot be synced: `rule` is the RULES id, the message says why."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule


# ----------------------------------------------------------------------------- small helpers


def clean_text(value: Any, limit: int = MAX_DESCRIPTION_LENGTH) -> str | None:
    """Strip, collapse inner whitespace, cut to `limit` characters; None when empty or not text."""
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())[:limit].rstrip()
    return text or None


def is_blank(value: Any) -> bool:
    """None, NaN, pandas NA or an all-space string."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def as_decimal(value: Any, what: str) -> Decimal:
    """A finite Decimal from an int/float/Decimal (bools and text refused: the API sends numbers)."""
    kind = type(value)
    if kind is float and math.isfinite(value):
        return Decimal(repr(value))
    if kind is bool or not isinstance(value, (int, float, Decimal)):
        raise ValueError(f"{what} is not a number ({type(value).__name__} {value!r})")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{what} is not a finite number ({value!r})")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{what} is not a number ({value!r})") from None
    if not number.is_finite():
        raise ValueError(f"{what} is not a finite number ({value!r})")
    return number


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


# ----------------------------------------------------------------------------- P6 price maths


def transferred_rate(taxes: Any) -> Decimal:
    """Σ rates of the transferred percentage taxes (P6); withheld and fixed-amount taxes ignored."""
    if taxes is None:
        return Decimal(0)
    if not isinstance(taxes, (list, tuple)):
        raise ValueError(f"taxes is not a list ({type(taxes).__name__})")  # noqa: TRY004 - becomes a P6 rejection
    total = Decimal(0)
    for tax in taxes:
        if not isinstance(tax, Mapping):
            raise ValueError(f"tax entry is not an object ({tax!r})")  # noqa: TRY004
        if (
            tax.get(GX_TAX_TYPE) != GX_TAX_TYPE_TRANSFERRED
            or tax.get(GX_TAX_FACTOR) != GX_TAX_FACTOR_RATE
        ):
            continue
        rate = as_decimal(tax.get(GX_TAX_RATE), f"rate of tax {tax.get('name', '?')!r}")
        if not Decimal(0) <= rate <= MAX_TAX_RATE:
            raise ValueError(
                f"rate of tax {tax.get('name', '?')!r} is {rate}, expected a fraction 0..1"
            )
        total += rate
    return total


def after_tax_price(pre_tax_price: Any, taxes: Any) -> Decimal:
    """P6: pre-tax price x (1 + Σ transferred rates), ROUND_HALF_UP to 2 decimals.

    Raises ValueError (with the reason) for a non-numeric, NaN or negative price or bad taxes.
    """
    price = as_decimal(pre_tax_price, "price")
    if price < 0:
        raise ValueError(f"price is negative ({price})")
    return (price * (1 + transferred_rate(taxes))).quantize(CENT, rounding=ROUND_HALF_UP)


# ----------------------------------------------------------------------------- fingerprint


@lru_cache(maxsize=4096)
def _family_key(family: Any) -> str:
    return normalize_name(family)


def product_fingerprint(description: Any, family: Any, price: Any) -> str:
    """P8: fingerprint of the content written to a Handy product (family compared normalised)."""
    if isinstance(price, Decimal):
        price = price.quantize(CENT, ROUND_HALF_UP)
    elif not is_blank(price):
        price = Decimal(str(price)).quantize(CENT, ROUND_HALF_UP)
    else:
        price = None
    return fingerprint(
        {
            HANDY_DESCRIPTION: description,
            HANDY_FAMILY: _family_key(family if isinstance(family, str) else None),
            HANDY_PRICE: price,
        }
    )


# ----------------------------------------------------------------------------- the mapping


@dataclass(frozen=True)
class ProductMapping:
    """desired: DESIRED_COLUMNS, one row per syncable product (key = clave).
    rejected: REJECTED_COLUMNS, one row per product that cannot be synced, with rule and reason.
    not_for_sale: NOT_FOR_SALE_COLUMNS, rows dropped by P1 (counted, and used to disable)."""

    desired: pd.DataFrame
    rejected: pd.DataFrame
    not_for_sale: pd.DataFrame
    held_keys: list[str] = field(default_factory=list)


def _branch_stock(stock: Any, branch_id: Any) -> float:
    """Quantity of the branch's stock entry (missing -> 0.0; unreadable -> NaN, reported later)."""
    if stock is None:
        return 0.0
    if not isinstance(stock, (list, tuple)):
        return math.nan
    total = 0.0
    for entry in stock:
        if not isinstance(entry, Mapping) or str(entry.get(GX_STOCK_BRANCH)) != str(branch_id):
            continue
        quantity = entry.get(GX_STOCK_QUANTITY)
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
    name = category.get(GX_CATEGORY_NAME)
    if name is not None and not isinstance(name, str):
        raise Rejected("P5", f"category name is not text ({type(name).__name__} {name!r})")
    return clean_text(name) or DEFAULT_FAMILY


def _label(product_id: Any, clave: Any) -> str:
    return f"product {product_id!r} (clave {clave!r})"


def _map_one(product: Mapping[str, Any], branch_id: Any) -> dict[str, Any] | None:
    """One desired row; None when not for sale (P1). Raises Rejected with a reason."""
    for_sale = product.get(GX_FOR_SALE)
    if for_sale is False:
        return None
    if for_sale is not True:
        raise Rejected("P1", f"for_sale is missing or not a boolean ({for_sale!r})")
    clave = product.get(GX_KEY)
    problem = clave_problem(clave)
    if problem:
        raise Rejected(*problem)
    description = clean_text(product.get(GX_NAME))
    if description is None:
        raise Rejected("NAME", f"name is empty or not text ({product.get(GX_NAME)!r})")
    try:
        price = after_tax_price(product.get(GX_PRICE), product.get(GX_TAXES))
    except ValueError as exc:
        raise Rejected("P6", str(exc)) from None
    family = _family(product.get(GX_CATEGORY))
    active = product.get(GX_ACTIVE)
    if not isinstance(active, bool):
        raise Rejected("P7", f"active is missing or not a boolean ({active!r})")
    return {
        "key": clave,
        "gestionix_key": clave,
        "gestionix_id": product.get(GX_PRODUCT_ID),
        "code": clave,
        "description": description,
        "family": family,
        "price": float(price),
        "enabled": active,
        "stock": _branch_stock(product.get(GX_STOCK), branch_id),
        "fingerprint": product_fingerprint(description, family, price),
    }


def map_products(products: Iterable[Any], branch_id: Any) -> ProductMapping:
    """Gestionix branch products (API dicts) -> desired Handy products, rejected and not-for-sale.

    Never raises for bad records: each ends as a `rejected` row naming the product and the reason.
    """
    desired: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    not_for_sale: list[dict[str, Any]] = []
    for position, product in enumerate(products):
        if not isinstance(product, Mapping):
            rejected.append(
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
            row = _map_one(product, branch_id)
        except Rejected as exc:
            clave = product.get(GX_KEY)
            name = product.get(GX_NAME)
            rejected.append(
                {
                    "gestionix_id": product.get(GX_PRODUCT_ID),
                    "key": clave if clave_problem(clave) is None else None,
                    "code": None if clave is None else str(clave),
                    "name": None if name is None else str(name)[:MAX_DESCRIPTION_LENGTH],
                    "rule": exc.rule,
                    "reason": f"{_label(product.get(GX_PRODUCT_ID), clave)}: {exc}",
                }
            )
            continue
        if row is None:
            clave = product.get(GX_KEY)
            not_for_sale.append(
                {
                    "gestionix_id": product.get(GX_PRODUCT_ID),
                    "gestionix_key": clave if clave_problem(clave) is None else None,
                    "code": None if clave is None else str(clave),
                }
            )
        else:
            desired.append(row)

    desired_frame = pd.DataFrame(desired, columns=DESIRED_COLUMNS)
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
    desired_frame = desired_frame.astype({"enabled": bool, "price": float, "stock": float})
    rejected_frame = pd.DataFrame(rejected, columns=REJECTED_COLUMNS, dtype=object)
    held = [key for key in rejected_frame["key"].tolist() if isinstance(key, str)]
    return ProductMapping(
        desired=desired_frame,
        rejected=rejected_frame,
        not_for_sale=pd.DataFrame(not_for_sale, columns=NOT_FOR_SALE_COLUMNS, dtype=object),
        held_keys=sorted(set(held)),
    )


# ----------------------------------------------------------------------------- Handy side


def handy_products_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Handy product records (full mode) -> HANDY_CURRENT_COLUMNS, fingerprinted like desired rows.

    Pass enabled AND disabled products, so a bound product that is only disabled is not recreated.
    """
    rows = []
    for record in records:
        family = record.get(HANDY_FAMILY)
        family_name = family.get(HANDY_FAMILY_DESCRIPTION) if isinstance(family, Mapping) else None
        price = record.get(HANDY_PRICE)
        try:
            price_value = as_decimal(price, "price").quantize(CENT, ROUND_HALF_UP)
        except ValueError:
            price_value = None
        rows.append(
            {
                "key": record.get(HANDY_CODE),
                "fingerprint": product_fingerprint(
                    record.get(HANDY_DESCRIPTION), family_name, price_value
                ),
                "enabled": record.get(HANDY_ENABLED) is not False,
                "quantity": record.get(HANDY_QUANTITY),
                "family": family_name,
            }
        )
    return pd.DataFrame(rows, columns=HANDY_CURRENT_COLUMNS)


def _family_ref(family: str, family_id: Any) -> dict[str, Any]:
    if family_id is not None and not is_blank(family_id):
        return {HANDY_FAMILY_ID: int(family_id)}
    return {HANDY_FAMILY_DESCRIPTION: family}


def product_create_body(
    row: Mapping[str, Any], *, family_id: int | None = None, quantity: float | None = None
) -> dict[str, Any]:
    """POST /product body: code, description, family ({"id"} when known, else {"description"}),
    price, enabled; plus quantity when given (saves a second call on the first load)."""
    body = {
        HANDY_CODE: row["code"],
        HANDY_DESCRIPTION: row["description"],
        HANDY_FAMILY: _family_ref(row["family"], family_id),
        HANDY_PRICE: float(row["price"]),
        HANDY_ENABLED: bool(row["enabled"]),
    }
    if quantity is not None:
        body[HANDY_QUANTITY] = float(quantity)
    return body


def product_update_body(
    row: Mapping[str, Any],
    *,
    current: Mapping[str, Any] | None = None,
    family_id: int | None = None,
    quantity: float | None = None,
) -> dict[str, Any]:
    """PUT /product/{code} body with only the changed fields.

    With `current` (the Handy record, full mode) only fields that differ are sent. Without it
    (steady state knows only that the fingerprint changed) every writable field is sent; that is
    still one call. The code is never sent: it is the URL.
    """
    full = {
        HANDY_DESCRIPTION: row["description"],
        HANDY_FAMILY: _family_ref(row["family"], family_id),
        HANDY_PRICE: float(row["price"]),
        HANDY_ENABLED: bool(row["enabled"]),
    }
    if quantity is not None:
        full[HANDY_QUANTITY] = float(quantity)
    if current is None:
        return full
    body: dict[str, Any] = {}
    if current.get(HANDY_DESCRIPTION) != full[HANDY_DESCRIPTION]:
        body[HANDY_DESCRIPTION] = full[HANDY_DESCRIPTION]
    current_family = (
        current.get(HANDY_FAMILY) if isinstance(current.get(HANDY_FAMILY), Mapping) else {}
    )
    if normalize_name(current_family.get(HANDY_FAMILY_DESCRIPTION)) != normalize_name(
        row["family"]
    ) or (family_id is not None and current_family.get(HANDY_FAMILY_ID) not in (None, family_id)):
        body[HANDY_FAMILY] = full[HANDY_FAMILY]
    try:
        current_price = as_decimal(current.get(HANDY_PRICE), "price").quantize(CENT, ROUND_HALF_UP)
    except ValueError:
        current_price = None
    if current_price != Decimal(str(full[HANDY_PRICE])).quantize(CENT, ROUND_HALF_UP):
        body[HANDY_PRICE] = full[HANDY_PRICE]
    if (current.get(HANDY_ENABLED) is not False) != full[HANDY_ENABLED]:
        body[HANDY_ENABLED] = full[HANDY_ENABLED]
    if quantity is not None:
        try:
            same_quantity = as_decimal(current.get(HANDY_QUANTITY), "quantity") == Decimal(
                repr(float(quantity))
            )
        except ValueError:
            same_quantity = False
        if not same_quantity:
            body[HANDY_QUANTITY] = full[HANDY_QUANTITY]
    return body


def enabled_body(enabled: bool) -> dict[str, Any]:
    """PUT /product/{code} (or /customer/{code}) body of an enable/disable (P7, C3)."""
    return {HANDY_ENABLED: bool(enabled)}


# ----------------------------------------------------------------------------- P5 families


@dataclass(frozen=True)
class FamilyPlan:
    """ids: desired family name -> existing Handy family id; missing: names to create (P5)."""

    ids: dict[str, int]
    missing: list[str]


def plan_families(
    families: Iterable[str], handy_families: Iterable[Mapping[str, Any]]
) -> FamilyPlan:
    """Match desired family names to Handy families by normalised description; list the missing
    ones once each (first spelling wins)."""
    existing: dict[str, int] = {}
    for family in handy_families:
        key = normalize_name(family.get(HANDY_FAMILY_DESCRIPTION))
        if key and key not in existing and family.get(HANDY_FAMILY_ID) is not None:
            existing[key] = family[HANDY_FAMILY_ID]
    ids: dict[str, int] = {}
    missing: dict[str, str] = {}
    for name in families:
        key = normalize_name(name)
        if not key:
            continue
        if key in existing:
            ids[name] = existing[key]
        else:
            missing.setdefault(key, name)
    return FamilyPlan(ids=ids, missing=list(missing.values()))
