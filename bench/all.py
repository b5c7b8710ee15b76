"""The whole benchmark suite in one session: catalog, orders, then the naive baseline compared
with them (ratios from this run), and every goal of issue 11 with pass/fail.

    .venv/bin/python -m bench.all            # quick sizes, a few minutes
    .venv/bin/python -m bench.all --full     # the issue's sizes (~30 minutes on 2 CPUs)

One temporary Prefect server and store home for the session. Prints one JSON line (everything),
then a table of the goals. Sizes:

              quick                                   full
  catalog     initial 1 000, resync 5 000, 1 %,      initial 10 000, resync 50 000, 1 %,
              200 routes x 30 of 500                 200 routes x 60 of 2 000
  orders      window 300, 3 cycles x 100             window 2 000, 10 cycles x 200
  naive       catalog 300, orders 300                catalog 2 000, orders 2 000
Latency 50 ms on every API call of both systems; Handy 3000/min for the catalog (as the issue's
catalog numbers), 500/min (Handy's documented limit) for orders.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

from bench import catalog as catalog_bench
from bench import naive as naive_bench
from bench import orders as orders_bench
from bench.common import GOALS, emit, machine, prefect_session, print_table, verdict

QUICK = {
    "catalog": {"initial": 1000, "resync": 5000, "routes": 200, "route_products": 30, "route_pool": 500},
    "orders": {"orders": 300, "cycles": 3, "cycle_orders": 100, "edits": 5, "deletions": 5,
               "early_deletions": 3},
    "naive": {"products": 300, "orders": 300},
}
FULL = {"catalog": {}, "orders": {}, "naive": {}}  # the benches' defaults are the issue's sizes


def _args(add_arguments, overrides: dict, latency: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([])
    for key, value in overrides.items():
        setattr(args, key, value)
    args.latency_ms = latency
    return args


def goals(cat: dict, orders: dict, naive: dict) -> list[dict]:
    p = cat["phases"]
    rows = []

    def add(goal: str, measured, ok) -> None:
        rows.append({"goal": goal, "measured": measured, "pass": ok})

    for name in ("initial", "resync", "inventory"):
        if name in p:
            add(f"catalog {name}: write throughput >= {GOALS['throughput_share_min']} of the limit",
                p[name]["write_throughput_share"], cat["goals_met"].get(f"{name}_throughput"))
            add(f"catalog {name}: <= {GOALS['handy_calls_per_changed_product_max']} Handy calls per changed product",
                p[name]["handy_calls_per_changed"], cat["goals_met"].get(f"{name}_calls_per_changed"))
    w = orders["window"]
    add("orders window: Handy write throughput >= 0.9 of the limit", w["handy_write_throughput_share"],
        w["handy_write_throughput_share"] is not None and w["handy_write_throughput_share"] >= 0.9)
    add(f"no-op resync of {cat['args']['resync']}: 0 writes", p["noop"]["handy_writes"],
        p["noop"]["handy_writes"] == 0)
    r = naive["ratios"]
    if "noop_50k_speedup_floor" in r:
        add(f"no-op resync of {cat['args']['resync']} >= 10x faster than the naive full resync "
            "(vs rate-limit floor / vs extrapolated measurement)",
            f"x{r['noop_50k_speedup_floor']} / x{r['noop_50k_speedup_extrapolated']}",
            r["noop_50k_speedup_floor"] >= GOALS["noop_vs_naive_full_resync_min"])
    add(f"{w['orders']} orders at {orders['latency_ms']} ms within half of the 10-min cycle",
        f"{w['wall_s']} s = {w['cycle_share']:.0%} ({w['pushed']} pushed)",
        orders["goals_met"]["window_within_half_cycle"])
    if "cycles" in orders:
        c = orders["cycles"]
        add(f"{c['cycles']} cycles with edits and deletions: worst cycle within half of 10 min",
            f"{c['max_cycle_wall_s']} s = {c['max_cycle_share']:.0%}",
            orders["goals_met"]["cycles_within_half_cycle"])
    rss = max(p[x]["peak_rss_mb"] for x in ("prepare", "noop", "resync", "inventory") if x in p)
    add(f"peak RSS <= {GOALS['peak_rss_mb_max']} MB at {cat['args']['resync']} products", f"{rss} MB",
        rss <= GOALS["peak_rss_mb_max"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the issue's sizes")
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()
    sizes = FULL if args.full else QUICK
    started = time.perf_counter()
    report: dict = {"bench": "all", "mode": "full" if args.full else "quick"}
    with tempfile.TemporaryDirectory() as home, prefect_session(home) as env:
        cat_args = _args(catalog_bench.add_arguments, sizes["catalog"], args.latency_ms)
        report["catalog"] = catalog_bench.bench_catalog(cat_args, env, home)
        print("catalog done", round(time.perf_counter() - started), "s", flush=True)
        ord_args = _args(orders_bench.add_arguments, sizes["orders"], args.latency_ms)
        report["orders"] = asyncio.run(orders_bench.bench_orders_async(ord_args))
        print("orders done", round(time.perf_counter() - started), "s", flush=True)
        naive_args = _args(naive_bench.add_arguments, sizes["naive"], args.latency_ms)
        naive_args.handy_rate = ord_args.handy_rate
        naive_args.rate_limit = cat_args.rate_limit
        same_orders = naive_args.orders == ord_args.orders
        report["naive"] = naive_bench.bench_naive(
            naive_args, env, home, ours_noop_50k={**report["catalog"]["phases"]["noop"],
                                                "products": cat_args.resync},
            ours_window=report["orders"]["window"] if same_orders else None)
    report["goals"] = goals(report["catalog"], report["orders"], report["naive"])
    report["machine"] = machine()
    report["suite_seconds"] = round(time.perf_counter() - started, 1)
    rows = [(g["goal"], f"{g['measured']}  {verdict(g['pass'])}") for g in report["goals"]]
    rows += [("ratio " + k, str(v)) for k, v in report["naive"]["ratios"].items()]
    rows.append(("suite wall time", f"{report['suite_seconds']} s"))
    emit(report, rows)
    print("\n-- catalog"), print_table(catalog_bench.catalog_rows(report["catalog"]))
    print("-- orders"), print_table(orders_bench.orders_rows(report["orders"]))
    print("-- naive"), print_table(naive_bench.naive_rows(report["naive"]))


if __name__ == "__main__":
    main()
