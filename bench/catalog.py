"""catalog_pull at scale against a loopback sandbox with latency and a Handy rate limit.

    .venv/bin/python -m bench.catalog [--initial 10000] [--resync 50000] [--changed 0.01]
                                      [--latency-ms 50] [--rate-limit 3000]

Phases (issue 5):
  initial  a Handy account without products; catalog_pull creates --initial products (plus their
           families) at --rate-limit/min with --latency-ms on every API call of both systems.
  prepare  a --resync-product world loaded once at full speed (no latency, no limit) by the same
           flow, so the bindings are real ones; not measured.
  noop     the same world at --latency-ms / --rate-limit: nothing changed, nothing to write.
  resync   --changed of the for-sale products get a new Gestionix price; the flow writes them.

Measured: Handy calls per changed product (goal <= 1.05), write throughput as a share of the rate
limit (first to last product write; goal >= 0.9), no-op wall time, and peak RSS of the process
that ran the flow at --resync products (goal <= 400 MB, resource.getrusage ru_maxrss).

How it runs: one temporary Prefect server (prefect.testing.utilities.prefect_test_harness) and
one temporary HGSYNC_HOME (SQLite store) for the whole bench; each sandbox world runs in its own
process (`sandbox.server.serve`, driven through its /_sandbox control surface), and each phase runs
the flow in a fresh child process (PREFECT_API_URL = the harness server), so the RSS measured is
the flow's own, not the sandbox's or the Prefect server's. The client's Handy limiter is created
at --rate-limit before the flow starts (it is per tenant and event loop; the tenant parameters
carry no rate). Prints one JSON line, then a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Any

import httpx

GOALS = {"calls_per_changed": 1.05, "throughput_share": 0.9, "peak_rss_mb": 400}
SLUG = "bench"
TOKEN, USER, PASSWORD, COMPANY, BRANCH = (
    "demo-handy-token", "demo@example.mx", "demo-password", 92, "Matriz",
)


# ----------------------------------------------------------------------------- child: one flow run


def _child(phase: str, handy_url: str, gestionix_url: str, rate: float) -> None:
    """Run catalog_pull once and print what it measured (a JSON line)."""
    from clients.handy import HandyClient
    from clients.ratelimit import shared_limiter
    from flows.catalog import catalog_pull
    from mappings.tenant import TenantConfig

    tenant = TenantConfig(slug=SLUG, gestionix_branch=BRANCH, gestionix_company=COMPANY,
                          handy_credentials=f"{SLUG}-handy", gestionix_credentials=f"{SLUG}-gestionix")
    first_write: list[float] = []
    last_write = [0.0]

    def timed(method):
        async def wrapper(self, *args, **kwargs):
            if not first_write:
                first_write.append(time.perf_counter())
            try:
                return await method(self, *args, **kwargs)
            finally:
                last_write[0] = time.perf_counter()
        return wrapper

    HandyClient.create_product = timed(HandyClient.create_product)
    HandyClient.update_product = timed(HandyClient.update_product)

    async def run() -> str:
        shared_limiter(SLUG, "handy", rate)
        return await catalog_pull(tenant)

    started = time.perf_counter()
    summary = asyncio.run(run())
    wall = time.perf_counter() - started
    stats = httpx.get(_control(handy_url) + "/stats").json()
    write_seconds = (last_write[0] - first_write[0]) if first_write else 0.0
    print("RESULT " + json.dumps({
        "phase": phase,
        "wall_s": round(wall, 2),
        "write_s": round(write_seconds, 2),
        "handy_calls": stats["total"],
        "handy_writes": stats["writes"],
        "handy_reads": stats["reads"],
        "statuses": stats["statuses"],
        "calls": stats["calls"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "summary": summary[:300],
    }), flush=True)


# ----------------------------------------------------------------------------- parent


def _control(api_url: str) -> str:
    return api_url.rsplit("/api/", 1)[0] + "/_sandbox"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def sandbox_process(products: int, **knobs: Any):
    """A sandbox world in its own process; yields (handy_url, gestionix_url)."""
    handy_port, gestionix_port = _free_port(), _free_port()
    code = (
        "from sandbox.server import serve; "
        f"serve(products={products}, customers=5, handy_port={handy_port}, "
        f"gestionix_port={gestionix_port}, log_level='critical', **{knobs!r})"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("ready"):
                break
        else:
            raise RuntimeError("sandbox did not start")
        yield (f"http://127.0.0.1:{handy_port}/api/v2", f"http://127.0.0.1:{gestionix_port}/api/v3")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_phase(phase: str, urls: tuple[str, str], rate: float, env: dict[str, str]) -> dict:
    handy_url, gestionix_url = urls
    httpx.post(_control(handy_url) + "/stats/reset")
    httpx.post(_control(gestionix_url) + "/stats/reset")
    out = subprocess.run(
        [sys.executable, "-m", "bench.catalog", "--child", phase, handy_url, gestionix_url, str(rate)],
        env=env, capture_output=True, text=True, check=False,
    )
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"phase {phase} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")


def save_blocks(urls: tuple[str, str]) -> None:
    from clients.credentials import GestionixCredentials, HandyCredentials

    HandyCredentials(base_url=urls[0], api_token=TOKEN).save(f"{SLUG}-handy", overwrite=True)
    GestionixCredentials(base_url=urls[1], user=USER, password=PASSWORD).save(
        f"{SLUG}-gestionix", overwrite=True
    )


def change_prices(gestionix_url: str, share: float) -> int:
    """Give `share` of the branch's syncable products a new pre-tax price; returns how many."""
    state = httpx.get(_control(gestionix_url) + "/state", params={"only": "products"}, timeout=120).json()
    products = state["companies"][str(COMPANY)]["products"]
    products = products.values() if isinstance(products, dict) else products
    syncable = [
        p for p in products
        if p["for_sale"] and p["active"] and p["key"] and "/" not in p["key"] and p["key"] == p["key"].strip()
    ]
    picked = syncable[:: max(1, round(1 / share))][: round(len(syncable) * share)]
    with httpx.Client(base_url=_control(gestionix_url), timeout=30) as control:
        for product in picked:
            control.patch(f"/products/{product['product_id']}",
                          json={"price": round(product["price"] * 1.1 + 0.01, 4)}).raise_for_status()
    return len(picked)


def set_knobs(urls: tuple[str, str], latency_ms: int, rate: int) -> None:
    httpx.put(_control(urls[0]) + "/knobs", json={"latency_ms": latency_ms, "rate_limit_per_minute": rate})
    httpx.put(_control(urls[1]) + "/knobs", json={"latency_ms": latency_ms})


def share_of_limit(result: dict, rate: float) -> float | None:
    writes = result["handy_writes"]
    if not result["write_s"] or writes < 2:
        return None
    return round(writes / result["write_s"] / (rate / 60.0), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--initial", type=int, default=10_000)
    parser.add_argument("--resync", type=int, default=50_000)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--rate-limit", type=int, default=3000)
    parser.add_argument("--child", nargs=4, metavar=("PHASE", "HANDY", "GESTIONIX", "RATE"))
    args = parser.parse_args()
    if args.child:
        phase, handy_url, gestionix_url, rate = args.child
        _child(phase, handy_url, gestionix_url, float(rate))
        return

    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as home, prefect_test_harness(server_startup_timeout=120):
        env = {**os.environ, "HGSYNC_HOME": home, "PREFECT_API_URL": str(PREFECT_API_URL.value()),
               "PREFECT_LOGGING_LEVEL": "WARNING", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        os.environ["HGSYNC_HOME"] = home
        lat, rate = args.latency_ms, args.rate_limit

        # 1. initial load of --initial products (fresh Handy, fresh bindings)
        env_initial = {**env, "HGSYNC_HOME": os.path.join(home, "initial")}
        with sandbox_process(args.initial, latency_ms=lat, handy_rate_limit_per_minute=rate) as urls:
            save_blocks(urls)
            results["initial"] = run_phase("initial", urls, rate, env_initial)

        # 2. --resync products: prepared at full speed, then no-op and 1 % resyncs measured
        env_big = {**env, "HGSYNC_HOME": os.path.join(home, "resync")}
        with sandbox_process(args.resync, latency_ms=0, handy_rate_limit_per_minute=0) as urls:
            save_blocks(urls)
            results["prepare"] = run_phase("prepare", urls, 1_000_000, env_big)
            set_knobs(urls, lat, rate)
            results["noop"] = run_phase("noop", urls, rate, env_big)
            changed = change_prices(urls[1], args.changed)
            results["resync"] = run_phase("resync", urls, rate, env_big)
            results["resync"]["changed"] = changed

    initial, noop, resync = results["initial"], results["noop"], results["resync"]
    created = int(initial["calls"].get("POST /product", 0))
    report = {
        "bench": "catalog_pull",
        "latency_ms": lat,
        "rate_limit_per_minute": rate,
        "initial_products": args.initial,
        "initial_created": created,
        "initial_wall_s": initial["wall_s"],
        "initial_calls_per_changed": round(initial["handy_calls"] / max(created, 1), 4),
        "initial_throughput_share": share_of_limit(initial, rate),
        "prepare_wall_s": results["prepare"]["wall_s"],
        "resync_products": args.resync,
        "noop_wall_s": noop["wall_s"],
        "noop_handy_calls": noop["calls"],
        "noop_handy_writes": noop["handy_writes"],
        "resync_changed": resync["changed"],
        "resync_wall_s": resync["wall_s"],
        "resync_calls_per_changed": round(resync["handy_calls"] / max(resync["changed"], 1), 4),
        "resync_throughput_share": share_of_limit(resync, rate),
        "peak_rss_mb": {k: v["peak_rss_mb"] for k, v in results.items()},
        "statuses_429": {k: v["statuses"].get("429", 0) for k, v in results.items()},
        "goals": GOALS,
    }
    print(json.dumps(report))
    rows = [
        ("initial load: products created", f"{created} of {args.initial} in {initial['wall_s']} s"),
        ("initial load: Handy calls per created product", f"{report['initial_calls_per_changed']} (goal <= 1.05)"),
        ("initial load: write throughput / rate limit", f"{report['initial_throughput_share']} (goal >= 0.9)"),
        (f"no-op resync of {args.resync}: wall time", f"{noop['wall_s']} s, Handy calls {noop['calls']}"),
        (f"resync with {resync['changed']} changed: wall time", f"{resync['wall_s']} s"),
        ("resync: Handy calls per changed product", f"{report['resync_calls_per_changed']} (goal <= 1.05)"),
        ("resync: write throughput / rate limit", f"{report['resync_throughput_share']}"),
        (f"peak RSS at {args.resync} (no-op / resync / prepare)",
         f"{noop['peak_rss_mb']} / {resync['peak_rss_mb']} / {results['prepare']['peak_rss_mb']} MB (goal <= 400)"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
