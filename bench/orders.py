"""order_push at volume: N new Handy orders in one window, against a loopback sandbox with
latency on both servers and Handy's real rate limit (500 requests/minute).

    .venv/bin/python -m bench.orders [--orders 2000 --latency-ms 50 --handy-rate 500]

Prints a small table and one JSON line: wall time, Gestionix and Handy calls (per order), and
whether the run fits the 10-minute cycle (S2) with at least 50 % headroom.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

CYCLE_SECONDS = 600


def seed(sb, products: int, customers: int, orders: int) -> None:
    """Handy products for Gestionix's pushable ones, Handy customers named like Gestionix
    clients (most orders match, O3), then `orders` random orders (~10 % new customers, O4)."""
    company = sb.gestionix.companies[sb.company_id]
    branch = company.branch_by_name(sb.branch_name)["branch_id"]
    copied = 0
    for product in company.products.values():
        key = product["key"]
        rates = [t for t in product["taxes"] if t["type"] == "transferred" and t["factor"] == "rate"]
        if (copied >= products or not (product["active"] and product["for_sale"]) or not key
                or key != key.strip() or "/" in key or not rates or len(rates) != len(product["taxes"])
                or branch not in company.product_branches[product["product_id"]]):
            continue
        price = round(product["price"] * (1 + sum(t["rate"] for t in rates)), 2)
        sb.handy.create_product({"code": key, "description": product["name"],
                                 "family": {"description": "Bench"}, "price": price})
        copied += 1
    named = [c for c in company.clients.values()
             if c["branch_id"] == branch and (c["commercial_name"] or c["business_name"]).strip()]
    for n, client in enumerate(named[:customers]):
        sb.handy.create_customer({"code": f"B-{n}",
                                  "description": client["commercial_name"] or client["business_name"]})
    sb.clock.advance(-30)  # every order is safely inside the window that ends "now"
    sb.handy.create_random_orders(orders)
    sb.clock.advance(30)


async def run(args) -> dict:
    from clients.credentials import GestionixCredentials, HandyCredentials
    from flows.orders import order_push
    from mappings.tenant import TenantConfig
    from sandbox.server import run_sandbox
    from store import binder, cursors

    with run_sandbox(seed=7, products=args.products, customers=args.customers,
                     latency_ms=args.latency_ms, handy_rate_limit_per_minute=args.handy_rate) as sb:
        seed(sb, products=min(args.products, 150), customers=args.customers, orders=args.orders)
        slug = f"bench-{uuid.uuid4().hex[:6]}"
        await HandyCredentials(base_url=sb.handy_url, api_token=sb.handy_token).save(
            f"{slug}-handy", overwrite=True)
        await GestionixCredentials(base_url=sb.gestionix_url, user=sb.gestionix_user,
                                   password=sb.gestionix_password).save(f"{slug}-gx", overwrite=True)
        tenant = TenantConfig(slug=slug, gestionix_branch=sb.branch_name,
                              gestionix_company=sb.company_id, handy_credentials=f"{slug}-handy",
                              gestionix_credentials=f"{slug}-gx")
        cursors.set(slug, "orders", datetime.now(UTC) - timedelta(minutes=2))
        sb.reset_stats()
        started = time.perf_counter()
        summary = await order_push(tenant)
        wall = time.perf_counter() - started
        pushed = len(binder.all_for(slug, "order", status="pushed"))
        gx, handy = sb.gestionix.stats.as_dict(), sb.handy.stats.as_dict()
        gx_docs = sum(len(docs) for docs in sb.gestionix.companies[sb.company_id].documents.values())
    return {
        "orders": args.orders,
        "pushed": pushed,
        "gestionix_documents": gx_docs,
        "latency_ms": args.latency_ms,
        "handy_rate_per_minute": args.handy_rate,
        "wall_seconds": round(wall, 1),
        "orders_per_second": round(pushed / wall, 1) if wall else None,
        "gestionix_calls": gx["total"],
        "gestionix_calls_per_order": round(gx["total"] / max(pushed, 1), 3),
        "gestionix_writes": gx["writes"],
        "handy_calls": handy["total"],
        "handy_calls_per_order": round(handy["total"] / max(pushed, 1), 3),
        "handy_429": handy["statuses"].get("429", 0),
        "cycle_share": round(wall / CYCLE_SECONDS, 3),
        "fits_cycle_with_50pct_headroom": wall <= CYCLE_SECONDS / 2,
        "gestionix_calls_by_route": gx["calls"],
        "handy_calls_by_route": handy["calls"],
        "summary": summary[:200],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--handy-rate", type=int, default=500, help="Handy requests/minute (sandbox)")
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--customers", type=int, default=150)
    args = parser.parse_args()
    os.environ["HGSYNC_HOME"] = tempfile.mkdtemp(prefix="hgsync-bench-")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        result = asyncio.run(run(args))
    rows = [
        ("orders pushed", f"{result['pushed']} / {result['orders']}"),
        ("Gestionix documents", result["gestionix_documents"]),
        ("wall time", f"{result['wall_seconds']} s ({result['orders_per_second']} orders/s)"),
        ("Gestionix calls / order", result["gestionix_calls_per_order"]),
        ("Handy calls / order", result["handy_calls_per_order"]),
        ("Handy 429 answers", result["handy_429"]),
        ("share of the 10-min cycle", f"{result['cycle_share']:.0%}"),
        ("fits with >= 50 % headroom", result["fits_cycle_with_50pct_headroom"]),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
