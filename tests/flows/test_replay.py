"""replay (X1, O6, D3): dead letters retried on an operator's word, with the outcome of each."""

from __future__ import annotations

import pytest

from flows.deletions import deletion_sync
from flows.orders import order_push
from flows.replay import replay
from store import dead_letters, runs
from tests.kit.sandbox_orders import (
    activate,
    company,
    customer,
    delete,
    document_of,
    documents,
    handy_product,
    order,
    seed_catalog,
)

pytestmark = pytest.mark.flow


def _outcomes(slug: str) -> dict[str, str]:
    run = runs.recent(slug, flow="replay", limit=1)[0]
    return {item.key: item.action for item in runs.items(slug, run.id)}


async def test_o6_unknown_product_dead_letter_replayed_after_the_product_is_added(sandbox, tenant):
    """O6 + replay: the order waits with its reason; once the clave exists in Gestionix, a replay
    of that one key pushes it and closes the letter."""
    codes = seed_catalog(sandbox, 1)
    handy_product(sandbox, "NUEVO-1", 23.2)
    customer(sandbox, "C-1", "Depósito El Sol")
    waiting = order(sandbox, "C-1", [(codes[0], 1), ("NUEVO-1", 2)])
    activate(tenant.slug)
    await order_push(tenant)
    assert "NUEVO-1" in dead_letters.get(tenant.slug, "order", str(waiting["id"])).reason

    dry = await replay(tenant, key=str(waiting["id"]), dry_run=True, return_state=True)
    assert dry.is_completed() and not documents(sandbox)
    sandbox.gestionix.upsert_product(
        company(sandbox),
        {
            "key": "NUEVO-1",
            "name": "Agua mineral 1 L",
            "price": 20.0,
            "category": "Bebidas",
            "taxes": [
                t["tax_id"]
                for t in company(sandbox).products[
                    next(
                        pid for pid, p in company(sandbox).products.items() if p["key"] == codes[0]
                    )
                ]["taxes"]
            ],
            "stock": {"Matriz": 5},
        },
    )
    state = await replay(tenant, key=str(waiting["id"]), return_state=True)

    assert state.is_completed(), state.message
    assert _outcomes(tenant.slug) == {str(waiting["id"]): "resolved"}
    assert document_of(sandbox, waiting["id"])["reference"] == f"HANDY-{waiting['id']}"
    assert dead_letters.get(tenant.slug, "order", str(waiting["id"])).resolved_at is not None


async def test_d3_refused_deletion_stays_until_replayed_after_uninvoicing(sandbox, tenant):
    """D3: an invoiced document's deletion stays dead-lettered with Gestionix's reason; a replay
    while still invoiced reports it still failing; after un-invoicing, a replay deletes it."""
    codes = seed_catalog(sandbox, 1)
    customer(sandbox, "C-1", "Depósito El Sol")
    placed = order(sandbox, "C-1", [(codes[0], 4)])
    activate(tenant.slug)
    await order_push(tenant)
    doc = document_of(sandbox, placed["id"])
    doc["invoiced"] = True
    delete(sandbox, placed["id"])
    await deletion_sync(tenant)
    await deletion_sync(tenant)
    letter = dead_letters.get(tenant.slug, "order_deletion", str(placed["id"]))
    assert letter.retry is False and letter.attempts == 1 and "facturado" in letter.reason

    still = await replay(tenant, return_state=True)
    assert still.is_failed() and _outcomes(tenant.slug) == {str(placed["id"]): "still failing"}
    assert dead_letters.get(tenant.slug, "order_deletion", str(placed["id"])).retry is False

    doc["invoiced"] = False
    state = await replay(tenant, return_state=True)

    assert state.is_completed(), state.message
    assert _outcomes(tenant.slug) == {str(placed["id"]): "resolved"}
    assert documents(sandbox) == []
