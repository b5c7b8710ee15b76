"""A1 tenant isolation: tenants never touch each other's records (documents, products, customers,
bindings), whether they live on two sandboxes built from the same seed (so every Handy order id,
clave and customer code collides) or share one Gestionix login with two companies (92, 118)."""

from __future__ import annotations

import pytest

from flows.catalog import catalog_pull
from flows.customers import customer_sync
from flows.deletions import deletion_sync
from flows.orders import order_push
from sandbox.server import run_sandbox
from store import binder
from tests.kit.fast_clients import fast_clients
from tests.kit.sandbox_orders import (
    activate,
    by_reference,
    customer,
    delete,
    order,
    pushable_products,
    seed_catalog,
)
from tests.kit.tenants import make_tenant

pytestmark = [pytest.mark.flow, pytest.mark.faults]


def place_orders(sb, *, pulled: bool = False) -> list[dict]:
    """Three orders; `pulled`: the Handy catalog is already there (catalog_pull ran)."""
    codes = [p["key"] for p in pushable_products(sb, 3)] if pulled else seed_catalog(sb, 3)
    customer(sb, "C-1", "Depósito El Sol")
    return [order(sb, "C-1", [(codes[n], n + 1)]) for n in range(3)]


async def test_a1_two_tenants_on_two_sandboxes_with_colliding_ids_stay_apart(prefect_harness):
    """Same seed on both sides: identical order ids, claves and codes. Each tenant's documents
    land in its own Gestionix once per its own orders; a deletion on one side deletes nothing on
    the other; bindings are per tenant."""
    with (
        run_sandbox(seed=7, products=40, customers=12) as one,
        run_sandbox(seed=7, products=40, customers=12) as two,
    ):
        tenants = []
        for sb in (one, two):
            sb.set_handy_knobs(rate_limit_per_minute=0)
            sb.set_gestionix_knobs(reject_duplicate_reference=False)
            tenant = make_tenant(sb)
            fast_clients(tenant.slug)
            tenants.append(tenant)
        a, b = tenants
        for tenant in tenants:
            await catalog_pull(tenant)
            await customer_sync(tenant)
        placed_a, placed_b = place_orders(one, pulled=True), place_orders(two, pulled=True)
        placed_b.append(order(two, "C-1", [(placed_b[0]["items"][0]["product"]["code"], 7)]))
        assert [o["id"] for o in placed_a] == [o["id"] for o in placed_b[:3]]  # ids collide
        activate(a.slug)
        activate(b.slug)
        await order_push(a)
        await order_push(b)

        assert by_reference(one) == {f"HANDY-{o['id']}": 1 for o in placed_a}
        assert by_reference(two) == {f"HANDY-{o['id']}": 1 for o in placed_b}

        delete(one, placed_a[0]["id"])
        await deletion_sync(a)
        await deletion_sync(b)
        await order_push(b)
        assert f"HANDY-{placed_a[0]['id']}" not in by_reference(one)
        assert by_reference(two)[f"HANDY-{placed_b[0]['id']}"] == 1  # b's twin untouched
        assert binder.get(b.slug, "order", str(placed_b[0]["id"])).status == "pushed"
        assert binder.get(a.slug, "order", str(placed_a[0]["id"])).status == "deleted"
        for tenant, sb in ((a, one), (b, two)):
            products = binder.all_for(tenant.slug, "product")
            assert products and {p.handy_key for p in products} <= set(sb.handy.products)


async def test_a1_two_companies_behind_one_login_never_touch_each_other(prefect_harness):
    """Company 92 and company 118 (each with a 'Matriz') on one Gestionix: tenant b (118) reads
    and binds only 118's products and clients, tenant a's documents go to 92 only, and b's
    deletion run never deletes a document of a (it has no binding for it)."""
    with run_sandbox(seed=7, products=40, customers=12) as sb:
        sb.set_handy_knobs(rate_limit_per_minute=0)
        sb.set_gestionix_knobs(reject_duplicate_reference=False)
        a = make_tenant(sb, gestionix_company=92)
        b = make_tenant(sb, gestionix_company=118)
        fast_clients(a.slug)
        fast_clients(b.slug)
        gx92, gx118 = sb.gestionix.companies[92], sb.gestionix.companies[118]
        products_92 = {p["product_id"] for p in gx92.products.values()}
        clients_92 = {c["client_id"] for c in gx92.clients.values()}

        await catalog_pull(b)
        await customer_sync(b)
        b_products = binder.all_for(b.slug, "product")
        b_customers = binder.all_for(b.slug, "customer")
        assert b_products and b_customers
        claves_118 = {p["key"] for p in gx118.products.values()}
        claves_92_only = {p["key"] for p in gx92.products.values()} - claves_118
        assert {p.gestionix_key for p in b_products} <= claves_118  # product bindings: clave
        assert not {p.gestionix_key for p in b_products} & claves_92_only
        assert {p.handy_key for p in b_products} <= set(sb.handy.products)
        assert {c.gestionix_key for c in b_customers} <= {str(c) for c in gx118.clients}
        assert not {c.gestionix_key for c in b_customers} & {str(c) for c in clients_92}

        for code in list(sb.handy.products):  # a's catalog only: keep the Handy side simple
            sb.handy.products.pop(code)
        sb.handy.touch()
        placed = place_orders(sb)
        activate(a.slug)
        await order_push(a)
        docs_92 = {
            d["reference"] for t in ("sales_order", "sale") for d in gx92.documents[t].values()
        }
        assert docs_92 == {f"HANDY-{o['id']}" for o in placed}
        assert not any(gx118.documents[t] for t in ("sales_order", "sale"))

        delete(sb, placed[0]["id"])
        activate(b.slug, minutes_ago=1)
        await deletion_sync(b)  # b never pushed it: a tombstone in b's store, nothing deleted
        assert f"HANDY-{placed[0]['id']}" in {
            d["reference"] for d in gx92.documents["sales_order"].values()
        }
        assert binder.get(b.slug, "order", str(placed[0]["id"])).status == "tombstoned"
        await deletion_sync(a)
        assert f"HANDY-{placed[0]['id']}" not in {
            d["reference"] for d in gx92.documents["sales_order"].values()
        }
        assert products_92 == {p["product_id"] for p in gx92.products.values()}
        assert clients_92 <= {c["client_id"] for c in gx92.clients.values()}
        orders_a = {x.gestionix_key for x in binder.all_for(a.slug, "order") if x.gestionix_key}
        orders_b = {x.gestionix_key for x in binder.all_for(b.slug, "order") if x.gestionix_key}
        assert orders_a and not orders_a & orders_b
