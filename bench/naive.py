"""The naive baseline: the same catalog and order work done the way a simple script would, and
our flows on the same sizes and sandbox settings in the same run, as ratios.

    .venv/bin/python -m bench.naive [--products 2000] [--orders 2000] [--latency-ms 50]
                                    [--rate-limit 3000] [--handy-rate 500]

The naive script (sequential httpx, one request at a time, no bindings, no fingerprints):
  catalog   log in, read everything (the branch's products and taxes from Gestionix; every Handy
            product and the open routes from Handy), then write everything: for each product a
            POST /product when Handy lacks it, else a PUT /product/{code} with the whole product
            (price, family, stock), every time. Same mapping rules as ours (mappings.products),
            so the content written is the same; only the I/O pattern differs.
  orders    log in, read the products, taxes and sellers once and the window's orders; then for
            each order in turn: search the customer (GET /clients of the branch, match by name,
            POST /clients when missing), create the document (POST /sales_orders) and write the
            Handy externalId (PUT /salesOrder/{id}): the same job order_push does (O3-O5, O9),
            without exactly-once protection.
  On a 429 it sleeps until X-RateLimit-Reset / Retry-After and sends again.

A naive full resync of 50 000 products takes at least 50 000 / 3000 = 16.7 minutes under a
3000/min limit, and ~N x (latency + server time) when sequential; running it would take most of
an hour. So the naive resync is measured on --products products with the same settings, its time
per product is measured, and the 50 000 figure is extrapolated linearly (a full resync is one
write per product plus a few page reads, so it is linear in N; the rate limit alone gives the
lower bound 50 000 / rate). Both figures are reported; the goal is judged on the lower bound
(the most favourable case for the naive script) and on the extrapolation.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from typing import Any

import httpx

from bench.common import (
    BRANCH,
    COMPANY,
    PASSWORD,
    TOKEN,
    USER,
    Urls,
    calls_summary,
    emit,
    machine,
    prefect_session,
    reset_stats,
    sandbox_process,
    save_blocks,
    stats,
)

NOOP_50K_PRODUCTS = 50_000


# ----------------------------------------------------------------------------- the naive script


class Naive:
    """A simple sequential script over httpx.Client, one call at a time."""

    def __init__(self, urls: Urls) -> None:
        self.handy = httpx.Client(base_url=urls.handy, timeout=60,
                                  headers={"Authorization": f"Bearer {TOKEN}"})
        self.gx = httpx.Client(base_url=urls.gestionix, timeout=60)

    def close(self) -> None:
        self.handy.close()
        self.gx.close()

    def send(self, client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
        while True:
            response = client.request(method, path, **kwargs)
            if response.status_code == 429:
                reset = response.headers.get("x-ratelimit-reset")
                wait = (float(reset) - time.time()) if reset else float(
                    response.headers.get("retry-after", 1))
                time.sleep(max(wait, 0.5))
                continue
            response.raise_for_status()
            return response.json() if response.content else None

    def login(self) -> None:
        token = self.send(self.gx, "POST", "/users/authentication",
                          json={"user": USER, "password": PASSWORD})["access_token"]
        self.gx.headers.update({"Authorization": f"Bearer {token}", "Company": str(COMPANY)})

    def branch_id(self) -> int:
        branches = self.send(self.gx, "GET", "/branch_offices/")
        branches = branches.get("branch_offices", branches) if isinstance(branches, dict) else branches
        return next(b["branch_id"] for b in branches if b["name"] == BRANCH)

    def gx_all(self, path: str, **params: Any) -> list[dict]:
        out, page = [], 1
        while True:
            rows = self.send(self.gx, "GET", path, params={**params, "page": page, "page_size": 500})
            out.extend(rows)
            if len(rows) < 500:
                return out
            page += 1

    def handy_all(self, path: str, key: str, **params: Any) -> list[dict]:
        out, page = [], 1
        while True:
            body = self.send(self.handy, "GET", path, params={**params, "page": page, "max": 100})
            out.extend(body[key])
            if page >= body["pagination"]["totalPages"]:
                return out
            page += 1

    # -- catalog: read everything, write everything
    def catalog(self) -> dict:
        from mappings.inventory import route_stock
        from mappings.products import map_products

        self.login()
        branch = self.branch_id()
        mapping = map_products(self.gx_all("/products", branch_id=branch), branch)
        existing = {p["code"] for p in self.handy_all("/product", "products", enabled="true")}
        existing |= {p["code"] for p in self.handy_all("/product", "products", enabled="false")}
        routes = self.handy_all("/route", "routes", closed="false", includeInventory="true")
        on_routes = dict(route_stock(routes).per_code.itertuples(index=False))
        created = updated = 0
        for row in mapping.desired.itertuples(index=False):
            stock = row.stock if row.stock == row.stock else 0.0  # NaN -> 0
            body = {"description": row.description, "family": {"description": row.family},
                    "price": float(row.price), "enabled": bool(row.enabled),
                    "quantity": max(float(stock) - float(on_routes.get(row.code, 0.0)), 0.0)}
            if row.code in existing:
                self.send(self.handy, "PUT", f"/product/{row.code}", json=body)
                updated += 1
            else:
                self.send(self.handy, "POST", "/product", json={"code": row.code, **body})
                created += 1
        return {"created": created, "updated": updated}

    # -- orders: for each order, search the customer and create the document
    def orders(self, start: str, end: str) -> dict:
        from mappings.orders import build_document, match_client, match_seller, new_client_body
        from tasks.orders import products_index

        self.login()
        branch = self.branch_id()
        index = products_index(self.gx_all("/products", branch_id=branch), self.send(self.gx, "GET", "/taxes"))
        sellers = self.send(self.gx, "GET", "/sellers")
        orders = self.handy_all("/salesOrder", "salesOrders", start=start, end=end,
                                filterWithDate="dateCreated", deleted="false", order="asc")
        pushed = failed = 0
        for order in orders:
            clients = self.gx_all("/clients", branch_id=branch)  # the "search"
            client, _ = match_client(order["customer"], clients)
            try:
                if client is None:
                    client = self.send(self.gx, "POST", "/clients", json=new_client_body(
                        order["customer"], branch_id=branch, with_address=True, order_id=order["id"]))
                document = build_document(order, doc_type="sales_order", branch_id=branch,
                                          client_id=client["client_id"],
                                          seller_id=match_seller(order.get("createdBy"), sellers),
                                          products_by_key=index, branch_name=BRANCH)
                created = self.send(self.gx, "POST", "/sales_orders", json=document.body)
            except Exception:  # noqa: BLE001 - a simple script logs and goes on
                failed += 1
                continue
            self.send(self.handy, "PUT", f"/salesOrder/{order['id']}",
                      json={"externalId": str(created["sales_order_id"])})
            pushed += 1
        return {"read": len(orders), "pushed": pushed, "failed": failed}


def _timed(urls: Urls, work) -> dict:
    reset_stats(urls)
    started = time.perf_counter()
    outcome = work()
    wall = time.perf_counter() - started
    calls = calls_summary(stats(urls.handy), stats(urls.gestionix))
    return {"wall_s": round(wall, 2), **outcome,
            **{k: v for k, v in calls.items() if not k.endswith("_by_route")}}


# ----------------------------------------------------------------------------- runs


def naive_catalog(args, env: dict[str, str], home: str) -> dict:
    """Naive initial load + naive full resync of --products, and ours (initial + no-op) on the
    same size and settings in its own sandbox, both in this run."""
    from bench.catalog import run_phase

    lat, rate = args.latency_ms, args.rate_limit
    out: dict[str, Any] = {"products": args.products}
    with sandbox_process(args.products, latency_ms=lat, handy_rate_limit_per_minute=rate) as urls:
        naive = Naive(urls)
        try:
            out["naive_initial"] = _timed(urls, naive.catalog)
            out["naive_resync"] = _timed(urls, naive.catalog)
        finally:
            naive.close()
    import os

    env_ours = {**env, "HGSYNC_HOME": os.path.join(home, "naive-ours")}
    with sandbox_process(args.products, latency_ms=lat, handy_rate_limit_per_minute=rate) as urls:
        save_blocks("bench-catalog", urls)
        ours_initial = run_phase("initial", urls, rate, env_ours)
        ours_noop = run_phase("noop", urls, rate, env_ours)
    keep = ("wall_s", "handy_calls", "handy_writes", "gestionix_calls", "overhead_s", "peak_rss_mb")
    out["ours_initial"] = {k: ours_initial[k] for k in keep}
    out["ours_noop"] = {k: ours_noop[k] for k in keep}
    return out


def naive_orders(args, env: dict[str, str], ours_window: dict | None) -> dict:
    """The naive order script over --orders orders; ours (order_push on the same world) unless
    given from this session's bench.orders."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from bench.orders import ORDER_WORLD, WORLD, _in_the_past, create_orders

    with sandbox_process(WORLD["products"], WORLD["customers"], setup={"order_world": ORDER_WORLD},
                         latency_ms=args.latency_ms,
                         handy_rate_limit_per_minute=args.handy_rate) as urls:
        _in_the_past(urls, 30)
        create_orders(urls, args.orders)
        _in_the_past(urls, -30)
        zone = ZoneInfo("America/Mexico_City")
        now = datetime.now(UTC)
        window = [(now - timedelta(minutes=5)).astimezone(zone).strftime("%d/%m/%Y %H:%M:%S"),
                  now.astimezone(zone).strftime("%d/%m/%Y %H:%M:%S")]
        naive = Naive(urls)
        try:
            result = {"orders": args.orders, "naive": _timed(urls, lambda: naive.orders(*window))}
        finally:
            naive.close()
    if ours_window is None:
        from bench.common import HttpTimer
        from bench.orders import run_window

        ours_window = asyncio.run(run_window(args, HttpTimer(set()).install()))
    result["ours"] = {k: ours_window[k] for k in ("orders", "pushed", "wall_s", "handy_calls",
                                                  "gestionix_calls", "overhead_s")}
    return result


def ratios(catalog: dict | None, orders: dict | None, ours_noop_50k: dict | None, rate: int) -> dict:
    """ours vs naive, measured in this run; the 50 000 no-op figure as explained in the docstring."""
    out: dict[str, Any] = {}
    if catalog:
        n = catalog["products"]
        naive_resync, naive_initial = catalog["naive_resync"], catalog["naive_initial"]
        out["initial_naive_over_ours"] = round(naive_initial["wall_s"] / catalog["ours_initial"]["wall_s"], 2)
        out["resync_naive_over_ours_noop_same_size"] = round(
            naive_resync["wall_s"] / catalog["ours_noop"]["wall_s"], 1)
        per_product = naive_resync["wall_s"] / n
        out["naive_resync_s_per_product"] = round(per_product, 5)
        big = (ours_noop_50k or {}).get("products") or NOOP_50K_PRODUCTS
        out["big_resync_products"] = big
        out["naive_resync_50k_extrapolated_s"] = round(per_product * big, 0)
        out["naive_resync_50k_rate_limit_floor_s"] = round(big / (rate / 60.0), 0)
        if ours_noop_50k:
            ours = ours_noop_50k["wall_s"]
            out["ours_noop_50k_s"] = ours
            out["noop_50k_speedup_extrapolated"] = round(out["naive_resync_50k_extrapolated_s"] / ours, 1)
            out["noop_50k_speedup_floor"] = round(out["naive_resync_50k_rate_limit_floor_s"] / ours, 1)
    if orders:
        out["orders_naive_over_ours"] = round(orders["naive"]["wall_s"] / orders["ours"]["wall_s"], 2)
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--products", type=int, default=2000, help="naive catalog size")
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--rate-limit", type=int, default=3000, help="Handy requests/minute (catalog)")
    parser.add_argument("--handy-rate", type=int, default=500, help="Handy requests/minute (orders)")


def naive_rows(report: dict) -> list[tuple[str, str]]:
    c, o, r = report.get("catalog"), report.get("orders"), report["ratios"]
    rows = []
    if c:
        rows += [
            (f"naive initial load {c['products']}", f"{c['naive_initial']['wall_s']} s, Handy {c['naive_initial']['handy_calls']} calls"),
            (f"ours initial load {c['products']}", f"{c['ours_initial']['wall_s']} s, Handy {c['ours_initial']['handy_calls']} calls"),
            (f"naive full resync {c['products']}", f"{c['naive_resync']['wall_s']} s, Handy {c['naive_resync']['handy_calls']} calls ({c['naive_resync']['handy_writes']} writes)"),
            (f"ours no-op resync {c['products']}", f"{c['ours_noop']['wall_s']} s, Handy {c['ours_noop']['handy_calls']} calls ({c['ours_noop']['handy_writes']} writes)"),
            (f"naive full resync of {r['big_resync_products']} (extrapolated / rate floor)",
             f"{r['naive_resync_50k_extrapolated_s']} s / {r['naive_resync_50k_rate_limit_floor_s']} s"),
        ]
        if "ours_noop_50k_s" in r:
            rows.append((f"ours no-op {r['big_resync_products']} (bench.catalog) -> speed-up",
                         (f"{r['ours_noop_50k_s']} s -> x{r['noop_50k_speedup_extrapolated']} "
                         f"(x{r['noop_50k_speedup_floor']} vs the rate-limit floor)")))
    if o:
        rows += [
            (f"naive orders {o['orders']}", f"{o['naive']['wall_s']} s, pushed {o['naive']['pushed']}, Gestionix {o['naive']['gestionix_calls']} calls"),
            (f"ours orders {o['orders']}", f"{o['ours']['wall_s']} s, pushed {o['ours']['pushed']}, Gestionix {o['ours']['gestionix_calls']} calls"),
        ]
    rows += [(f"ratio {k}", str(v)) for k, v in r.items() if k.endswith(("ours", "same_size"))]
    return rows


def bench_naive(args, env: dict[str, str], home: str, *, ours_noop_50k: dict | None = None,
                ours_window: dict | None = None) -> dict:
    started = time.perf_counter()
    report: dict[str, Any] = {"bench": "naive", "latency_ms": args.latency_ms,
                              "handy_rate_limit_per_minute_catalog": args.rate_limit,
                              "handy_rate_limit_per_minute_orders": args.handy_rate}
    report["catalog"] = naive_catalog(args, env, home) if args.products else None
    report["orders"] = naive_orders(args, env, ours_window) if args.orders else None
    report["ratios"] = ratios(report["catalog"], report["orders"], ours_noop_50k, args.rate_limit)
    report["bench_seconds"] = round(time.perf_counter() - started, 1)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--ours-noop-50k", type=float, default=None,
                        help="wall seconds of our no-op resync of 50 000 from bench.catalog "
                             "(to report the 50 000 speed-up)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home, prefect_session(home) as env:
        noop = {"wall_s": args.ours_noop_50k, "products": NOOP_50K_PRODUCTS} if args.ours_noop_50k else None
        report = bench_naive(args, env, home, ours_noop_50k=noop)
    report["machine"] = machine()
    emit(report, naive_rows(report))


if __name__ == "__main__":
    main()
