"""Gestionix v3 stand-in: login, token expiry, Company header, bare-array pages, catalog,
clients, documents with reference, duplicate 409 (and its switch), 404/409 deletes."""

from __future__ import annotations

import pytest

MATRIZ = 310
NORTE = 311


async def test_bad_login_is_401_with_message(gx_anon):
    response = await gx_anon.post(
        "/users/authentication", json={"user": "demo@example.mx", "password": "x"}
    )
    assert response.status_code == 401 and response.json()["message"]


async def test_login_answers_token_and_user(gx_anon, sb):
    body = (
        await gx_anon.post(
            "/users/authentication",
            json={"user": sb.gestionix_user, "password": sb.gestionix_password},
        )
    ).json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 40000 and body["user_id"]
    assert body["access_token"].count(".") == 2


async def test_token_expires_after_its_lifetime(gx, sb):
    assert (await gx.get("/taxes")).status_code == 200
    sb.clock.advance(40000)
    expired = await gx.get("/taxes")
    assert expired.status_code == 401 and "expirado" in expired.json()["message"]


async def test_token_lifetime_knob_and_forced_expiry(gx_anon, gx_ctl, sb):
    sb.set_gestionix_knobs(token_lifetime_seconds=5)
    token = (
        await gx_anon.post(
            "/users/authentication",
            json={"user": sb.gestionix_user, "password": sb.gestionix_password},
        )
    ).json()
    assert token["expires_in"] == 5
    headers = {"Authorization": f"Bearer {token['access_token']}", "Company": "92"}
    assert (await gx_anon.get("/sellers", headers=headers)).status_code == 200
    await gx_ctl.post("/tokens/expire")
    assert (await gx_anon.get("/sellers", headers=headers)).status_code == 401


async def test_company_header_missing_is_400_and_foreign_company_is_403(gx):
    missing = await gx.get("/branch_offices/", headers={"Company": ""})
    assert missing.status_code == 400 and "Company" in missing.json()["message"]
    foreign = await gx.get("/branch_offices/", headers={"Company": "999"})
    assert foreign.status_code == 403 and foreign.json()["message"]


async def test_companies_need_no_company_header(gx_anon, gx, sb):
    body = (await gx.get("/users/companies", headers={"Company": ""})).json()
    assert [c["company_id"] for c in body] == [92, 118]
    assert set(body[0]["emitter"]) == {"business_name", "commercial_name", "tax_id"}
    assert (await gx_anon.get("/users/companies")).status_code == 401


async def test_a1_branches_with_and_without_trailing_slash(gx):
    with_slash = (await gx.get("/branch_offices/")).json()
    without = (await gx.get("/branch_offices")).json()
    assert with_slash == without
    assert [(b["branch_id"], b["name"]) for b in with_slash] == [
        (MATRIZ, "Matriz"),
        (NORTE, "Sucursal Norte"),
    ]
    other = (await gx.get("/branch_offices", headers={"Company": "118"})).json()
    assert [b["name"] for b in other] == ["Matriz"] and other[0]["branch_id"] != MATRIZ


async def test_products_are_per_branch_and_paged_as_bare_arrays(gx, sb):
    matriz, page = [], 1
    while True:
        rows = (
            await gx.get("/products", params={"branch_id": MATRIZ, "page": page, "page_size": 50})
        ).json()
        assert isinstance(rows, list)
        matriz += rows
        if len(rows) < 50:
            break
        page += 1
    assert len(matriz) == 120 and page == 3
    norte = (await gx.get("/products", params={"branch_id": NORTE})).json()
    assert 0 < len(norte) < 120
    sample = matriz[0]
    assert set(sample) == {
        "product_id",
        "key",
        "name",
        "category",
        "for_sale",
        "active",
        "unit",
        "price",
        "taxes",
        "stock",
    }
    assert set(sample["taxes"][0]) == {"tax_id", "name", "rate", "type", "factor"}
    assert (await gx.get("/products", params={"page_size": 501})).status_code == 400
    assert (await gx.get("/products", params={"branch_id": 999})).status_code == 404


async def test_taxes_sellers_clients(gx):
    taxes = (await gx.get("/taxes")).json()
    assert {t["type"] for t in taxes} == {"transferred", "withheld"}
    sellers = (await gx.get("/sellers")).json()
    assert set(sellers[0]) == {"seller_id", "name", "email", "active"}
    clients = (await gx.get("/clients", params={"branch_id": MATRIZ})).json()
    assert clients and all(c["branch_id"] == MATRIZ for c in clients)
    assert {
        "client_id",
        "commercial_name",
        "business_name",
        "tax_id",
        "active",
        "branch_id",
        "email",
        "phone",
        "seller",
        "address",
    } <= set(clients[0])
    table = (await gx.get("/clients/table")).json()
    assert set(table[0]) == {
        "id",
        "business_name",
        "tax_id",
        "status",
        "last_activity",
        "accounts_pending",
    }


async def test_o4_create_client_requires_tax_id(gx):
    bad = await gx.post("/clients", json={"commercial_name": "Tienda Nueva", "branch_id": MATRIZ})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "tax_id"
    created = await gx.post(
        "/clients",
        json={
            "commercial_name": "Tienda Nueva",
            "business_name": "",
            "tax_id": "XAXX010101000",
            "branch_id": MATRIZ,
            "address": {"street": "Hidalgo 12", "city": "Monterrey"},
        },
    )
    assert created.status_code == 201 and created.json()["client_id"]
    assert created.json()["address"]["city"] == "Monterrey"


def _doc_body(sb, reference="HANDY-29079293", **overrides):
    company = sb.gestionix.companies[92]
    product = next(
        p
        for p in company.products.values()
        if p["taxes"] and p["taxes"][0]["tax_id"] == 1 and len(p["taxes"]) == 1
    )
    client = next(iter(company.clients.values()))
    body = {
        "branch_id": MATRIZ,
        "client_id": client["client_id"],
        "date": "2026-11-27T15:04:05Z",
        "seller_id": None,
        "reference": reference,
        "observations": "Pedido Handy 29079293",
        "items": [
            {
                "product_id": product["product_id"],
                "quantity": 3,
                "unit_price": 10.3448,
                "discount": 0.0,
                "taxes": [{"tax_id": 1}],
            }
        ],
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    ("segment", "id_field", "serie"),
    [("sales_orders", "sales_order_id", "P"), ("sales", "sale_id", "V")],
)
async def test_o8_document_create_search_duplicate_and_delete(gx, sb, segment, id_field, serie):
    created = await gx.post(f"/{segment}", json=_doc_body(sb))
    assert created.status_code == 201
    doc = created.json()
    assert doc["serie"] == serie and doc["folio"] and doc["reference"] == "HANDY-29079293"
    assert doc["total"] == round(3 * 10.3448 * 1.16, 2) == 36.0 and doc["subtotal"] == 31.03
    found = (await gx.get(f"/{segment}", params={"reference": "HANDY-29079293"})).json()
    assert [d[id_field] for d in found] == [doc[id_field]]
    assert (await gx.get(f"/{segment}", params={"reference": "HANDY-1"})).json() == []
    duplicate = await gx.post(f"/{segment}", json=_doc_body(sb))
    assert duplicate.status_code == 409 and duplicate.json()["existing_id"] == doc[id_field]
    assert (await gx.delete(f"/{segment}/{doc[id_field]}")).status_code == 204
    assert (await gx.delete(f"/{segment}/{doc[id_field]}")).status_code == 404


async def test_o8_duplicate_reference_switch_off_allows_a_second_document(gx, sb, gx_ctl):
    await gx_ctl.put("/knobs", json={"reject_duplicate_reference": False})
    first = (await gx.post("/sales_orders", json=_doc_body(sb))).json()
    second = await gx.post("/sales_orders", json=_doc_body(sb))
    assert second.status_code == 201 and second.json()["sales_order_id"] != first["sales_order_id"]
    assert len((await gx.get("/sales_orders", params={"reference": "HANDY-29079293"})).json()) == 2


async def test_d3_invoiced_document_cannot_be_deleted(gx, sb, gx_ctl):
    doc = (await gx.post("/sales_orders", json=_doc_body(sb))).json()
    await gx_ctl.post(f"/documents/sales_orders/{doc['sales_order_id']}/invoice")
    refused = await gx.delete(f"/sales_orders/{doc['sales_order_id']}")
    assert refused.status_code == 409 and "facturado" in refused.json()["message"]
    await gx_ctl.post(f"/documents/sales_orders/{doc['sales_order_id']}/uninvoice")
    assert (await gx.delete(f"/sales_orders/{doc['sales_order_id']}")).status_code == 204


async def test_d3_pedido_turned_into_venta_cannot_be_deleted(gx, sb, gx_ctl):
    doc = (await gx.post("/sales_orders", json=_doc_body(sb))).json()
    await gx_ctl.post(f"/documents/sales_orders/{doc['sales_order_id']}/convert")
    assert (await gx.delete(f"/sales_orders/{doc['sales_order_id']}")).status_code == 409


@pytest.mark.parametrize(
    ("tax_ids", "total", "tax"),
    [
        ([1, 4], 125.28, 25.28),  # IEPS 8 % first, IVA 16 % on 108: the spec's line maths
        ([4, 1], 125.28, 25.28),  # the order of the ids does not matter
        ([1, 5], 146.74, 46.74),  # IEPS 26.5 %
        ([2, 4], 116.64, 16.64),  # IVA 8 % on IEPS
        ([3], 100.0, 0.0),  # IVA 0 %
        ([], 100.0, 0.0),  # no taxes: accepted, no breakdown
        ([1, 7], 105.33, 5.33),  # a withheld tax comes off the amount
    ],
)
async def test_p6_o5_gestionix_charges_iva_on_price_plus_ieps(gx, sb, tax_ids, total, tax):
    """The sandbox computes document taxes as the spec page says, independently of mappings."""
    body = _doc_body(sb)
    body["items"] = [
        {
            **body["items"][0],
            "quantity": 2,
            "unit_price": 50.0,
            "taxes": [{"tax_id": tax_id} for tax_id in tax_ids],
        }
    ]
    doc = (await gx.post("/sales_orders", json=body)).json()
    assert (doc["total"], doc["tax"], doc["subtotal"]) == (total, tax, 100.0)


async def test_document_validation_errors(gx, sb):
    unknown_product = _doc_body(
        sb, items=[{"product_id": 1, "quantity": 1, "unit_price": 1, "taxes": []}]
    )
    response = await gx.post("/sales_orders", json=unknown_product)
    assert (
        response.status_code == 422
        and response.json()["errors"][0]["field"] == "items[0].product_id"
    )
    missing = await gx.post("/sales", json={"reference": "HANDY-1"})
    assert missing.status_code == 422 and {e["field"] for e in missing.json()["errors"]} >= {
        "client_id",
        "items",
    }


async def test_company_isolation_documents_are_per_company(gx, sb):
    await gx.post("/sales_orders", json=_doc_body(sb))
    other = await gx.get(
        "/sales_orders", params={"reference": "HANDY-29079293"}, headers={"Company": "118"}
    )
    assert other.status_code == 200 and other.json() == []
