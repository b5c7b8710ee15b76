"""Handy v2 stand-in: auth, envelopes, pagination, date rules, 422 shape, orders and edits."""

from __future__ import annotations

import math
from urllib.parse import parse_qs, urlparse

import pytest

from sandbox.common import iso_z


async def test_bad_or_missing_token_is_401(sb):
    import httpx

    async with httpx.AsyncClient(transport=sb.handy_transport(), base_url=sb.handy_url) as anon:
        assert (await anon.get("/user")).status_code == 401
        wrong = await anon.get("/user", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401


async def test_users_envelope_has_absolute_links_and_collection_key(handy):
    body = (await handy.get("/user", params={"max": 3})).json()
    pagination = body["pagination"]
    assert pagination["totalCount"] == 7 and pagination["totalPages"] == 3
    assert pagination["currentPage"].startswith("http://handy.sandbox/api/v2/user?page=1")
    assert pagination["prevPage"] is None and pagination["nextPage"].endswith("page=2&max=3")
    assert pagination["lastPage"].endswith("page=3&max=3")
    assert len(body["users"]) == 3
    assert {u["role"]["authority"] for u in body["users"]} <= {"ROLE_ADMIN", "ROLE_SALES"}


async def test_handy_starts_without_products_customers_families_zones(handy):
    for path, key in (
        ("/product", "products"),
        ("/customer", "customers"),
        ("/productFamily", "productFamilies"),
        ("/zone", "zones"),
    ):
        body = (await handy.get(path)).json()
        assert body[key] == [] and body["pagination"]["totalCount"] == 0, path


async def test_products_page_to_the_last_page(handy, sb):
    family = (await handy.post("/productFamily", json={"description": "Lácteos"})).json()
    for n in range(23):
        response = await handy.post(
            "/product",
            json={
                "code": f"P-{n:03d}",
                "description": f"Leche {n}",
                "family": {"id": family["id"]},
                "price": 25.5,
            },
        )
        assert response.status_code == 201
    seen, page = [], 1
    while True:
        body = (await handy.get("/product", params={"page": page, "max": 10})).json()
        seen += [p["code"] for p in body["products"]]
        if page >= body["pagination"]["totalPages"]:
            assert body["pagination"]["nextPage"] is None
            break
        page += 1
    assert page == 3 and seen == [f"P-{n:03d}" for n in range(23)]
    beyond = (await handy.get("/product", params={"page": 4, "max": 10})).json()
    assert beyond["products"] == []


async def test_max_over_100_is_422_in_handy_format(handy):
    response = await handy.get("/product", params={"max": 101})
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert set(error) == {"object", "field", "rejected-value", "message"}
    assert error["field"] == "max" and error["rejected-value"] == "101"


async def test_product_create_422_body_shape(handy):
    family = (await handy.post("/productFamily", json={"description": "Bebidas"})).json()
    response = await handy.post(
        "/product",
        json={
            "code": "X1",
            "description": "Refresco",
            "family": {"id": family["id"]},
            "price": "$500.00",
        },
    )
    assert response.status_code == 422
    assert response.json() == {
        "errors": [
            {
                "object": "com.locus.product.Product",
                "field": "price",
                "rejected-value": "$500.00",
                "message": "La propiedad Precio debe ser un número válido",
            }
        ]
    }
    missing_family = await handy.post("/product", json={"code": "X2", "description": "Sin familia"})
    assert (
        missing_family.status_code == 422
        and missing_family.json()["errors"][0]["field"] == "family"
    )


async def test_p4_code_with_slash_is_refused_and_cannot_be_addressed(handy, handy_catalog):
    family = (await handy.get("/productFamily")).json()["productFamilies"][0]
    response = await handy.post(
        "/product", json={"code": "REF/600", "description": "x", "family": {"id": family["id"]}}
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "code"
    assert (await handy.get("/product/REF%2F600")).status_code == 404


async def test_product_get_put_partial_update_and_enabled_filter(handy, handy_catalog):
    product = (await handy.get("/product/REF-600")).json()
    assert (
        product["price"] == 12.0
        and product["tax"]["amount"] == 16.0
        and product["basePrice"] == 10.34
    )
    assert product["dateCreated"].endswith("Z") and product["family"]["description"] == "Bebidas"
    updated = (await handy.put("/product/REF-600", json={"quantity": 42})).json()
    assert updated["quantity"] == 42.0 and updated["price"] == 12.0
    await handy.put("/product/PAP-45", json={"enabled": False})
    enabled = [p["code"] for p in (await handy.get("/product")).json()["products"]]
    disabled = [
        p["code"]
        for p in (await handy.get("/product", params={"enabled": "false"})).json()["products"]
    ]
    assert enabled == ["REF-600", "AGU-1L"] and disabled == ["PAP-45"]
    assert (await handy.get("/product/NOPE")).status_code == 404
    assert (await handy.put("/product/NOPE", json={"quantity": 1})).status_code == 404


async def test_product_duplicate_code_is_422(handy, handy_catalog):
    response = await handy.post(
        "/product",
        json={"code": "REF-600", "description": "otra vez", "family": {"description": "Bebidas"}},
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "code"


async def test_customers_zones_and_sellers(handy, sb):
    zone = (await handy.post("/zone", json={"description": "General"})).json()
    seller_id = next(
        u["id"] for u in sb.handy.users.values() if u["role"]["authority"] == "ROLE_SALES"
    )
    created = await handy.post(
        "/customer",
        json={
            "code": "C-1",
            "description": "Tienda Lucía",
            "businessName": "ABARROTES LUCIA SA DE CV",
            "zone": {"id": zone["id"]},
            "sellers": [seller_id],
        },
    )
    assert created.status_code == 201
    assert created.json()["zone"]["description"] == "General" and created.json()["sellers"] == [
        seller_id
    ]
    updated = (await handy.put("/customer/C-1", json={"enabled": False})).json()
    assert updated["enabled"] is False
    assert (await handy.get("/customer/C-1")).json()["businessName"] == "ABARROTES LUCIA SA DE CV"
    bad_seller = await handy.post(
        "/customer", json={"code": "C-2", "description": "x", "sellers": [999999]}
    )
    assert bad_seller.status_code == 422
    assert (await handy.get("/zone")).json()["zones"][0]["description"] == "General"


async def test_open_routes_with_inventory(handy):
    body = (
        await handy.get("/route", params={"closed": "false", "includeInventory": "true"})
    ).json()
    assert body["routes"] and all(r["closed"] is False for r in body["routes"])
    inventory = body["routes"][0]["inventory"]
    assert inventory and set(inventory[0]) == {"product", "quantity"}
    without = (await handy.get("/route", params={"closed": "false"})).json()["routes"][0]
    assert "inventory" not in without
    closed = (await handy.get("/route", params={"closed": "true"})).json()["routes"]
    assert len(closed) == 1


async def _order(handy_ctl, **overrides):
    body = {
        "salesType": "ROUTE",
        "customer": {"code": "C-77", "description": "Miscelánea La Güera"},
        "items": [
            {"product": "REF-600", "quantity": 3},
            {"product": "PAP-45", "quantity": 2, "discountPercentage": 10},
        ],
    }
    body.update(overrides)
    response = await handy_ctl.post("/orders", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_order_money_follows_the_spec(handy, handy_ctl, handy_catalog):
    order = await _order(handy_ctl)
    first, second = order["items"]
    assert (
        first["price"] == 12.0
        and first["total"] == 36.0
        and first["tax"] == {"amount": 16.0, "name": "IVA"}
    )
    assert second["originalPrice"] == 18.5 and second["price"] == 16.65 and second["total"] == 33.3
    assert order["totalSales"] == 69.3
    expected_before = round(36.0 / 1.16 + 33.3 / 1.08, 2)
    assert order["totalBeforeTax"] == expected_before
    assert order["totalTax"] == round(69.3 - expected_before, 2)
    assert order["salesType"] == "Venta en ruta" and order["customer"]["code"] == "C-77"
    assert (await handy.get("/customer/C-77")).status_code == 200  # created with the order


async def test_offline_order_has_old_mobile_date(handy_ctl, handy_catalog, sb):
    order = await _order(handy_ctl, offlineMinutes=180, salesType="PRESALE")
    assert order["dateCreated"] == iso_z(sb.clock.now())
    assert order["mobileDateCreated"] == iso_z(sb.clock.now() - 180 * 60)
    assert order["salesType"] == "Preventa"


async def test_o1_date_filter_reads_query_dates_in_mexico_city(handy, handy_ctl, handy_catalog, sb):
    """Orders are found by dateCreated; query dates are local Mexico City time (UTC-6)."""
    order = await _order(handy_ctl, offlineMinutes=300)  # created 18:00:30Z = 12:00:30 local
    inside = {"start": "27/11/2026 12:00:00", "end": "27/11/2026 12:01:00", "order": "asc"}
    ids = [o["id"] for o in (await handy.get("/salesOrder", params=inside)).json()["salesOrders"]]
    assert ids == [order["id"]]
    as_if_utc = {"start": "27/11/2026 18:00:00", "end": "27/11/2026 18:01:00"}
    assert (await handy.get("/salesOrder", params=as_if_utc)).json()["salesOrders"] == []
    by_phone = {
        "start": "27/11/2026 07:00:00",
        "end": "27/11/2026 07:01:00",
        "filterWithDate": "mobileDateCreated",
    }
    assert [
        o["id"] for o in (await handy.get("/salesOrder", params=by_phone)).json()["salesOrders"]
    ] == [order["id"]]
    bad = await handy.get("/salesOrder", params={"start": "2026-11-27T12:00:00"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "start"


async def test_sales_type_filter_and_order_direction(handy, handy_ctl, handy_catalog, sb):
    route = await _order(handy_ctl)
    sb.clock.advance(60)
    presale = await _order(handy_ctl, salesType="PRESALE", customer="C-77")
    only_presale = (await handy.get("/salesOrder", params={"salesType": "PRESALE"})).json()[
        "salesOrders"
    ]
    assert [o["id"] for o in only_presale] == [presale["id"]]
    only_route = (await handy.get("/salesOrder", params={"salesType": "ROUTE"})).json()[
        "salesOrders"
    ]
    assert [o["id"] for o in only_route] == [route["id"]]
    asc = (await handy.get("/salesOrder", params={"order": "asc"})).json()["salesOrders"]
    desc = (await handy.get("/salesOrder", params={"order": "desc"})).json()["salesOrders"]
    assert (
        [o["id"] for o in asc] == [route["id"], presale["id"]] == [o["id"] for o in reversed(desc)]
    )


async def test_d1_deleted_orders_by_date_deleted(handy, handy_ctl, handy_catalog, sb):
    order = await _order(handy_ctl)
    sb.clock.advance(3600)  # deleted an hour later: 13:00:30 local
    deleted = (await handy_ctl.delete(f"/orders/{order['id']}")).json()
    assert deleted["deleted"] is True and deleted["dateDeleted"] == iso_z(sb.clock.now())
    window = {
        "start": "27/11/2026 13:00:00",
        "end": "27/11/2026 13:01:00",
        "filterWithDate": "dateDeleted",
    }
    live = (await handy.get("/salesOrder", params=window)).json()["salesOrders"]
    gone = (await handy.get("/salesOrder", params={**window, "deleted": "true"})).json()[
        "salesOrders"
    ]
    assert live == [] and [o["id"] for o in gone] == [order["id"]]
    assert (await handy.get("/salesOrder")).json()["salesOrders"] == []


async def test_o10_edit_creates_new_order_and_deletes_old(handy, handy_ctl, handy_catalog, sb):
    old = await _order(handy_ctl)
    sb.clock.advance(120)
    new = (
        await handy_ctl.post(
            f"/orders/{old['id']}/edit", json={"items": [{"product": "AGU-1L", "quantity": 4}]}
        )
    ).json()
    assert new["id"] != old["id"] and new["editedFrom"]["id"] == old["id"]
    assert new["editedFrom"]["items"][0]["product"]["code"] == "REF-600"
    assert new["customer"]["code"] == "C-77" and new["totalSales"] == 40.0
    stored_old = (await handy.get(f"/salesOrder/{old['id']}")).json()
    assert (
        stored_old["deleted"] is True
        and stored_old["isEdited"] is True
        and stored_old["dateDeleted"]
    )
    again = await handy_ctl.post(f"/orders/{old['id']}/edit", json={})
    assert again.status_code == 409


async def test_o9_external_id_roundtrip(handy, handy_ctl, handy_catalog):
    order = await _order(handy_ctl)
    response = await handy.put(f"/salesOrder/{order['id']}", json={"externalId": "8891"})
    assert response.status_code == 200 and response.json()["externalId"] == "8891"
    assert (await handy.get("/salesOrder/external/8891")).json()["id"] == order["id"]
    assert (await handy.get("/salesOrder/external/0")).status_code == 404
    assert (await handy.get("/salesOrder/123")).status_code == 404


async def test_sandbox_only_post_and_delete_sales_order(handy, handy_catalog):
    created = await handy.post(
        "/salesOrder",
        json={
            "customer": {"code": "C-9", "description": "Don Beto"},
            "items": [{"product": "REF-600", "quantity": 1}],
        },
    )
    assert created.status_code == 201 and created.json()["creationSource"] == "API"
    order_id = created.json()["id"]
    assert (await handy.delete(f"/salesOrder/{order_id}")).status_code == 204
    assert (await handy.delete("/salesOrder/1")).status_code == 404
    bad = await handy.post("/salesOrder", json={"customer": "C-9", "items": [{"product": "NOPE"}]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "items[0].product"


async def test_pagination_of_orders_to_last_page(handy, handy_ctl, handy_catalog, sb):
    await _order(handy_ctl)  # creates customer C-77
    for _ in range(24):
        sb.clock.advance(1)
        await _order(handy_ctl, customer="C-77")
    body = (await handy.get("/salesOrder", params={"max": 10, "page": 3, "order": "asc"})).json()
    assert body["pagination"]["totalPages"] == math.ceil(25 / 10) and len(body["salesOrders"]) == 5
    assert parse_qs(urlparse(body["pagination"]["prevPage"]).query)["page"] == ["2"]


@pytest.mark.parametrize(
    "path", ["/product", "/customer", "/user", "/route", "/zone", "/productFamily", "/salesOrder"]
)
async def test_every_list_endpoint_uses_the_envelope(handy, path):
    body = (await handy.get(path)).json()
    assert set(body["pagination"]) == {
        "totalCount",
        "totalPages",
        "currentPage",
        "nextPage",
        "prevPage",
        "firstPage",
        "lastPage",
    }


async def test_demo_orders_appear_once_handy_has_products(clock):
    import httpx

    from sandbox.server import build_sandbox

    sb = build_sandbox(products=30, customers=5, orders=4, clock=clock)
    async with httpx.AsyncClient(
        transport=sb.handy_transport(),
        base_url=sb.handy_url,
        headers={"Authorization": f"Bearer {sb.handy_token}"},
    ) as handy:
        assert (await handy.get("/salesOrder")).json()["salesOrders"] == []  # no products yet
        family = (await handy.post("/productFamily", json={"description": "Bebidas"})).json()
        await handy.post(
            "/product",
            json={
                "code": "A-1",
                "description": "Agua",
                "family": {"id": family["id"]},
                "price": 10.0,
            },
        )
        assert (await handy.get("/salesOrder")).json()["pagination"]["totalCount"] == 4
        sb.reset()
        assert sb.handy.products == {} and sb.handy.pending_random_orders == 4
