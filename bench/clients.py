"""Write throughput of HandyClient against a loopback sandbox with latency and a rate limit.

    .venv/bin/python -m bench.clients [--writes 2000] [--latency-ms 50] [--rate-limit 3000]
                                      [--concurrency 16] [--sequential 40]

Goal (issue 4): concurrent writes reach >= 90 % of the rate limit, where a sequential client
is bound by the round trip (~20 writes/s at 50 ms). Handy starts without products, so N products
are loaded straight into the sandbox's memory first (no HTTP); then the client sends
`PUT /product/{code} {"quantity": n}` writes, round-robin over them.

Prints one machine-readable JSON line, then a small table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from clients.handy import HandyClient
from sandbox.server import run_sandbox

PRODUCTS = 200


async def write_quantities(
    url: str, token: str, *, tenant: str, writes: int, rate: int, concurrency: int
) -> tuple[float, dict[str, int]]:
    """Seconds taken to send `writes` quantity updates, and the client's call counter."""
    async with HandyClient(
        url, token, tenant=tenant, rate_per_minute=rate, max_concurrency=concurrency
    ) as handy:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(writes):
            queue.put_nowait(n)

        async def worker() -> None:
            while True:
                try:
                    n = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await handy.update_product(f"BENCH-{n % PRODUCTS:04d}", {"quantity": n})

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, dict(handy.calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument(
        "--rate-limit", type=int, default=3000, help="per minute, sandbox and client"
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--sequential", type=int, default=40, help="writes of the sequential baseline (0: skip)"
    )
    parser.add_argument("--goal", type=float, default=0.9)
    args = parser.parse_args()

    with run_sandbox(
        products=10,
        customers=5,
        handy_latency_ms=args.latency_ms,
        handy_rate_limit_per_minute=args.rate_limit,
    ) as sb:
        family = sb.handy.create_family("Bench")
        for n in range(PRODUCTS):
            sb.handy.create_product(
                {
                    "code": f"BENCH-{n:04d}",
                    "description": f"Producto {n}",
                    "family": {"id": family["id"]},
                    "price": 10.0,
                    "quantity": 0,
                }
            )

        sequential_rps = None
        if args.sequential:
            seconds, _ = asyncio.run(
                write_quantities(
                    sb.handy_url,
                    sb.handy_token,
                    tenant="bench-seq",
                    writes=args.sequential,
                    rate=args.rate_limit,
                    concurrency=1,
                )
            )
            sequential_rps = args.sequential / seconds
            # Start the measured run in a fresh rate-limit window, for a fair count.
            time.sleep(60 - sb.clock.now() % 60 + 0.05)
        sb.reset_stats()

        seconds, calls = asyncio.run(
            write_quantities(
                sb.handy_url,
                sb.handy_token,
                tenant="bench",
                writes=args.writes,
                rate=args.rate_limit,
                concurrency=args.concurrency,
            )
        )
        statuses = sb.handy.stats.as_dict()["statuses"]

    limit_per_second = args.rate_limit / 60.0
    writes_per_second = args.writes / seconds
    ratio = writes_per_second / limit_per_second
    result = {
        "bench": "clients.handy.writes",
        "operation": "PUT /product/{code}",
        "writes": args.writes,
        "seconds": round(seconds, 3),
        "writes_per_second": round(writes_per_second, 2),
        "rate_limit_per_minute": args.rate_limit,
        "rate_limit_per_second": round(limit_per_second, 2),
        "ratio_of_limit": round(ratio, 3),
        "goal": args.goal,
        "ok": ratio >= args.goal,
        "latency_ms": args.latency_ms,
        "concurrency": args.concurrency,
        "http_requests": sum(calls.values()),
        "status_429": int(statuses.get("429", 0)),
        "sequential_writes_per_second": round(sequential_rps, 2) if sequential_rps else None,
    }
    print(json.dumps(result, sort_keys=True))
    rows = [
        ("writes", f"{args.writes}"),
        ("elapsed", f"{seconds:.2f} s"),
        ("throughput", f"{writes_per_second:.1f} writes/s"),
        ("rate limit", f"{limit_per_second:.1f} req/s ({args.rate_limit}/min)"),
        (
            "of the limit",
            f"{ratio:.1%} (goal {args.goal:.0%}) {'OK' if result['ok'] else 'BELOW GOAL'}",
        ),
        ("429 answers", f"{result['status_429']}"),
        ("sequential", f"{sequential_rps:.1f} writes/s" if sequential_rps else "skipped"),
        ("setup", f"latency {args.latency_ms} ms, concurrency {args.concurrency}, loopback"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


if __name__ == "__main__":
    main()
