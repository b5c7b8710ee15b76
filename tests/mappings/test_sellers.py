"""C5: Gestionix sellers -> Handy users, pure."""

from __future__ import annotations

from mappings.sellers import match_sellers, sellers_in_use, sellers_of

ANA = {"seller_id": 12, "name": "Ana Pérez", "email": "ana@abarrotes.mx"}

USERS = [
    {"id": 5, "name": "Ana P.", "username": "ANA@abarrotes.mx", "email": None, "enabled": True},
    {"id": 6, "name": "Luis Gómez", "username": "luis", "email": "luis@x.mx", "enabled": True},
    {"id": 7, "name": "Old Ana", "username": "old", "email": "ana@abarrotes.mx", "enabled": False},
    {"id": 8, "name": "Pepe", "username": "p1", "email": "p1@x.mx", "enabled": True},
    {"id": 9, "name": "pepe", "username": "p2", "email": "p2@x.mx", "enabled": True},
]


def test_c5_seller_matched_by_email_case_insensitively_then_by_normalised_name():
    sellers = [
        ANA,
        {"seller_id": 13, "name": "LUIS GOMEZ", "email": "other@x.mx"},
        {"seller_id": 14, "name": "Pepe", "email": None},
        {"seller_id": 15, "name": "Nadie", "email": "nadie@x.mx"},
    ]
    match = match_sellers(sellers, USERS)
    assert match.user_by_seller == {"12": 5, "13": 6}
    reasons = dict(zip(match.unmatched["seller_id"], match.unmatched["reason"], strict=False))
    assert set(reasons) == {"14", "15"}
    assert "ambiguous" in reasons["14"] and "[8, 9]" in reasons["14"]
    assert "no enabled Handy user" in reasons["15"] and "Nadie" in reasons["15"]


def test_c5_sellers_of_lists_distinct_embedded_sellers():
    clients = [
        {"client_id": 1, "seller": ANA},
        {"client_id": 2, "seller": ANA},
        {"client_id": 3, "seller": None},
        "junk",
    ]
    assert sellers_of(clients) == [ANA]


def test_c5_only_the_sellers_the_sucursals_clients_use_are_matched_with_listed_details():
    """C5: a seller no client of the sucursal uses is not matched (nor reported unmatched); a used
    one takes GET /sellers' details when listed there (ids compared as text), else its embedded copy."""
    listed = [
        {"seller_id": "12", "name": "Ana Pérez", "email": "ana.perez@abarrotes.mx"},
        {"seller_id": 40, "name": "Nadie Usa", "email": "nadie@x.mx"},
        "junk",
        {"name": "no id"},
    ]
    luis = {"seller_id": 13, "name": "Luis Gómez", "email": None}
    clients = [{"client_id": 1, "seller": ANA}, {"client_id": 2, "seller": luis}, {"client_id": 3}]
    assert sellers_in_use(clients, listed) == [listed[0], luis]
