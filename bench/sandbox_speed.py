"""How fast is the sandbox? Start time with N products and full paging of both catalogs over loopback.

    .venv/bin/python bench/sandbox_speed.py [--products 50000]

Handy starts without products (the integration creates them), so the Handy part first loads
N products straight into the in-memory state (no HTTP), then pages GET /product?max=100.
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx

from sandbox.server import run_sandbox


def page_handy(client: httpx.Client, url: str, token: str) -> tuple[int, int, list[float]]:
    seen, page, timings = 0, 1, []
    while True:
        started = time.perf_counter()
        response = client.get(
            f"{url}/product",
            params={"page": page, "max": 100},
            headers={"Authorization": f"Bearer {token}"},
        )
        timings.append(time.perf_counter() - started)
        body = response.json()
        seen += len(body["products"])
        if page >= body["pagination"]["totalPages"]:
            return seen, page, timings
        page += 1


def page_gestionix(
    client: httpx.Client, url: str, headers: dict, branch_id: int
) -> tuple[int, int, list[float]]:
    seen, page, timings = 0, 1, []
    while True:
        started = time.perf_counter()
        rows = client.get(
            f"{url}/products",
            params={"branch_id": branch_id, "page": page, "page_size": 500},
            headers=headers,
        ).json()
        timings.append(time.perf_counter() - started)
        seen += len(rows)
        if len(rows) < 500:
            return seen, page, timings
        page += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=50_000)
    args = parser.parse_args()

    started = time.perf_counter()
    with run_sandbox(products=args.products, customers=2_000, handy_rate_limit_per_minute=0) as sb:
        start_s = time.perf_counter() - started
        print(
            f"start: {start_s:.2f} s for {args.products} Gestionix products + 2000 clients (both servers up)"
        )

        family = sb.handy.create_family("Demo")
        load_started = time.perf_counter()
        for n in range(args.products):
            sb.handy.create_product(
                {
                    "code": f"P{n:06d}",
                    "description": f"Producto {n}",
                    "family": {"id": family["id"]},
                    "price": 10.0 + n % 50,
                    "tax": {"name": "IVA", "amount": 16.0},
                }
            )
        print(
            f"in-process load of {args.products} Handy products: {time.perf_counter() - load_started:.2f} s"
        )

        with httpx.Client(timeout=30) as client:
            t0 = time.perf_counter()
            seen, pages, timings = page_handy(client, sb.handy_url, sb.handy_token)
            total = time.perf_counter() - t0
            print(
                f"Handy GET /product max=100: {seen} products, {pages} pages in {total:.2f} s "
                f"(median {statistics.median(timings) * 1000:.1f} ms/page, "
                f"p95 {sorted(timings)[int(len(timings) * 0.95)] * 1000:.1f} ms)"
            )

            token = client.post(
                f"{sb.gestionix_url}/users/authentication",
                json={"user": sb.gestionix_user, "password": sb.gestionix_password},
            ).json()
            headers = {
                "Authorization": f"Bearer {token['access_token']}",
                "Company": str(sb.company_id),
            }
            t0 = time.perf_counter()
            seen, pages, timings = page_gestionix(client, sb.gestionix_url, headers, 310)
            total = time.perf_counter() - t0
            print(
                f"Gestionix GET /products page_size=500: {seen} products, {pages} pages in {total:.2f} s "
                f"(median {statistics.median(timings) * 1000:.1f} ms/page)"
            )

            t0 = time.perf_counter()
            for n in range(500):
                client.put(
                    f"{sb.handy_url}/product/P{n:06d}",
                    json={"quantity": n},
                    headers={"Authorization": f"Bearer {sb.handy_token}"},
                )
            print(
                f"Handy PUT /product/{{code}}: 500 sequential writes in {time.perf_counter() - t0:.2f} s"
            )
        stop_started = time.perf_counter()
    print(f"shutdown: {time.perf_counter() - stop_started:.2f} s")


if __name__ == "__main__":
    main()
