"""The Handy side of the catalog (RULES P5-P8), pure: what Handy holds (full mode), the bodies
we send it (create, update, enable/disable) and the families (P5) a run needs. The Gestionix
side and the desired rows are mappings/products.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mappings import handy_fields as H
from mappings.money import cents, to_decimal
from mappings.names import is_blank, normalize_name
from mappings.products import HANDY_CURRENT_COLUMNS, handy_tax_body, product_fingerprint

if TYPE_CHECKING:  # pandas is imported inside the functions that build frames
    import pandas as pd


# ----------------------------------------------------------------------------- Handy side


def _handy_tax_of(record: Mapping[str, Any], field_name: str) -> tuple[Any, Any]:
    tax = record.get(field_name)
    if not isinstance(tax, Mapping):
        return None, None
    return tax.get(H.TAX_NAME), tax.get(H.TAX_AMOUNT)


def handy_products_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Handy product records (full mode) -> HANDY_CURRENT_COLUMNS, fingerprinted like desired rows.

    Pass enabled AND disabled products, so a bound product that is only disabled is not recreated.
    """
    import pandas as pd

    rows = []
    for record in records:
        family = record.get(H.PRODUCT_FAMILY)
        family_name = family.get(H.FAMILY_DESCRIPTION) if isinstance(family, Mapping) else None
        tax_name, tax_amount = _handy_tax_of(record, H.PRODUCT_TAX)
        _, optional_amount = _handy_tax_of(record, H.PRODUCT_TAX_OPTIONAL)
        rows.append(
            {
                "key": record.get(H.PRODUCT_CODE),
                "fingerprint": product_fingerprint(
                    record.get(H.PRODUCT_DESCRIPTION),
                    family_name,
                    record.get(H.PRODUCT_PRICE),
                    record.get(H.PRODUCT_BASE_PRICE),
                    tax_name,
                    tax_amount,
                    optional_amount,
                ),
                "enabled": record.get(H.PRODUCT_ENABLED) is not False,
                "quantity": record.get(H.PRODUCT_QUANTITY),
                "family": family_name,
            }
        )
    return pd.DataFrame(rows, columns=HANDY_CURRENT_COLUMNS)


def _family_ref(family: str, family_id: Any) -> dict[str, Any]:
    if family_id is not None and not is_blank(family_id):
        return {H.FAMILY_ID: int(family_id)}
    return {H.FAMILY_DESCRIPTION: family}


def _price_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """price, and (P6) basePrice + Handy's own tax, taxOptional cleared, when the row has them."""
    fields: dict[str, Any] = {H.PRODUCT_PRICE: float(row["price"])}
    base_price = row.get("base_price")
    if not is_blank(base_price) and not is_blank(row.get("tax_amount")):
        fields[H.PRODUCT_BASE_PRICE] = float(base_price)
        fields[H.PRODUCT_TAX] = handy_tax_body(row.get("tax_name"), row["tax_amount"])
        fields[H.PRODUCT_TAX_OPTIONAL] = None
    return fields


def product_create_body(
    row: Mapping[str, Any], *, family_id: int | None = None, quantity: float | None = None
) -> dict[str, Any]:
    """POST /product body: code, description, family ({"id"} when known, else {"description"}),
    price, basePrice and tax (P6), enabled; plus quantity when given (saves a second call on the
    first load)."""
    body = {
        H.PRODUCT_CODE: row["code"],
        H.PRODUCT_DESCRIPTION: row["description"],
        H.PRODUCT_FAMILY: _family_ref(row["family"], family_id),
        **_price_fields(row),
        H.PRODUCT_ENABLED: bool(row["enabled"]),
    }
    body.pop(H.PRODUCT_TAX_OPTIONAL, None)  # a new product has none
    if quantity is not None:
        body[H.PRODUCT_QUANTITY] = float(quantity)
    return body


def _same_number(a: Any, b: Any, *, to_cents: bool = False) -> bool:
    x, y = to_decimal(a, text=False), to_decimal(b, text=False)
    if x is None or y is None:
        return x is y
    return cents(x) == cents(y) if to_cents else x == y


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
        H.PRODUCT_DESCRIPTION: row["description"],
        H.PRODUCT_FAMILY: _family_ref(row["family"], family_id),
        **_price_fields(row),
        H.PRODUCT_ENABLED: bool(row["enabled"]),
    }
    if quantity is not None:
        full[H.PRODUCT_QUANTITY] = float(quantity)
    if current is None:
        return full
    body: dict[str, Any] = {}
    if current.get(H.PRODUCT_DESCRIPTION) != full[H.PRODUCT_DESCRIPTION]:
        body[H.PRODUCT_DESCRIPTION] = full[H.PRODUCT_DESCRIPTION]
    current_family = (
        current.get(H.PRODUCT_FAMILY) if isinstance(current.get(H.PRODUCT_FAMILY), Mapping) else {}
    )
    if normalize_name(current_family.get(H.FAMILY_DESCRIPTION)) != normalize_name(
        row["family"]
    ) or (family_id is not None and current_family.get(H.FAMILY_ID) not in (None, family_id)):
        body[H.PRODUCT_FAMILY] = full[H.PRODUCT_FAMILY]
    price_changed = not _same_number(
        current.get(H.PRODUCT_PRICE), full[H.PRODUCT_PRICE], to_cents=True
    )
    if H.PRODUCT_BASE_PRICE in full:
        name, amount = _handy_tax_of(current, H.PRODUCT_TAX)
        wanted = full[H.PRODUCT_TAX]
        price_changed = (
            price_changed
            or not _same_number(current.get(H.PRODUCT_BASE_PRICE), full[H.PRODUCT_BASE_PRICE])
            or name != wanted[H.TAX_NAME]
            or not _same_number(amount, wanted[H.TAX_AMOUNT])
        )
        if current.get(H.PRODUCT_TAX_OPTIONAL) is not None:
            body[H.PRODUCT_TAX_OPTIONAL] = None
    if price_changed:  # price, basePrice and tax travel together: Handy derives one from the others
        body.update(
            {
                k: full[k]
                for k in (H.PRODUCT_PRICE, H.PRODUCT_BASE_PRICE, H.PRODUCT_TAX)
                if k in full
            }
        )
    if (current.get(H.PRODUCT_ENABLED) is not False) != full[H.PRODUCT_ENABLED]:
        body[H.PRODUCT_ENABLED] = full[H.PRODUCT_ENABLED]
    if quantity is not None and not _same_number(current.get(H.PRODUCT_QUANTITY), float(quantity)):
        body[H.PRODUCT_QUANTITY] = full[H.PRODUCT_QUANTITY]
    return body


def enabled_body(enabled: bool) -> dict[str, Any]:
    """PUT /product/{code} (or /customer/{code}) body of an enable/disable (P7, C3)."""
    return {H.PRODUCT_ENABLED: bool(enabled)}


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
        key = normalize_name(family.get(H.FAMILY_DESCRIPTION))
        if key and key not in existing and family.get(H.FAMILY_ID) is not None:
            existing[key] = family[H.FAMILY_ID]
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
