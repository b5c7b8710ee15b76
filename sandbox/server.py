"""Run both sandbox apps: in-process (ASGI transports) or on loopback (uvicorn in background threads).

    with run_sandbox(products=500, handy_latency_ms=20) as sb:
        HandyClient(sb.handy_url, sb.handy_token, ...)

Knob keyword arguments: `handy_<knob>` or `gestionix_<knob>` for one server; a bare `<knob>`
goes to every server that has it (e.g. `fail_rate=0.05` on both, `token_lifetime_seconds` on
Gestionix only).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any

import httpx
import uvicorn

from sandbox import gestionix as gx_module
from sandbox import handy as handy_module
from sandbox.common import CONTROL_PREFIX, Clock
from sandbox.data import MAIN_BRANCH, generate_world
from sandbox.gestionix import (
    DEMO_COMPANY_ID,
    DEMO_PASSWORD,
    DEMO_USER,
    GestionixKnobs,
    GestionixState,
)
from sandbox.handy import DEFAULT_TIMEZONE, DEMO_TOKEN, HandyKnobs, HandyState

HANDY_KNOBS = {f.name for f in fields(HandyKnobs)}
GESTIONIX_KNOBS = {f.name for f in fields(GestionixKnobs)}


def split_knobs(knobs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Route knob kwargs to (handy, gestionix). Unknown names raise KeyError naming them."""
    handy: dict[str, Any] = {}
    gestionix: dict[str, Any] = {}
    for name, value in knobs.items():
        if name.startswith("handy_") and name[6:] in HANDY_KNOBS:
            handy[name[6:]] = value
        elif name.startswith("gestionix_") and name[10:] in GESTIONIX_KNOBS:
            gestionix[name[10:]] = value
        elif name in HANDY_KNOBS or name in GESTIONIX_KNOBS:
            if name in HANDY_KNOBS:
                handy[name] = value
            if name in GESTIONIX_KNOBS:
                gestionix[name] = value
        else:
            raise KeyError(
                f"unknown sandbox knob {name!r}; known: handy_/gestionix_ + {sorted(GESTIONIX_KNOBS)}"
            )
    return handy, gestionix


@dataclass
class Sandbox:
    """What a test or the demo needs to talk to (and inspect) both stand-ins."""

    handy_url: str
    gestionix_url: str
    handy: HandyState
    gestionix: GestionixState
    clock: Clock
    handy_app: Any
    gestionix_app: Any
    handy_token: str = field(default=DEMO_TOKEN, repr=False)
    gestionix_user: str = DEMO_USER
    gestionix_password: str = field(default=DEMO_PASSWORD, repr=False)
    company_id: int = DEMO_COMPANY_ID
    branch_name: str = MAIN_BRANCH

    def set_handy_knobs(self, **knobs: Any) -> None:
        self.handy.knobs.update(knobs)

    def set_gestionix_knobs(self, **knobs: Any) -> None:
        self.gestionix.knobs.update(knobs)

    def set_knobs(self, **knobs: Any) -> None:
        """Same naming as run_sandbox: handy_x / gestionix_x / bare x for every server that has it."""
        handy, gestionix = split_knobs(knobs)
        self.handy.knobs.update(handy)
        self.gestionix.knobs.update(gestionix)

    def reset(self) -> None:
        """Back to the generated world on both servers (knobs kept, counters cleared)."""
        self.handy.reset()
        self.gestionix.reset()

    def reset_knobs(self) -> None:
        """Both servers' knobs back to their start values (as POST /_sandbox/knobs/reset)."""
        self.handy.knobs.update(self.handy.initial_knobs)
        self.gestionix.knobs.update(self.gestionix.initial_knobs)

    def reset_stats(self) -> None:
        self.handy.stats.reset()
        self.gestionix.stats.reset()

    def wait_documents_created(self, count: int, timeout: float) -> int:
        """Block until Gestionix has created `count` documents through its API, asking the
        running server (GET /_sandbox/documents_created long-polls); returns how many it has
        (fewer after `timeout` seconds)."""
        control = self.gestionix_url.removesuffix(gx_module.API_PREFIX) + CONTROL_PREFIX
        response = httpx.get(
            f"{control}/documents_created",
            params={"at_least": count, "timeout": timeout},
            timeout=timeout + 10,
        )
        response.raise_for_status()
        return int(response.json()["created"])

    def handy_transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.handy_app)

    def gestionix_transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.gestionix_app)


def build_sandbox(
    seed: int = 7,
    products: int = 200,
    customers: int = 60,
    *,
    orders: int = 0,
    clock: Clock | None = None,
    handy_base: str = "http://handy.sandbox",
    gestionix_base: str = "http://gestionix.sandbox",
    handy_timezone: str = DEFAULT_TIMEZONE,
    **knobs: Any,
) -> Sandbox:
    """Both apps in-process, no sockets: use `sb.handy_transport()` / `sb.gestionix_transport()`.
    `handy_timezone` is the Handy account's zone (how `start`/`end` query bounds are read)."""
    handy_knobs, gestionix_knobs = split_knobs(knobs)
    clock = clock or Clock()
    world = generate_world(
        seed=seed,
        products=products,
        customers=customers,
        orders=orders,
        clock=clock,
        handy_knobs=handy_knobs,
        gestionix_knobs=gestionix_knobs,
        handy_timezone=handy_timezone,
    )
    return Sandbox(
        handy_url=handy_base + handy_module.API_PREFIX,
        gestionix_url=gestionix_base + gx_module.API_PREFIX,
        handy=world.handy,
        gestionix=world.gestionix,
        clock=clock,
        handy_app=handy_module.create_app(world.handy),
        gestionix_app=gx_module.create_app(world.gestionix),
    )


class PortBusy(Exception):
    """A port asked for is taken; the message names it and the option that picks another."""


class _BackgroundServer:
    def __init__(
        self, app: Any, host: str, port: int, log_level: str, name: str = "sandbox"
    ) -> None:
        self.sock = socket.socket(
            socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM
        )
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit this; without it small responses (headers and body are two
        # writes) wait ~40 ms for the client's delayed ACK (measured: 45 ms -> 0.5 ms per call).
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.sock.bind((host, port))
        except OSError as error:
            self.sock.close()
            raise PortBusy(
                f"{name} sandbox: port {port} on {host} is in use ({error.strerror}); "
                f"stop what holds it or pass --{name.lower()}-port N (0 = any free port)"
            ) from None
        self.port = self.sock.getsockname()[1]
        # date_header=False: the apps stamp `Date` from their own (injectable, maybe skewed) clock.
        config = uvicorn.Config(
            app,
            log_level=log_level,
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=1,
            date_header=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.sock]},
            name=f"sandbox-{self.port}",
            daemon=True,
        )

    def start(self) -> None:
        self.thread.start()

    def wait_started(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError(f"sandbox server on port {self.port} died while starting")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"sandbox server on port {self.port} did not start in {timeout} s"
                )
            time.sleep(0.005)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.sock.close()


@contextmanager
def run_sandbox(
    seed: int = 7,
    products: int = 200,
    customers: int = 60,
    host: str = "127.0.0.1",
    handy_port: int = 0,
    gestionix_port: int = 0,
    *,
    orders: int = 0,
    clock: Clock | None = None,
    log_level: str = "critical",
    handy_timezone: str = DEFAULT_TIMEZONE,
    **knobs: Any,
) -> Iterator[Sandbox]:
    """Serve both apps on loopback (port 0 = a free port) for the duration of the block."""
    sb = build_sandbox(
        seed,
        products,
        customers,
        orders=orders,
        clock=clock,
        handy_timezone=handy_timezone,
        **knobs,
    )
    servers = [_BackgroundServer(sb.handy_app, host, handy_port, log_level, "Handy")]
    try:
        servers.append(
            _BackgroundServer(sb.gestionix_app, host, gestionix_port, log_level, "Gestionix")
        )
        for server in servers:
            server.start()
        for server in servers:
            server.wait_started()
        url_host = f"[{host}]" if ":" in host else host
        sb.handy_url = f"http://{url_host}:{servers[0].port}{handy_module.API_PREFIX}"
        sb.gestionix_url = f"http://{url_host}:{servers[1].port}{gx_module.API_PREFIX}"
        yield sb
    finally:
        for server in servers:
            if server.thread.is_alive():
                server.stop()
            else:
                server.sock.close()


def describe(sb: Sandbox) -> str:
    return "\n".join(
        [
            f"Handy v2      {sb.handy_url}",
            f"  token       {sb.handy_token}",
            f"  control     {sb.handy_url.rsplit('/api/', 1)[0]}/_sandbox/stats",
            f"Gestionix v3  {sb.gestionix_url}",
            f"  user        {sb.gestionix_user}",
            f"  password    {sb.gestionix_password}",
            f"  company     {sb.company_id}   branch: {sb.branch_name!r} (also 'Sucursal Norte'; company 118 for isolation)",
            f"  control     {sb.gestionix_url.rsplit('/api/', 1)[0]}/_sandbox/stats",
        ]
    )


def serve(
    seed: int = 7,
    products: int = 200,
    customers: int = 60,
    host: str = "127.0.0.1",
    handy_port: int = 8701,
    gestionix_port: int = 8702,
    *,
    orders: int = 0,
    log_level: str = "warning",
    handy_timezone: str = DEFAULT_TIMEZONE,
    on_ready: Any = None,
    **knobs: Any,
) -> None:
    """Blocking: serve both apps until Ctrl-C, after printing URLs and demo credentials.
    `on_ready(sb)` runs once both answer (e.g. to save the demo tenant's credential blocks)."""
    started = time.perf_counter()
    with run_sandbox(
        seed,
        products,
        customers,
        host,
        handy_port,
        gestionix_port,
        orders=orders,
        log_level=log_level,
        handy_timezone=handy_timezone,
        **knobs,
    ) as sb:
        print(describe(sb))
        if on_ready is not None:
            on_ready(sb)
        print(
            f"ready in {time.perf_counter() - started:.2f} s ({products} products, {customers} customers)."
            " Ctrl-C to stop.",
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopping sandbox", flush=True)
