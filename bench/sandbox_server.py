"""A sandbox world served on loopback in its own process, for the benchmarks.

    python -m bench.sandbox_server '{"products": 50000, "customers": 5, "handy_port": 8701,
        "gestionix_port": 8702, "knobs": {"latency_ms": 50}, "setup": {...}}'

`setup` (applied in this process, on the in-memory state, before "ready" is printed):
  "open_routes": N          N extra open Handy routes with empty inventory (the generator makes at
                            most one per seller); the bench loads them later through
                            PUT /_sandbox/routes/{id}/inventory.
  "order_world": {"products": P, "customers": C}
                            Handy already holds P products copied from Gestionix's pushable ones and
                            C customers named like Gestionix clients (as after catalog_pull and
                            customer_sync), so random orders can be taken; orders then come through
                            POST /_sandbox/orders/random.
  "bad_claves": N           N Gestionix products get a clave with "/" (P4: not synced, reported).
  "big_order": L            after "order_world": one Handy order with L lines (distinct products),
                            for the memory bench of order_push.
"""

from __future__ import annotations

import json
import sys
import time

from sandbox.gestionix import line_amount_with_taxes
from sandbox.server import run_sandbox


def add_open_routes(handy, count: int) -> list[int]:
    sellers = handy.sellers()
    ids = []
    for n in range(count):
        seller = sellers[n % len(sellers)]
        rid = handy.next_id("route")
        handy.routes[rid] = {
            "id": rid,
            "user": {"id": seller["id"], "name": seller["name"]},
            "closed": False,
            "dateCreated": handy.now_iso(),
            "dateClosed": None,
        }
        handy.route_inventory[rid] = {}
        ids.append(rid)
    handy.touch()
    return ids


def seed_order_world(sb, products: int, customers: int) -> None:
    """Handy products for Gestionix's pushable ones (same clave, after-tax price), Handy customers
    named like Gestionix clients, so most orders match a client (O3) and ~10 % are new (O4)."""
    company = sb.gestionix.companies[sb.company_id]
    branch = company.branch_by_name(sb.branch_name)["branch_id"]
    copied = 0
    for product in company.products.values():
        key = product["key"]
        rates = [
            t for t in product["taxes"] if t["type"] == "transferred" and t["factor"] == "rate"
        ]
        if (
            copied >= products
            or not (product["active"] and product["for_sale"])
            or not key
            or key != key.strip()
            or "/" in key
            or not rates
            or len(rates) != len(product["taxes"])
            or branch not in company.product_branches[product["product_id"]]
        ):
            continue
        price = round(line_amount_with_taxes(product["price"], rates), 2)  # IVA on price + IEPS
        sb.handy.create_product(
            {
                "code": key,
                "description": product["name"],
                "family": {"description": "Bench"},
                "price": price,
            }
        )
        copied += 1
    named = [
        c
        for c in company.clients.values()
        if c["branch_id"] == branch and (c["commercial_name"] or c["business_name"]).strip()
    ]
    for n, client in enumerate(named[:customers]):
        sb.handy.create_customer(
            {"code": f"B-{n}", "description": client["commercial_name"] or client["business_name"]}
        )


def spoil_claves(sb, count: int) -> int:
    """Give `count` products (every k-th, so they are spread over the pages) a clave with "/"."""
    products = [p for p in sb.gestionix.companies[sb.company_id].products.values() if p["key"]]
    step = max(1, len(products) // max(count, 1))
    spoiled = products[::step][:count]
    for product in spoiled:
        product["key"] = product["key"] + "/B"
    sb.gestionix.touch()
    return len(spoiled)


def add_big_order(sb, lines: int) -> int:
    """One order of `lines` distinct products (as many as Handy holds), taken like a random one."""
    handy = sb.handy
    codes = [c for c, p in handy.products.items() if p["enabled"]][:lines]
    customers = [c for c, v in handy.customers.items() if v["enabled"]]
    spec = handy._random_order_spec(0, codes, customers)
    spec["items"] = [{"product": code, "quantity": 1 + n % 5} for n, code in enumerate(codes)]
    return handy.create_order(spec)["id"]


def main() -> None:
    config = json.loads(sys.argv[1])
    setup = config.get("setup") or {}
    with run_sandbox(
        products=config["products"],
        customers=config.get("customers", 5),
        handy_port=config["handy_port"],
        gestionix_port=config["gestionix_port"],
        **config.get("knobs", {}),
    ) as sb:
        if setup.get("open_routes"):
            add_open_routes(sb.handy, int(setup["open_routes"]))
        if setup.get("bad_claves"):
            spoil_claves(sb, int(setup["bad_claves"]))
        if setup.get("order_world"):
            seed_order_world(sb, **setup["order_world"])
        if setup.get("big_order"):
            add_big_order(sb, int(setup["big_order"]))
        print("ready", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
