"""What Handy and Gestionix hold now for one record (`hgsync explain --live`, X5). Reads only."""

from __future__ import annotations

from typing import Any

from prefect import task

from clients.errors import ApiError, NotFound
from mappings import gestionix_fields as G
from mappings import handy_fields as H
from mappings.bindings import Entity
from mappings.orders import reference
from store.history import record_story
from tasks.connect import Connection
from tasks.options import RETRY_ON_OUTAGE, RUN_ONCE
from tasks.store_calls import store_call

DOC_TYPES = ("sales_order", "sale")


@task(name="read-story", **RUN_ONCE)
async def read_story(slug: str, entity: str, key: str) -> dict[str, Any]:
    return await store_call(record_story, slug, entity, key)


async def _handy(call, *args) -> dict | None:
    try:
        return await call(*args)
    except NotFound:
        return None


@task(name="read-live", **RETRY_ON_OUTAGE)
async def read_live(connection: Connection, entity: str, key: str) -> dict[str, Any]:
    """A few facts per system, each in words: `handy`, `gestionix` (and the sucursales for products)."""
    handy, gestionix = connection.handy, connection.gestionix
    if entity == Entity.ORDER:
        order = await _handy(handy.get_sales_order, key)
        found = []
        for doc_type in DOC_TYPES:
            document = await gestionix.find_document_by_reference(doc_type, reference(key))
            if document:
                found.append(f"{doc_type}:{document[G.DOCUMENT_ID]}")
        return {
            "handy": None
            if order is None
            else (
                f"order {key}{' (deleted)' if order.get(H.ORDER_DELETED) else ''}, externalId "
                f"{order.get(H.ORDER_EXTERNAL_ID) or '-'}"
            ),
            "gestionix": ", ".join(found) or None,
        }
    if entity == Entity.PRODUCT:
        product = await _handy(handy.get_product, key)
        branches = await gestionix.list_branches()
        holding = []
        for branch in branches:
            try:
                listed = await gestionix.list_products(branch[G.BRANCH_ID])
            except ApiError:
                continue
            if any(str(p.get(G.PRODUCT_KEY)) == key for p in listed):
                holding.append(str(branch.get(G.BRANCH_NAME)))
        return {
            "handy": None
            if product is None
            else f"product {key}, enabled {product.get(H.PRODUCT_ENABLED, True)}",
            "branch": connection.branch_name,
            "in_branch": connection.branch_name in holding,
            "other_branches": [name for name in holding if name != connection.branch_name],
        }
    customer = await _handy(handy.get_customer, key)
    clients = await gestionix.list_clients(connection.branch_id)
    matches = [
        c for c in clients if key in (str(c.get(G.CLIENT_ID)), str(c.get(G.PRODUCT_KEY, "")))
    ]
    return {
        "handy": None
        if customer is None
        else f"customer {key}, enabled {customer.get(H.CUSTOMER_ENABLED, True)}",
        "gestionix": ", ".join(f"client {c.get(G.CLIENT_ID)}" for c in matches) or None,
    }
