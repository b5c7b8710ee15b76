"""order_push against the loopback sandbox (RULES O1-O11, X1, X3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from flows.orders import order_push
from mappings.order_customers import GENERIC_RFC
from store import binder, cursors, dead_letters, runs
from tests.kit.sandbox_orders import (
    activate,
    by_reference,
    company,
    customer,
    document_of,
    documents,
    edit,
    handy_product,
    order,
    seed_catalog,
    writes,
)
from tests.kit.tenants import make_tenant

pytestmark = pytest.mark.flow


def last_run(slug: str):
    run = runs.recent(slug, flow="orders", limit=1)[0]
    return run, {(i.key, i.action): i.reason for i in runs.items(slug, run.id)}


async def test_o1_o5_o9_o11_orders_pushed_once_with_lines_totals_reference_and_external_id(
    sandbox, tenant
):
    """O1 (offline phone: found by dateCreated), O2 (both kinds -> pedidos by default), O5 (lines,
    Gestionix taxes, totals within a cent per line), O7 (return line left out and reported),
    O9 (reference, observations, externalId), O11 (nothing invoiced), X1 (audit)."""
    sb = sandbox
    codes = seed_catalog(sb, 4)
    customer(sb, "C-1", "Abarrotes El Güero")
    route = order(
        sb,
        "C-1",
        [
            (codes[0], 3),
            {"product": codes[1], "quantity": 2, "discountPercentage": 10},
            {"product": codes[2], "quantity": 1, "isReturn": True},
        ],
        salesType="ROUTE",
        sellerComment="Entregar temprano",
    )
    offline = order(
        sb,
        "C-1",
        [(codes[3], 7), {"product": codes[0], "quantity": 1, "isReward": True}],
        salesType="PRESALE",
        offlineMinutes=180,
    )
    activate(tenant.slug)

    summary = await order_push(tenant)

    assert "2 created" in summary
    gx_products = {p["key"]: p for p in company(sb).products.values()}
    for handy_order in (route, offline):
        doc = document_of(sb, handy_order["id"])
        assert doc["reference"] == f"HANDY-{handy_order['id']}"
        assert str(handy_order["id"]) in doc["observations"]  # O9: on PDF/Excel exports
        assert doc["client_id"] == 1207  # "Abarrotes El Güero", the one client of that name
        assert doc["status"] == "open" and doc["invoiced"] is False  # O11
        sold = [i for i in handy_order["items"] if not i["isReturn"]]
        assert [line["key"] for line in doc["items"]] == [i["product"]["code"] for i in sold]
        for line, item in zip(doc["items"], sold, strict=True):
            assert abs(Decimal(str(line["total"])) - Decimal(str(item["total"]))) <= Decimal("0.01")
            expected_taxes = {t["tax_id"] for t in gx_products[item["product"]["code"]]["taxes"]}
            assert {t["tax_id"] for t in line["taxes"]} == expected_taxes
        assert abs(doc["total"] - handy_order["totalSales"]) <= 0.01 * len(sold)
        assert sb.handy.orders[handy_order["id"]]["externalId"] == str(doc["sales_order_id"])
        binding = binder.get(tenant.slug, "order", str(handy_order["id"]))
        assert binding.status == "pushed" and binding.data["external_id_written"] is True
        assert binding.gestionix_key == f"sales_order:{doc['sales_order_id']}"
        assert binding.data["folio"] == f"P-{doc['folio']}"
    assert "Entregar temprano" in document_of(sb, route["id"])["observations"]
    assert len(documents(sb, "sale")) == 0  # O2: treat_all_as_sales_orders is on by default
    run, items = last_run(tenant.slug)
    assert run.counts["created"] == 2 and run.status == "completed"
    assert "return lines not pushed" in items[(str(route["id"]), "note")]  # O7


async def test_o8_rerun_over_the_same_window_creates_nothing(sandbox, tenant):
    """O8: a second run over the same window (and one with an older `since`) writes nothing."""
    sb = sandbox
    codes = seed_catalog(sb, 2)
    customer(sb, "C-1", "Depósito El Sol")
    first = [order(sb, "C-1", [(codes[0], n)]) for n in (1, 2, 3)]
    activate(tenant.slug)
    await order_push(tenant)
    before = writes(sb)

    await order_push(tenant)
    await order_push(tenant, since=datetime.now(UTC) - timedelta(hours=2))

    assert writes(sb) == before
    assert all(by_reference(sb)[f"HANDY-{o['id']}"] == 1 for o in first)
    # the catalog is read by the first run only: its one page and the empty page that ends it
    assert sb.gestionix.stats.calls["GET /products"] == 2


async def test_o2_switch_off_route_sales_become_ventas_and_presales_pedidos(sandbox):
    """O2: treat_all_as_sales_orders off -> venta for a route sale, pedido for a presale."""
    sb = sandbox
    tenant = make_tenant(sb, treat_all_as_sales_orders=False)
    codes = seed_catalog(sb, 1)
    customer(sb, "C-1", "Depósito El Sol")
    sale = order(sb, "C-1", [(codes[0], 1)], salesType="ROUTE")
    presale = order(sb, "C-1", [(codes[0], 2)], salesType="PRESALE")
    activate(tenant.slug)

    await order_push(tenant)

    assert [d["reference"] for d in documents(sb, "sale")] == [f"HANDY-{sale['id']}"]
    assert [d["reference"] for d in documents(sb, "sales_order")] == [f"HANDY-{presale['id']}"]
    assert sb.handy.orders[sale["id"]]["externalId"] == str(documents(sb, "sale")[0]["sale_id"])
    assert binder.get(tenant.slug, "order", str(sale["id"])).gestionix_key.startswith("sale:")


async def test_o3_tienda_lucia_matches_tienda_lucia_with_accent_and_reports_ambiguity(
    sandbox, tenant
):
    """O3: "tienda lucia" in Handy = "Tienda Lucía" in Gestionix (case and accents ignored);
    several matches -> the oldest usable one, reported; the link is remembered (O4)."""
    sb = sandbox
    codes = seed_catalog(sb, 1)
    customer(sb, "C-LU", "tienda lucia")
    placed = order(sb, "C-LU", [(codes[0], 1)])
    activate(tenant.slug)
    clients_before = len(company(sb).clients)

    await order_push(tenant)

    doc = document_of(sb, placed["id"])
    # 1201 "Tienda Lucía" is inactive in this world: the oldest active one is chosen.
    assert doc["client_id"] == 1202
    assert len(company(sb).clients) == clients_before  # reused, not created
    _, items = last_run(tenant.slug)
    assert "matches 3 Gestionix clients" in items[("C-LU", "ambiguous")]
    assert binder.get(tenant.slug, "customer", "C-LU").gestionix_key == "1202"


async def test_o4_new_customer_created_once_for_two_orders_with_address_and_generic_rfc(
    sandbox, tenant
):
    """O4: an unknown customer is created once (name, address, generic RFC) before its two
    documents, and bound so a later order does not search or create again."""
    sb = sandbox
    codes = seed_catalog(sb, 1)
    new = {
        "code": "H-NEW-1",
        "description": "Tiendita Don Beto",
        "address": "Hidalgo 12",
        "city": "Monterrey",
    }
    a = order(sb, new, [(codes[0], 1)])
    b = order(sb, "H-NEW-1", [(codes[0], 2)])
    activate(tenant.slug)

    await order_push(tenant)

    created = [
        c for c in company(sb).clients.values() if c["commercial_name"] == "Tiendita Don Beto"
    ]
    assert len(created) == 1
    assert created[0]["tax_id"] == GENERIC_RFC
    assert created[0]["address"] == {"street": "Hidalgo 12", "city": "Monterrey"}
    assert document_of(sb, a["id"])["client_id"] == document_of(sb, b["id"])["client_id"]
    assert binder.get(tenant.slug, "customer", "H-NEW-1").gestionix_key == str(
        created[0]["client_id"]
    )

    later = order(sb, "H-NEW-1", [(codes[0], 3)])
    await order_push(tenant)
    assert document_of(sb, later["id"])["client_id"] == created[0]["client_id"]
    assert sb.gestionix.stats.calls["POST /clients"] == 1


async def test_o4_address_switch_off_sends_the_name_only(sandbox):
    """O4 with sync_customer_address off: the new client has a name and no address."""
    sb = sandbox
    tenant = make_tenant(sb, sync_customer_address=False)
    codes = seed_catalog(sb, 1)
    order(
        sb,
        {"code": "H-NEW-2", "description": "Miscelánea La Güera", "address": "Juárez 3"},
        [(codes[0], 1)],
    )
    activate(tenant.slug)

    await order_push(tenant)

    created = [
        c for c in company(sb).clients.values() if c["commercial_name"] == "Miscelánea La Güera"
    ]
    assert len(created) == 1 and created[0]["address"] is None


async def test_o6_unknown_product_dead_letters_only_that_order_then_succeeds_after_product_appears(
    sandbox, tenant
):
    """O6: a clave missing in the Gestionix sucursal dead-letters that order only (reason kept,
    cursor advances); a product without Gestionix taxes does not hold its order: the line is
    pushed without taxes and the run names the product. Once the missing product exists the
    dead letter is retried on a later run, outside the window, and resolved."""
    sb = sandbox
    codes = seed_catalog(sb, 1)
    handy_product(sb, "REF-9", 20.0)  # in Handy, not in Gestionix
    untaxed = sb.gestionix.upsert_product(
        company(sb), {"key": "SIN-IMP", "name": "Sin impuestos", "price": 10.0, "taxes": []}
    )
    handy_product(sb, untaxed["key"], 10.0)
    customer(sb, "C-1", "Depósito El Sol")
    good = order(sb, "C-1", [(codes[0], 1)])
    missing = order(sb, "C-1", [("REF-9", 2), (codes[0], 1)])
    no_tax = order(sb, "C-1", [(untaxed["key"], 3), (codes[0], 1)])
    activate(tenant.slug)

    summary = await order_push(tenant)

    assert set(by_reference(sb)) == {f"HANDY-{good['id']}", f"HANDY-{no_tax['id']}"}
    letter = dead_letters.get(tenant.slug, "order", str(missing["id"]))
    assert "product REF-9 not in Gestionix branch Matriz" in letter.reason
    assert dead_letters.get(tenant.slug, "order", str(no_tax["id"])) is None
    untaxed_line, taxed_line = document_of(sb, no_tax["id"])["items"]
    assert untaxed_line["key"] == "SIN-IMP" and untaxed_line["taxes"] == []
    assert untaxed_line["total"] == 30.0 and untaxed_line["tax"] == 0
    assert taxed_line["taxes"]  # the other line keeps its Gestionix taxes
    _, items = last_run(tenant.slug)
    assert (
        "O6: product SIN-IMP has no transferred percentage taxes"
        in items[(str(no_tax["id"]), "reported")]
    )
    assert f"order {missing['id']}: product REF-9 not in Gestionix branch Matriz" in summary
    assert "2 created, 1 failed" in summary  # counts in the audit's order, problems named
    assert cursors.get(tenant.slug, "orders") >= datetime.now(UTC) - timedelta(seconds=30)

    sb.gestionix.upsert_product(
        company(sb),
        {
            "key": "REF-9",
            "name": "Refresco 9",
            "price": 17.2414,
            "taxes": [1],
            "branches": ["Matriz"],
        },
    )
    cursors.set(tenant.slug, "orders", datetime.now(UTC) + timedelta(hours=1))  # window moved on
    summary = await order_push(tenant)

    doc = document_of(sb, missing["id"])
    assert [line["key"] for line in doc["items"]] == ["REF-9", codes[0]]
    assert dead_letters.get(tenant.slug, "order", str(missing["id"])).resolved_at is not None
    assert "1 created" in summary


async def test_o6_old_untaxed_product_dead_letter_is_retried_and_resolves(sandbox, tenant):
    """O6: a store that dead-lettered an order for "no transferred percentage taxes" (before
    such lines were pushed without taxes) retries it on the next run, outside the window: the
    order is pushed, its line without taxes, and the dead letter resolves."""
    sb = sandbox
    untaxed = sb.gestionix.upsert_product(
        company(sb), {"key": "EXENTO-1", "name": "Frijol a granel", "price": 24.5, "taxes": []}
    )
    handy_product(sb, untaxed["key"], 24.5)
    customer(sb, "C-1", "Depósito El Sol")
    held = order(sb, "C-1", [(untaxed["key"], 2)])
    dead_letters.put(
        tenant.slug,
        "order",
        str(held["id"]),
        "line 1 (item 1, product EXENTO-1): product EXENTO-1 has no transferred percentage "
        "taxes in Gestionix (line 1)",
        retry=True,
        payload={"dateCreated": held["dateCreated"]},
    )
    cursors.set(tenant.slug, "orders", datetime.now(UTC) + timedelta(hours=1))  # window moved on
    cursors.set(tenant.slug, "deletions", datetime.now(UTC) + timedelta(hours=1))

    summary = await order_push(tenant)

    doc = document_of(sb, held["id"])
    assert [(line["key"], line["taxes"], line["total"]) for line in doc["items"]] == [
        ("EXENTO-1", [], 49.0)
    ]
    assert dead_letters.get(tenant.slug, "order", str(held["id"])).resolved_at is not None
    assert "1 created" in summary and "failed" not in summary


async def test_o6_gestionix_422_dead_letters_the_order_and_drops_its_intent(sandbox, tenant):
    """O6: Gestionix answers 422 (a customer binding to a client that no longer exists): the
    order is dead-lettered with Gestionix's message; nothing was created, so no intent stays."""
    sb = sandbox
    codes = seed_catalog(sb, 1)
    customer(sb, "C-GONE", "Cliente Borrado")
    binder.bind(tenant.slug, "customer", "C-GONE", "999999", status="enabled")
    placed = order(sb, "C-GONE", [(codes[0], 1)])
    activate(tenant.slug)

    await order_push(tenant)

    assert documents(sb) == []
    assert "Cliente inexistente" in dead_letters.get(tenant.slug, "order", str(placed["id"])).reason
    assert binder.get(tenant.slug, "order", str(placed["id"])) is None


async def test_o7_return_only_order_is_skipped_with_reason_once(sandbox, tenant):
    """O7: an order of return lines only is reported, not pushed, and not reported again."""
    sb = sandbox
    codes = seed_catalog(sb, 1)
    customer(sb, "C-1", "Depósito El Sol")
    returns = order(sb, "C-1", [{"product": codes[0], "quantity": 2, "isReturn": True}])
    activate(tenant.slug)

    summary = await order_push(tenant)
    again = await order_push(tenant)

    assert documents(sb) == [] and "1 skipped" in summary and "only return lines" in summary
    assert "1 skipped" not in again
    assert binder.get(tenant.slug, "order", str(returns["id"])).status == "skipped"


async def test_o10_edit_pushes_the_new_version_as_a_new_order(sandbox, tenant):
    """O10 (push half): the new version is pushed as a new document naming the old folio; the
    old version's document is left for deletion_sync."""
    sb = sandbox
    codes = seed_catalog(sb, 2)
    customer(sb, "C-1", "Depósito El Sol")
    old = order(sb, "C-1", [(codes[0], 1)])
    activate(tenant.slug)
    await order_push(tenant)
    new = edit(sb, old["id"], items=[{"product": codes[1], "quantity": 4}])

    await order_push(tenant)

    assert set(by_reference(sb)) == {f"HANDY-{old['id']}", f"HANDY-{new['id']}"}
    assert f"(edita {old['id']})" in document_of(sb, new["id"])["observations"]


async def test_x3_dry_run_writes_nothing_and_reports_what_it_would_write(sandbox, tenant):
    """X3: a dry run reports the documents and customers it would create, and writes nothing to
    Handy, Gestionix, bindings, cursors or dead letters."""
    sb = sandbox
    codes = seed_catalog(sb, 1)
    handy_product(sb, "REF-9", 20.0)
    a = order(sb, {"code": "H-NEW-3", "description": "Abarrotes San Judas"}, [(codes[0], 1)])
    b = order(sb, "H-NEW-3", [("REF-9", 1)])
    cursor = activate(tenant.slug)

    summary = await order_push(tenant, dry_run=True)

    assert summary.startswith("[dry run]") and "1 created" in summary
    assert writes(sb) == (0, 0)
    assert (
        binder.all_for(tenant.slug, "order") == [] and binder.all_for(tenant.slug, "customer") == []
    )
    assert dead_letters.open_letters(tenant.slug) == []
    assert cursors.get(tenant.slug, "orders") == cursor.replace(microsecond=cursor.microsecond)
    _, items = last_run(tenant.slug)
    assert (str(a["id"]), "would push") in items and ("H-NEW-3", "would create") in items
    assert "REF-9" in items[(str(b["id"]), "dead-lettered")]


async def test_a4_without_cursor_or_since_the_run_fails_clearly(sandbox, tenant):
    """A4: order_push before activation (no cursor) and without `since` fails and says why."""
    with pytest.raises(Exception, match="has no orders cursor: run activate first"):
        await order_push(tenant)
    assert documents(sandbox) == []
