"""Both clients against the sandbox apps, in-process (httpx.ASGITransport), through real endpoints.

The sandbox runs on a frozen clock; the clients' clock is linked to it, so waiting for a
rate-limit reset moves the sandbox's minute window too — and nothing really sleeps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from clients.errors import Conflict, CredentialsError, InvalidCode, ValidationFailed
from clients.gestionix import GestionixClient
from clients.handy import HandyClient, parse_timestamp
from clients.ratelimit import RetryPolicy
from mappings.company import NotChosen, choose_branch, choose_company
from sandbox.common import Clock as SandboxClock
from sandbox.server import build_sandbox
from tests.kit.handy_seed import seed_handy_products
from tests.kit.sandbox_clock import FROZEN_AT, LinkedClock


@pytest.fixture
def sb():
    return build_sandbox(seed=7, products=60, customers=20, clock=SandboxClock(frozen_at=FROZEN_AT))


@pytest.fixture
def linked_clock(sb) -> LinkedClock:
    return LinkedClock(sb.clock)


@pytest.fixture
async def handy(sb, linked_clock):
    async with HandyClient(
        sb.handy_url,
        sb.handy_token,
        tenant="sandbox",
        transport=sb.handy_transport(),
        clock=linked_clock,
        rate_per_minute=6000,
    ) as client:
        yield client


@pytest.fixture
async def gestionix(sb, linked_clock):
    async with GestionixClient(
        sb.gestionix_url,
        sb.gestionix_user,
        sb.gestionix_password,
        tenant="sandbox",
        company_id=sb.company_id,
        transport=sb.gestionix_transport(),
        clock=linked_clock,
        rate_per_minute=6000,
    ) as client:
        yield client


@pytest.fixture
async def handy_control(sb):
    async with httpx.AsyncClient(
        transport=sb.handy_transport(), base_url="http://handy.sandbox/_sandbox"
    ) as c:
        yield c


@pytest.fixture
async def gestionix_control(sb):
    async with httpx.AsyncClient(
        transport=sb.gestionix_transport(), base_url="http://gestionix.sandbox/_sandbox"
    ) as c:
        yield c


# -- Handy ------------------------------------------------------------------------------------------
async def test_given_the_sandbox_when_using_every_handy_catalog_method_then_they_round_trip(
    handy, sb
):
    assert [f["description"] for f in await handy.list_families()] == []
    products = await seed_handy_products(handy, 5)
    assert products[0]["id"] and products[0]["code"] == "BEB-000"
    assert (await handy.get_product("BEB-001"))["description"] == "Bebida 1"
    updated = await handy.update_product("BEB-001", {"quantity": 42})
    assert updated["quantity"] == 42
    assert (await handy.get_product("BEB-001"))["quantity"] == 42
    assert len(await handy.list_products(page_size=2)) == 5
    await handy.update_product("BEB-004", {"enabled": False})
    assert len(await handy.list_products()) == 4
    assert len(await handy.list_products(enabled=False)) == 1
    assert [f["description"] for f in await handy.list_families()] == ["Bebidas"]
    assert handy.calls["GET /product"] == 3 + 1 + 1


async def test_given_the_sandbox_when_using_handy_customer_zone_user_and_route_methods_then_they_work(
    handy,
):
    zone = await handy.create_zone("General")
    assert zone["description"] == "General"
    assert [z["description"] for z in await handy.list_zones()] == ["General"]
    customer = await handy.create_customer(
        {"code": "CLÍ 1-2", "description": "Tienda Lucía", "zone": {"id": zone["id"]}}
    )
    assert customer["code"] == "CLÍ 1-2"
    assert (await handy.get_customer("CLÍ 1-2"))["description"] == "Tienda Lucía"
    await handy.update_customer("CLÍ 1-2", {"enabled": False})
    assert (await handy.get_customer("CLÍ 1-2"))["enabled"] is False
    assert any(c["code"] == "CLÍ 1-2" for c in await handy.list_customers())
    users = await handy.list_users()
    assert any(u["role"]["authority"] == "ROLE_SALES" for u in users)
    routes = await handy.list_open_routes()
    assert routes and all(r["closed"] is False for r in routes) and "inventory" in routes[0]


async def test_given_orders_taken_in_the_sandbox_when_listing_a_window_then_found_oldest_first(
    handy, handy_control, sb
):
    await seed_handy_products(handy, 3)
    ids = []
    for minutes in (0, 5, 10):
        sb.clock.advance(300 if minutes else 0)
        response = await handy_control.post(
            "/orders",
            json={
                "salesType": "PRESALE",
                "customer": {"code": "H-NEW-1", "description": "Tiendita Don Beto"}
                if not ids
                else "H-NEW-1",
                "items": [{"product": "BEB-000", "quantity": 2}],
            },
        )
        assert response.status_code in (200, 201), response.text
        ids.append(response.json()["id"])
    now = datetime.fromtimestamp(sb.clock.now(), UTC)
    orders = await handy.list_sales_orders(now - timedelta(minutes=30), now, page_size=2)
    assert [o["id"] for o in orders] == ids
    created = [parse_timestamp(o["dateCreated"]) for o in orders]
    assert created == sorted(created) and created[-1] <= now
    assert (await handy.get_sales_order(ids[0]))["id"] == ids[0]
    await handy.set_order_external_id(ids[0], "8891")
    assert (await handy.get_sales_order(ids[0]))["externalId"] == "8891"
    deleted = await handy.list_sales_orders(
        now - timedelta(minutes=30), now, deleted=True, filter_with_date="dateDeleted"
    )
    assert deleted == []


async def test_p4_given_a_code_with_slash_when_calling_the_sandbox_then_refused_before_sending(
    handy, sb
):
    with pytest.raises(InvalidCode):
        await handy.get_product("A/B")
    assert sb.handy.stats.as_dict()["total"] == 0


async def test_given_a_bad_token_when_calling_the_sandbox_then_credentials_error(sb, linked_clock):
    async with HandyClient(
        sb.handy_url,
        "wrong-token-123",
        tenant="bad",
        transport=sb.handy_transport(),
        clock=linked_clock,
    ) as handy:
        with pytest.raises(CredentialsError) as caught:
            await handy.list_users()
    assert "wrong-token-123" not in str(caught.value)


async def test_given_a_422_from_the_sandbox_when_creating_a_duplicate_product_then_field_errors(
    handy,
):
    await seed_handy_products(handy, 1)
    with pytest.raises(ValidationFailed) as caught:
        await handy.create_product(
            {"code": "BEB-000", "description": "Otra", "family": {"description": "X"}}
        )
    assert caught.value.field_errors and caught.value.field_errors[0]["field"]


async def test_given_the_sandbox_rate_limit_when_writing_past_it_then_waits_for_the_window_and_finishes(
    sb, linked_clock
):
    sb.set_handy_knobs(rate_limit_per_minute=5)
    async with HandyClient(
        sb.handy_url,
        sb.handy_token,
        tenant="limited",
        transport=sb.handy_transport(),
        clock=linked_clock,
        rate_per_minute=6000,
    ) as handy:
        await seed_handy_products(handy, 1)
        for i in range(8):
            await handy.update_product("BEB-000", {"quantity": i})
    statuses = sb.handy.stats.as_dict()["statuses"]
    assert statuses.get("200", 0) + statuses.get("201", 0) == 10
    assert linked_clock.sleeps and max(linked_clock.sleeps) <= 60


async def test_given_sandbox_faults_when_reading_then_retries_hide_them(sb, linked_clock):
    sb.set_handy_knobs(fail_rate=0.3, drop_rate=0.1, html_error_rate=0.1, truncated_json_rate=0.1)
    policy = RetryPolicy(max_attempts=12, max_total_seconds=600)
    async with HandyClient(
        sb.handy_url,
        sb.handy_token,
        tenant="faulty",
        transport=sb.handy_transport(),
        clock=linked_clock,
        rate_per_minute=6000,
        retry_policy=policy,
    ) as handy:
        for _ in range(10):
            assert await handy.list_users()
    assert sum(handy.calls.values()) > 10


# -- Gestionix --------------------------------------------------------------------------------------
async def test_a1_given_the_sandbox_when_choosing_company_and_branch_then_found_by_name(
    sb, linked_clock
):
    """A1 against the sandbox: the client lists, mappings.company chooses by normalised name."""
    async with GestionixClient(
        sb.gestionix_url,
        sb.gestionix_user,
        sb.gestionix_password,
        tenant="s",
        transport=sb.gestionix_transport(),
        clock=linked_clock,
    ) as gx:
        companies = await gx.list_companies()
        assert len(companies) == 2
        gx.company_id = choose_company(companies, "distribuidora la nortena", "s")
        assert gx.company_id == sb.company_id
        branches = await gx.list_branches()
        assert len(branches) == 2
        assert choose_branch(branches, "  MATRIZ ", gx.company_id)["name"] == sb.branch_name
        with pytest.raises(NotChosen, match="existing branches: 'Matriz', 'Sucursal Norte'"):
            choose_branch(branches, "Centro", gx.company_id)


async def test_a1_given_two_companies_and_none_configured_when_choosing_then_error_lists_both(
    sb, linked_clock
):
    async with GestionixClient(
        sb.gestionix_url,
        sb.gestionix_user,
        sb.gestionix_password,
        tenant="s",
        transport=sb.gestionix_transport(),
        clock=linked_clock,
    ) as gx:
        companies = await gx.list_companies()
    with pytest.raises(NotChosen, match="92 .*118"):
        choose_company(companies, None, "s")


async def test_given_the_sandbox_when_reading_the_catalog_in_small_pages_then_every_product(
    sb, linked_clock
):
    async with GestionixClient(
        sb.gestionix_url,
        sb.gestionix_user,
        sb.gestionix_password,
        tenant="s",
        company_id=sb.company_id,
        transport=sb.gestionix_transport(),
        clock=linked_clock,
        page_size=7,
    ) as gx:
        branch = choose_branch(await gx.list_branches(), sb.branch_name, gx.company_id)
        products = await gx.list_products(branch["branch_id"])
        expected = [
            p
            for p in sb.gestionix.dump()["companies"][str(sb.company_id)]["products"]
            if branch["branch_id"] in p["branch_ids"]
        ]
        assert sorted(p["product_id"] for p in products) == sorted(
            p["product_id"] for p in expected
        )
        # every page up to the first EMPTY one: a short page proves nothing
        assert gx.calls["GET /products"] == -(-len(products) // 7) + 1


async def test_given_the_sandbox_when_using_taxes_clients_and_sellers_then_they_work(gestionix, sb):
    branch = choose_branch(await gestionix.list_branches(), sb.branch_name, gestionix.company_id)
    taxes = await gestionix.list_taxes()
    assert any(t["name"].startswith("IVA") for t in taxes)
    assert await gestionix.list_sellers()
    before = await gestionix.list_clients(branch["branch_id"])
    created = await gestionix.create_client(
        {
            "commercial_name": "Tiendita Don Beto",
            "business_name": "",
            "tax_id": "XAXX010101000",
            "branch_id": branch["branch_id"],
        }
    )
    assert created["client_id"]
    after = await gestionix.list_clients(branch["branch_id"])
    assert len(after) == len(before) + 1
    with pytest.raises(ValidationFailed) as caught:
        await gestionix.create_client(
            {"commercial_name": "Sin RFC", "branch_id": branch["branch_id"]}
        )
    assert any(fe["field"] == "tax_id" for fe in caught.value.field_errors)


async def _document_body(gestionix: GestionixClient, sb, reference: str) -> dict:
    branch = choose_branch(await gestionix.list_branches(), sb.branch_name, gestionix.company_id)
    product = next(
        p
        for p in await gestionix.list_products(branch["branch_id"])
        if p["for_sale"] and p["taxes"]
    )
    client = (await gestionix.list_clients(branch["branch_id"]))[0]
    return {
        "branch_id": branch["branch_id"],
        "client_id": client["client_id"],
        "date": "2026-11-27T15:04:05Z",
        "seller_id": None,
        "reference": reference,
        "observations": f"Pedido Handy {reference}",
        "items": [
            {
                "product_id": product["product_id"],
                "quantity": 3,
                "unit_price": 10.3448,
                "discount": 0.0,
                "taxes": [{"tax_id": t["tax_id"]} for t in product["taxes"]],
            }
        ],
    }


@pytest.mark.parametrize("doc_type", ["sales_order", "sale"])
async def test_given_the_sandbox_when_creating_finding_and_deleting_documents_then_each_step_works(
    gestionix, sb, gestionix_control, doc_type
):
    body = await _document_body(gestionix, sb, "HANDY-29079293")
    document = await gestionix.create_document(doc_type, body)
    assert document["id"] and document["reference"] == "HANDY-29079293"
    with pytest.raises(Conflict) as caught:
        await gestionix.create_document(doc_type, body)
    assert caught.value.details["existing_id"] == document["id"]
    found = await gestionix.find_document_by_reference(doc_type, "HANDY-29079293")
    assert found is not None and found["id"] == document["id"]
    assert await gestionix.find_document_by_reference(doc_type, "HANDY-0") is None
    assert [d["id"] for d in await gestionix.list_documents(doc_type)] == [document["id"]]
    assert await gestionix.delete_document(doc_type, document["id"]) == "deleted"
    assert await gestionix.delete_document(doc_type, document["id"]) == "gone"

    invoiced = await gestionix.create_document(doc_type, {**body, "reference": "HANDY-2"})
    kind = "sales_orders" if doc_type == "sales_order" else "sales"
    response = await gestionix_control.post(f"/documents/{kind}/{invoiced['id']}/invoice")
    assert response.status_code < 300
    with pytest.raises(Conflict, match="facturado"):
        await gestionix.delete_document(doc_type, invoiced["id"])


async def test_given_expired_tokens_when_calling_the_sandbox_then_one_relogin_and_success(
    gestionix, gestionix_control
):
    assert await gestionix.list_taxes()
    assert gestionix.logins == 1
    assert (await gestionix_control.post("/tokens/expire")).status_code < 300
    assert await gestionix.list_taxes()
    assert gestionix.logins == 2


async def test_given_a_wrong_password_when_calling_the_sandbox_then_credentials_error(
    sb, linked_clock
):
    async with GestionixClient(
        sb.gestionix_url,
        sb.gestionix_user,
        "not-the-password",
        tenant="s",
        company_id=sb.company_id,
        transport=sb.gestionix_transport(),
        clock=linked_clock,
    ) as gx:
        with pytest.raises(CredentialsError) as caught:
            await gx.list_taxes()
    assert "not-the-password" not in str(caught.value) and "not-the-password" not in repr(
        caught.value
    )


async def test_given_the_sandbox_gestionix_rate_limit_when_reading_past_it_then_honours_retry_after(
    sb, linked_clock
):
    sb.set_gestionix_knobs(rate_limit_per_minute=4)
    async with GestionixClient(
        sb.gestionix_url,
        sb.gestionix_user,
        sb.gestionix_password,
        tenant="rl",
        company_id=sb.company_id,
        transport=sb.gestionix_transport(),
        clock=linked_clock,
        rate_per_minute=6000,
    ) as gx:
        for _ in range(6):
            assert await gx.list_taxes()
    assert sb.gestionix.stats.as_dict()["statuses"].get("429", 0) >= 1
    assert linked_clock.sleeps and max(linked_clock.sleeps) <= 60


async def test_given_both_clients_when_counting_calls_then_keys_match_the_sandbox_stats(
    handy, gestionix, sb
):
    family = await handy.create_family("Bebidas")
    await handy.create_product({"code": "A 1", "description": "x", "family": {"id": family["id"]}})
    await handy.get_product("A 1")
    await handy.update_product("A 1", {"quantity": 3})
    await handy.list_open_routes()
    branch = choose_branch(await gestionix.list_branches(), sb.branch_name, gestionix.company_id)
    await gestionix.list_products(branch["branch_id"])
    assert await gestionix.delete_document("sale", 999_999) == "gone"
    assert dict(handy.calls) == sb.handy.stats.as_dict()["calls"]
    assert dict(gestionix.calls) == sb.gestionix.stats.as_dict()["calls"]
