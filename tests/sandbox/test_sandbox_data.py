"""The seeded demo world carries the traps the rules talk about."""

from __future__ import annotations

from mappings.names import normalize_name
from sandbox.data import generate_world


def test_world_is_deterministic_per_seed():
    a = generate_world(seed=11, products=80, customers=20).gestionix.dump()
    b = generate_world(seed=11, products=80, customers=20).gestionix.dump()
    c = generate_world(seed=12, products=80, customers=20).gestionix.dump()
    assert a == b and a != c


def test_p1_p3_p4_p7_catalog_traps_exist():
    company = generate_world(products=400, customers=10).gestionix.companies[92]
    products = list(company.products.values())
    keys = [p["key"] for p in products]
    assert "" in keys and any("/" in k for k in keys) and any(k != k.strip() for k in keys)
    assert any(not p["for_sale"] for p in products) and any(not p["active"] for p in products)
    assert any(any(ch in p["name"] for ch in "áéíóúñÁÉÍÓÚÑ") for p in products)
    tax_sets = {tuple(t["tax_id"] for t in p["taxes"]) for p in products}
    assert {(1,), (2,), (3,), (1, 4), ()} <= tax_sets
    assert any(len(p["stock"]) == 2 for p in products)


def test_c2_o3_customer_traps_exist():
    company = generate_world(products=10, customers=40).gestionix.companies[92]
    clients = list(company.clients.values())
    lucias = [c for c in clients if normalize_name(c["commercial_name"]) == "tienda lucia"]
    assert len({c["commercial_name"] for c in lucias}) >= 3
    assert any(not c["commercial_name"] and c["business_name"] for c in clients)
    assert any(not c["commercial_name"] and not c["business_name"] for c in clients)
    assert {c["branch_id"] for c in clients} == {310, 311}


def test_c5_sellers_match_by_email_by_name_and_one_not_at_all():
    world = generate_world(products=10, customers=10)
    handy_users = [u for u in world.handy.users.values() if u["role"]["authority"] == "ROLE_SALES"]
    sellers = list(world.gestionix.companies[92].sellers.values())
    emails = {u["email"].lower() for u in handy_users}
    names = {normalize_name(u["name"]) for u in handy_users}
    by_email = [s for s in sellers if s["email"] and s["email"].lower() in emails]
    by_name_only = [s for s in sellers if s not in by_email and normalize_name(s["name"]) in names]
    unmatched = [s for s in sellers if s not in by_email and s not in by_name_only]
    assert len(by_email) >= 2 and len(by_name_only) >= 2 and len(unmatched) == 1
    assert any(
        s["name"] != u["name"]
        for s in by_name_only
        for u in handy_users
        if normalize_name(s["name"]) == normalize_name(u["name"])
    )


def test_i1_handy_starts_with_users_and_loaded_open_routes_only():
    world = generate_world(products=100, customers=10)
    handy = world.handy
    assert not handy.products and not handy.customers and not handy.families and not handy.zones
    open_routes = [r for r, v in handy.routes.items() if not v["closed"]]
    assert len(open_routes) == 3 and all(handy.route_inventory[r] for r in open_routes)
    keys = {p["key"] for p in world.gestionix.companies[92].products.values()}
    assert all(code in keys for r in open_routes for code in handy.route_inventory[r])


def test_large_world_generates():
    world = generate_world(products=50_000, customers=100)
    assert len(world.gestionix.companies[92].products) == 50_000


def test_second_company_is_isolated():
    gx = generate_world(products=20, customers=5).gestionix
    ids_92 = set(gx.companies[92].products)
    ids_118 = set(gx.companies[118].products)
    assert ids_118 and not ids_92 & ids_118
    assert [b["name"] for b in gx.companies[118].branches.values()] == ["Matriz"]
