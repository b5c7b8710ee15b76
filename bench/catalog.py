"""catalog_pull at scale against a loopback sandbox with latency and a Handy rate limit.

    .venv/bin/python -m bench.catalog [--initial 10000] [--resync 50000] [--changed 0.01]
        [--routes 200 --route-products 60 --route-pool 2000] [--latency-ms 50] [--rate-limit 3000]

Phases (issue 11):
  initial    a Handy account without products; catalog_pull creates --initial products (plus their
             families) at --rate-limit/min with --latency-ms on every API call of both systems.
  prepare    a --resync-product world loaded once at full speed (no latency, no limit) by the same
             flow, so the bindings are real ones; not a goal, reported for information.
  noop       the same world at --latency-ms / --rate-limit: nothing changed, nothing to write.
  resync     --changed of the for-sale products get a new Gestionix price; the flow writes them.
  inventory  --routes open Handy routes are loaded (PUT /_sandbox/routes/{id}/inventory) with
             --route-products product codes each, drawn from --route-pool popular products (trucks
             carry overlapping best sellers); the flow splits the stock (I1-I2) over the whole
             --resync catalog and writes only the changed free-use quantities.

Each phase runs catalog_pull in a fresh child process (PREFECT_API_URL = one temporary Prefect
server for the whole bench), with its Handy limiter created at --rate-limit first (the tenant
parameters carry no rate); each sandbox world is its own process. So the child's peak RSS
(ru_maxrss) is the flow's own. See bench/common.py for how Prefect overhead is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time

import httpx

from bench.common import (
    COMPANY,
    GOALS,
    HttpTimer,
    Urls,
    calls_summary,
    control,
    emit,
    machine,
    peak_rss_mb,
    prefect_session,
    reset_stats,
    run_child,
    sandbox_process,
    save_blocks,
    set_knobs,
    stats,
    tenant_config,
    throughput_share,
    verdict,
)

SLUG = "bench-catalog"


# ----------------------------------------------------------------------------- child: one flow run


def _child(spec: dict) -> None:
    """Run catalog_pull once, print what it measured as a RESULT line."""
    from clients.ratelimit import shared_limiter
    from flows.catalog import catalog_pull

    urls = Urls(spec["handy"], spec["gestionix"])
    ports = {int(u.split(":")[2].split("/")[0]) for u in urls.both}
    timer = HttpTimer(ports).install()
    tenant = tenant_config(spec["slug"])

    async def run() -> str:
        shared_limiter(spec["slug"], "handy", spec["rate"])
        return await catalog_pull(tenant)

    started = time.perf_counter()
    summary = asyncio.run(run())
    wall = time.perf_counter() - started
    print("RESULT " + json.dumps({
        "phase": spec["phase"],
        **timer.report(wall),
        "handy_write_span_s": round(timer.write_span("handy"), 2),
        **calls_summary(stats(urls.handy), stats(urls.gestionix)),
        "peak_rss_mb": peak_rss_mb(),
        "summary": summary[:300],
    }), flush=True)


def run_phase(phase: str, urls: Urls, rate: float, env: dict[str, str], slug: str = SLUG) -> dict:
    reset_stats(urls)
    spec = {"phase": phase, "handy": urls.handy, "gestionix": urls.gestionix, "rate": rate,
            "slug": slug}
    return run_child("bench.catalog", [json.dumps(spec)], env)


# ----------------------------------------------------------------------------- parent


def syncable_products(gestionix_url: str) -> list[dict]:
    """The branch's products catalog_pull syncs (for-sale, active, a usable clave)."""
    state = httpx.get(control(gestionix_url) + "/state", params={"only": "products"},
                      timeout=300).json()
    products = state["companies"][str(COMPANY)]["products"]
    products = products.values() if isinstance(products, dict) else products
    return [p for p in products
            if p["for_sale"] and p["active"] and p["key"] and "/" not in p["key"]
            and p["key"] == p["key"].strip()]


def change_prices(gestionix_url: str, syncable: list[dict], share: float) -> int:
    """Give `share` of the syncable products a new pre-tax price; returns how many."""
    picked = syncable[:: max(1, round(1 / share))][: round(len(syncable) * share)]
    with httpx.Client(base_url=control(gestionix_url), timeout=30) as ctl:
        for product in picked:
            ctl.patch(f"/products/{product['product_id']}",
                      json={"price": round(product["price"] * 1.1 + 0.01, 4)}).raise_for_status()
    return len(picked)


def load_routes(handy_url: str, syncable: list[dict], per_route: int, pool: int) -> dict:
    """Load every open route with `per_route` codes out of the first `pool` syncable products;
    returns how many routes and distinct codes were loaded."""
    rng = random.Random(11)
    codes = [p["key"] for p in syncable[:pool]]
    state = httpx.get(control(handy_url) + "/state", params={"only": "routes"}, timeout=60).json()
    routes = [r for r in state["routes"] if not r.get("closed")]
    loaded: set[str] = set()
    entries = 0
    with httpx.Client(base_url=control(handy_url), timeout=30) as ctl:
        for route in routes:
            picked = rng.sample(codes, min(per_route, len(codes)))
            loaded.update(picked)
            entries += len(picked)
            ctl.put(f"/routes/{route['id']}/inventory",
                    json={"inventory": [{"product": c, "quantity": rng.randint(1, 6)} for c in picked]}
                    ).raise_for_status()
    return {"open_routes": len(routes), "route_entries": entries, "codes_loaded": len(loaded)}


def _phase_report(result: dict, changed: int, rate: float) -> dict:
    writes = result["handy_writes"]
    return {
        "wall_s": result["wall_s"],
        "changed": changed,
        "handy_calls": result["handy_calls"],
        "handy_writes": writes,
        "handy_reads": result["handy_reads"],
        "handy_429": result["handy_429"],
        "gestionix_calls": result["gestionix_calls"],
        "handy_calls_per_changed": round(result["handy_calls"] / changed, 4) if changed else None,
        "write_throughput_share": throughput_share(writes, result["handy_write_span_s"], rate),
        "api_busy_s": result["api_busy_s"],
        "http_busy_s": result["http_busy_s"],
        "overhead_s": result["overhead_s"],
        "prefect_api_s": result["prefect_api_s"],
        "peak_rss_mb": result["peak_rss_mb"],
        "handy_by_route": result["handy_by_route"],
        "summary": result["summary"],
    }


def run_catalog(args, env: dict[str, str], home: str) -> dict:
    lat, rate = args.latency_ms, args.rate_limit
    phases: dict[str, dict] = {}
    extra: dict = {}

    # 1. initial load of --initial products (fresh Handy, fresh store)
    env_initial = {**env, "HGSYNC_HOME": os.path.join(home, "catalog-initial")}
    with sandbox_process(args.initial, latency_ms=lat, handy_rate_limit_per_minute=rate) as urls:
        save_blocks(SLUG, urls)
        result = run_phase("initial", urls, rate, env_initial)
        created = int(result["handy_by_route"].get("POST /product", 0))
        phases["initial"] = _phase_report(result, created, rate)

    # 2.-5. the --resync world: prepared at full speed, then no-op, 1 % changed, inventory
    env_big = {**env, "HGSYNC_HOME": os.path.join(home, "catalog-resync")}
    with sandbox_process(args.resync, latency_ms=0, handy_rate_limit_per_minute=0,
                         setup={"open_routes": max(args.routes - 3, 0)}) as urls:
        save_blocks(SLUG, urls)
        phases["prepare"] = _phase_report(run_phase("prepare", urls, 1_000_000, env_big), 0, 0)
        syncable = syncable_products(urls.gestionix)
        set_knobs(urls, latency_ms=lat, handy_rate=rate)
        phases["noop"] = _phase_report(run_phase("noop", urls, rate, env_big), 0, rate)
        changed = change_prices(urls.gestionix, syncable, args.changed)
        phases["resync"] = _phase_report(run_phase("resync", urls, rate, env_big), changed, rate)
        if args.routes:
            extra["routes"] = load_routes(urls.handy, syncable, args.route_products, args.route_pool)
            result = run_phase("inventory", urls, rate, env_big)
            stock_writes = int(result["handy_by_route"].get("PUT /product/{code}", 0))
            phases["inventory"] = _phase_report(result, stock_writes, rate)
            phases["inventory"]["codes_loaded"] = extra["routes"]["codes_loaded"]
    return {"phases": phases, **extra}


def catalog_goals(report: dict) -> dict:
    phases = report["phases"]
    out = {}
    for name in ("initial", "resync", "inventory"):
        if name in phases:
            share = phases[name]["write_throughput_share"]
            per = phases[name]["handy_calls_per_changed"]
            # judged only over >= 10 s of writes: a shorter run is mostly the limiter's burst
            enough = phases[name]["handy_writes"] >= report["handy_rate_limit_per_minute"] / 6
            out[f"{name}_throughput"] = (
                None if not enough else share is not None and share >= GOALS["throughput_share_min"])
            out[f"{name}_calls_per_changed"] = (
                per is not None and per <= GOALS["handy_calls_per_changed_product_max"])
    out["noop_zero_writes"] = phases["noop"]["handy_writes"] == 0
    big = [phases[p]["peak_rss_mb"] for p in ("prepare", "noop", "resync", "inventory") if p in phases]
    out["peak_rss"] = max(big) <= GOALS["peak_rss_mb_max"]
    return out


def catalog_rows(report: dict) -> list[tuple[str, str]]:
    p, a = report["phases"], report["args"]
    rows = []
    for name, label in (("initial", f"initial load {a['initial']}"), ("prepare", "prepare (no latency, no limit)"),
                        ("noop", f"no-op resync {a['resync']}"), ("resync", f"resync {a['changed']:.0%} changed"),
                        ("inventory", f"inventory split, {a['routes']} routes")):
        if name not in p:
            continue
        r = p[name]
        rows.append((label, (
            f"{r['wall_s']} s | changed {r['changed']} | Handy {r['handy_calls']} calls "
            f"({r['handy_writes']} writes, 429: {r['handy_429']}) | Gestionix {r['gestionix_calls']} | "
            f"calls/changed {r['handy_calls_per_changed']} | throughput {r['write_throughput_share']} | "
            f"overhead {r['overhead_s']} s | RSS {r['peak_rss_mb']} MB")))
    for goal, ok in report["goals_met"].items():
        rows.append((f"goal {goal}", verdict(ok)))
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--initial", type=int, default=10_000)
    parser.add_argument("--resync", type=int, default=50_000)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--routes", type=int, default=200, help="open routes (0: skip the phase)")
    parser.add_argument("--route-products", type=int, default=60)
    parser.add_argument("--route-pool", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--rate-limit", type=int, default=3000, help="Handy requests/minute")


def bench_catalog(args, env: dict[str, str], home: str) -> dict:
    started = time.perf_counter()
    report = {"bench": "catalog", "latency_ms": args.latency_ms,
              "handy_rate_limit_per_minute": args.rate_limit,
              "args": {k: getattr(args, k) for k in ("initial", "resync", "changed", "routes",
                                                     "route_products", "route_pool")}}
    report.update(run_catalog(args, env, home))
    report["goals_met"] = catalog_goals(report)
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
        report = bench_catalog(args, env, home)
    report["machine"] = machine()
    emit(report, catalog_rows(report))


if __name__ == "__main__":
    main()
