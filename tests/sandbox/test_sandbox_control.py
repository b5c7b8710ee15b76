"""The /_sandbox/ control surface: stats, knobs, state, reset, Gestionix catalog edits."""

from __future__ import annotations


async def test_stats_count_per_route_template_and_reset(handy, handy_ctl, handy_catalog):
    await handy_ctl.post("/stats/reset")
    await handy.get("/product/REF-600")
    await handy.get("/product/PAP-45")
    await handy.put("/product/REF-600", json={"quantity": 1})
    stats = (await handy_ctl.get("/stats")).json()
    assert stats["calls"] == {"GET /product/{code}": 2, "PUT /product/{code}": 1}
    assert stats["reads"] == 2 and stats["writes"] == 1 and stats["total"] == 3
    assert stats["statuses"] == {"200": 3}
    assert (await handy_ctl.post("/stats/reset")).json()["total"] == 0


async def test_gestionix_login_is_not_a_write(gx, gx_ctl):
    await gx.get("/branch_offices/")
    stats = (await gx_ctl.get("/stats")).json()
    assert stats["calls"] == {"POST /users/authentication": 1, "GET /branch_offices": 1}
    assert stats["writes"] == 0 and stats["reads"] == 1


async def test_knobs_get_set_and_bad_knob(handy_ctl):
    assert (await handy_ctl.get("/knobs")).json()["rate_limit_per_minute"] == 500
    updated = (
        await handy_ctl.put("/knobs", json={"latency_ms": 15, "rate_limit_per_minute": 0})
    ).json()
    assert updated["latency_ms"] == 15 and updated["rate_limit_per_minute"] is None
    bad = await handy_ctl.put("/knobs", json={"bogus": 1})
    assert bad.status_code == 400 and "bogus" in bad.json()["message"]
    assert (await handy_ctl.post("/knobs/reset")).json()["rate_limit_per_minute"] == 500


async def test_state_dump_and_reset(handy, handy_ctl, handy_catalog):
    dump = (await handy_ctl.get("/state", params={"only": "products,users"})).json()
    assert set(dump) == {"products", "users"} and len(dump["products"]) == 3
    await handy_ctl.post("/reset")
    assert (await handy_ctl.get("/state", params={"only": "products"})).json()["products"] == []
    assert (await handy.get("/user")).json()["pagination"]["totalCount"] == 7


async def test_clock_control(handy_ctl, sb):
    before = sb.clock.now()
    moved = (await handy_ctl.post("/clock", json={"advance_seconds": 90})).json()
    assert moved["now"] == before + 90 and moved["frozen"] is True


async def test_p7_gestionix_product_patch_is_visible_through_the_api(gx, gx_ctl, sb):
    product = (await gx.get("/products", params={"branch_id": 310, "page_size": 1})).json()[0]
    patched = await gx_ctl.patch(
        f"/products/{product['product_id']}",
        json={
            "price": 99.5,
            "active": False,
            "for_sale": False,
            "stock": {"Matriz": 7, "Sucursal Norte": 2},
            "taxes": ["IVA 16%", 4],
            "category": "Botanas",
        },
    )
    assert patched.status_code == 200, patched.text
    again = (await gx.get("/products", params={"branch_id": 310, "page_size": 1})).json()[0]
    assert again["price"] == 99.5 and again["active"] is False and again["for_sale"] is False
    assert again["stock"] == [
        {"branch_id": 310, "quantity": 7.0},
        {"branch_id": 311, "quantity": 2.0},
    ]
    assert [t["tax_id"] for t in again["taxes"]] == [1, 4] and again["category"][
        "name"
    ] == "Botanas"


async def test_gestionix_product_upsert_creates_and_limits_to_branches(gx, gx_ctl):
    created = (
        await gx_ctl.put(
            "/products",
            json={
                "key": "NEW-1",
                "name": "Agua de horchata 1 L",
                "price": 20.0,
                "taxes": [1],
                "branches": ["Sucursal Norte"],
            },
        )
    ).json()
    norte = (await gx.get("/products", params={"branch_id": 311})).json()
    matriz = (await gx.get("/products", params={"branch_id": 310})).json()
    assert created["product_id"] in {p["product_id"] for p in norte}
    assert created["product_id"] not in {p["product_id"] for p in matriz}
    same = (await gx_ctl.put("/products", json={"key": "NEW-1", "price": 21.0})).json()
    assert same["product_id"] == created["product_id"] and same["price"] == 21.0


async def test_gestionix_client_upsert_and_patch(gx, gx_ctl):
    created = await gx_ctl.put(
        "/clients",
        json={
            "commercial_name": "Cremería Doña Mary",
            "tax_id": "XAXX010101000",
            "branch_id": 310,
            "seller_id": 11,
        },
    )
    assert created.status_code == 201 and created.json()["seller"]["name"] == "Ana Pérez"
    client_id = created.json()["client_id"]
    patched = (await gx_ctl.patch(f"/clients/{client_id}", json={"active": False})).json()
    assert patched["active"] is False
    listed = {
        c["client_id"]: c for c in (await gx.get("/clients", params={"branch_id": 310})).json()
    }
    assert listed[client_id]["active"] is False


async def test_gestionix_documents_by_hand(gx, gx_ctl, sb):
    company = sb.gestionix.companies[92]
    product = next(iter(company.products.values()))
    client = next(iter(company.clients.values()))
    body = {
        "branch_id": 310,
        "client_id": client["client_id"],
        "date": "2026-11-27T15:04:05Z",
        "reference": "HANDY-5",
        "items": [
            {"product_id": product["product_id"], "quantity": 1, "unit_price": 1.0, "taxes": []}
        ],
    }
    doc = (await gx_ctl.post("/documents/sales_orders", json=body)).json()
    forced = await gx_ctl.post("/documents/sales_orders", json={**body, "force": True})
    assert forced.status_code == 201
    await gx_ctl.post(f"/documents/sales_orders/{doc['sales_order_id']}/invoice")
    assert (
        await gx_ctl.delete(f"/documents/sales_orders/{doc['sales_order_id']}")
    ).status_code == 204
    remaining = (await gx.get("/sales_orders", params={"reference": "HANDY-5"})).json()
    assert [d["sales_order_id"] for d in remaining] == [forced.json()["sales_order_id"]]
    dump = (await gx_ctl.get("/state", params={"only": "sales_orders"})).json()
    assert len(dump["companies"]["92"]["sales_orders"]) == 1


async def test_route_inventory_control(handy, handy_ctl, sb):
    route_id = next(r for r, v in sb.handy.routes.items() if not v["closed"])
    await handy_ctl.put(
        f"/routes/{route_id}/inventory", json={"inventory": [{"product": "REF-600", "quantity": 4}]}
    )
    routes = (
        await handy.get("/route", params={"closed": "false", "includeInventory": "true"})
    ).json()["routes"]
    assert next(r for r in routes if r["id"] == route_id)["inventory"] == [
        {"product": "REF-600", "quantity": 4.0}
    ]


async def test_random_orders_from_existing_catalog(handy_ctl, handy, handy_catalog):
    ids = (await handy_ctl.post("/orders/random", json={"count": 5})).json()
    assert len(ids) == 5
    assert (await handy.get("/salesOrder")).json()["pagination"]["totalCount"] == 5
