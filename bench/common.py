"""What every benchmark shares: a sandbox world in its own process, its call counters and
knobs, the timing of HTTP calls (for the Prefect-overhead figure), peak RSS, the Prefect test
server, and the one-JSON-line-plus-table output.

How "Prefect overhead" is measured (HttpTimer): in the process that runs the flow, every
`clients._http.HttpCore.request` call (one client call to Handy or Gestionix: rate-limiter wait,
retries and the HTTP exchange with its body read) is timed, and so is every
`httpx.AsyncClient.send` to a sandbox port (the HTTP exchange alone). Calls overlap (the flows
run them concurrently), so the figures are the *union* of those intervals: the time during which
at least one call was in flight. Then

    api_busy_s       = union of client-call intervals (limiter waits included)
    http_busy_s      = union of HTTP exchanges with the sandbox (limiter waits excluded)
    overhead_s       = flow wall time - api_busy_s

overhead_s is the wall time during which the run was neither talking to an API nor waiting for
its rate limit: Prefect (task runs, state changes, its API calls), the SQLite store, mapping and
planning. Calls to the Prefect server (another port) are timed separately as prefect_api_s.

How event-loop CPU is measured (LoopCpu): asyncio runs every callback of a loop through
`asyncio.events.Handle._run`; it is wrapped to read `time.thread_time()` (CPU of the calling
thread only, so other threads and waiting for the GIL are not counted) before and after each
callback, per thread. A callback that is a task step is "in an API call" for the part of it that
runs inside `HttpCore.request` (the same wrapper as HttpTimer marks entry and exit with
thread_time), the rest of the step is CPU outside API calls: Prefect's task machinery, store calls
made on the loop, mapping and planning. Callbacks that are not task steps (transport callbacks:
socket reads of both the sandbox and the Prefect server) are reported apart as io_callbacks_cpu_s.

How peak RSS is measured: VmHWM of /proc/<pid>/status of the process that ran the flow (its own
high-water mark, reset on exec; ru_maxrss of a subprocess child would include the peak of the
parent it was forked from).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

TOKEN, USER, PASSWORD, COMPANY, BRANCH = (
    "demo-handy-token",
    "demo@example.mx",
    "demo-password",
    92,
    "Matriz",
)
CYCLE_SECONDS = 600  # the order flows' schedule (S2)

HANDY_RATE = 500  # Handy's documented limit, requests/minute: every bench runs at it
GOALS = {
    "throughput_share_min": 0.9,
    "handy_calls_per_changed_product_max": 1.05,
    "noop_writes": 0,
    "orders_cycle_share_max": 0.5,
    "orders_over_floor_max": 1.05,  # issue 20: order_push wall / Handy-rate floor
    "loop_cpu_outside_api_s_max": 2.0,  # issue 20: event-loop CPU outside API calls, 2 000 orders
    "noop_over_reads_alone_max": 1.2,  # issue 20: no-op wall / paced Gestionix reads alone
    "peak_rss_mb_max": 400,
}


# ----------------------------------------------------------------------------- sandbox process


def control(api_url: str) -> str:
    """The /_sandbox control surface of the server behind an API base URL."""
    return api_url.rsplit("/api/", 1)[0] + "/_sandbox"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Urls:
    handy: str
    gestionix: str

    @property
    def both(self) -> tuple[str, str]:
        return self.handy, self.gestionix


@contextmanager
def sandbox_process(
    products: int, customers: int = 5, *, setup: dict | None = None, **knobs: Any
) -> Iterator[Urls]:
    """A sandbox world in its own process (bench.sandbox_server), so the flow's process and its
    RSS are its own and the servers do not share its GIL. `setup` is applied in that process
    before it serves (see bench.sandbox_server)."""
    config = {
        "products": products,
        "customers": customers,
        "handy_port": free_port(),
        "gestionix_port": free_port(),
        "knobs": knobs,
        "setup": setup or {},
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.sandbox_server", json.dumps(config)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("ready"):
                break
        else:
            raise RuntimeError("sandbox process did not start")
        yield Urls(
            f"http://127.0.0.1:{config['handy_port']}/api/v2",
            f"http://127.0.0.1:{config['gestionix_port']}/api/v3",
        )
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def stats(api_url: str) -> dict:
    return httpx.get(control(api_url) + "/stats", timeout=30).json()


def reset_stats(urls: Urls) -> None:
    """Before each measured run: zero the call counters and start a fresh rate-limit window.
    The sandbox counts requests per calendar minute for the whole account, so without the reset
    a run would inherit what the previous run (often a naive script bursting) used of its minute,
    wait for the next one, and have that wait counted against its own throughput."""
    for url in urls.both:
        httpx.post(control(url) + "/stats/reset", timeout=30).raise_for_status()
        httpx.post(control(url) + "/ratelimit/reset", timeout=30).raise_for_status()


def set_knobs(urls: Urls, *, latency_ms: int, handy_rate: int | None) -> None:
    httpx.put(
        control(urls.handy) + "/knobs",
        json={"latency_ms": latency_ms, "rate_limit_per_minute": handy_rate or 0},
        timeout=30,
    ).raise_for_status()
    httpx.put(
        control(urls.gestionix) + "/knobs", json={"latency_ms": latency_ms}, timeout=30
    ).raise_for_status()


def calls_summary(handy: dict, gestionix: dict) -> dict:
    """The sandbox counters of one measured step, both systems."""
    return {
        "handy_calls": handy["total"],
        "handy_reads": handy["reads"],
        "handy_writes": handy["writes"],
        "handy_429": int(handy["statuses"].get("429", 0)),
        "gestionix_calls": gestionix["total"],
        "gestionix_reads": gestionix["reads"],
        "gestionix_writes": gestionix["writes"],
        "handy_by_route": handy["calls"],
        "gestionix_by_route": gestionix["calls"],
    }


# ----------------------------------------------------------------------------- timing


def union_seconds(intervals: list[tuple[float, float]]) -> float:
    """Total length covered by possibly overlapping [start, end) intervals."""
    total, cur_start, cur_end = 0.0, None, None
    for start, end in sorted(intervals):
        if cur_end is None or start > cur_end:
            if cur_end is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        elif end > cur_end:
            cur_end = end
    if cur_end is not None:
        total += cur_end - cur_start
    return total


class HttpTimer:
    """Records client-call and HTTP intervals in this process (see the module docstring).
    Install once, before the flow runs; `window()` brackets one measured run."""

    def __init__(
        self, sandbox_ports: set[int], writes_of: dict[str, set[str]] | None = None
    ) -> None:
        self.sandbox_ports = set(sandbox_ports)
        self.client_calls: list[tuple[float, float]] = []
        self.http_calls: list[tuple[float, float]] = []
        self.prefect_calls: list[tuple[float, float]] = []
        self.write_times: dict[str, list[float]] = {"handy": [], "gestionix": []}

    def install(self) -> HttpTimer:
        from clients._http import HttpCore

        timer = self
        original_request = HttpCore.request
        original_send = httpx.AsyncClient.send

        async def timed_request(core, method, template, *args, **kwargs):
            started = time.perf_counter()
            LoopCpu.enter_api()
            try:
                return await original_request(core, method, template, *args, **kwargs)
            finally:
                LoopCpu.leave_api()
                ended = time.perf_counter()
                timer.client_calls.append((started, ended))
                if method in ("POST", "PUT", "PATCH", "DELETE"):
                    timer.write_times.setdefault(core.system, []).append(ended)

        async def timed_send(client, request, *args, **kwargs):
            started = time.perf_counter()
            try:
                return await original_send(client, request, *args, **kwargs)
            finally:
                port = urlsplit(str(request.url)).port
                bucket = timer.http_calls if port in timer.sandbox_ports else timer.prefect_calls
                bucket.append((started, time.perf_counter()))

        HttpCore.request = timed_request
        httpx.AsyncClient.send = timed_send
        return self

    def reset(self) -> None:
        self.client_calls.clear()
        self.http_calls.clear()
        self.prefect_calls.clear()
        for times in self.write_times.values():
            times.clear()

    def report(self, wall: float) -> dict:
        api = union_seconds(self.client_calls)
        return {
            "wall_s": round(wall, 2),
            "api_busy_s": round(api, 2),
            "http_busy_s": round(union_seconds(self.http_calls), 2),
            "prefect_api_s": round(union_seconds(self.prefect_calls), 2),
            "overhead_s": round(max(wall - api, 0.0), 2),
            "overhead_share": round(max(wall - api, 0.0) / wall, 3) if wall else None,
        }

    def write_span(self, system: str) -> float:
        """Seconds from the first to the last write answered (for write throughput)."""
        times = self.write_times.get(system) or []
        return (max(times) - min(times)) if len(times) >= 2 else 0.0

    def write_max_gap(self, system: str) -> float:
        """The longest wait between two consecutive writes answered (a pause shows here)."""
        times = sorted(self.write_times.get(system) or [])
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


def throughput_share(writes: int, seconds: float, rate_per_minute: float) -> float | None:
    """Achieved writes/s over the rate limit's requests/s (first to last write: n-1 intervals)."""
    if writes < 2 or seconds <= 0 or not rate_per_minute:
        return None
    return round((writes - 1) / seconds / (rate_per_minute / 60.0), 3)


def peak_rss_mb(pid: int | str = "self") -> float:
    """VmHWM (peak resident set) of a process, from /proc/<pid>/status, in MB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


class StoreCalls:
    """SQL statements our store runs, split by where they ran: on a thread with a running event
    loop (they block the loop) or off it (asyncio.to_thread workers, sync code). A SQLAlchemy
    `before_cursor_execute` listener on every Engine of this process (the store's; Prefect's
    client uses HTTP, not SQL)."""

    def __init__(self) -> None:
        self.on_loop = 0
        self.off_loop = 0

    def install(self) -> StoreCalls:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "before_cursor_execute", self._count)
        return self

    def uninstall(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.remove(Engine, "before_cursor_execute", self._count)

    def _count(self, *_args) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self.off_loop += 1
        else:
            self.on_loop += 1

    def report(self) -> dict:
        return {
            "store_statements_on_loop": self.on_loop,
            "store_statements_off_loop": self.off_loop,
        }


def process_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round(usage.ru_utime + usage.ru_stime, 2)


class LoopCpu:
    """CPU time of event-loop callbacks per thread, split into inside / outside API client calls
    (see the module docstring). One per process: `LoopCpu.install()`, `reset()`, `report()`."""

    _installed: LoopCpu | None = None

    def __init__(self) -> None:
        self.local = threading.local()
        self.api_tasks: dict[asyncio.Task, int] = {}  # tasks inside a client call -> depth
        self.by_thread: dict[int, dict[str, float]] = {}
        self.read_cost_s = self._read_cost()

    @staticmethod
    def _read_cost() -> float:
        """CPU cost of one time.thread_time() read (best of 5 x 20 000): each timed callback
        counts about one read of its own measurement, subtracted in report()."""
        best = float("inf")
        for _ in range(5):
            started = time.thread_time()
            for _ in range(20_000):
                time.thread_time()
            best = min(best, (time.thread_time() - started) / 20_000)
        return best

    @classmethod
    def install(cls) -> LoopCpu:
        if cls._installed:
            return cls._installed
        import asyncio.events

        meter = cls._installed = cls()
        original_run = asyncio.events.Handle._run

        def timed_run(handle):
            local = meter.local
            owner = getattr(handle._callback, "__self__", None)
            in_api = owner in meter.api_tasks
            local.in_step = True
            local.api_since = started = time.thread_time()
            if not in_api:
                local.api_since = None
            try:
                return original_run(handle)
            finally:
                ended = time.thread_time()
                row = meter.by_thread.setdefault(threading.get_ident(), meter._row())
                if isinstance(owner, asyncio.Task):
                    row["steps"] += 1
                    row["steps_s"] += ended - started
                    if local.api_since is not None:
                        row["api_s"] += ended - local.api_since
                else:
                    row["io_callbacks_s"] += ended - started
                local.in_step, local.api_since = False, None

        asyncio.events.Handle._run = timed_run
        meter._original_run = original_run
        return meter

    @classmethod
    def uninstall(cls) -> None:
        if cls._installed:
            asyncio.events.Handle._run = cls._installed._original_run
            cls._installed = None

    @classmethod
    def enter_api(cls) -> None:
        meter = cls._installed
        if meter is None:
            return
        task = asyncio.current_task()
        depth = meter.api_tasks[task] = meter.api_tasks.get(task, 0) + 1
        if depth == 1 and getattr(meter.local, "in_step", False):
            meter.local.api_since = time.thread_time()

    @classmethod
    def leave_api(cls) -> None:
        meter = cls._installed
        if meter is None:
            return
        local, task = meter.local, asyncio.current_task()
        meter.api_tasks[task] -= 1
        if meter.api_tasks[task]:
            return
        del meter.api_tasks[task]
        if getattr(local, "api_since", None) is not None:
            row = meter.by_thread.setdefault(threading.get_ident(), meter._row())
            row["api_s"] += time.thread_time() - local.api_since
            local.api_since = None

    @staticmethod
    def _row() -> dict[str, float]:
        return {"steps": 0, "steps_s": 0.0, "api_s": 0.0, "io_callbacks_s": 0.0}

    def reset(self) -> None:
        self.by_thread.clear()

    def report(self) -> dict:
        """The busiest loop thread (the one that ran the flow) and the sum over the others."""
        if not self.by_thread:
            return {}
        ident, row = max(self.by_thread.items(), key=lambda item: item[1]["steps_s"])
        others = sum(
            r["steps_s"] + r["io_callbacks_s"] for i, r in self.by_thread.items() if i != ident
        )
        correction = row["steps"] * self.read_cost_s  # the measurement's own reads, see _read_cost
        return {
            "loop_cpu_s": round(row["steps_s"] + row["io_callbacks_s"] - correction, 2),
            "loop_cpu_in_api_calls_s": round(row["api_s"], 2),
            "loop_cpu_outside_api_s": round(
                max(row["steps_s"] - row["api_s"] - correction, 0.0), 2
            ),
            "loop_cpu_outside_api_raw_s": round(row["steps_s"] - row["api_s"], 2),
            "loop_io_callbacks_cpu_s": round(row["io_callbacks_s"], 2),
            "loop_task_steps": int(row["steps"]),
            "loop_measurement_correction_s": round(correction, 3),
            "loop_is_main_thread": ident == threading.main_thread().ident,
            "other_loops_cpu_s": round(others, 2),
        }


# ----------------------------------------------------------------------------- Prefect + store


@contextmanager
def prefect_session(home: str) -> Iterator[dict[str, str]]:
    """A temporary Prefect server (its own process) and store home; yields the environment a
    child process needs to use both (this process uses them too)."""
    os.environ["HGSYNC_HOME"] = home
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield {**os.environ, "HGSYNC_HOME": home, "PREFECT_API_URL": str(PREFECT_API_URL.value())}


def save_blocks(slug: str, urls: Urls) -> tuple[str, str]:
    """Credential blocks for the sandbox; returns their names."""
    from clients.credentials import GestionixCredentials, HandyCredentials

    HandyCredentials(base_url=urls.handy, api_token=TOKEN).save(f"{slug}-handy", overwrite=True)
    GestionixCredentials(base_url=urls.gestionix, user=USER, password=PASSWORD).save(
        f"{slug}-gestionix", overwrite=True
    )
    return f"{slug}-handy", f"{slug}-gestionix"


async def asave_blocks(slug: str, urls: Urls) -> tuple[str, str]:
    """save_blocks from inside an event loop."""
    from clients.credentials import GestionixCredentials, HandyCredentials

    await HandyCredentials(base_url=urls.handy, api_token=TOKEN).asave(
        f"{slug}-handy", overwrite=True
    )
    await GestionixCredentials(base_url=urls.gestionix, user=USER, password=PASSWORD).asave(
        f"{slug}-gestionix", overwrite=True
    )
    return f"{slug}-handy", f"{slug}-gestionix"


def tenant_config(slug: str, **options: Any):
    from mappings.tenant import TenantConfig

    return TenantConfig(
        slug=slug,
        gestionix_branch=BRANCH,
        gestionix_company=COMPANY,
        handy_credentials=f"{slug}-handy",
        gestionix_credentials=f"{slug}-gestionix",
        **options,
    )


def run_child(module: str, args: list[str], env: dict[str, str]) -> dict:
    """Run `python -m <module> --child ...` and return its RESULT line, with the whole process
    measured from outside: process_wall_s (spawn -> exit: interpreter start, imports, Prefect
    start-up, the flow, shutdown) and process_cpu_s (user + system CPU of that process, from
    wait4's rusage)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", module, "--child", *args],
            env=env,
            stdout=out,
            stderr=err,
            text=True,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
            result["process_wall_s"] = round(wall, 2)
            result["process_cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
            return result
    raise RuntimeError(
        f"{module} {args[:1]} failed ({proc.returncode}):\n{stdout[-3000:]}\n{stderr[-4000:]}"
    )


def handy_products(handy_url: str) -> dict[str, dict]:
    """Every Handy product of the sandbox by code, read from its state (not through the API, so
    it is neither counted nor rate-limited)."""
    state = httpx.get(
        control(handy_url) + "/state", params={"only": "products"}, timeout=300
    ).json()
    return {p["code"]: p for p in state["products"]}


PRODUCT_FIELDS = ("description", "price", "quantity", "enabled", "family")


def changed_products(before: dict[str, dict], after: dict[str, dict]) -> int:
    """Products created or whose content (description, price, free-use quantity, enabled,
    family) differs between two Handy states: what really changed in Handy, counted without
    looking at the writes that changed it."""

    def content(product: dict) -> tuple:
        family = product.get("family")
        family = family.get("description") if isinstance(family, dict) else family
        return tuple(family if f == "family" else product.get(f) for f in PRODUCT_FIELDS)

    return sum(
        1
        for code, product in after.items()
        if code not in before or content(before[code]) != content(product)
    )


# ----------------------------------------------------------------------------- output


def machine() -> dict:
    try:
        import prefect

        prefect_version = prefect.__version__
    except Exception:  # noqa: BLE001 - reported, not needed
        prefect_version = None
    mem_kb = 0
    try:
        with open("/proc/meminfo") as meminfo:
            mem_kb = int(meminfo.readline().split()[1])
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "prefect": prefect_version,
        "platform": platform.platform(terse=True),
    }


def emit(report: dict, rows: list[tuple[str, Any]]) -> None:
    """One machine-readable JSON line, then a human table."""
    print(json.dumps(report, ensure_ascii=False, sort_keys=False), flush=True)
    print_table(rows)


def print_table(rows: list[tuple[str, Any]]) -> None:
    width = max((len(str(name)) for name, _ in rows), default=0)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}", flush=True)


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")
