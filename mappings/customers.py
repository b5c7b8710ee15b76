"""Gestionix clients -> desired Handy customers (RULES C2-C5), seller matching, adoption.

Decisions:
- Handy code = CUSTOMER_CODE_PREFIX + client_id ("GX-1201"): stable, never contains `/`. The
  binding's gestionix_key is str(client_id). A client whose id is not an int (or a plain
  [A-Za-z0-9_-] string) is rejected.
- C2: description = nombre comercial, else razón social, else rejected; both filled -> nombre
  comercial. Texts cleaned like product names (strip, collapse spaces, <= 255 characters).
- Address: "street exterior [Int. interior]" -> address, suburb -> neighborhood, city, zip_code
  -> postalCode; tax_id -> rfc, email, phone -> phoneNumber. Numbers (a zip code sent as int)
  are accepted as text; other wrong types reject the client with the field named.
- C5: the customer's `sellers` is [handy user id] when its Gestionix seller matched a Handy
  user, else [] (Gestionix is the master of customers, A5: no seller or an unmatched seller
  means no assignment from the integration). Matching: e-mail (case-insensitive, against the
  user's email and username), then normalize_name(name); only enabled users; a tie is reported
  as ambiguous, never guessed.
- C4: new customers go to zone ZONE_GENERAL; the zone is sent on create only (not
  fingerprinted), so a customer moved to another zone by hand in Handy stays there.
- Fingerprint covers description, businessName, the address fields, rfc, email, phoneNumber and
  sellers; `enabled` is tracked by the binding status (as for products).
- C8: an update never sends an empty value (Handy cannot tell "empty in Gestionix" from "never
  typed", and a filled Handy field is worth more than a blank one). A customer linked by
  order_push (O4) keeps what was typed in Handy: its binding holds the Gestionix values of
  BASELINE_FIELDS (address, neighborhood, city, postal code, e-mail, phone, RFC) and seller at
  link time (`link_baseline`, data[BASELINE]); its updates carry those fields only when their
  Gestionix value changed since (the baseline moves with each write), the seller only when the
  Gestionix seller changed. Its names follow Gestionix as for any customer (C2).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mappings import gestionix_fields as G
from mappings import handy_fields as H
from mappings.fingerprint import fingerprint
from mappings.names import MAX_DESCRIPTION_LENGTH, clean_text, is_blank, normalize_name

if (
    TYPE_CHECKING
):  # pandas is imported inside the functions that build frames: order runs never load it
    import pandas as pd

CUSTOMER_CODE_PREFIX = "GX-"
ZONE_GENERAL = "General"
_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")

# C8: what a seller types on the phone (a delivery address may differ from the billing one)
BASELINE_FIELDS = [
    H.CUSTOMER_ADDRESS,
    H.CUSTOMER_NEIGHBORHOOD,
    H.CUSTOMER_CITY,
    H.CUSTOMER_POSTAL_CODE,
    H.CUSTOMER_RFC,
    H.CUSTOMER_EMAIL,
    H.CUSTOMER_PHONE,
]
# Content fields written to Handy, in body order; the fingerprint covers exactly these.
CONTENT_FIELDS = [
    H.CUSTOMER_DESCRIPTION,
    H.CUSTOMER_BUSINESS_NAME,
    *BASELINE_FIELDS,
    H.CUSTOMER_SELLERS,
]
DESIRED_COLUMNS = [
    "key",
    "gestionix_key",
    "code",
    *CONTENT_FIELDS,
    "enabled",
    "gestionix_seller_id",
    "fingerprint",
]
REJECTED_COLUMNS = ["gestionix_key", "name", "rule", "reason"]
HANDY_CURRENT_COLUMNS = ["key", "fingerprint", "enabled", "description"]
BASELINE = "gestionix_content"  # binding data key: the Gestionix content last taken (C8)
BASELINE_SELLER = "gestionix_seller_id"


class _Rejected(ValueError):
    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule


def customer_code(client_id: Any) -> str:
    """Stable Handy code of a Gestionix client ("GX-1201"); ValueError when the id is unusable."""
    if isinstance(client_id, bool) or not isinstance(client_id, (int, str)):
        # ValueError, not TypeError: map_customers turns it into a rejected row.
        raise ValueError(f"client_id is not an integer or plain text ({client_id!r})")  # noqa: TRY004
    text = str(client_id)
    if not _PLAIN_ID.fullmatch(text):
        raise ValueError(f"client_id {client_id!r} is not a plain identifier")
    return CUSTOMER_CODE_PREFIX + text


def _text(value: Any, field: str) -> str | None:
    """Cleaned text of an optional field; ints/floats accepted (e.g. a zip code sent as number)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise _Rejected("DATA", f"{field} is not text ({value!r})")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():  # NaN is not integer
        return str(int(value))
    if not isinstance(value, str):
        raise _Rejected("DATA", f"{field} is not text ({type(value).__name__} {value!r})")
    return clean_text(value)


def customer_fingerprint(fields: Mapping[str, Any]) -> str:
    """P8/C6: fingerprint of the content written to a Handy customer (CONTENT_FIELDS)."""
    content = {name: fields.get(name) for name in CONTENT_FIELDS}
    sellers = content[H.CUSTOMER_SELLERS]
    content[H.CUSTOMER_SELLERS] = (
        sorted(int(s) for s in sellers) if isinstance(sellers, (list, tuple)) else []
    )
    for name in CONTENT_FIELDS[:-1]:
        if is_blank(content[name]):
            content[name] = None
    return fingerprint(content)


def _address_line(address: Mapping[str, Any]) -> str | None:
    street = _text(address.get(G.ADDRESS_STREET), "address.street")
    exterior = _text(address.get(G.ADDRESS_EXTERIOR), "address.exterior_number")
    interior = _text(address.get(G.ADDRESS_INTERIOR), "address.interior_number")
    parts = [p for p in (street, exterior) if p]
    if interior:
        parts.append(f"Int. {interior}")
    return clean_text(" ".join(parts)) if parts else None


def _map_one(client: Mapping[str, Any], user_by_seller: Mapping[str, int]) -> dict[str, Any]:
    code = customer_code(client.get(G.CLIENT_ID))  # ValueError -> rejected by the caller
    commercial = client.get(G.CLIENT_COMMERCIAL_NAME)
    business = client.get(G.CLIENT_BUSINESS_NAME)
    for field, value in (
        (G.CLIENT_COMMERCIAL_NAME, commercial),
        (G.CLIENT_BUSINESS_NAME, business),
    ):
        if value is not None and not isinstance(value, str):
            raise _Rejected("C2", f"{field} is not text ({type(value).__name__} {value!r})")
    business_name = clean_text(business)
    description = clean_text(commercial) or business_name
    if description is None:
        raise _Rejected("C2", "both nombre comercial and razón social are empty")
    active = client.get(G.CLIENT_ACTIVE)
    if not isinstance(active, bool):
        raise _Rejected("C3", f"active is missing or not a boolean ({active!r})")
    address = client.get(G.CLIENT_ADDRESS)
    if address is None:
        address = {}
    if not isinstance(address, Mapping):
        raise _Rejected("DATA", f"address is not an object ({type(address).__name__})")
    seller = client.get(G.CLIENT_SELLER)
    if seller is not None and not isinstance(seller, Mapping):
        raise _Rejected("C5", f"seller is not an object ({type(seller).__name__})")
    seller_id = (
        None if seller is None or seller.get(G.SELLER_ID) is None else str(seller.get(G.SELLER_ID))
    )
    user_id = user_by_seller.get(seller_id) if seller_id is not None else None
    row = {
        "key": code,
        "gestionix_key": str(client.get(G.CLIENT_ID)),
        "code": code,
        H.CUSTOMER_DESCRIPTION: description,
        H.CUSTOMER_BUSINESS_NAME: business_name,
        H.CUSTOMER_ADDRESS: _address_line(address),
        H.CUSTOMER_NEIGHBORHOOD: _text(address.get(G.ADDRESS_SUBURB), "address.suburb"),
        H.CUSTOMER_CITY: _text(address.get(G.ADDRESS_CITY), "address.city"),
        H.CUSTOMER_POSTAL_CODE: _text(address.get(G.ADDRESS_ZIP), "address.zip_code"),
        H.CUSTOMER_RFC: _text(client.get(G.CLIENT_TAX_ID), "tax_id"),
        H.CUSTOMER_EMAIL: _text(client.get(G.CLIENT_EMAIL), "email"),
        H.CUSTOMER_PHONE: _text(client.get(G.CLIENT_PHONE), "phone"),
        H.CUSTOMER_SELLERS: [int(user_id)] if user_id is not None else [],
        "enabled": active,
        "gestionix_seller_id": seller_id,
    }
    row["fingerprint"] = customer_fingerprint(row)
    return row


@dataclass(frozen=True)
class CustomerMapping:
    desired: pd.DataFrame  # DESIRED_COLUMNS (key = Handy code, gestionix_key = client id)
    rejected: pd.DataFrame  # REJECTED_COLUMNS
    held_keys: list[str]  # gestionix keys of rejected clients: their bound customers are left alone


def map_customers(
    clients: Iterable[Any], user_by_seller: Mapping[str, int] | None = None
) -> CustomerMapping:
    """Gestionix clients -> desired Handy customers (C2-C5). `user_by_seller` maps a Gestionix
    seller id (as str) to a Handy user id (mappings.sellers.SellerMatch.user_by_seller). Never
    raises for bad records: each ends as a rejected row naming the client and the reason."""
    import pandas as pd

    users = {str(k): v for k, v in (user_by_seller or {}).items()}
    desired: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for position, client in enumerate(clients):
        if not isinstance(client, Mapping):
            rejected.append(
                {
                    "gestionix_key": None,
                    "name": None,
                    "rule": "DATA",
                    "reason": f"client record #{position} is not an object ({type(client).__name__})",
                }
            )
            continue
        client_id = client.get(G.CLIENT_ID)
        name = client.get(G.CLIENT_COMMERCIAL_NAME) or client.get(G.CLIENT_BUSINESS_NAME)
        label = f"client {client_id!r} ({name!r})"
        try:
            desired.append(_map_one(client, users))
        except ValueError as exc:  # _Rejected carries its rule id
            rejected.append(
                {
                    "gestionix_key": None if client_id is None else str(client_id),
                    "name": None if name is None else str(name)[:MAX_DESCRIPTION_LENGTH],
                    "rule": exc.rule if isinstance(exc, _Rejected) else "DATA",
                    "reason": f"{label}: {exc}",
                }
            )
    frame = pd.DataFrame(desired, columns=DESIRED_COLUMNS)
    duplicated = frame["gestionix_key"].duplicated(keep=False)
    for row in frame[duplicated].itertuples(index=False):
        rejected.append(
            {
                "gestionix_key": row.gestionix_key,
                "name": row.description,
                "rule": "DATA",
                "reason": f"client {row.gestionix_key!r} ({row.description!r}): "
                "client_id appears more than once",
            }
        )
    frame = frame[~duplicated].reset_index(drop=True).astype({"enabled": bool})
    rejected_frame = pd.DataFrame(rejected, columns=REJECTED_COLUMNS, dtype=object)
    held = sorted({k for k in rejected_frame["gestionix_key"] if isinstance(k, str)})
    return CustomerMapping(desired=frame, rejected=rejected_frame, held_keys=held)


# ----------------------------------------------------------------------------- C4 zone, bodies


def zone_id(zones: Iterable[Mapping[str, Any]], name: str = ZONE_GENERAL) -> int | None:
    """Id of the Handy zone called `name` (normalised comparison); None when it must be created."""
    wanted = normalize_name(name)
    for zone in zones:
        if normalize_name(zone.get(H.ZONE_DESCRIPTION)) == wanted and zone.get(H.ID) is not None:
            return int(zone[H.ID])
    return None


def zone_body(name: str = ZONE_GENERAL) -> dict[str, Any]:
    """POST /zone body (C4)."""
    return {H.ZONE_DESCRIPTION: name}


def _value(row: Mapping[str, Any], name: str) -> Any:
    value = row.get(name) if hasattr(row, "get") else row[name]
    if name == H.CUSTOMER_SELLERS:
        return [int(s) for s in value] if isinstance(value, (list, tuple)) else []
    return None if is_blank(value) else value


def customer_create_body(
    row: Mapping[str, Any], *, code: str | None = None, zone: int | None = None
) -> dict[str, Any]:
    """POST /customer body: code (the plan row's handy_key when given, else the desired code),
    content fields that have a value, enabled, zone General ({"id"} when known, else
    {"description"}) (C4)."""
    body: dict[str, Any] = {H.CUSTOMER_CODE: code if code is not None else row["code"]}
    for name in CONTENT_FIELDS:
        value = _value(row, name)
        if value is not None:
            body[name] = value
    body[H.CUSTOMER_ENABLED] = bool(row["enabled"])
    body[H.CUSTOMER_ZONE] = (
        {H.ID: int(zone)} if zone is not None else {H.ZONE_DESCRIPTION: ZONE_GENERAL}
    )
    return body


def _handy_sellers(record: Mapping[str, Any]) -> list[int]:
    sellers = record.get(H.CUSTOMER_SELLERS)
    if not isinstance(sellers, list):
        return []
    ids = [s.get(H.ID) if isinstance(s, Mapping) else s for s in sellers]
    return sorted(int(s) for s in ids if s is not None)


def baseline_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """C8: the Gestionix values of BASELINE_FIELDS and the Gestionix seller id of a desired row,
    as a binding keeps them (JSON-ready)."""
    content = {name: _value(row, name) for name in BASELINE_FIELDS}
    seller = row.get(BASELINE_SELLER) if hasattr(row, "get") else row[BASELINE_SELLER]
    content[BASELINE_SELLER] = None if is_blank(seller) else str(seller)
    return content


def link_baseline(client: Any) -> dict[str, Any] | None:
    """C8/O4: the Gestionix content of a client at the moment order_push links it to a Handy
    customer; None when the client cannot be mapped (customer_sync reports it)."""
    if not isinstance(client, Mapping):
        return None
    try:
        return baseline_of(_map_one(client, {}))
    except ValueError:  # _Rejected included
        return None


def _same(a: Any, b: Any) -> bool:
    return (None if is_blank(a) else a) == (None if is_blank(b) else b)


def customer_update_body(
    row: Mapping[str, Any],
    *,
    current: Mapping[str, Any] | None = None,
    baseline: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """PUT /customer/{code} body. Never an empty value (C8): a field empty in Gestionix is left
    as Handy has it. Without `current` (steady state knows only that the fingerprint changed)
    every filled content field is sent; with it, only those that differ. With `baseline` (a
    customer from a Handy order, C8) the baseline fields only when their Gestionix value changed
    since, and the sellers only when the Gestionix seller changed.

    An empty seller list is never sent (C5): the integration assigns a customer to the Handy user
    matching its Gestionix seller and moves it when that seller changes, but never takes a
    customer away from its Handy sellers to leave it with nobody. A client without a seller (as
    order_push creates them) or with an unmatched seller keeps the assignment Handy has, e.g.
    the seller who created it on the phone."""
    wanted: dict[str, Any] = {name: _value(row, name) for name in CONTENT_FIELDS}
    body: dict[str, Any] = {}
    for name, value in wanted.items():
        if name == H.CUSTOMER_SELLERS:
            if not value:
                continue
            if baseline is not None and _same(
                baseline.get(BASELINE_SELLER), baseline_of(row)[BASELINE_SELLER]
            ):
                continue
            if current is not None and sorted(value) == _handy_sellers(current):
                continue
        else:
            if value is None:
                continue  # C8: never erase what Handy has
            if (
                baseline is not None
                and name in BASELINE_FIELDS
                and _same(baseline.get(name), value)
            ):
                continue
            if current is not None and _same(current.get(name), value):
                continue
        body[name] = value
    enabled = bool(row["enabled"])
    if current is None or (current.get(H.CUSTOMER_ENABLED) is not False) != enabled:
        body[H.CUSTOMER_ENABLED] = enabled
    return body


# ----------------------------------------------------------------------------- full mode (C6)


def handy_customers_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Handy customer records -> HANDY_CURRENT_COLUMNS, fingerprinted like desired rows."""
    import pandas as pd

    rows = []
    for record in records:
        content = {name: record.get(name) for name in CONTENT_FIELDS}
        content[H.CUSTOMER_SELLERS] = _handy_sellers(record)
        rows.append(
            {
                "key": record.get(H.CUSTOMER_CODE),
                "fingerprint": customer_fingerprint(content),
                "enabled": record.get(H.CUSTOMER_ENABLED) is not False,
                "description": record.get(H.CUSTOMER_DESCRIPTION),
            }
        )
    return pd.DataFrame(rows, columns=HANDY_CURRENT_COLUMNS)
