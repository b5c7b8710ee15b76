"""reconcile (X1): a day's Handy orders vs bindings vs Gestionix documents found by reference."""

from __future__ import annotations

import pytest

from flows.orders import order_push
from flows.reconcile import reconcile
from store import runs
from tests.kit.sandbox_orders import (
    activate,
    company,
    customer,
    document_of,
    local_day,
    order,
    seed_catalog,
)

pytestmark = pytest.mark.flow


async def test_x1_reconcile_reports_a_clean_day_as_clean(sandbox, tenant):
    """X1: every live order of the day has its document with the same total; an order of only
    returns is explained, not missing."""
    codes = seed_catalog(sandbox, 2)
    customer(sandbox, "C-1", "Depósito El Sol")
    orders = [
        order(sandbox, "C-1", [(codes[0], 2), (codes[1], 1)]),
        order(sandbox, "C-1", [(codes[1], 5)]),
    ]
    returns_only = order(sandbox, "C-1", [{"product": codes[0], "quantity": 1, "isReturn": True}])
    activate(tenant.slug)
    await order_push(tenant)

    state = await reconcile(tenant, day=local_day(tenant, orders[0]), return_state=True)

    assert state.is_completed(), state.message
    run = runs.recent(tenant.slug, flow="reconcile", limit=1)[0]
    assert run.counts["ok"] == 2 and run.counts["explained"] == 1
    assert {i.key: i.action for i in runs.items(tenant.slug, run.id)} == {
        str(returns_only["id"]): "explained"
    }


async def test_x1_reconcile_finds_a_missing_and_an_extra_document(sandbox, tenant):
    """X1: a document deleted by hand in Gestionix is missing; a document created by hand with a
    HANDY reference and no Handy order is extra; the run ends Failed and lists both."""
    codes = seed_catalog(sandbox, 1)
    customer(sandbox, "C-1", "Depósito El Sol")
    kept, lost = order(sandbox, "C-1", [(codes[0], 2)]), order(sandbox, "C-1", [(codes[0], 3)])
    activate(tenant.slug)
    await order_push(tenant)
    gone = document_of(sandbox, lost["id"])
    sandbox.gestionix.delete_document(
        company(sandbox), "sales_order", gone["sales_order_id"], force=True
    )
    template = document_of(sandbox, kept["id"])
    sandbox.gestionix.create_document(
        company(sandbox),
        "sales_order",
        {
            "branch_id": template["branch_id"],
            "client_id": template["client_id"],
            "date": template["date"],
            "reference": "HANDY-999999",
            "items": [
                {k: line[k] for k in ("product_id", "quantity", "unit_price")}
                | {"taxes": [{"tax_id": t["tax_id"]} for t in line["taxes"]]}
                for line in template["items"]
            ],
        },
    )

    state = await reconcile(tenant, day=local_day(tenant, kept), return_state=True)

    assert state.is_failed()
    assert f"{lost['id']} missing" in state.message and "999999 extra" in state.message
    run = runs.recent(tenant.slug, flow="reconcile", limit=1)[0]
    assert run.counts["ok"] == 1 and run.counts["missing"] == 1 and run.counts["extra"] == 1
