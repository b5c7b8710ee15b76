"""order_push and deletion_sync at volume against a loopback sandbox with latency on both servers
and Handy's documented rate limit (500 requests/minute, enforced by the sandbox).

    .venv/bin/python -m bench.orders [--orders 2000] [--cycles 10 --cycle-orders 200
        --edits 10 --deletions 10 --early-deletions 5] [--big-catalog 50000 --big-order-lines 2000]
        [--latency-ms 50] [--handy-rate 500]

Parts (issues 11 and 20):
  window     --orders new Handy orders in one window; one order_push run pushes them all. Judged
             against the Handy-rate floor: the fewest Handy calls any implementation needs (one
             PUT /salesOrder/{id} per order for its externalId, O9, plus one GET /salesOrder page
             per 100 orders) at 500/min. Also its event-loop CPU outside API calls.
  cycles     --cycles scheduled cycles, each: --cycle-orders new orders, --edits of the previous
             cycle's (pushed) orders edited on the phone (the old version deleted, a new order
             made, O10), --deletions of the previous cycle's orders deleted, --early-deletions of
             this cycle's orders deleted before they were pushed (tombstoned, D2); then order_push
             and deletion_sync run one after the other in one process (they share the tenant
             lease, S3). The window keeps its default 15-minute lookback, so each run also
             re-reads the earlier cycles' orders (skipped by their bindings): heavier than
             production, where cycles are 10 minutes apart.
  big_order  memory: a --big-catalog-product Gestionix branch and one Handy order of
             --big-order-lines lines; order_push pushes it (judged on peak RSS).

The sandbox world runs in its own process (bench.sandbox_server); this process prepares each
world (orders, blocks, cursors) and every measured run is a fresh child process running the flows
against one temporary Prefect server, reporting in-flow wall, event-loop CPU (bench/common.py,
LoopCpu) and its VmHWM; this process adds the child's whole-process wall and CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta

import httpx

from bench.common import (
    CYCLE_SECONDS,
    GOALS,
    HANDY_RATE,
    HttpTimer,
    LoopCpu,
    StoreCalls,
    Urls,
    calls_summary,
    control,
    emit,
    machine,
    peak_rss_mb,
    prefect_session,
    process_cpu_s,
    reset_stats,
    run_child,
    sandbox_process,
    save_blocks,
    stats,
    tenant_config,
    throughput_share,
    verdict,
)

WORLD = {
    "products": 300,
    "customers": 150,
}  # Gestionix sizes; Handy gets 150 products, 150 customers
ORDER_WORLD = {"products": 150, "customers": 150}
HANDY_PAGE = 100  # records per GET /salesOrder page


def ports_of(urls: Urls) -> set[int]:
    return {int(u.split(":")[2].split("/")[0]) for u in urls.both}


def _in_the_past(urls: Urls, seconds: float) -> None:
    """Move the sandbox clock (both servers share it) so what is made next is safely inside the
    window that ends "now" (the window end is truncated to the second)."""
    httpx.post(
        control(urls.handy) + "/clock", json={"advance_seconds": -seconds}, timeout=30
    ).raise_for_status()


def create_orders(urls: Urls, count: int) -> list[int]:
    ids: list[int] = []
    with httpx.Client(base_url=control(urls.handy), timeout=120) as ctl:
        while len(ids) < count:
            n = min(500, count - len(ids))
            ids.extend(ctl.post("/orders/random", json={"count": n}).raise_for_status().json())
    return ids


def edit_and_delete(urls: Urls, edit: list[int], delete: list[int], cycle: int) -> list[int]:
    """Edits (new order, old one deleted with isEdited) and deletions; returns the new ids."""
    new_ids = []
    with httpx.Client(base_url=control(urls.handy), timeout=60) as ctl:
        for order_id in edit:
            new = ctl.post(
                f"/orders/{order_id}/edit", json={"sellerComment": f"editado en el ciclo {cycle}"}
            ).raise_for_status()
            new_ids.append(new.json()["id"])
        for order_id in delete:
            ctl.delete(f"/orders/{order_id}").raise_for_status()
    return new_ids


def handy_floor_s(orders: int, rate: int) -> float:
    """The Handy-rate floor of pushing `orders` orders of one window: one externalId PUT per order
    plus one listing page per 100 orders, at `rate` requests/minute."""
    return round((orders + -(-orders // HANDY_PAGE)) * 60.0 / rate, 1)


# ----------------------------------------------------------------------------- child: the flows


def _child(spec: dict) -> None:
    """Run the given flows one after the other for one tenant; print a RESULT line."""
    from flows.deletions import deletion_sync
    from flows.orders import order_push

    flows = {"order_push": order_push, "deletion_sync": deletion_sync}
    urls = Urls(spec["handy"], spec["gestionix"])
    timer = HttpTimer(ports_of(urls)).install()
    loop_cpu = LoopCpu.install()
    store_calls = StoreCalls().install()
    tenant = tenant_config(spec["slug"])
    walls: dict[str, float] = {}
    summaries: dict[str, str] = {}

    async def run() -> None:
        for name in spec["flows"]:
            started = time.perf_counter()
            summaries[name] = str(await flows[name](tenant))[:200]
            walls[name] = round(time.perf_counter() - started, 2)

    cpu_before = process_cpu_s()
    started = time.perf_counter()
    asyncio.run(run())
    wall = time.perf_counter() - started
    print(
        "RESULT "
        + json.dumps(
            {
                **timer.report(wall),
                **loop_cpu.report(),
                **store_calls.report(),
                "flow_cpu_s": round(process_cpu_s() - cpu_before, 2),
                "flow_walls_s": walls,
                "handy_write_span_s": round(timer.write_span("handy"), 2),
                "peak_rss_mb": peak_rss_mb(),
                "summaries": summaries,
            }
        ),
        flush=True,
    )


def run_flows(urls: Urls, slug: str, flows: list[str], env: dict[str, str]) -> dict:
    reset_stats(urls)
    spec = {"handy": urls.handy, "gestionix": urls.gestionix, "slug": slug, "flows": flows}
    result = run_child("bench.orders", [json.dumps(spec)], env)
    result["startup_s"] = round(result["process_wall_s"] - result["wall_s"], 2)
    result.update(calls_summary(stats(urls.handy), stats(urls.gestionix)))
    return result


# ----------------------------------------------------------------------------- parent


def _setup_tenant(slug: str, urls: Urls) -> None:
    from store import cursors

    save_blocks(slug, urls)
    start = datetime.now(UTC) - timedelta(minutes=2)
    cursors.set(slug, "orders", start)
    cursors.set(slug, "deletions", start)


MEASURED = (
    "wall_s",
    "process_wall_s",
    "process_cpu_s",
    "flow_cpu_s",
    "startup_s",
    "api_busy_s",
    "http_busy_s",
    "prefect_api_s",
    "overhead_s",
    "overhead_share",
    "loop_cpu_s",
    "loop_cpu_outside_api_s",
    "loop_cpu_outside_api_raw_s",
    "loop_cpu_in_api_calls_s",
    "loop_io_callbacks_cpu_s",
    "loop_task_steps",
    "loop_measurement_correction_s",
    "loop_is_main_thread",
    "other_loops_cpu_s",
    "store_statements_on_loop",
    "store_statements_off_loop",
    "peak_rss_mb",
    "handy_calls",
    "handy_reads",
    "handy_writes",
    "handy_429",
    "gestionix_calls",
    "gestionix_reads",
    "gestionix_writes",
)


def order_world(args):
    """The sandbox process the order benches push against (the same world for ours and naive's)."""
    return sandbox_process(
        WORLD["products"],
        WORLD["customers"],
        setup={"order_world": ORDER_WORLD},
        latency_ms=args.latency_ms,
        handy_rate_limit_per_minute=args.handy_rate,
    )


def run_window(args, env: dict[str, str]) -> dict:
    """One order_push run over --orders new orders."""
    from store import binder

    with order_world(args) as urls:
        slug = f"bench-window-{random.randrange(16**6):06x}"
        _setup_tenant(slug, urls)
        _in_the_past(urls, 30)
        create_orders(urls, args.orders)
        _in_the_past(urls, -30)
        result = run_flows(urls, slug, ["order_push"], env)
        pushed = len(binder.all_for(slug, "order", status="pushed"))
    floor = handy_floor_s(args.orders, args.handy_rate)
    return {
        "orders": args.orders,
        "pushed": pushed,
        **{k: result.get(k) for k in MEASURED},
        "gestionix_calls_per_order": round(result["gestionix_calls"] / max(pushed, 1), 3),
        "handy_calls_per_order": round(result["handy_calls"] / max(pushed, 1), 3),
        "handy_write_throughput_share": throughput_share(
            result["handy_writes"], result["handy_write_span_s"], args.handy_rate
        ),
        "handy_floor_s": floor,
        "over_floor": round(result["wall_s"] / floor, 3),
        "process_over_floor": round(result["process_wall_s"] / floor, 3),
        "cycle_share": round(result["wall_s"] / CYCLE_SECONDS, 3),
        "handy_by_route": result["handy_by_route"],
        "gestionix_by_route": result["gestionix_by_route"],
        "summary": result["summaries"]["order_push"],
    }


def run_cycles(args, env: dict[str, str]) -> dict:
    """--cycles scheduled cycles of order_push + deletion_sync with edits and deletions."""
    from store import binder

    rng = random.Random(5)
    cycles = []
    with order_world(args) as urls:
        slug = f"bench-cycles-{random.randrange(16**6):06x}"
        _setup_tenant(slug, urls)
        previous: list[int] = []
        for cycle in range(args.cycles):
            _in_the_past(urls, 30)
            new = create_orders(urls, args.cycle_orders)
            touched = rng.sample(previous, min(len(previous), args.edits + args.deletions))
            edited, deleted = touched[: args.edits], touched[args.edits :]
            early = rng.sample(new, min(args.early_deletions, len(new)))
            new_versions = edit_and_delete(urls, edited, deleted + early, cycle)
            _in_the_past(urls, -30)
            result = run_flows(urls, slug, ["order_push", "deletion_sync"], env)
            cycles.append(
                {
                    "cycle": cycle,
                    "new_orders": len(new),
                    "edited": len(edited),
                    "deleted": len(deleted),
                    "deleted_before_push": len(early),
                    "changed": len(new)
                    - len(early)
                    + len(edited)
                    + len(deleted)
                    + len(edited)
                    + len(early),
                    "push_wall_s": result["flow_walls_s"]["order_push"],
                    "deletion_wall_s": result["flow_walls_s"]["deletion_sync"],
                    **{k: result.get(k) for k in MEASURED},
                    "push_summary": result["summaries"]["order_push"][:160],
                    "deletion_summary": result["summaries"]["deletion_sync"][:160],
                }
            )
            live = set(new) - set(early)
            previous = [o for o in previous if o not in set(touched)] + sorted(live) + new_versions
        bindings = binder.all_for(slug, "order")
        documents = _count_documents(urls)
    status_counts: dict[str, int] = {}
    for binding in bindings:
        status_counts[binding.status] = status_counts.get(binding.status, 0) + 1
    total = {
        key: sum(c[key] for c in cycles)
        for key in (
            "new_orders",
            "edited",
            "deleted",
            "deleted_before_push",
            "changed",
            "handy_calls",
            "handy_writes",
            "gestionix_calls",
            "gestionix_writes",
            "handy_429",
        )
    }
    walls = [c["wall_s"] for c in cycles]
    process_walls = [c["process_wall_s"] for c in cycles]
    return {
        "cycles": len(cycles),
        **total,
        "total_wall_s": round(sum(walls), 1),
        "max_cycle_wall_s": max(walls),
        "max_cycle_process_wall_s": max(process_walls),
        "mean_cycle_wall_s": round(sum(walls) / len(walls), 2),
        "mean_cycle_process_wall_s": round(sum(process_walls) / len(walls), 2),
        "max_cycle_share": round(max(walls) / CYCLE_SECONDS, 3),
        "overhead_s": round(sum(c["overhead_s"] for c in cycles), 1),
        "peak_rss_mb": max(c["peak_rss_mb"] for c in cycles),
        "handy_calls_per_changed": round(total["handy_calls"] / max(total["changed"], 1), 3),
        "gestionix_calls_per_changed": round(
            total["gestionix_calls"] / max(total["changed"], 1), 3
        ),
        "binding_statuses": status_counts,
        "gestionix_open_documents": documents,
        "per_cycle": cycles,
    }


def run_big_order(args, env: dict[str, str]) -> dict:
    """order_push of one --big-order-lines-line order over a --big-catalog-product branch."""
    from store import binder

    setup = {
        "order_world": {"products": args.big_order_lines, "customers": 20},
        "big_order": args.big_order_lines,
    }
    with sandbox_process(
        args.big_catalog,
        20,
        setup=setup,
        latency_ms=args.latency_ms,
        handy_rate_limit_per_minute=args.handy_rate,
    ) as urls:
        slug = f"bench-bigorder-{random.randrange(16**6):06x}"
        _setup_tenant(slug, urls)
        time.sleep(1.1)  # the order is inside the window that ends "now" (truncated to the second)
        result = run_flows(urls, slug, ["order_push"], env)
        pushed = len(binder.all_for(slug, "order", status="pushed"))
    return {
        "catalog_products": args.big_catalog,
        "lines": args.big_order_lines,
        "pushed": pushed,
        **{k: result.get(k) for k in MEASURED},
        "summary": result["summaries"]["order_push"],
    }


def _count_documents(urls: Urls) -> int:
    state = httpx.get(control(urls.gestionix) + "/state", timeout=120).json()
    company = state["companies"]["92"]
    return sum(len(company.get(kind) or []) for kind in ("sales_orders", "sales"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--cycle-orders", type=int, default=200)
    parser.add_argument("--edits", type=int, default=10)
    parser.add_argument("--deletions", type=int, default=10)
    parser.add_argument("--early-deletions", type=int, default=5)
    parser.add_argument(
        "--big-catalog",
        type=int,
        default=50_000,
        help="Gestionix products of the big-order world (0: skip it)",
    )
    parser.add_argument("--big-order-lines", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--handy-rate", type=int, default=HANDY_RATE, help="Handy requests/minute")


def bench_orders(args, env: dict[str, str]) -> dict:
    report: dict = {
        "bench": "orders",
        "latency_ms": args.latency_ms,
        "handy_rate_limit_per_minute": args.handy_rate,
    }
    started = time.perf_counter()
    report["window"] = run_window(args, env)
    if args.cycles:
        report["cycles"] = run_cycles(args, env)
    if args.big_catalog:
        report["big_order"] = run_big_order(args, env)
    w = report["window"]
    report["goals_met"] = {
        "window_within_floor": w["over_floor"] <= GOALS["orders_over_floor_max"]
        and w["pushed"] == args.orders,
        "window_loop_cpu": (w["loop_cpu_outside_api_s"] or 0)
        <= GOALS["loop_cpu_outside_api_s_max"],
        "window_no_store_call_on_loop": w["store_statements_on_loop"] == 0,
        "window_within_half_cycle": w["wall_s"] <= CYCLE_SECONDS * GOALS["orders_cycle_share_max"],
    }
    if args.cycles:
        report["goals_met"]["cycles_within_half_cycle"] = (
            report["cycles"]["max_cycle_share"] <= GOALS["orders_cycle_share_max"]
        )
    if args.big_catalog:
        big = report["big_order"]
        report["goals_met"]["big_order_peak_rss"] = (
            big["pushed"] == 1 and big["peak_rss_mb"] <= GOALS["peak_rss_mb_max"]
        )
    report["bench_seconds"] = round(time.perf_counter() - started, 1)
    return report


def orders_rows(report: dict) -> list[tuple[str, str]]:
    w = report["window"]
    rows = [
        (
            f"window: {w['orders']} orders",
            (
                f"{w['pushed']} pushed in {w['wall_s']} s in-flow, {w['process_wall_s']} s whole process "
                f"= {w['cycle_share']:.0%} of the 10-min cycle; Handy-rate floor {w['handy_floor_s']} s "
                f"-> x{w['over_floor']} (process x{w['process_over_floor']})"
            ),
        ),
        (
            "window: calls",
            (
                f"Handy {w['handy_calls']} ({w['handy_calls_per_order']}/order, 429: {w['handy_429']}), "
                f"Gestionix {w['gestionix_calls']} ({w['gestionix_calls_per_order']}/order)"
            ),
        ),
        ("window: Handy write throughput / limit", f"{w['handy_write_throughput_share']}"),
        (
            "window: event-loop CPU",
            (
                f"{w['loop_cpu_s']} s, outside API calls {w['loop_cpu_outside_api_s']} s, in API calls "
                f"{w['loop_cpu_in_api_calls_s']} s, I/O callbacks {w['loop_io_callbacks_cpu_s']} s; "
                f"process CPU {w['process_cpu_s']} s (in-flow {w['flow_cpu_s']} s)"
            ),
        ),
        (
            "window: store SQL statements on the event loop / off it",
            f"{w['store_statements_on_loop']} / {w['store_statements_off_loop']}",
        ),
        (
            "window: overhead (wall - API busy)",
            f"{w['overhead_s']} s (API busy {w['api_busy_s']} s)",
        ),
        ("window: VmHWM", f"{w['peak_rss_mb']} MB"),
    ]
    if "cycles" in report:
        c = report["cycles"]
        rows += [
            (
                f"cycles: {c['cycles']} x {c['per_cycle'][0]['new_orders']} orders",
                (
                    f"{c['total_wall_s']} s in all, worst cycle {c['max_cycle_wall_s']} s in-flow / "
                    f"{c['max_cycle_process_wall_s']} s process ({c['max_cycle_share']:.0%} of 10 min), "
                    f"mean {c['mean_cycle_wall_s']} s / {c['mean_cycle_process_wall_s']} s"
                ),
            ),
            (
                "cycles: edits / deletions / early deletions",
                f"{c['edited']} / {c['deleted']} / {c['deleted_before_push']}",
            ),
            (
                "cycles: calls",
                (
                    f"Handy {c['handy_calls']} ({c['handy_calls_per_changed']}/changed order, 429: "
                    f"{c['handy_429']}), Gestionix {c['gestionix_calls']} ({c['gestionix_calls_per_changed']}/changed)"
                ),
            ),
            ("cycles: bindings", json.dumps(c["binding_statuses"])),
            (
                "cycles: overhead (wall - API busy); VmHWM",
                f"{c['overhead_s']} s; {c['peak_rss_mb']} MB",
            ),
        ]
    if "big_order" in report:
        b = report["big_order"]
        rows.append(
            (
                f"big order: {b['lines']} lines, {b['catalog_products']}-product catalog",
                (
                    f"pushed {b['pushed']} in {b['wall_s']} s (process {b['process_wall_s']} s), "
                    f"VmHWM {b['peak_rss_mb']} MB"
                ),
            )
        )
    for goal, ok in report["goals_met"].items():
        rows.append((f"goal {goal}", verdict(ok)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(json.loads(args.child))
        return
    with tempfile.TemporaryDirectory() as home, prefect_session(home) as env:
        report = bench_orders(args, env)
    report["machine"] = machine()
    emit(report, orders_rows(report))


if __name__ == "__main__":
    main()
