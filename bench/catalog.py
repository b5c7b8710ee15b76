"""catalog_pull at scale against a loopback sandbox with latency and Handy's documented rate
limit (500 requests/minute, enforced by the sandbox: 429s are counted and reported).

    .venv/bin/python -m bench.catalog [--initial 5000] [--resync 50000] [--changed 0.01]
        [--routes 200 --route-products 60 --route-pool 2000] [--bad-claves 10000]
        [--latency-ms 50] [--rate-limit 500]

Phases (issues 11 and 20), each measured in its own fresh process:
  initial      a Handy account without products; catalog_pull creates the --initial world's
               products (plus their families).
  prepare      a --resync-product world loaded once at full speed (no latency, no limit) by the
               same flow, so the bindings are real ones; setup, reported for information.
  noop         the same world at --latency-ms / --rate-limit: nothing changed, nothing to write.
  reads_alone  the same Gestionix reads as the no-op (log in, company, sucursal, the branch's
               product pages) with the same client and pacing, without the flow: the floor the
               no-op is judged against (goal: no-op <= 1.2 x reads alone).
  naive_noop   the careful naive script (bench.naive, read-and-compare) on the same world.
  resync       --changed of the for-sale products get a new Gestionix price; catalog_pull
               writes them.
  inventory    --routes open Handy routes are loaded with --route-products codes each, drawn from
               --route-pool popular products; the flow splits the stock (I1-I2) and writes only
               the changed free-use quantities.
  naive_resync another --changed get a new price; the careful naive script writes them (last:
               ours would rewrite them in a later phase, its bindings remembering the old prices).
  badclave_dry_run / badclave_load
               memory: a --resync world in which --bad-claves products have a clave with "/"
               (P4, rejected and reported), planned in dry run (X3) then loaded, both at full
               speed (no latency, no limit): these two are judged on peak RSS only.

"Changed" is counted from the sandbox's Handy state read before and after each phase (products
created or whose description, price, free-use quantity, enabled or family differ), never from
the flow's own writes; for the resyncs the number of prices the bench changed is reported next to
it. Each phase's child process reports its in-flow wall time, event-loop CPU and VmHWM; the
parent adds the whole process's wall and CPU time (bench/common.py).
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
    HANDY_RATE,
    HttpTimer,
    LoopCpu,
    StoreCalls,
    Urls,
    calls_summary,
    changed_products,
    control,
    emit,
    handy_products,
    machine,
    peak_rss_mb,
    prefect_session,
    process_cpu_s,
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
NO_LIMIT = (
    1_000_000  # our client's Handy pacing for the setup phases (the sandbox has no limit then)
)


# ----------------------------------------------------------------------------- child: one flow run


def _child(spec: dict) -> None:
    """Run catalog_pull (or, for "reads_alone", only its Gestionix reads) once; print what it
    measured as a RESULT line."""
    from clients.ratelimit import shared_limiter
    from tasks.connect import connect

    if spec["phase"] != "reads_alone":  # imported before the clock starts; not by reads_alone
        from flows.catalog import catalog_pull
    urls = Urls(spec["handy"], spec["gestionix"])
    ports = {int(u.split(":")[2].split("/")[0]) for u in urls.both}
    timer = HttpTimer(ports).install()
    loop_cpu = LoopCpu.install()
    store_calls = StoreCalls().install()
    tenant = tenant_config(spec["slug"])
    extra: dict = {}

    async def run() -> str:
        limiter = shared_limiter(spec["slug"], "handy", spec["rate"])
        try:
            if spec["phase"] == "reads_alone":
                async with connect(tenant) as connection:
                    products = await connection.gestionix.list_products(connection.branch_id)
                extra["products_read"] = len(products)
                return f"read {len(products)} products"
            return await catalog_pull(tenant, dry_run=spec.get("dry_run", False))
        finally:  # the waits Handy ordered (Remaining 0, 429): the account's minute was used up
            extra["handy_server_pause_s"] = round(limiter.waited_for_server, 2)

    cpu_before = process_cpu_s()
    started = time.perf_counter()
    summary = asyncio.run(run())
    wall = time.perf_counter() - started
    print(
        "RESULT "
        + json.dumps(
            {
                "phase": spec["phase"],
                **timer.report(wall),
                **loop_cpu.report(),
                **store_calls.report(),
                "flow_cpu_s": round(process_cpu_s() - cpu_before, 2),
                "handy_write_span_s": round(timer.write_span("handy"), 2),
                "handy_write_max_gap_s": round(timer.write_max_gap("handy"), 2),
                **calls_summary(stats(urls.handy), stats(urls.gestionix)),
                "peak_rss_mb": peak_rss_mb(),
                "summary": str(summary)[:300],
                **extra,
            }
        ),
        flush=True,
    )


def run_phase(
    phase: str, urls: Urls, rate: float, env: dict[str, str], slug: str = SLUG, **options
) -> dict:
    """One measured phase in a fresh process; `changed` from the Handy state before/after."""
    before = handy_products(urls.handy)
    reset_stats(urls)
    spec = {
        "phase": phase,
        "handy": urls.handy,
        "gestionix": urls.gestionix,
        "rate": rate,
        "slug": slug,
        **options,
    }
    result = run_child("bench.catalog", [json.dumps(spec)], env)
    result["changed"] = changed_products(before, handy_products(urls.handy))
    return result


# ----------------------------------------------------------------------------- parent


def syncable_products(gestionix_url: str) -> list[dict]:
    """The branch's products catalog_pull syncs (for-sale, active, a usable clave)."""
    state = httpx.get(
        control(gestionix_url) + "/state", params={"only": "products"}, timeout=300
    ).json()
    products = state["companies"][str(COMPANY)]["products"]
    products = products.values() if isinstance(products, dict) else products
    return [
        p
        for p in products
        if p["for_sale"]
        and p["active"]
        and p["key"]
        and "/" not in p["key"]
        and p["key"] == p["key"].strip()
    ]


def change_prices(gestionix_url: str, syncable: list[dict], share: float, offset: int = 0) -> int:
    """Give `share` of the syncable products a new pre-tax price (every 1/share-th product from
    `offset`, so two calls with different offsets change different products); returns how many."""
    step = max(1, round(1 / share))
    picked = syncable[offset::step][: round(len(syncable) * share)]
    with httpx.Client(base_url=control(gestionix_url), timeout=30) as ctl:
        for product in picked:
            ctl.patch(
                f"/products/{product['product_id']}",
                json={"price": round(product["price"] * 1.1 + 0.01, 4)},
            ).raise_for_status()
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
            ctl.put(
                f"/routes/{route['id']}/inventory",
                json={"inventory": [{"product": c, "quantity": rng.randint(1, 6)} for c in picked]},
            ).raise_for_status()
    return {"open_routes": len(routes), "route_entries": entries, "codes_loaded": len(loaded)}


PHASE_KEYS = (
    "wall_s",
    "process_wall_s",
    "process_cpu_s",
    "flow_cpu_s",
    "changed",
    "handy_calls",
    "handy_writes",
    "handy_reads",
    "handy_429",
    "gestionix_calls",
    "api_busy_s",
    "http_busy_s",
    "overhead_s",
    "prefect_api_s",
    "loop_cpu_s",
    "loop_cpu_outside_api_s",
    "loop_cpu_in_api_calls_s",
    "loop_io_callbacks_cpu_s",
    "loop_task_steps",
    "store_statements_on_loop",
    "store_statements_off_loop",
    "peak_rss_mb",
    "handy_write_span_s",
    "handy_write_max_gap_s",
    "handy_server_pause_s",
    "handy_by_route",
    "gestionix_by_route",
    "summary",
)


def _phase_report(result: dict, rate: float | None) -> dict:
    """A phase's figures; calls per changed product from the Handy state diff (run_phase)."""
    report = {k: result[k] for k in PHASE_KEYS if k in result}
    changed = result["changed"]
    report["handy_calls_per_changed"] = (
        round(result["handy_calls"] / changed, 4) if changed else None
    )
    report["write_throughput_share"] = (
        throughput_share(result["handy_writes"], result.get("handy_write_span_s", 0), rate)
        if rate
        else None
    )
    report["startup_s"] = (
        round(result["process_wall_s"] - result["wall_s"], 2)
        if "process_wall_s" in result
        else None
    )
    return report


def run_catalog(args, env: dict[str, str], home: str) -> dict:
    from bench.naive import run_naive_catalog

    lat, rate = args.latency_ms, args.rate_limit
    phases: dict[str, dict] = {}
    extra: dict = {}

    # 1. initial load of the --initial world (fresh Handy, fresh store)
    env_initial = {**env, "HGSYNC_HOME": os.path.join(home, "catalog-initial")}
    with sandbox_process(args.initial, latency_ms=lat, handy_rate_limit_per_minute=rate) as urls:
        save_blocks(SLUG, urls)
        phases["initial"] = _phase_report(run_phase("initial", urls, rate, env_initial), rate)

    # 2.-8. the --resync world: prepared at full speed, then no-op, reads alone, the careful naive
    # script (no-op), 1 % changed (ours), inventory, 1 % changed (the naive script, on other products)
    env_big = {**env, "HGSYNC_HOME": os.path.join(home, "catalog-resync")}
    with sandbox_process(
        args.resync,
        latency_ms=0,
        handy_rate_limit_per_minute=0,
        setup={"open_routes": max(args.routes - 3, 0)},
    ) as urls:
        save_blocks(SLUG, urls)
        phases["prepare"] = _phase_report(run_phase("prepare", urls, NO_LIMIT, env_big), None)
        syncable = syncable_products(urls.gestionix)
        set_knobs(urls, latency_ms=lat, handy_rate=rate)
        phases["noop"] = _phase_report(run_phase("noop", urls, rate, env_big), rate)
        phases["reads_alone"] = _phase_report(run_phase("reads_alone", urls, rate, env_big), rate)
        phases["naive_noop"] = run_naive_catalog("compare", urls, env)
        # the naive resync last: products it rewrites after a price change would be rewritten by
        # ours too in a later phase (its bindings remember the old content), not ours to pay
        changed = change_prices(urls.gestionix, syncable, args.changed, offset=0)
        phases["resync"] = {
            **_phase_report(run_phase("resync", urls, rate, env_big), rate),
            "bench_changed": changed,
        }
        if args.routes:
            extra["routes"] = load_routes(
                urls.handy, syncable, args.route_products, args.route_pool
            )
            phases["inventory"] = _phase_report(run_phase("inventory", urls, rate, env_big), rate)
            phases["inventory"]["codes_loaded"] = extra["routes"]["codes_loaded"]
        changed = change_prices(urls.gestionix, syncable, args.changed, offset=1)
        phases["naive_resync"] = {
            **run_naive_catalog("compare", urls, env),
            "bench_changed": changed,
        }

    # 9. memory: the --resync world with --bad-claves rejected claves, dry run then load
    if args.bad_claves:
        env_bad = {**env, "HGSYNC_HOME": os.path.join(home, "catalog-badclave")}
        with sandbox_process(
            args.resync,
            latency_ms=0,
            handy_rate_limit_per_minute=0,
            setup={"bad_claves": args.bad_claves},
        ) as urls:
            save_blocks(SLUG, urls)
            phases["badclave_dry_run"] = _phase_report(
                run_phase("badclave_dry_run", urls, NO_LIMIT, env_bad, dry_run=True), None
            )
            phases["badclave_load"] = _phase_report(
                run_phase("badclave_load", urls, NO_LIMIT, env_bad), None
            )
    return {"phases": phases, **extra}


JUDGED = ("initial", "resync", "inventory")
RSS_PHASES = (
    "initial",
    "prepare",
    "noop",
    "reads_alone",
    "resync",
    "inventory",
    "badclave_dry_run",
    "badclave_load",
)


def catalog_goals(report: dict) -> dict:
    phases = report["phases"]
    out = {}
    for name in JUDGED:
        if name in phases:
            share = phases[name]["write_throughput_share"]
            per = phases[name]["handy_calls_per_changed"]
            # judged only over >= 10 s of writes: a shorter run is mostly the limiter's burst
            enough = phases[name]["handy_writes"] >= report["handy_rate_limit_per_minute"] / 6
            out[f"{name}_throughput"] = (
                None if not enough else share is not None and share >= GOALS["throughput_share_min"]
            )
            out[f"{name}_calls_per_changed"] = (
                per is not None and per <= GOALS["handy_calls_per_changed_product_max"]
            )
    out["noop_zero_writes"] = phases["noop"]["handy_writes"] == 0
    out["noop_over_reads_alone"] = noop_over_reads(phases) <= GOALS["noop_over_reads_alone_max"]
    out["peak_rss"] = (
        max(phases[p]["peak_rss_mb"] for p in RSS_PHASES if p in phases) <= GOALS["peak_rss_mb_max"]
    )
    return out


def noop_over_reads(phases: dict) -> float:
    return round(phases["noop"]["wall_s"] / phases["reads_alone"]["wall_s"], 3)


def catalog_rows(report: dict) -> list[tuple[str, str]]:
    p, a = report["phases"], report["args"]
    labels = {
        "initial": f"initial load ({a['initial']}-product world)",
        "prepare": "prepare (no latency, no limit; setup)",
        "noop": f"no-op resync {a['resync']}",
        "reads_alone": "paced Gestionix reads alone (no flow)",
        "naive_noop": "careful naive script, no-op",
        "naive_resync": f"careful naive script, {a['changed']:.0%} changed",
        "resync": f"ours, {a['changed']:.0%} changed",
        "inventory": f"inventory split, {a['routes']} routes",
        "badclave_dry_run": f"dry run, {a['bad_claves']} bad claves (no latency, no limit)",
        "badclave_load": f"load, {a['bad_claves']} bad claves (no latency, no limit)",
    }
    rows = []
    for name, label in labels.items():
        if name not in p:
            continue
        r = p[name]
        rows.append(
            (
                label,
                (
                    f"{r['wall_s']} s (process {r.get('process_wall_s')} s, CPU {r.get('process_cpu_s')} s) | "
                    f"changed {r['changed']} | Handy {r['handy_calls']} calls ({r['handy_writes']} writes, "
                    f"429: {r['handy_429']}) | Gestionix {r['gestionix_calls']} | calls/changed "
                    f"{r.get('handy_calls_per_changed')} | throughput {r.get('write_throughput_share')} | "
                    f"loop CPU outside API {r.get('loop_cpu_outside_api_s')} s | VmHWM {r['peak_rss_mb']} MB"
                ),
            )
        )
    if "noop" in p and "reads_alone" in p:
        rows.append(("no-op / reads alone", str(noop_over_reads(p))))
    for goal, ok in report["goals_met"].items():
        rows.append((f"goal {goal}", verdict(ok)))
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--initial",
        type=int,
        default=5_000,
        help="products of the initial-load world (~20 min per 10 000 at 500/min)",
    )
    parser.add_argument("--resync", type=int, default=50_000)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--routes", type=int, default=200, help="open routes (0: skip the phase)")
    parser.add_argument("--route-products", type=int, default=60)
    parser.add_argument("--route-pool", type=int, default=2000)
    parser.add_argument(
        "--bad-claves",
        type=int,
        default=10_000,
        help="rejected claves in the memory world (0: skip it)",
    )
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--rate-limit", type=int, default=HANDY_RATE, help="Handy requests/minute")


def bench_catalog(args, env: dict[str, str], home: str) -> dict:
    started = time.perf_counter()
    report = {
        "bench": "catalog",
        "latency_ms": args.latency_ms,
        "handy_rate_limit_per_minute": args.rate_limit,
        "args": {
            k: getattr(args, k)
            for k in (
                "initial",
                "resync",
                "changed",
                "routes",
                "route_products",
                "route_pool",
                "bad_claves",
            )
        },
    }
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
