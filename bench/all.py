"""The whole benchmark suite in one session: catalog (with the careful naive script on its big
world), orders, the naive baselines, and bench.fleet when it exists; every goal of issues 11 and
20 with pass/fail.

    .venv/bin/python -m bench.all            # quick sizes, ~10 minutes on 2 CPUs
    .venv/bin/python -m bench.all --full     # the issue's sizes (~1 hour on 2 CPUs)

One temporary Prefect server and store home for the session. Prints one JSON line (everything),
then a table of the goals. Latency 50 ms on every API call of both systems; Handy at its
documented 500 requests/minute everywhere, enforced by the sandbox. Sizes:

              quick                                   full
  catalog     initial 500, resync/no-op 5 000, 1 %,   initial 5 000, resync/no-op 50 000, 1 %,
              50 routes x 20 of 300,                  200 routes x 60 of 2 000,
              1 000 bad claves in 5 000               10 000 bad claves in 50 000
  orders      window 300, 3 cycles x 100,             window 2 000, 10 cycles x 200,
              500-line order over 5 000 products      2 000-line order over 50 000 products
  naive       catalog 300, orders 300                 catalog 2 000, orders 2 000

bench.fleet (optional, written separately): if the module imports, `bench.fleet.run(quick: bool)`
is called last and must return a dict with "goals": [{"goal", "measured", "pass"}]; its goals are
added to the table and the dict is kept under "fleet" in the JSON line.
"""

from __future__ import annotations

import argparse
import importlib
import tempfile
import time

from bench import catalog as catalog_bench
from bench import naive as naive_bench
from bench import orders as orders_bench
from bench.common import GOALS, emit, machine, prefect_session, print_table, verdict

QUICK = {
    "catalog": {
        "initial": 500,
        "resync": 5000,
        "routes": 50,
        "route_products": 20,
        "route_pool": 300,
        "bad_claves": 1000,
    },
    "orders": {
        "orders": 300,
        "cycles": 3,
        "cycle_orders": 100,
        "edits": 5,
        "deletions": 5,
        "early_deletions": 3,
        "big_catalog": 5000,
        "big_order_lines": 500,
    },
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
    p, a = cat["phases"], cat["args"]
    rows = []

    def add(goal: str, measured, ok) -> None:
        rows.append({"goal": goal, "measured": measured, "pass": ok})

    met = cat["goals_met"]
    for name in catalog_bench.JUDGED:
        if name in p:
            add(
                f"catalog {name}: write throughput >= {GOALS['throughput_share_min']} of 500/min",
                p[name]["write_throughput_share"],
                met.get(f"{name}_throughput"),
            )
            add(
                f"catalog {name}: <= {GOALS['handy_calls_per_changed_product_max']} Handy calls per "
                "changed product (changed = Handy state diff)",
                f"{p[name]['handy_calls_per_changed']} ({p[name]['handy_calls']} calls / {p[name]['changed']} changed)",
                met.get(f"{name}_calls_per_changed"),
            )
    add(
        f"no-op resync of {a['resync']}: 0 writes",
        p["noop"]["handy_writes"],
        met["noop_zero_writes"],
    )
    add(
        f"no-op resync of {a['resync']} <= {GOALS['noop_over_reads_alone_max']} x paced Gestionix reads alone",
        f"{p['noop']['wall_s']} s / {p['reads_alone']['wall_s']} s = x{catalog_bench.noop_over_reads(p)}",
        met["noop_over_reads_alone"],
    )
    w = orders["window"]
    add(
        f"{w['orders']} orders <= {GOALS['orders_over_floor_max']} x the Handy-rate floor",
        f"{w['wall_s']} s / {w['handy_floor_s']} s = x{w['over_floor']} ({w['pushed']} pushed; "
        f"whole process {w['process_wall_s']} s = x{w['process_over_floor']})",
        orders["goals_met"]["window_within_floor"],
    )
    add(
        f"{w['orders']} orders: event-loop CPU outside API calls <= {GOALS['loop_cpu_outside_api_s_max']} s",
        f"{w['loop_cpu_outside_api_s']} s (loop CPU {w['loop_cpu_s']} s)",
        orders["goals_met"]["window_loop_cpu"],
    )
    add(
        f"{w['orders']} orders: no store call on the event loop",
        f"{w['store_statements_on_loop']} SQL statements on the loop, {w['store_statements_off_loop']} off it",
        orders["goals_met"]["window_no_store_call_on_loop"],
    )
    add(
        f"{w['orders']} orders within half of the 10-min cycle",
        f"{w['wall_s']} s = {w['cycle_share']:.0%}",
        orders["goals_met"]["window_within_half_cycle"],
    )
    add(
        "orders window: Handy write throughput >= 0.9 of the limit",
        w["handy_write_throughput_share"],
        w["handy_write_throughput_share"] is not None and w["handy_write_throughput_share"] >= 0.9,
    )
    if "cycles" in orders:
        c = orders["cycles"]
        add(
            f"{c['cycles']} cycles with edits and deletions: worst cycle within half of 10 min",
            f"{c['max_cycle_wall_s']} s = {c['max_cycle_share']:.0%}",
            orders["goals_met"]["cycles_within_half_cycle"],
        )
    rss_max = GOALS["peak_rss_mb_max"]
    for name in catalog_bench.RSS_PHASES:
        if name in p:
            add(
                f"peak RSS <= {rss_max} MB: catalog {name}",
                f"{p[name]['peak_rss_mb']} MB",
                p[name]["peak_rss_mb"] <= rss_max,
            )
    add(
        f"peak RSS <= {rss_max} MB: order window",
        f"{w['peak_rss_mb']} MB",
        w["peak_rss_mb"] <= rss_max,
    )
    if "cycles" in orders:
        add(
            f"peak RSS <= {rss_max} MB: order cycles",
            f"{orders['cycles']['peak_rss_mb']} MB",
            orders["cycles"]["peak_rss_mb"] <= rss_max,
        )
    if "big_order" in orders:
        b = orders["big_order"]
        add(
            f"peak RSS <= {rss_max} MB: order_push, {b['lines']}-line order, {b['catalog_products']} products",
            f"{b['peak_rss_mb']} MB ({b['pushed']} pushed)",
            orders["goals_met"]["big_order_peak_rss"],
        )
    return rows


def run_fleet(quick: bool) -> dict | None:
    """bench.fleet's own run and goals, when the module exists (see the module docstring)."""
    try:
        fleet = importlib.import_module("bench.fleet")
    except ModuleNotFoundError as exc:
        if exc.name != "bench.fleet":
            raise
        return None
    return fleet.run(quick=quick)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the issue's sizes")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--no-fleet", action="store_true", help="skip bench.fleet even if present")
    args = parser.parse_args()
    sizes = FULL if args.full else QUICK
    started = time.perf_counter()
    report: dict = {"bench": "all", "mode": "full" if args.full else "quick"}
    with tempfile.TemporaryDirectory() as home, prefect_session(home) as env:
        cat_args = _args(catalog_bench.add_arguments, sizes["catalog"], args.latency_ms)
        report["catalog"] = catalog_bench.bench_catalog(cat_args, env, home)
        print("catalog done", round(time.perf_counter() - started), "s", flush=True)
        ord_args = _args(orders_bench.add_arguments, sizes["orders"], args.latency_ms)
        report["orders"] = orders_bench.bench_orders(ord_args, env)
        print("orders done", round(time.perf_counter() - started), "s", flush=True)
        naive_args = _args(naive_bench.add_arguments, sizes["naive"], args.latency_ms)
        naive_args.handy_rate = ord_args.handy_rate
        naive_args.rate_limit = cat_args.rate_limit
        same_orders = naive_args.orders == ord_args.orders
        report["naive"] = naive_bench.bench_naive(
            naive_args,
            env,
            home,
            big=report["catalog"]["phases"],
            ours_window=report["orders"]["window"] if same_orders else None,
        )
        print("naive done", round(time.perf_counter() - started), "s", flush=True)
    report["goals"] = goals(report["catalog"], report["orders"], report["naive"])
    if not args.no_fleet:
        fleet = run_fleet(quick=not args.full)
        if fleet is not None:
            report["fleet"] = fleet
            report["goals"] += [
                {**g, "goal": f"fleet: {g['goal']}"} for g in fleet.get("goals", [])
            ]
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
