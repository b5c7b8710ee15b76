"""order_push and deletion_sync at volume against a loopback sandbox with latency on both servers
and Handy's real rate limit (500 requests/minute).

    .venv/bin/python -m bench.orders [--orders 2000] [--cycles 10 --cycle-orders 200
        --edits 10 --deletions 10 --early-deletions 5] [--latency-ms 50] [--handy-rate 500]

Parts (issue 11):
  window  --orders new Handy orders in one window; one order_push run pushes them all.
  cycles  --cycles scheduled cycles, each: --cycle-orders new orders, --edits of the previous
          cycle's (pushed) orders edited on the phone (the old version deleted, a new order made,
          O10), --deletions of the previous cycle's orders deleted, --early-deletions of this
          cycle's orders deleted before they were pushed (tombstoned, D2); then order_push and
          deletion_sync run one after the other (they share the tenant lease, S3). The window
          keeps its default 15-minute lookback, so each run also re-reads the earlier cycles'
          orders (skipped by their bindings): heavier than production, where cycles are 10
          minutes apart.

The sandbox world runs in its own process (bench.sandbox_server: Handy already holds the products
and customers, as after catalog_pull and customer_sync); the flows run in this process against a
temporary Prefect server. See bench/common.py for how Prefect overhead is measured.
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
    HttpTimer,
    Urls,
    asave_blocks,
    calls_summary,
    control,
    emit,
    machine,
    peak_rss_mb,
    prefect_session,
    reset_stats,
    sandbox_process,
    stats,
    tenant_config,
    throughput_share,
    verdict,
)

HANDY_RATE = 500
WORLD = {"products": 300, "customers": 150}  # Gestionix sizes; Handy gets 150 products, 150 customers
ORDER_WORLD = {"products": 150, "customers": 150}


def ports_of(urls: Urls) -> set[int]:
    return {int(u.split(":")[2].split("/")[0]) for u in urls.both}


def _in_the_past(urls: Urls, seconds: float) -> None:
    """Move the sandbox clock (both servers share it) so what is made next is safely inside the
    window that ends "now" (the window end is truncated to the second)."""
    httpx.post(control(urls.handy) + "/clock", json={"advance_seconds": -seconds},
               timeout=30).raise_for_status()


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
            new = ctl.post(f"/orders/{order_id}/edit",
                           json={"sellerComment": f"editado en el ciclo {cycle}"}).raise_for_status()
            new_ids.append(new.json()["id"])
        for order_id in delete:
            ctl.delete(f"/orders/{order_id}").raise_for_status()
    return new_ids


async def _setup_tenant(slug: str, urls: Urls):
    from store import cursors

    await asave_blocks(slug, urls)
    start = datetime.now(UTC) - timedelta(minutes=2)
    cursors.set(slug, "orders", start)
    cursors.set(slug, "deletions", start)
    return tenant_config(slug)


async def run_window(args, timer: HttpTimer) -> dict:
    """One order_push run over --orders new orders."""
    from flows.orders import order_push
    from store import binder

    with sandbox_process(WORLD["products"], WORLD["customers"], setup={"order_world": ORDER_WORLD},
                         latency_ms=args.latency_ms,
                         handy_rate_limit_per_minute=args.handy_rate) as urls:
        timer.sandbox_ports |= ports_of(urls)
        slug = f"bench-window-{random.randrange(16**6):06x}"
        tenant = await _setup_tenant(slug, urls)
        _in_the_past(urls, 30)
        create_orders(urls, args.orders)
        _in_the_past(urls, -30)
        reset_stats(urls)
        timer.reset()
        started = time.perf_counter()
        summary = await order_push(tenant)
        wall = time.perf_counter() - started
        measured = timer.report(wall)
        calls = calls_summary(stats(urls.handy), stats(urls.gestionix))
        handy_writes_span = timer.write_span("handy")
        pushed = len(binder.all_for(slug, "order", status="pushed"))
    return {
        "orders": args.orders,
        "pushed": pushed,
        **measured,
        **{k: v for k, v in calls.items() if not k.endswith("_by_route")},
        "gestionix_calls_per_order": round(calls["gestionix_calls"] / max(pushed, 1), 3),
        "handy_calls_per_order": round(calls["handy_calls"] / max(pushed, 1), 3),
        "handy_write_throughput_share": throughput_share(
            calls["handy_writes"], handy_writes_span, args.handy_rate),
        "lower_bound_s": round(calls["handy_calls"] / (args.handy_rate / 60.0), 1),
        "cycle_share": round(wall / CYCLE_SECONDS, 3),
        "handy_by_route": calls["handy_by_route"],
        "gestionix_by_route": calls["gestionix_by_route"],
        "summary": summary[:200],
    }


async def run_cycles(args, timer: HttpTimer) -> dict:
    """--cycles scheduled cycles of order_push + deletion_sync with edits and deletions."""
    from flows.deletions import deletion_sync
    from flows.orders import order_push
    from store import binder

    rng = random.Random(5)
    cycles = []
    with sandbox_process(WORLD["products"], WORLD["customers"], setup={"order_world": ORDER_WORLD},
                         latency_ms=args.latency_ms,
                         handy_rate_limit_per_minute=args.handy_rate) as urls:
        timer.sandbox_ports |= ports_of(urls)
        slug = f"bench-cycles-{random.randrange(16**6):06x}"
        tenant = await _setup_tenant(slug, urls)
        previous: list[int] = []
        for cycle in range(args.cycles):
            _in_the_past(urls, 30)
            new = create_orders(urls, args.cycle_orders)
            touched = rng.sample(previous, min(len(previous), args.edits + args.deletions))
            edited, deleted = touched[: args.edits], touched[args.edits:]
            early = rng.sample(new, min(args.early_deletions, len(new)))
            new_versions = edit_and_delete(urls, edited, deleted + early, cycle)
            _in_the_past(urls, -30)
            reset_stats(urls)
            timer.reset()
            started = time.perf_counter()
            push_summary = await order_push(tenant)
            push_wall = time.perf_counter() - started
            deletion_summary = await deletion_sync(tenant)
            wall = time.perf_counter() - started
            calls = calls_summary(stats(urls.handy), stats(urls.gestionix))
            cycles.append({
                "cycle": cycle, "new_orders": len(new), "edited": len(edited),
                "deleted": len(deleted), "deleted_before_push": len(early),
                "changed": len(new) - len(early) + len(edited) + len(deleted) + len(edited) + len(early),
                "push_wall_s": round(push_wall, 2), "deletion_wall_s": round(wall - push_wall, 2),
                **timer.report(wall),
                **{k: v for k, v in calls.items() if not k.endswith("_by_route")},
                "push_summary": push_summary[:160], "deletion_summary": deletion_summary[:160],
            })
            live = set(new) - set(early)
            previous = [o for o in previous if o not in set(touched)] + sorted(live) + new_versions
        bindings = binder.all_for(slug, "order")
        documents = _count_documents(urls)
    status_counts: dict[str, int] = {}
    for binding in bindings:
        status_counts[binding.status] = status_counts.get(binding.status, 0) + 1
    total = {key: sum(c[key] for c in cycles) for key in (
        "new_orders", "edited", "deleted", "deleted_before_push", "changed", "handy_calls",
        "handy_writes", "gestionix_calls", "gestionix_writes", "handy_429")}
    walls = [c["wall_s"] for c in cycles]
    return {
        "cycles": len(cycles),
        **total,
        "total_wall_s": round(sum(walls), 1),
        "max_cycle_wall_s": max(walls),
        "mean_cycle_wall_s": round(sum(walls) / len(walls), 2),
        "max_cycle_share": round(max(walls) / CYCLE_SECONDS, 3),
        "overhead_s": round(sum(c["overhead_s"] for c in cycles), 1),
        "handy_calls_per_changed": round(total["handy_calls"] / max(total["changed"], 1), 3),
        "gestionix_calls_per_changed": round(total["gestionix_calls"] / max(total["changed"], 1), 3),
        "binding_statuses": status_counts,
        "gestionix_open_documents": documents,
        "per_cycle": cycles,
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
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--handy-rate", type=int, default=HANDY_RATE, help="Handy requests/minute")


async def bench_orders_async(args) -> dict:
    timer = HttpTimer(set()).install()
    report: dict = {"bench": "orders", "latency_ms": args.latency_ms,
                    "handy_rate_limit_per_minute": args.handy_rate}
    started = time.perf_counter()
    report["window"] = await run_window(args, timer)
    if args.cycles:
        report["cycles"] = await run_cycles(args, timer)
    report["peak_rss_mb"] = peak_rss_mb()
    w = report["window"]
    report["goals_met"] = {
        "window_within_half_cycle": w["wall_s"] <= CYCLE_SECONDS * GOALS["orders_cycle_share_max"]
        and w["pushed"] == args.orders,
    }
    if args.cycles:
        report["goals_met"]["cycles_within_half_cycle"] = (
            report["cycles"]["max_cycle_share"] <= GOALS["orders_cycle_share_max"])
    report["bench_seconds"] = round(time.perf_counter() - started, 1)
    return report


def orders_rows(report: dict) -> list[tuple[str, str]]:
    w = report["window"]
    rows = [
        (f"window: {w['orders']} orders", (
            f"{w['pushed']} pushed in {w['wall_s']} s = {w['cycle_share']:.0%} of the 10-min cycle "
            f"(Handy-rate floor {w['lower_bound_s']} s)")),
        ("window: calls", (
            f"Handy {w['handy_calls']} ({w['handy_calls_per_order']}/order, 429: {w['handy_429']}), "
            f"Gestionix {w['gestionix_calls']} ({w['gestionix_calls_per_order']}/order)")),
        ("window: Handy write throughput / limit", f"{w['handy_write_throughput_share']}"),
        ("window: overhead (wall - API busy)", f"{w['overhead_s']} s (API busy {w['api_busy_s']} s)"),
    ]
    if "cycles" in report:
        c = report["cycles"]
        rows += [
            (f"cycles: {c['cycles']} x {c['per_cycle'][0]['new_orders']} orders", (
                f"{c['total_wall_s']} s in all, worst cycle {c['max_cycle_wall_s']} s "
                f"({c['max_cycle_share']:.0%} of 10 min), mean {c['mean_cycle_wall_s']} s")),
            ("cycles: edits / deletions / early deletions",
             f"{c['edited']} / {c['deleted']} / {c['deleted_before_push']}"),
            ("cycles: calls", (
                f"Handy {c['handy_calls']} ({c['handy_calls_per_changed']}/changed order), "
                f"Gestionix {c['gestionix_calls']} ({c['gestionix_calls_per_changed']}/changed)")),
            ("cycles: bindings", json.dumps(c["binding_statuses"])),
            ("cycles: overhead (wall - API busy)", f"{c['overhead_s']} s"),
        ]
    rows.append(("peak RSS (bench process)", f"{report['peak_rss_mb']} MB"))
    for goal, ok in report["goals_met"].items():
        rows.append((f"goal {goal}", verdict(ok)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home, prefect_session(home):
        report = asyncio.run(bench_orders_async(args))
    report["machine"] = machine()
    emit(report, orders_rows(report))


if __name__ == "__main__":
    main()
