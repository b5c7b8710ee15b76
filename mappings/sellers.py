"""C5: which Handy user a Gestionix seller is, pure.

A customer's Gestionix seller decides its Handy seller: matched by e-mail (case-insensitive,
against the user's email and username), then by normalize_name(name); only enabled users; a tie
is reported as ambiguous, never guessed. Only the sellers the sucursal's clients use are matched
(and so reported when unmatched).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mappings import gestionix_fields as G
from mappings import handy_fields as H
from mappings.names import normalize_name

if TYPE_CHECKING:  # pandas is imported inside the functions that build frames
    import pandas as pd

UNMATCHED_COLUMNS = ["seller_id", "name", "email", "reason"]


@dataclass(frozen=True)
class SellerMatch:
    user_by_seller: dict[str, int]  # Gestionix seller id (str) -> Handy user id
    unmatched: pd.DataFrame  # UNMATCHED_COLUMNS


def _email_key(value: Any) -> str:
    return value.strip().casefold() if isinstance(value, str) else ""


def match_sellers(
    sellers: Iterable[Mapping[str, Any]], users: Iterable[Mapping[str, Any]]
) -> SellerMatch:
    """C5: Gestionix seller -> Handy user, by e-mail (case-insensitive; user email or username),
    then by normalised name. Only enabled users; a tie is ambiguous and reported, not guessed."""
    import pandas as pd

    by_email: dict[str, set[int]] = {}
    by_name: dict[str, set[int]] = {}
    for user in users:
        if (
            not isinstance(user, Mapping)
            or user.get(H.USER_ENABLED) is False
            or user.get(H.ID) is None
        ):
            continue
        user_id = int(user[H.ID])
        for email in {
            _email_key(user.get(H.USER_EMAIL)),
            _email_key(user.get(H.USER_USERNAME)),
        }:
            if email:
                by_email.setdefault(email, set()).add(user_id)
        name = normalize_name(user.get(H.USER_NAME))
        if name:
            by_name.setdefault(name, set()).add(user_id)

    matched: dict[str, int] = {}
    unmatched: list[dict[str, Any]] = []
    seen: set[str] = set()
    for seller in sellers:
        if not isinstance(seller, Mapping) or seller.get(G.SELLER_ID) is None:
            continue
        seller_id = str(seller[G.SELLER_ID])
        if seller_id in seen:
            continue
        seen.add(seller_id)
        name, email = seller.get(G.SELLER_NAME), seller.get(G.SELLER_EMAIL)
        label = f"seller {seller_id} ({name!r}, {email!r})"
        candidates = by_email.get(_email_key(email), set()) if _email_key(email) else set()
        how = "e-mail"
        if not candidates:
            candidates = by_name.get(normalize_name(name), set()) if normalize_name(name) else set()
            how = "name"
        if len(candidates) == 1:
            matched[seller_id] = next(iter(candidates))
            continue
        reason = (
            f"{label}: ambiguous, Handy users {sorted(candidates)} share that {how}"
            if candidates
            else f"{label}: no enabled Handy user with that e-mail or name"
        )
        unmatched.append({"seller_id": seller_id, "name": name, "email": email, "reason": reason})
    return SellerMatch(
        user_by_seller=matched, unmatched=pd.DataFrame(unmatched, columns=UNMATCHED_COLUMNS)
    )


def sellers_of(clients: Iterable[Any]) -> list[dict[str, Any]]:
    """The distinct sellers embedded in Gestionix clients (when GET /sellers is not used)."""
    found: dict[str, dict[str, Any]] = {}
    for client in clients:
        seller = client.get(G.CLIENT_SELLER) if isinstance(client, Mapping) else None
        if isinstance(seller, Mapping) and seller.get(G.SELLER_ID) is not None:
            found.setdefault(str(seller[G.SELLER_ID]), dict(seller))
    return list(found.values())


def sellers_in_use(clients: Iterable[Any], listed: Iterable[Any]) -> list[dict[str, Any]]:
    """The sellers the sucursal's clients are assigned to, with GET /sellers' details when the
    seller is listed there (the embedded copy otherwise). Sellers nobody in this sucursal uses
    are not matched, so they are not reported as unmatched either."""
    by_id = {
        str(s[G.SELLER_ID]): dict(s)
        for s in listed
        if isinstance(s, dict) and s.get(G.SELLER_ID) is not None
    }
    return [by_id.get(str(s[G.SELLER_ID]), s) for s in sellers_of(clients)]
