"""The customer and the seller of an order (RULES O3, O4), pure: the Gestionix client a Handy
customer is (by nombre comercial or razón social, case and accents ignored; the oldest of
several, reported), the body of a new client when none is, and the Gestionix seller of the
Handy user who took the order."""

from __future__ import annotations

import re
from typing import Any

from mappings import gestionix_fields as G
from mappings import handy_fields as H
from mappings.names import normalize_name
from mappings.orders import OrderRejected, _as_id_key, _text  # the order mapping's readers

GENERIC_RFC = "XAXX010101000"  # O4: RFC of the "público en general"
RFC_PATTERN = re.compile(r"^[A-ZÑ&]{3,4}\d{6}[A-Z0-9]{3}$")


def _customer_names(customer: object) -> tuple[str, str]:
    if not isinstance(customer, dict):
        return "", ""
    return _text(customer.get(H.CUSTOMER_DESCRIPTION)), _text(
        customer.get(H.CUSTOMER_BUSINESS_NAME)
    )


def match_client(order_customer: object, clients: list[dict]) -> tuple[dict | None, str | None]:
    """O3: the Gestionix client whose nombre comercial or razón social equals (normalised) the
    Handy customer's description or businessName. Several: the oldest (lowest client_id), active
    ones first (an inactive client may refuse documents), with a note naming the candidates."""
    keys = {normalize_name(name) for name in _customer_names(order_customer)} - {""}
    if not keys:
        return None, None
    matches = []
    for client in clients or []:
        if not isinstance(client, dict) or client.get(G.CLIENT_ID) is None:
            continue
        names = {
            normalize_name(client.get(G.CLIENT_COMMERCIAL_NAME)),
            normalize_name(client.get(G.CLIENT_BUSINESS_NAME)),
        }
        if keys & names:
            matches.append(client)
    if not matches:
        return None, None
    matches.sort(key=lambda c: (c.get(G.CLIENT_ACTIVE) is False, _as_id_key(c.get(G.CLIENT_ID))))
    chosen = matches[0]
    if len(matches) == 1:
        return chosen, None
    description, business = _customer_names(order_customer)
    candidates = ", ".join(
        f"{c.get(G.CLIENT_ID)} {_text(c.get(G.CLIENT_COMMERCIAL_NAME)) or _text(c.get(G.CLIENT_BUSINESS_NAME))!r}"
        + (" (inactive)" if c.get(G.CLIENT_ACTIVE) is False else "")
        for c in matches
    )
    note = (
        f"Handy customer {description or business!r} matches {len(matches)} Gestionix clients "
        f"({candidates}); using the oldest, {chosen.get(G.CLIENT_ID)}"
    )
    return chosen, note


def valid_rfc(value: object) -> str | None:
    """The RFC in upper case when it looks like a Mexican RFC (12 or 13 chars), else None."""
    text = _text(value).upper().replace(" ", "").replace("-", "")
    return text if RFC_PATTERN.fullmatch(text) else None


def new_client_body(
    order_customer: object, *, branch_id: object, with_address: bool, order_id: object = None
) -> dict[str, Any]:
    """O4: body of POST /clients for a Handy customer unknown to Gestionix. Name always, address
    only when `with_address` (sync_customer_address), generic RFC when none is valid.
    Raises OrderRejected when the customer has no name at all."""
    description, business = _customer_names(order_customer)
    if not description and not business:
        code = order_customer.get(H.CUSTOMER_CODE) if isinstance(order_customer, dict) else None
        who = f"customer {code}" if code is not None else "the order's customer"
        raise OrderRejected(
            order_id, f"{who} has no name (description and businessName empty): cannot create it"
        )
    customer = order_customer if isinstance(order_customer, dict) else {}
    body: dict[str, Any] = {
        G.CLIENT_BRANCH_ID: branch_id,
        G.CLIENT_COMMERCIAL_NAME: description or business,
        G.CLIENT_BUSINESS_NAME: business or description,
        G.CLIENT_TAX_ID: valid_rfc(customer.get(H.CUSTOMER_RFC)) or GENERIC_RFC,
    }
    if with_address:
        address = {
            gestionix: _text(customer.get(handy))
            for handy, gestionix in (
                (H.CUSTOMER_ADDRESS, G.ADDRESS_STREET),
                (H.CUSTOMER_NEIGHBORHOOD, G.ADDRESS_SUBURB),
                (H.CUSTOMER_CITY, G.ADDRESS_CITY),
                (H.CUSTOMER_POSTAL_CODE, G.ADDRESS_ZIP),
            )
        }
        address = {key: value for key, value in address.items() if value}
        if address:
            body[G.CLIENT_ADDRESS] = address
    return body


def match_seller(created_by: object, sellers: list[dict]) -> object | None:
    """Gestionix seller_id of the Handy user who took the order: by e-mail (username is the login
    e-mail), then by normalised name; active and oldest first on ties; None when unmatched."""
    if not isinstance(created_by, dict):
        return None
    emails = {_text(created_by.get(key)).casefold() for key in (H.USER_USERNAME, H.USER_EMAIL)} - {
        ""
    }
    emails = {email for email in emails if "@" in email}
    name = normalize_name(_text(created_by.get(H.USER_NAME)))
    usable = [s for s in sellers or [] if isinstance(s, dict) and s.get(G.SELLER_ID) is not None]
    usable.sort(key=lambda s: (s.get(G.SELLER_ACTIVE) is False, _as_id_key(s.get(G.SELLER_ID))))
    for seller in usable:
        if emails and _text(seller.get(G.SELLER_EMAIL)).casefold() in emails:
            return seller[G.SELLER_ID]
    if name:
        for seller in usable:
            if normalize_name(_text(seller.get(G.SELLER_NAME))) == name:
                return seller[G.SELLER_ID]
    return None
