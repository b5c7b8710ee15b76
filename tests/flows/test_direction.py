"""Direction (A5) and independent folios linked by the integration (A6)."""

from __future__ import annotations

import pytest

from flows.catalog import catalog_pull
from flows.customers import customer_sync
from flows.orders import order_push
from store import binder
from tests.kit.sandbox_orders import activate, customer, document_of, order, seed_catalog

pytestmark = pytest.mark.flow


def _write_calls(state) -> dict[str, int]:
    """Calls that change something (a login changes nothing)."""
    return {
        call: n
        for call, n in state.stats.calls.items()
        if n and not call.startswith("GET ") and call != "POST /users/authentication"
    }


async def test_a5_catalog_and_customers_never_write_to_gestionix_and_orders_never_write_catalog_to_handy(
    sandbox, tenant
):
    """A5: catalog and customers flow Gestionix -> Handy only; orders flow Handy -> Gestionix and
    write back nothing to Handy but the order's externalId (O9). Stock adjusted by hand in Handy
    is not carried to Gestionix."""
    await catalog_pull(tenant)
    await customer_sync(tenant)
    assert _write_calls(sandbox.gestionix) == {}

    code = next(iter(sandbox.handy.products))
    sandbox.handy.update_product(code, {"quantity": 999})  # an inventory adjustment in Handy
    customer(sandbox, "C-PHONE", "Tiendita del Teléfono")
    placed = order(sandbox, "C-PHONE", [(code, 1)])
    activate(tenant.slug)
    sandbox.reset_stats()
    await order_push(tenant)

    assert set(_write_calls(sandbox.handy)) == {"PUT /salesOrder/{order_id}"}
    assert set(_write_calls(sandbox.gestionix)) <= {
        "POST /sales_orders",
        "POST /sales",
        "POST /clients",
    }
    gx_product = next(
        p
        for p in sandbox.gestionix.companies[sandbox.company_id].products.values()
        if p["key"] == code
    )
    assert all(s["quantity"] != 999 for s in gx_product["stock"])
    assert document_of(sandbox, placed["id"])


async def test_a6_folios_are_independent_and_linked_by_the_integration(sandbox, tenant):
    """A6: each system numbers its own documents; the link lives in the binding and is written to
    both sides: Handy id in the Gestionix reference/observations, Gestionix id in Handy's externalId."""
    codes = seed_catalog(sandbox, 1)
    customer(sandbox, "C-1", "Depósito El Sol")
    placed = [order(sandbox, "C-1", [(codes[0], n)]) for n in (1, 2)]
    activate(tenant.slug)
    await order_push(tenant)

    for handy_order in placed:
        document = document_of(sandbox, handy_order["id"])
        assert (
            document["folio"] != handy_order["id"]
            and document["sales_order_id"] != handy_order["id"]
        )
        binding = binder.get(tenant.slug, "order", str(handy_order["id"]))
        assert binding.gestionix_key == f"sales_order:{document['sales_order_id']}"
        assert binding.data["folio"].endswith(str(document["folio"]))
        assert document["reference"] == f"HANDY-{handy_order['id']}"
        assert sandbox.handy.orders[handy_order["id"]]["externalId"] == str(
            document["sales_order_id"]
        )
    folios = [document_of(sandbox, o["id"])["folio"] for o in placed]
    # Gestionix's own sequence, unrelated to Handy's ids (the two are pushed concurrently: in
    # either order)
    assert sorted(folios) == [min(folios), min(folios) + 1]
