"""O4 in order_push: a new customer is created once per run however many orders need it, whether
they run at once in one batch or in later batches, and two Handy customers of one name share
the one client created for them."""

from __future__ import annotations

import pytest

import flows.orders
from flows.orders import order_push
from store import binder
from tests.kit.sandbox_orders import activate, company, document_of, order, seed_catalog

pytestmark = pytest.mark.flow


async def test_o4_new_customer_created_once_for_many_orders_across_batches(
    sandbox, tenant, monkeypatch
):
    """O4: nine orders of one new customer (concurrent within a batch, spread over three
    batches) and one order each of two new Handy customers with the same name: exactly one
    Gestionix client per name, every order's document on it, the first customer bound."""
    sb = sandbox
    monkeypatch.setattr(flows.orders, "BATCH_SIZE", 4)
    codes = seed_catalog(sb, 2)
    new = {"code": "H-NEW-A", "description": "Abarrotes La Nueva", "address": "Morelos 5"}
    placed = [order(sb, new, [(codes[0], 1)])]
    placed += [order(sb, "H-NEW-A", [(codes[n % 2], n + 1)]) for n in range(8)]
    twins = [
        order(sb, {"code": f"H-TWIN-{n}", "description": "Tiendita Gemela"}, [(codes[1], 1)])
        for n in (1, 2)
    ]
    activate(tenant.slug)

    await order_push(tenant)

    clients = company(sb).clients.values()
    created = {
        name: [c for c in clients if c["commercial_name"] == name]
        for name in ("Abarrotes La Nueva", "Tiendita Gemela")
    }
    assert {name: len(found) for name, found in created.items()} == {
        "Abarrotes La Nueva": 1,
        "Tiendita Gemela": 1,
    }
    assert sb.gestionix.stats.calls["POST /clients"] == 2
    nueva, gemela = created["Abarrotes La Nueva"][0], created["Tiendita Gemela"][0]
    assert {document_of(sb, o["id"])["client_id"] for o in placed} == {nueva["client_id"]}
    assert {document_of(sb, o["id"])["client_id"] for o in twins} == {gemela["client_id"]}
    assert binder.get(tenant.slug, "customer", "H-NEW-A").gestionix_key == str(nueva["client_id"])
