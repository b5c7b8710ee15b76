"""The naive baselines: the same catalog and order work done the way a script written by hand
would do it, measured on the same sandbox settings as our flows (Handy at its documented
500 requests/minute, enforced by the sandbox; the same latency on every call).

    .venv/bin/python -m bench.naive [--products 2000] [--orders 2000] [--latency-ms 50]
                                    [--rate-limit 500]

Two catalog scripts (sequential httpx, one request at a time, no bindings, no fingerprints):
  write_all  log in, read the branch's Gestionix products and Handy's product codes and open
             routes, then write every product: POST /product when Handy lacks it, else
             PUT /product/{code} with the whole product (price, family, stock), every time.
  compare    what a careful user writes in ~40 lines: read both sides in full (Gestionix
             products; every Handy product, enabled and disabled; the open routes), compute each
             product's desired content and write only the products whose content differs (POST
             when missing, PUT when different). On a world already in sync it writes nothing.
  Both use our mapping rules (mappings.products, mappings.inventory) so they write the same
  content as catalog_pull; only the I/O differs.
The order script: log in, read the products, taxes, sellers and the branch's clients once and the
window's orders; then per order: match the customer in the clients read (POST /clients when
missing, remembered for the next orders), create the document (POST /sales_orders) and write
Handy's externalId (PUT /salesOrder/{id}) — order_push's job (O3-O5, O9) without exactly-once.
On a 429 every script sleeps until X-RateLimit-Reset / Retry-After and sends again (counted).

Every script runs in its own process (`--child`), like our flows, so whole-process times and
VmHWM compare like for like. Every figure is measured at the size it is reported for: this bench
runs write_all and compare at --products; bench.catalog runs compare on its 50 000-product world
(no-op and 1 % changed). write_all is not run at 50 000: at 500 requests/minute its ~46 000
writes alone take ~93 minutes, longer than the whole suite, so no 50 000 figure is reported for it
(no extrapolation, no rate floor).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from typing import Any

import httpx

from bench.common import (
    BRANCH,
    COMPANY,
    HANDY_RATE,
    PASSWORD,
    TOKEN,
    USER,
    Urls,
    calls_summary,
    changed_products,
    emit,
    handy_products,
    machine,
    peak_rss_mb,
    prefect_session,
    reset_stats,
    run_child,
    sandbox_process,
    save_blocks,
    stats,
)

# ----------------------------------------------------------------------------- the naive scripts


class Naive:
    """Simple sequential scripts over httpx.Client, one call at a time."""

    def __init__(self, urls: Urls) -> None:
        self.handy = httpx.Client(
            base_url=urls.handy, timeout=60, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        self.gx = httpx.Client(base_url=urls.gestionix, timeout=60)
        self.waits_429 = 0

    def close(self) -> None:
        self.handy.close()
        self.gx.close()

    def send(self, client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
        while True:
            response = client.request(method, path, **kwargs)
            if response.status_code == 429:
                self.waits_429 += 1
                reset = response.headers.get("x-ratelimit-reset")
                wait = (
                    (float(reset) - time.time())
                    if reset
                    else float(response.headers.get("retry-after", 1))
                )
                time.sleep(max(wait, 0.5))
                continue
            response.raise_for_status()
            return response.json() if response.content else None

    def login(self) -> None:
        token = self.send(
            self.gx, "POST", "/users/authentication", json={"user": USER, "password": PASSWORD}
        )["access_token"]
        self.gx.headers.update({"Authorization": f"Bearer {token}", "Company": str(COMPANY)})

    def branch_id(self) -> int:
        branches = self.send(self.gx, "GET", "/branch_offices/")
        branches = (
            branches.get("branch_offices", branches) if isinstance(branches, dict) else branches
        )
        return next(b["branch_id"] for b in branches if b["name"] == BRANCH)

    def gx_all(self, path: str, **params: Any) -> list[dict]:
        out, page = [], 1
        while True:
            rows = self.send(
                self.gx, "GET", path, params={**params, "page": page, "page_size": 500}
            )
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

    # -- catalog
    def desired_products(self) -> list[dict]:
        """Gestionix's branch products as Handy bodies (our mapping), stock minus route stock."""
        from mappings.inventory import route_stock
        from mappings.products import map_products

        self.login()
        branch = self.branch_id()
        mapping = map_products(self.gx_all("/products", branch_id=branch), branch)
        routes = self.handy_all("/route", "routes", closed="false", includeInventory="true")
        on_routes = dict(route_stock(routes).per_code.itertuples(index=False))
        bodies = []
        for row in mapping.desired.itertuples(index=False):
            stock = row.stock if row.stock == row.stock else 0.0  # NaN -> 0
            bodies.append(
                {
                    "code": row.code,
                    "description": row.description,
                    "family": {"description": row.family},
                    "price": float(row.price),
                    "enabled": bool(row.enabled),
                    "quantity": max(float(stock) - float(on_routes.get(row.code, 0.0)), 0.0),
                }
            )
        return bodies

    def catalog_write_all(self) -> dict:
        bodies = self.desired_products()
        existing = {p["code"] for p in self.handy_all("/product", "products", enabled="true")}
        existing |= {p["code"] for p in self.handy_all("/product", "products", enabled="false")}
        created = updated = 0
        for body in bodies:
            if body["code"] in existing:
                self.send(
                    self.handy,
                    "PUT",
                    f"/product/{body['code']}",
                    json={k: v for k, v in body.items() if k != "code"},
                )
                updated += 1
            else:
                self.send(self.handy, "POST", "/product", json=body)
                created += 1
        return {"created": created, "updated": updated}

    def catalog_compare(self) -> dict:
        bodies = self.desired_products()
        current = {
            p["code"]: p
            for enabled in ("true", "false")
            for p in self.handy_all("/product", "products", enabled=enabled)
        }

        def differs(body: dict, now: dict) -> bool:
            family = (now.get("family") or {}).get("description")
            return (
                body["description"] != now.get("description")
                or body["enabled"] != now.get("enabled")
                or body["family"]["description"] != family
                or abs(body["price"] - float(now.get("price") or 0)) > 0.005
                or abs(body["quantity"] - float(now.get("quantity") or 0)) > 0.005
            )

        created = updated = 0
        for body in bodies:
            now = current.get(body["code"])
            if now is None:
                self.send(self.handy, "POST", "/product", json=body)
                created += 1
            elif differs(body, now):
                self.send(
                    self.handy,
                    "PUT",
                    f"/product/{body['code']}",
                    json={k: v for k, v in body.items() if k != "code"},
                )
                updated += 1
        return {"created": created, "updated": updated}

    # -- orders
    def orders(self, start: str, end: str) -> dict:
        from mappings.order_customers import match_client, match_seller, new_client_body
        from mappings.order_documents import build_document
        from mappings.order_lookup import products_index

        self.login()
        branch = self.branch_id()
        index = products_index(
            self.gx_all("/products", branch_id=branch), self.send(self.gx, "GET", "/taxes")
        )
        sellers = self.send(self.gx, "GET", "/sellers")
        clients = self.gx_all("/clients", branch_id=branch)  # read once, new ones appended
        orders = self.handy_all(
            "/salesOrder",
            "salesOrders",
            start=start,
            end=end,
            filterWithDate="dateCreated",
            deleted="false",
            order="asc",
        )
        pushed = failed = 0
        for order in orders:
            client, _ = match_client(order["customer"], clients)
            try:
                if client is None:
                    client = self.send(
                        self.gx,
                        "POST",
                        "/clients",
                        json=new_client_body(
                            order["customer"],
                            branch_id=branch,
                            with_address=True,
                            order_id=order["id"],
                        ),
                    )
                    clients.append(client)
                document = build_document(
                    order,
                    doc_type="sales_order",
                    branch_id=branch,
                    client_id=client["client_id"],
                    seller_id=match_seller(order.get("createdBy"), sellers),
                    products_by_key=index,
                    branch_name=BRANCH,
                )
                created = self.send(self.gx, "POST", "/sales_orders", json=document.body)
            except Exception:  # noqa: BLE001 - a simple script logs and goes on
                failed += 1
                continue
            self.send(
                self.handy,
                "PUT",
                f"/salesOrder/{order['id']}",
                json={"externalId": str(created["sales_order_id"])},
            )
            pushed += 1
        return {"read": len(orders), "pushed": pushed, "failed": failed}


# ----------------------------------------------------------------------------- child: one script run


def _child(spec: dict) -> None:
    urls = Urls(spec["handy"], spec["gestionix"])
    naive = Naive(urls)
    started = time.perf_counter()
    try:
        if spec["script"] == "orders":
            outcome = naive.orders(*spec["window"])
        else:
            outcome = getattr(naive, f"catalog_{spec['script']}")()
    finally:
        naive.close()
    wall = time.perf_counter() - started
    print(
        "RESULT "
        + json.dumps(
            {
                "wall_s": round(wall, 2),
                **outcome,
                "waits_429": naive.waits_429,
                "peak_rss_mb": peak_rss_mb(),
            }
        ),
        flush=True,
    )


def run_naive(script: str, urls: Urls, env: dict[str, str], **spec: Any) -> dict:
    """One naive script in its own process; calls from the sandbox, `changed` from the Handy
    state before/after (catalog scripts)."""
    catalog = script != "orders"
    before = handy_products(urls.handy) if catalog else None
    reset_stats(urls)
    result = run_child(
        "bench.naive",
        [json.dumps({"script": script, "handy": urls.handy, "gestionix": urls.gestionix, **spec})],
        env,
    )
    calls = calls_summary(stats(urls.handy), stats(urls.gestionix))
    result.update({k: v for k, v in calls.items() if not k.endswith("_by_route")})
    result["startup_s"] = round(result["process_wall_s"] - result["wall_s"], 2)
    if catalog:
        result["changed"] = changed_products(before, handy_products(urls.handy))
    return result


def run_naive_catalog(script: str, urls: Urls, env: dict[str, str]) -> dict:
    return {"script": script, **run_naive(script, urls, env)}


# ----------------------------------------------------------------------------- runs


OURS_KEYS = (
    "wall_s",
    "process_wall_s",
    "process_cpu_s",
    "changed",
    "handy_calls",
    "handy_writes",
    "handy_429",
    "gestionix_calls",
    "overhead_s",
    "peak_rss_mb",
)


def naive_catalog(args, env: dict[str, str], home: str) -> dict:
    """At --products: write_all (initial load, then a full resync of the loaded world), compare on
    that world (nothing changed: a no-op) and on a fresh world (initial load); ours (initial,
    then no-op) on its own fresh world. All at the same settings, in this run."""
    from bench.catalog import run_phase

    lat, rate = args.latency_ms, args.rate_limit
    out: dict[str, Any] = {"products": args.products}
    with sandbox_process(args.products, latency_ms=lat, handy_rate_limit_per_minute=rate) as urls:
        out["write_all_initial"] = run_naive("write_all", urls, env)
        out["write_all_resync"] = run_naive("write_all", urls, env)
        out["compare_noop"] = run_naive("compare", urls, env)
    with sandbox_process(args.products, latency_ms=lat, handy_rate_limit_per_minute=rate) as urls:
        out["compare_initial"] = run_naive("compare", urls, env)
    env_ours = {**env, "HGSYNC_HOME": os.path.join(home, "naive-ours")}
    with sandbox_process(args.products, latency_ms=lat, handy_rate_limit_per_minute=rate) as urls:
        save_blocks("bench-catalog", urls)
        ours_initial = run_phase("initial", urls, rate, env_ours)
        ours_noop = run_phase("noop", urls, rate, env_ours)
    out["ours_initial"] = {k: ours_initial.get(k) for k in OURS_KEYS}
    out["ours_noop"] = {k: ours_noop.get(k) for k in OURS_KEYS}
    return out


def naive_orders(args, env: dict[str, str], ours_window: dict | None) -> dict:
    """The naive order script over --orders orders in the order bench's world; ours is given
    from this session's bench.orders (same world, size and settings) or run here."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from bench.orders import _in_the_past, create_orders, order_world

    with order_world(args) as urls:
        _in_the_past(urls, 30)
        create_orders(urls, args.orders)
        _in_the_past(urls, -30)
        zone = ZoneInfo("America/Mexico_City")
        now = datetime.now(UTC)
        window = [
            (now - timedelta(minutes=5)).astimezone(zone).strftime("%d/%m/%Y %H:%M:%S"),
            now.astimezone(zone).strftime("%d/%m/%Y %H:%M:%S"),
        ]
        result = {"orders": args.orders, "naive": run_naive("orders", urls, env, window=window)}
    if ours_window is None:
        from bench.orders import run_window

        ours_window = run_window(args, env)
    result["ours"] = {
        k: ours_window.get(k)
        for k in (
            "orders",
            "pushed",
            "wall_s",
            "process_wall_s",
            "process_cpu_s",
            "handy_calls",
            "handy_writes",
            "gestionix_calls",
            "handy_429",
            "overhead_s",
            "peak_rss_mb",
        )
    }
    return result


def ratios(catalog: dict | None, orders: dict | None, big: dict | None) -> dict:
    """naive / ours, in-flow and whole-process, every figure measured in this run."""
    out: dict[str, Any] = {}

    def ratio(name: str, naive: dict, ours: dict) -> None:
        out[name] = round(naive["wall_s"] / ours["wall_s"], 2)
        if naive.get("process_wall_s") and ours.get("process_wall_s"):
            out[name + "_process"] = round(naive["process_wall_s"] / ours["process_wall_s"], 2)

    if catalog:
        ratio("initial_compare_over_ours", catalog["compare_initial"], catalog["ours_initial"])
        ratio("initial_write_all_over_ours", catalog["write_all_initial"], catalog["ours_initial"])
        ratio("noop_compare_over_ours", catalog["compare_noop"], catalog["ours_noop"])
        ratio("resync_write_all_over_ours_noop", catalog["write_all_resync"], catalog["ours_noop"])
    if big:
        ratio("big_noop_compare_over_ours", big["naive_noop"], big["noop"])
        ratio("big_resync_compare_over_ours", big["naive_resync"], big["resync"])
    if orders:
        ratio("orders_naive_over_ours", orders["naive"], orders["ours"])
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--products", type=int, default=2000, help="catalog world size (both scripts)"
    )
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument(
        "--rate-limit", type=int, default=HANDY_RATE, help="Handy requests/minute (catalog)"
    )
    parser.add_argument(
        "--handy-rate", type=int, default=HANDY_RATE, help="Handy requests/minute (orders)"
    )


def _line(r: dict) -> str:
    return (
        f"{r['wall_s']} s (process {r.get('process_wall_s')} s) | Handy {r['handy_calls']} calls "
        f"({r['handy_writes']} writes, 429: {r['handy_429']}) | Gestionix {r['gestionix_calls']} | "
        f"changed {r.get('changed', '-')} | VmHWM {r.get('peak_rss_mb')} MB"
    )


def naive_rows(report: dict) -> list[tuple[str, str]]:
    c, o = report.get("catalog"), report.get("orders")
    rows = []
    if c:
        n = c["products"]
        rows += [
            (f"{label} ({n}-product world)", _line(c[key]))
            for key, label in (
                ("write_all_initial", "naive write-all, initial load"),
                ("compare_initial", "naive compare, initial load"),
                ("ours_initial", "ours, initial load"),
                ("write_all_resync", "naive write-all, full resync (nothing changed)"),
                ("compare_noop", "naive compare, nothing changed"),
                ("ours_noop", "ours, no-op"),
            )
        ]
    if o:
        rows += [
            (
                f"naive orders {o['orders']}",
                _line(o["naive"]) + f" | pushed {o['naive']['pushed']}",
            ),
            (f"ours orders {o['orders']}", _line(o["ours"]) + f" | pushed {o['ours']['pushed']}"),
        ]
    rows += [(f"ratio {k}", str(v)) for k, v in report["ratios"].items()]
    return rows


def bench_naive(
    args,
    env: dict[str, str],
    home: str,
    *,
    big: dict | None = None,
    ours_window: dict | None = None,
) -> dict:
    """`big`: bench.catalog's phases (its naive_noop / noop and naive_resync / resync pairs)."""
    started = time.perf_counter()
    report: dict[str, Any] = {
        "bench": "naive",
        "latency_ms": args.latency_ms,
        "handy_rate_limit_per_minute_catalog": args.rate_limit,
        "handy_rate_limit_per_minute_orders": args.handy_rate,
    }
    report["catalog"] = naive_catalog(args, env, home) if args.products else None
    report["orders"] = naive_orders(args, env, ours_window) if args.orders else None
    report["ratios"] = ratios(report["catalog"], report["orders"], big)
    report["bench_seconds"] = round(time.perf_counter() - started, 1)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(json.loads(args.child))
        return
    with tempfile.TemporaryDirectory() as home, prefect_session(home) as env:
        report = bench_naive(args, env, home)
    report["machine"] = machine()
    emit(report, naive_rows(report))


if __name__ == "__main__":
    main()
