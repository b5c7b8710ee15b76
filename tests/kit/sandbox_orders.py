"""Helpers for the order_push / deletion_sync flow tests: a small Handy catalog copied from the
sandbox's Gestionix branch, customers, orders dated a few seconds in the past, and views of
what Gestionix holds."""

from __future__ import annotations

import contextlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sandbox.server import Sandbox
from store import cursors

COMPANY = 92
MATRIZ = 310
PAST_SECONDS = 3  # orders are dated this far back, so "now" of the next run is surely after them


def company(sb: Sandbox):
    return sb.gestionix.companies[COMPANY]


def pushable_products(sb: Sandbox, count: int) -> list[dict]:
    """Active, for-sale Matriz products with a clean clave and transferred percentage taxes."""
    gx = company(sb)
    found = []
    for product in gx.products.values():
        key = product["key"]
        rates = [
            t for t in product["taxes"] if t["type"] == "transferred" and t["factor"] == "rate"
        ]
        if (
            product["active"]
            and product["for_sale"]
            and key
            and key == key.strip()
            and "/" not in key
            and rates
            and len(rates) == len(product["taxes"])
            and MATRIZ in gx.product_branches[product["product_id"]]
        ):
            found.append(product)
    assert len(found) >= count, "sandbox world too small"
    return found[:count]


def after_tax(product: dict) -> float:
    """P6 as the law says (written here, not imported): IEPS first, IVA on price + IEPS."""
    rated = [t for t in product["taxes"] if t["type"] == "transferred" and t["factor"] == "rate"]
    ieps = sum(Decimal(str(t["rate"])) for t in rated if "IEPS" in t["name"])
    iva = sum(Decimal(str(t["rate"])) for t in rated if "IEPS" not in t["name"])
    value = Decimal(str(product["price"])) * (1 + ieps) * (1 + iva)
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def handy_product(sb: Sandbox, code: str, price: float, description: str | None = None) -> dict:
    return sb.handy.create_product(
        {
            "code": code,
            "description": description or code,
            "family": {"description": "Pruebas"},
            "price": price,
            "tax": {"name": "IVA", "amount": 16.0},
        }
    )


def seed_catalog(sb: Sandbox, count: int = 6) -> list[str]:
    """Handy products for `count` Gestionix products (what catalog_pull would have done)."""
    codes = []
    for product in pushable_products(sb, count):
        handy_product(sb, product["key"], after_tax(product), product["name"])
        codes.append(product["key"])
    return codes


def customer(sb: Sandbox, code: str, description: str, **fields) -> dict:
    return sb.handy.create_customer({"code": code, "description": description, **fields})


@contextlib.contextmanager
def in_the_past(sb: Sandbox, seconds: float = PAST_SECONDS):
    sb.clock.advance(-seconds)
    try:
        yield
    finally:
        sb.clock.advance(seconds)


def order(sb: Sandbox, customer_code, items, **spec) -> dict:
    """An order taken on the phone (dated PAST_SECONDS ago); items: [(code, qty)] or dicts."""
    lines = [
        {"product": item[0], "quantity": item[1]} if isinstance(item, tuple) else item
        for item in items
    ]
    with in_the_past(sb):
        return sb.handy.create_order({"customer": customer_code, "items": lines, **spec})


def delete(sb: Sandbox, order_id: int) -> dict:
    with in_the_past(sb, 1):
        return sb.handy.delete_order(order_id)


def edit(sb: Sandbox, order_id: int, **changes) -> dict:
    with in_the_past(sb, 1):
        return sb.handy.edit_order(order_id, changes)


def activate(slug: str, minutes_ago: float = 5) -> datetime:
    """What activation does for these streams: cursors set a little before now."""
    moment = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    cursors.set(slug, "orders", moment)
    cursors.set(slug, "deletions", moment)
    return moment


def documents(sb: Sandbox, doc_type: str | None = None) -> list[dict]:
    docs = company(sb).documents
    types = [doc_type] if doc_type else ["sales_order", "sale"]
    return [doc for t in types for doc in docs[t].values()]


def by_reference(sb: Sandbox) -> Counter:
    return Counter(doc["reference"] for doc in documents(sb))


def document_of(sb: Sandbox, order_id) -> dict:
    matches = [doc for doc in documents(sb) if doc["reference"] == f"HANDY-{order_id}"]
    assert len(matches) == 1, f"order {order_id}: {len(matches)} Gestionix documents"
    return matches[0]


def writes(sb: Sandbox) -> tuple[int, int]:
    """(Handy writes, Gestionix writes) counted by the sandbox so far."""
    return sb.handy.stats.writes, sb.gestionix.stats.writes


def local_day(tenant, handy_order):
    """The tenant's local day of a Handy order (reconcile's day)."""
    created = datetime.fromisoformat(handy_order["dateCreated"].replace("Z", "+00:00"))
    return created.astimezone(ZoneInfo(tenant.handy_timezone)).date()
