"""Many tenants in one sandbox process: each tenant gets its own Handy account and Gestionix
world (own data, counters, rate limit), mounted under `/<slug>` on one Handy server and one
Gestionix server. A tenant's base URLs are `http://host:port/<slug>/api/v2` (Handy) and
`http://host:port/<slug>/api/v3` (Gestionix), with the demo credentials; its control surface is
`/<slug>/_sandbox/...`.

    python -m sandbox.fleet '{"tenants": ["t000", "t001"], "products": 20, "customers": 5,
                              "handy_port": 8701, "gestionix_port": 8702, "knobs": {}}'

prints "ready" once both servers answer, then serves until terminated.
"""

from __future__ import annotations

import json
import sys
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount

from sandbox import gestionix as gx_module
from sandbox import handy as handy_module
from sandbox.common import Clock
from sandbox.data import World, generate_world
from sandbox.handy import DEFAULT_TIMEZONE
from sandbox.server import _BackgroundServer, split_knobs


@dataclass
class Fleet:
    worlds: dict[str, World]
    handy_base: str = ""
    gestionix_base: str = ""

    def handy_url(self, slug: str) -> str:
        return f"{self.handy_base}/{slug}{handy_module.API_PREFIX}"

    def gestionix_url(self, slug: str) -> str:
        return f"{self.gestionix_base}/{slug}{gx_module.API_PREFIX}"


def build_fleet(
    tenants: Iterable[str],
    products: int = 20,
    customers: int = 5,
    *,
    handy_timezone: str = DEFAULT_TIMEZONE,
    **knobs: Any,
) -> tuple[Fleet, Starlette, Starlette]:
    """One world per tenant (seeded from its slug, so tenants differ), and the two apps that
    route `/<slug>/...` to that tenant's Handy or Gestionix."""
    handy_knobs, gestionix_knobs = split_knobs(knobs)
    clock = Clock()
    worlds, handy_routes, gestionix_routes = {}, [], []
    for slug in tenants:
        world = generate_world(
            seed=zlib.crc32(slug.encode()),
            products=products,
            customers=customers,
            second_company_products=0,
            second_company_customers=0,
            clock=clock,
            handy_knobs=handy_knobs,
            gestionix_knobs=gestionix_knobs,
            handy_timezone=handy_timezone,
        )
        worlds[slug] = world
        handy_routes.append(Mount(f"/{slug}", app=handy_module.create_app(world.handy)))
        gestionix_routes.append(Mount(f"/{slug}", app=gx_module.create_app(world.gestionix)))
    return Fleet(worlds), Starlette(routes=handy_routes), Starlette(routes=gestionix_routes)


@contextmanager
def run_fleet(
    tenants: Iterable[str],
    products: int = 20,
    customers: int = 5,
    host: str = "127.0.0.1",
    handy_port: int = 0,
    gestionix_port: int = 0,
    *,
    log_level: str = "critical",
    **knobs: Any,
) -> Iterator[Fleet]:
    """Serve every tenant's two systems on loopback for the duration of the block."""
    fleet, handy_app, gestionix_app = build_fleet(tenants, products, customers, **knobs)
    servers = [
        _BackgroundServer(handy_app, host, handy_port, log_level, "Handy"),
        _BackgroundServer(gestionix_app, host, gestionix_port, log_level, "Gestionix"),
    ]
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_started()
        fleet.handy_base = f"http://{host}:{servers[0].port}"
        fleet.gestionix_base = f"http://{host}:{servers[1].port}"
        yield fleet
    finally:
        for server in servers:
            server.stop()


def main() -> None:
    config = json.loads(sys.argv[1])
    with run_fleet(
        config["tenants"],
        config.get("products", 20),
        config.get("customers", 5),
        handy_port=config["handy_port"],
        gestionix_port=config["gestionix_port"],
        **config.get("knobs", {}),
    ):
        print("ready", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
