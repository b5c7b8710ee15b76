"""A fleet on one worker (issue 20): how many tenants one 2-core machine carries.

    python -m bench.fleet [--quick] [--tenants 150] [--minutes 30] [--compression 1] [--limit L]
                          [--start preloaded|engine|prefect] [--server-db postgres|sqlite]
                          [--query-seconds Q] [--prefetch-seconds P]

What runs, every piece real and in its own process:
  * a temporary Prefect server (`prefect server start`) on a throwaway PostgreSQL 15
    (scripts/pg-throwaway.sh, fsync off) as production runs it, or on its own SQLite file
    (`--server-db sqlite`: how this bench ran before; loaded, it answers 503);
  * the sandbox hosting every tenant's Handy and Gestionix in one process (sandbox/fleet.py);
  * `hgsync tenant add` for each tenant (blocks saved on the server, deployments written to a copy
    of prefect.yaml, schedule minutes staggered), the store cursors set as activation would;
  * `hgsync deploy` (= `prefect deploy --all`);
  * one process worker as operators start it, `hgsync worker` (its own polling, prefetch and
    limit unless --limit/--query-seconds/--prefetch-seconds override them; `prefect worker start
    --pool hgsync-process` beside the preloaded process of zygote/): each run starts as the pool's
    command `python -m zygote.launch`, which has the preloaded process fork the run. `--start`
    compares: `preloaded` (that), `engine` (`hgsync worker --no-preload`: the launcher becomes
    `python -m prefect.engine`, one interpreter and one import of Prefect per run) and `prefect`
    (no pool command: Prefect's default, a workspace supervisor process that imports Prefect, then
    execs `python -m prefect.engine`, which imports it again: how runs started before);
  * the order push and deletion runs of S2 at each tenant's staggered minutes, read from the
    deployed schedules with Prefect's own cron reading, for `minutes` simulated minutes: the bench
    creates each run as Scheduled at its time and the worker picks it up like a scheduled one.

Time compression (quick mode): with `compression` k, a 10-minute cadence lasts 600/k s and the bench
hosts tenants/k tenants. The runs per wall second, hence the CPU asked of the machine per wall
second, are those of `tenants` tenants at the real cadence: the CPU capacity stays real; only the
idle time between a tenant's runs is shortened. Full mode is k = 1: 150 tenants, 30 real minutes.

What is measured:
  * per run: CPU seconds (user + system) of the run's processes (the launcher and the forked child,
    or the launcher that became the engine), peak RSS (VmHWM) and, at exit, PSS and USS of the
    process that ran the flow, written at its exit by bench/fleet_probe/sitecustomize.py (on the
    worker's PYTHONPATH; standard library). A forked run's RSS counts every page it shares with the
    preloaded process; PSS shares them out among the processes mapping them;
  * per run, from Prefect's state timestamps: scheduled (expected start) -> running (start) ->
    completed (end); "late" = start - scheduled; "in slot" = end - scheduled <= one cadence;
  * where each run's lateness went (`_lateness`), from its Pending state's time, the probe's
    process start times and the worker's polls (its debug log): waiting for a poll, for a
    --limit slot, for the server (the poll's query and the Pending proposal), the worker's own
    submission path, the launcher and the engine until Running; and the server's response time
    to a due-runs poll every 2 s;
  * CPU of the worker's long-lived processes (`hgsync worker`, the Prefect worker, the preloaded
    process), the Prefect server and the sandbox over the window (/proc); a run's CPU "with its
    share" adds the preloaded process's CPU over the window divided by the runs;
  * the capacity: tenants per 2-core worker = 2 cores x 600 s x 75 % / (CPU per tenant per cycle:
    its runs' processes plus its share of the worker's long-lived processes). 75 %: headroom so
    runs queue little (the measured lateness says whether the measured N had enough).
The server and the sandbox share the machine here (in production they are elsewhere): their CPU
is reported, not charged to the worker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.common import emit, free_port, machine, verdict

ROOT = Path(__file__).resolve().parent.parent
PROBE_DIR = Path(__file__).resolve().parent / "fleet_probe"
CADENCE_S = 600  # S2
SCHEDULED_FLOWS = ("orders", "deletions")
CPU_SHARE = 0.75  # of the worker's cores, for the capacity figure
GOALS = {
    "cpu_s_per_empty_run_max": 2.0,
    "mb_per_empty_run_max": 130,
    "tenants_per_2core_worker_min": 150,
    "late_s_max": 60,
}
STARTS = ("preloaded", "engine", "prefect")  # how the worker starts a run (module docstring)
# limit None: `hgsync worker`'s own (zygote.supervise.DEFAULT_LIMIT), as operators start it
QUICK = {"tenants": 150, "minutes": 30, "compression": 10, "limit": None, "start": "preloaded"}
FULL = {"tenants": 150, "minutes": 30, "compression": 1, "limit": None, "start": "preloaded"}
SERVER_DBS = ("postgres", "sqlite")  # the Prefect server's database (production: PostgreSQL)
PG_SCRIPT = ROOT / "scripts" / "pg-throwaway.sh"
PASSWORDS = {"HGSYNC_HANDY_TOKEN": "demo-handy-token", "HGSYNC_GESTIONIX_PASSWORD": "demo-password"}
FLOOR, FLOOR_RUNS = (
    "fleet-floor",
    5,
)  # Prefect's own cost of a run (bench/fleet_floor.py), started as ours
PREFECT_FLOOR = "fleet-floor-prefect"  # the same, started Prefect's default way (no pool command)
FLOORS = (FLOOR, PREFECT_FLOOR)
SIM_START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
CREATE_S_PER_RUN = 0.4  # the window starts once every run can be created (4 at a time, loaded)  # any instant on a 10-minute boundary


# ----------------------------------------------------------------------------- processes


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def _prefect(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("prefect")), *args]


def _cpu_seconds(pid: int) -> float:
    """utime + stime of one process (not its children: run processes are measured on their own)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def _worker_processes(pid: int) -> dict[str, list[int]]:
    """The long-lived processes under `hgsync worker` (no run is in flight when this is read):
    "preloaded" (zygote.server) and "worker" (`hgsync worker` and the Prefect worker's processes)."""
    roles: dict[str, list[int]] = {"worker": [pid], "preloaded": []}
    pending = list(_children(pid))
    while pending:
        child = pending.pop()
        command = _cmdline(child)
        if "zygote.launch" in command or "prefect.engine" in command:
            continue
        roles["preloaded" if "zygote.server" in command else "worker"].append(child)
        if "zygote.server" not in command:
            pending += _children(child)
    return roles


def _memory_mb(pid: int) -> dict[str, float]:
    kb: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            kb[line.split(":")[0]] = int(line.split()[1])
    except FileNotFoundError:
        return {}
    return {
        "rss_mb": round(kb.get("Rss", 0) / 1024, 1),
        "pss_mb": round(kb.get("Pss", 0) / 1024, 1),
    }


@contextmanager
def _process(command: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT):
    """A background process, stopped (its whole group) at the end of the block."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _wait_http(url: str, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"{what} did not answer at {url} within {seconds:.0f} s")


def _import_cost(code: str, env: dict[str, str]) -> dict:
    """CPU seconds and VmHWM of a fresh interpreter that only runs `code` (an import)."""
    probe = (
        f"{code}\nimport resource, json\nu = resource.getrusage(resource.RUSAGE_SELF)\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
        "print(json.dumps({'cpu_s': round(u.ru_utime + u.ru_stime, 2), 'vmhwm_mb': round(int(hwm) / 1024, 1),"
        " 'pandas': 'pandas' in __import__('sys').modules}))"
    )
    done = subprocess.run(
        _python("-c", probe), env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- the driver (child)


def _cli(cli, args: list[str]) -> None:
    """One hgsync command, in this process (N tenant adds without N interpreter starts)."""
    code = cli.app(args, standalone_mode=False)
    if code:
        raise RuntimeError(f"hgsync {' '.join(args[:2])} exited {code}")


def _drive(config: dict) -> dict:
    """In a child process with the fleet's environment: tenants, deploy, runs, then their states."""
    import cli
    from store import cursors

    yaml_path = Path(config["yaml"])
    # prefect.yaml's demo tenant stays (deployed, paused, never run): `tenant remove` of a file's
    # last tenant leaves YAML that does not parse (ruamel keeps the block's comment), noted in the report.
    started = time.perf_counter()
    for slug in config["slugs"]:
        _cli(
            cli,
            [
                "tenant",
                "add",
                slug,
                "--branch",
                "Matriz",
                "--company",
                "92",
                "--handy-url",
                f"{config['handy_base']}/{slug}/api/v2",
                "--gestionix-url",
                f"{config['gestionix_base']}/{slug}/api/v3",
                "--gestionix-user",
                "demo@example.mx",
                "--file",
                str(yaml_path),
            ],
        )
        now = datetime.now(UTC)
        for stream in SCHEDULED_FLOWS:  # as activation leaves them (A4)
            cursors.set(slug, stream, now)
    tenant_add_s = time.perf_counter() - started
    deployed = _keep_scheduled_only(yaml_path, config["slugs"], config["start"])
    started = time.perf_counter()
    _cli(cli, ["deploy", "--file", str(yaml_path)])
    deploy_s = time.perf_counter() - started
    print("DEPLOYED", flush=True)
    return asyncio.run(_runs(config, tenant_add_s, deploy_s, deployed))


def _keep_scheduled_only(yaml_path: Path, slugs: list[str], start: str) -> int:
    """Keep the fleet tenants' S2 deployments (orders, deletions) and add the floor flow's twice
    (started as ours, and Prefect's default way): the five other deployments of a tenant add
    nothing to the S2 load but ~1-2 s each to `prefect deploy` on this machine (1 050 for 150
    tenants). `start` prefect drops the pool command. Returns how many deployments are left."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    from ops import deployments

    document = deployments.read(yaml_path)
    wanted = {f"{slug}-{flow}" for slug in slugs for flow in SCHEDULED_FLOWS}
    kept = [entry for entry in document["deployments"] if entry["name"] in wanted]
    if start == "prefect":
        for entry in kept:
            entry["work_pool"]["job_variables"].pop("command", None)
    floors = [
        CommentedMap(
            name=FLOOR,
            entrypoint="bench/fleet_floor.py:empty_flow",
            work_pool=kept[0]["work_pool"],
            tags=["fleet-floor"],
        ),
        CommentedMap(
            name=PREFECT_FLOOR,
            entrypoint="bench/fleet_floor.py:empty_flow",
            work_pool=CommentedMap(name=kept[0]["work_pool"]["name"], job_variables=CommentedMap()),
            tags=["fleet-floor"],
        ),
    ]
    document["deployments"] = CommentedSeq([*kept, *floors])
    with yaml_path.open("w", encoding="utf-8") as handle:
        deployments._yaml().dump(document, handle)
    return len(kept) + len(floors)


async def _runs(config: dict, tenant_add_s: float, deploy_s: float, deployed: int) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.server.schemas import schedules as server_schedules
    from prefect.states import Scheduled

    k = config["compression"]
    sim_end = SIM_START + timedelta(minutes=config["minutes"])
    async with get_client() as client:
        wanted = {f"{slug}-{flow}" for slug in config["slugs"] for flow in SCHEDULED_FLOWS}
        on_server = []
        while page := await client.read_deployments(
            offset=len(on_server), limit=200
        ):  # the API pages by 200
            on_server += page
        found = [d for d in on_server if d.name in wanted]
        if len(found) != len(wanted):
            raise RuntimeError(
                f"{len(found)} of {len(wanted)} deployments on the server after deploy"
            )
        floors = [d for d in on_server if d.name in FLOORS]
        plan = [
            (floor, SIM_START + timedelta(seconds=(index * 20 + offset * 10) * k))
            for offset, floor in enumerate(floors)
            for index in range(FLOOR_RUNS)
        ]
        for deployment in found:
            (schedule,) = deployment.schedules
            # the server's own reading of the schedule (cron, or interval for staggered seconds)
            kind = getattr(server_schedules, type(schedule.schedule).__name__)
            reading = kind.model_validate(schedule.schedule.model_dump())
            for when in await reading.get_dates(
                n=1000, start=SIM_START, end=sim_end - timedelta(seconds=1)
            ):
                plan.append((deployment, when))
        # every run is created before the window, as Prefect's scheduler keeps runs ahead (created
        # a minute ahead one by one, the creation fell behind the runs' times under load)
        real_start = datetime.now(UTC) + timedelta(seconds=30 + CREATE_S_PER_RUN * len(plan))

        def real(when: datetime) -> datetime:
            return real_start + (when - SIM_START) / k

        async def create(deployment, when):
            for attempt in range(6):  # the server on SQLite answers 503 when it is busy
                try:
                    return await client.create_flow_run_from_deployment(
                        deployment.id, state=Scheduled(scheduled_time=real(when))
                    )
                except Exception:
                    if attempt == 5:
                        raise
                    await asyncio.sleep(2 * (attempt + 1))

        gate = asyncio.Semaphore(4)  # a few at a time (a burst made the SQLite server answer 503)

        async def created(deployment, when):
            async with gate:
                return (await create(deployment, when)).id

        plan.sort(key=lambda item: item[1])
        ids = list(await asyncio.gather(*(created(d, when) for d, when in plan)))
        window_end = real(sim_end) + timedelta(seconds=CADENCE_S / k)
        print(f"WINDOW {real_start.timestamp()} {window_end.timestamp()}", flush=True)
        api_s = []
        names = {d.id: d.name for d in [*found, *floors]}
        while True:  # until every run is final, or two minutes after the window
            await asyncio.sleep(2)
            # (d) the server's response time, as the worker meets it: its poll for due runs
            asked = time.perf_counter()
            await client.get_scheduled_flow_runs_for_work_pool(
                work_pool_name="hgsync-process", scheduled_before=datetime.now(UTC)
            )
            api_s.append(round(time.perf_counter() - asked, 3))
            if datetime.now(UTC) < real(sim_end):  # runs still due: no need to read them yet
                continue
            runs = await _read_runs(client, ids)
            if all(r.state and r.state.is_final() for r in runs):
                break
            if datetime.now(UTC) > window_end + timedelta(seconds=120):
                break
        print(f"DONE {datetime.now(UTC).timestamp()}", flush=True)
        final = await _read_runs(client, ids)
        pending = await _first_pending(client, [r.id for r in final])
        return {
            "tenant_add_s": round(tenant_add_s, 1),
            "deploy_s": round(deploy_s, 1),
            "server_response_s": api_s,
            "deployed": deployed,
            "runs": [
                {
                    "id": str(r.id),
                    "deployment": names.get(r.deployment_id),
                    "state": r.state.name if r.state else None,
                    "scheduled": r.expected_start_time.timestamp()
                    if r.expected_start_time
                    else None,
                    "started": r.start_time.timestamp() if r.start_time else None,
                    "ended": r.end_time.timestamp() if r.end_time else None,
                    "pending": pending.get(r.id),
                    "created": r.created.timestamp() if r.created else None,
                }
                for r in final
            ],
        }


async def _first_pending(client, ids: list) -> dict:
    """{flow run id: when the worker proposed Pending} (the worker took the run: it had polled it
    and had a free slot), from each run's state history."""
    gate = asyncio.Semaphore(8)

    async def one(run_id):
        async with gate:
            states = await client.read_flow_run_states(run_id)
        times = [s.timestamp.timestamp() for s in states if s.type.value == "PENDING"]
        return run_id, min(times, default=None)

    return dict(await asyncio.gather(*(one(run_id) for run_id in ids)))


async def _read_runs(client, ids: list) -> list:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    runs = []
    for start in range(0, len(ids), 200):
        runs += await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids[start : start + 200])),
            limit=200,
        )
    return runs


# ----------------------------------------------------------------------------- the bench (parent)


def _stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    return {
        "n": len(values),
        "median": round(statistics.median(ordered), 2),
        "p95": round(ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)], 2),
        "max": round(ordered[-1], 2),
    }


@contextmanager
def _postgres(work: Path):
    """A throwaway PostgreSQL 15 (scripts/pg-throwaway.sh, fsync off) for the Prefect server;
    yields its asyncpg URL."""
    directory, port = work / "pg", free_port()
    done = subprocess.run(
        ["bash", str(PG_SCRIPT), "start", str(directory), str(port)],
        capture_output=True,
        text=True,
        check=True,
    )
    try:
        yield done.stdout.strip().splitlines()[-1].replace("+psycopg", "+asyncpg")
    finally:
        subprocess.run(["bash", str(PG_SCRIPT), "stop", str(directory)], capture_output=True)


def _worker_polls(log: str) -> dict[str, list[float]]:
    """The worker's polls and its 'limit reached' moments (epoch s), from its debug log
    (PREFECT_WORKER_DEBUG_MODE; lines stamped HH:MM:SS.mmm, local time of today)."""
    today = datetime.now().astimezone()
    found: dict[str, list[float]] = {"polls": [], "limit_reached": []}
    for line in log.splitlines():
        stamp, _, rest = line.partition(" | ")
        if len(stamp) != 12 or stamp[2] != ":":
            continue
        hours, minutes, seconds = stamp.split(":")
        when = today.replace(
            hour=int(hours), minute=int(minutes), second=0, microsecond=0
        ).timestamp() + float(seconds)
        if "Querying for flow runs scheduled before" in rest:
            found["polls"].append(when)
        elif "Flow run limit reached" in rest:
            found["limit_reached"].append(when)
    return found


def _lateness(
    run: dict, records: list[dict], polls: dict[str, list[float]], prefetch: float
) -> dict:
    """Where one run's lateness (Running - scheduled) went, each step counted only for the part
    of it after the scheduled time: (a) `poll` until the first poll that could see the run
    (it sees runs due before poll + prefetch), (b) `slot` until the first poll after the last
    one that found every --limit slot taken (none: no wait), (d) `server` that poll's query,
    the deployment read and the Pending proposal (the server's response times; the worker may
    poll again meanwhile), (c) `submit` the worker's own path from Pending to the launcher
    process, (e) `launch` the launcher to the forked child, `engine` the child until Prefect
    recorded Running (the engine's API calls; a run taken early waits there for its time).
    `created`: the bench created the run after its time (its own lag, not the worker's)."""
    due = run["scheduled"]
    child = next((r for r in records if r["engine"]), None)
    launcher = next((r for r in records if not r["engine"]), child)
    if not (run["pending"] and run["started"] and child and launcher):
        return {}
    created = run.get("created") or 0.0
    eligible = next((p for p in polls["polls"] if p + prefetch >= due and p >= created), None)
    if eligible is None:
        return {}
    blocked = [
        max((p for p in polls["polls"] if p <= hit), default=hit) for hit in polls["limit_reached"]
    ]
    waited = [p for p in blocked if eligible <= p < run["pending"]]
    taker = eligible
    if waited:
        taker = next((p for p in polls["polls"] if p > max(waited)), max(waited))
    points = [
        ("created", created),  # the bench created the run after its time: not the worker's
        ("poll", eligible),
        ("slot", taker),
        ("server", run["pending"]),
        ("submit", launcher["started"]),
        ("launch", child["started"]),
        ("engine", run["started"]),
    ]
    steps, previous = {}, due - prefetch
    for name, end in points:
        steps[name] = round(max(0.0, end - max(previous, due)), 2)
        previous = max(previous, end)
    return steps


def measure(
    tenants: int,
    minutes: int,
    compression: int,
    limit: int | None,
    start: str,
    server_db: str = "postgres",
    query_seconds: float | None = None,
    prefetch_seconds: float | None = None,
) -> dict:
    hosted = math.ceil(tenants / compression)
    slugs = [f"t{index:03d}" for index in range(hosted)]
    work = Path(tempfile.mkdtemp(prefix="hgsync-fleet-"))
    probe_out = work / "probe"
    probe_out.mkdir()
    port, handy_port, gestionix_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HGSYNC_HOME": str(work / "home"),
        "PREFECT_HOME": str(work / "prefect"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_CLI_PROMPT": "false",
        **PASSWORDS,
    }
    env.pop("HGSYNC_DATABASE_URL", None)  # the fleet's own SQLite store in HGSYNC_HOME
    report: dict[str, Any] = {
        "tenants_equivalent": tenants,
        "tenants_hosted": hosted,
        "compression": compression,
        "simulated_minutes": minutes,
        "worker_limit": limit,
        "start": start,
        "server_db": server_db,
    }
    if server_db == "postgres" and not (
        shutil.which("pg_ctl") or Path("/usr/lib/postgresql/15/bin/pg_ctl").exists()
    ):
        server_db = "sqlite"  # measured, and said: no PostgreSQL on this machine
        report["server_db"] = "sqlite (no PostgreSQL 15 found for scripts/pg-throwaway.sh)"
    report["import_prefect"] = _import_cost("import prefect", env)
    report["import_flows_orders"] = _import_cost("import flows.orders, flows.deletions", env)
    try:
        with ExitStack() as stack:
            server_env = dict(env)
            if server_db == "postgres":
                server_env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = stack.enter_context(
                    _postgres(work)
                )
            server = stack.enter_context(
                _process(
                    _prefect("server", "start", "--host", "127.0.0.1", "--port", str(port)),
                    server_env,
                    work / "server.log",
                )
            )
            sandbox_config = {
                "tenants": slugs,
                "products": 10,
                "customers": 3,
                "handy_port": handy_port,
                "gestionix_port": gestionix_port,
            }
            sandbox = stack.enter_context(
                _process(
                    _python("-m", "sandbox.fleet", json.dumps(sandbox_config)),
                    env,
                    work / "sandbox.log",
                )
            )
            _wait_http(f"http://127.0.0.1:{port}/api/health", 180, "Prefect server")
            _wait_http(
                f"http://127.0.0.1:{handy_port}/{slugs[-1]}/_sandbox/stats", 300, "fleet sandbox"
            )
            subprocess.run(
                _prefect(
                    "work-pool", "create", "hgsync-process", "--type", "process", "--overwrite"
                ),
                env=env,
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            worker_env = {
                **env,
                "PYTHONPATH": f"{PROBE_DIR}{os.pathsep}{ROOT}",
                "HGSYNC_FLEET_PROBE_DIR": str(probe_out),
                "PREFECT_WORKER_DEBUG_MODE": "true",  # its polls, for the lateness split
            }
            for variable, value in (
                ("PREFECT_WORKER_QUERY_SECONDS", query_seconds),
                ("PREFECT_WORKER_PREFETCH_SECONDS", prefetch_seconds),
            ):
                if value is not None:  # else `hgsync worker`'s own settings
                    worker_env[variable] = str(value)
            preload = [] if start == "preloaded" else ["--no-preload"]
            worker = stack.enter_context(
                _process(
                    _python(
                        "-m",
                        "cli",
                        "worker",
                        "--pool",
                        "hgsync-process",
                        *([] if limit is None else ["--limit", str(limit)]),
                        *preload,
                    ),
                    worker_env,
                    work / "worker.log",
                )
            )
            yaml_path = work / "prefect.yaml"
            shutil.copy(ROOT / "prefect.yaml", yaml_path)
            config = {
                "yaml": str(yaml_path),
                "slugs": slugs,
                "compression": compression,
                "minutes": minutes,
                "start": start,
                "handy_base": f"http://127.0.0.1:{handy_port}",
                "gestionix_base": f"http://127.0.0.1:{gestionix_port}",
            }
            driver = subprocess.Popen(
                _python("-m", "bench.fleet", "--drive", json.dumps(config)),
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=(work / "driver.err").open("w"),
                text=True,
            )
            cpu_marks: dict[str, dict[str, float]] = {}
            window: list[float] = []
            result = None
            roles: dict[str, list[int]] = {}

            def cpu_now() -> dict[str, float]:
                return {
                    **{
                        role: sum(_cpu_seconds(pid) for pid in pids) for role, pids in roles.items()
                    },
                    "server": _cpu_seconds(server.pid),
                    "sandbox": _cpu_seconds(sandbox.pid),
                }

            assert driver.stdout is not None
            for line in driver.stdout:
                if line.startswith("WINDOW "):
                    roles = _worker_processes(worker.pid)
                    cpu_marks["start"] = cpu_now()
                    report["load_average"] = [round(os.getloadavg()[0], 1)]  # the machine's, 1 min
                    window = [float(x) for x in line.split()[1:]]
                elif line.startswith("DONE "):
                    cpu_marks["end"] = cpu_now()
                    report["load_average"].append(round(os.getloadavg()[0], 1))
                    report["preloaded_process_memory"] = [
                        _memory_mb(pid) for pid in roles.get("preloaded", [])
                    ]
                elif line.startswith("RESULT "):
                    result = json.loads(line[len("RESULT ") :])
            driver.wait()
            if result is None:
                raise RuntimeError(
                    f"fleet driver failed:\n{(work / 'driver.err').read_text()[-4000:]}"
                )
            time.sleep(2)  # the last runs' processes write their probe at exit
        report["worker_settings"] = _worker_settings(work / "worker.log")
        report["worker_limit"] = report["worker_settings"].get("limit", limit)
        polls = _worker_polls((work / "worker.log").read_text(errors="replace"))
        return _summarise(report, result, probe_out, cpu_marks, window, polls)
    finally:
        if os.environ.get("HGSYNC_FLEET_KEEP"):
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def _worker_settings(log: Path) -> dict:
    """The query interval and prefetch the worker ran with (`hgsync worker` prints them)."""
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("hgsync worker: polling every "):
            query, prefetch = line.split("every ", 1)[1].split(" s, prefetch ")
            arguments = prefetch.split(" s, ", 1)[1].split()
            return {
                "query_s": float(query),
                "prefetch_s": float(prefetch.split(" s")[0]),
                "limit": int(arguments[arguments.index("--limit") + 1]),
            }
    return {}


def _summarise(
    report: dict,
    result: dict,
    probe_out: Path,
    cpu_marks: dict,
    window: list[float],
    polls: dict[str, list[float]],
) -> dict:
    compression, hosted = report["compression"], report["tenants_hosted"]
    cadence = CADENCE_S / compression
    probes: dict[str, list[dict]] = {}
    for path in probe_out.glob("*.json"):
        record = json.loads(path.read_text())
        probes.setdefault(record["flow_run_id"], []).append(record)
    runs = result["runs"]
    fleet_runs = [run for run in runs if run["deployment"] not in FLOORS]
    states: dict[str, int] = {}
    per_flow: dict[str, dict[str, list[float]]] = {}
    late, slot_misses, run_cpu_total = [], 0, 0.0
    floors: dict[str, dict[str, list[float]]] = {
        name: {"cpu_s": [], "vmhwm_mb": [], "pss_mb": [], "uss_mb": []} for name in FLOORS
    }
    forked = 0
    prefetch = report.get("worker_settings", {}).get("prefetch_s", 10.0)
    split: dict[str, list[float]] = {}
    for run in runs:
        records = probes.get(run["id"], [])
        engine = [r for r in records if r["engine"]]
        if run["deployment"] in FLOORS:
            if engine:
                floors[run["deployment"]]["cpu_s"].append(sum(r["cpu_s"] for r in records))
                for key in ("vmhwm_mb", "pss_mb", "uss_mb"):
                    floors[run["deployment"]][key].append(max(r.get(key, 0) for r in engine))
            continue
        states[run["state"]] = states.get(run["state"], 0) + 1
        flow = run["deployment"].rsplit("-", 1)[1]
        bucket = per_flow.setdefault(
            flow,
            {
                "cpu_s": [],
                "vmhwm_mb": [],
                "pss_mb": [],
                "uss_mb": [],
                "late_s": [],
                "done_s": [],
                "wall_s": [],
            },
        )
        run_cpu_total += sum(r["cpu_s"] for r in records)
        forked += any(r.get("forked") for r in engine)
        if engine:
            bucket["cpu_s"].append(sum(r["cpu_s"] for r in records))
            for key in ("vmhwm_mb", "pss_mb", "uss_mb"):
                bucket[key].append(max(r.get(key, 0) for r in engine))
        if run["started"] and run["scheduled"]:
            bucket["late_s"].append(run["started"] - run["scheduled"])
            late.append(run["started"] - run["scheduled"])
            for step, seconds in _lateness(run, records, polls, prefetch).items():
                split.setdefault(step, []).append(seconds)
        if run["ended"] and run["scheduled"]:
            bucket["done_s"].append(run["ended"] - run["scheduled"])
            if run["started"]:
                bucket["wall_s"].append(run["ended"] - run["started"])
        if not (run["ended"] and run["scheduled"] and run["ended"] - run["scheduled"] <= cadence):
            slot_misses += 1
    cpu = {
        name: round(cpu_marks["end"][name] - cpu_marks["start"][name], 1)
        for name in cpu_marks.get("end", {})
    }
    cycles = report["simulated_minutes"] * 60 / CADENCE_S
    preloaded_cpu = cpu.get("preloaded", 0.0)
    worker_side = run_cpu_total + cpu.get("worker", 0.0) + preloaded_cpu
    floor_runs = sum(len(f["cpu_s"]) for f in floors.values())
    preloaded_share = preloaded_cpu / (len(fleet_runs) + floor_runs) if fleet_runs else 0.0
    per_tenant_cycle = worker_side / (hosted * cycles) if hosted and cycles else None
    capacity = math.floor(2 * CADENCE_S * CPU_SHARE / per_tenant_cycle) if per_tenant_cycle else 0
    completed = states.get("Completed", 0)
    measured_ok = (
        bool(fleet_runs)
        and completed == len(fleet_runs)
        and slot_misses == 0
        and max(late, default=1e9) <= GOALS["late_s_max"]
    )
    order_cpu = _stats(per_flow.get("orders", {}).get("cpu_s", []))
    deletion_cpu = _stats(per_flow.get("deletions", {}).get("cpu_s", []))
    # Memory the machine pays per run: PSS (a forked run's pages shared with the preloaded process
    # counted once among the processes sharing them; for a fresh interpreter PSS ~ RSS).
    order_mb = _stats(per_flow.get("orders", {}).get("pss_mb", []))
    deletion_mb = _stats(per_flow.get("deletions", {}).get("pss_mb", []))
    worst_cpu = round(
        max(order_cpu.get("median", 1e9), deletion_cpu.get("median", 1e9)) + preloaded_share, 2
    )
    worst_mb = max(order_mb.get("median", 1e9), deletion_mb.get("median", 1e9))
    window_s = window[1] - window[0] if window else None
    report.update(
        {
            "tenant_add_s": result["tenant_add_s"],
            "deploy_s": result["deploy_s"],
            "deployed": result["deployed"],
            "runs": len(fleet_runs),
            "states": states,
            "cadence_s": cadence,
            "floor_run": {key: _stats(values) for key, values in floors[FLOOR].items()},
            "floor_run_prefect_default": {
                key: _stats(values) for key, values in floors[PREFECT_FLOOR].items()
            },
            "runs_forked": forked,
            "preloaded_cpu_share_per_run_s": round(preloaded_share, 3),
            "per_run": {
                flow: {key: _stats(values) for key, values in bucket.items()}
                for flow, bucket in per_flow.items()
            },
            "late_s": _stats(late),
            "late_split_s": {step: _stats(values) for step, values in split.items()},
            "late_split_share": {
                step: round(sum(values) / max(sum(sum(v) for v in split.values()), 1e-9), 3)
                for step, values in split.items()
            },
            "server_response_s": _stats(result.get("server_response_s", [])),
            "worker_polls": len(polls["polls"]),
            "worker_polls_at_limit": len(polls["limit_reached"]),
            "runs_outside_slot": slot_misses,
            "in_slot_share": round(1 - slot_misses / len(fleet_runs), 3) if fleet_runs else None,
            "cpu_window_s": cpu | {"runs": round(run_cpu_total, 1)},
            "window_s": round(window_s, 1) if window_s else None,
            "cpu_per_tenant_per_cycle_s": round(per_tenant_cycle, 2) if per_tenant_cycle else None,
            "worker_cores_busy": round(worker_side / window_s, 2) if window_s else None,
            "tenants_per_2core_worker": capacity,
            "runs_without_probe": sum(
                1 for run in fleet_runs if not any(r["engine"] for r in probes.get(run["id"], []))
            ),
            "pandas_in_runs": sum(1 for records in probes.values() for r in records if r["pandas"]),
        }
    )
    report["goals"] = [
        {
            "goal": f"CPU-s per empty scheduled run (median, orders and deletions, its processes plus its share of the "
            f"preloaded process) <= {GOALS['cpu_s_per_empty_run_max']}",
            "measured": worst_cpu,
            "pass": worst_cpu <= GOALS["cpu_s_per_empty_run_max"],
        },
        {
            "goal": f"memory per empty scheduled run (median PSS at exit) <= {GOALS['mb_per_empty_run_max']} MB",
            "measured": worst_mb,
            "pass": worst_mb <= GOALS["mb_per_empty_run_max"],
        },
        {
            "goal": f"{report['tenants_equivalent']} tenants (x{compression} compressed): every run Completed inside its "
            f"slot, none late by more than {GOALS['late_s_max']} s",
            "measured": {
                "completed": completed,
                "runs": len(fleet_runs),
                "outside_slot": slot_misses,
                "late_max_s": report["late_s"].get("max"),
            },
            "pass": measured_ok,
        },
        {
            "goal": f">= {GOALS['tenants_per_2core_worker_min']} tenants per 2-core worker "
            f"(CPU at {int(CPU_SHARE * 100)} % of 2 cores, and the measured N on time)",
            "measured": capacity,
            "pass": capacity >= GOALS["tenants_per_2core_worker_min"]
            and measured_ok
            and report["tenants_equivalent"] >= GOALS["tenants_per_2core_worker_min"],
        },
    ]
    return report


def run(quick: bool) -> dict:
    """The bench.all entry: quick = 150 tenants' load compressed x10 (15 tenants, 3 wall minutes);
    full = 150 tenants for 30 real minutes."""
    plan = QUICK if quick else FULL
    report = {"bench": "fleet", "mode": "quick" if quick else "full", "machine": machine()}
    report.update(measure(**plan))
    return report


def _floor_row(floor: dict) -> str:
    return (
        f"{floor['cpu_s'].get('median')}, {floor['vmhwm_mb'].get('median')} / "
        f"{floor['pss_mb'].get('median')}"
    )


def _rows(report: dict) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [
        (
            "tenants (equivalent / hosted, compression)",
            f"{report['tenants_equivalent']} / {report['tenants_hosted']}, x{report['compression']}",
        ),
        (
            "simulated minutes, cadence (wall s)",
            f"{report['simulated_minutes']}, {report['cadence_s']:.0f}",
        ),
        ("worker limit, how runs start", f"{report['worker_limit']}, {report['start']}"),
        (
            "tenant add x N, deploy (s; deployments)",
            f"{report['tenant_add_s']}, {report['deploy_s']}; {report['deployed']}",
        ),
        (
            "import prefect (CPU-s, MB)",
            f"{report['import_prefect']['cpu_s']}, {report['import_prefect']['vmhwm_mb']}",
        ),
        (
            "import flows.orders+deletions (CPU-s, MB, pandas)",
            f"{report['import_flows_orders']['cpu_s']}, {report['import_flows_orders']['vmhwm_mb']}, {report['import_flows_orders']['pandas']}",
        ),
        ("runs, states", f"{report['runs']}, {report['states']}"),
        (
            "floor run: empty flow, nothing of ours, started as ours (CPU-s, VmHWM / PSS MB median)",
            _floor_row(report["floor_run"]),
        ),
        (
            "floor run, Prefect's default start (no pool command)",
            _floor_row(report["floor_run_prefect_default"]),
        ),
        (
            "fleet runs forked by the preloaded process",
            f"{report['runs_forked']} of {report['runs']}",
        ),
        (
            "preloaded process: CPU-s share per run; memory at the end",
            f"{report['preloaded_cpu_share_per_run_s']}; {report.get('preloaded_process_memory')}",
        ),
    ]
    for flow, figures in report["per_run"].items():
        for key in ("cpu_s", "vmhwm_mb", "pss_mb", "uss_mb", "wall_s", "late_s", "done_s"):
            s = figures.get(key, {})
            rows.append(
                (
                    f"{flow} {key} (median / p95 / max)",
                    f"{s.get('median')} / {s.get('p95')} / {s.get('max')}",
                )
            )
    rows += [
        (
            f"late split, s after the scheduled time: {step} (median / p95 / max; share)",
            f"{figures.get('median')} / {figures.get('p95')} / {figures.get('max')}; "
            f"{report['late_split_share'][step]}",
        )
        for step, figures in report["late_split_s"].items()
    ]
    rows += [
        ("Prefect server's database", report["server_db"]),
        ("load average at the window's start, end (2 CPUs, shared)", report.get("load_average")),
        (
            "server response s: a due-runs poll every 2 s (median / p95 / max)",
            report["server_response_s"],
        ),
        ("worker query / prefetch s", report.get("worker_settings")),
        (
            "worker polls (of which found every slot taken)",
            f"{report['worker_polls']} ({report['worker_polls_at_limit']})",
        ),
        ("late s (median / p95 / max)", report["late_s"]),
        (
            "runs outside their slot (in-slot share)",
            f"{report['runs_outside_slot']} ({report['in_slot_share']})",
        ),
        ("CPU-s in the window", report["cpu_window_s"]),
        ("worker-side cores busy", report["worker_cores_busy"]),
        ("CPU-s per tenant per 10-min cycle", report["cpu_per_tenant_per_cycle_s"]),
        ("tenants per 2-core worker (75 % CPU)", report["tenants_per_2core_worker"]),
    ]
    rows += [
        (goal["goal"], f"{goal['measured']}  {verdict(goal['pass'])}") for goal in report["goals"]
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tenants", type=int)
    parser.add_argument("--minutes", type=int)
    parser.add_argument("--compression", type=int)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--start", choices=STARTS)
    parser.add_argument("--server-db", choices=SERVER_DBS, default="postgres")
    parser.add_argument("--query-seconds", type=float, help="default: hgsync worker's")
    parser.add_argument("--prefetch-seconds", type=float, help="default: hgsync worker's")
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.drive:
        print("RESULT " + json.dumps(_drive(json.loads(options.drive))), flush=True)
        return
    plan = dict(QUICK if options.quick else FULL)
    for key in plan:
        if getattr(options, key) is not None:
            plan[key] = getattr(options, key)
    report = {"bench": "fleet", "mode": "quick" if options.quick else "full", "machine": machine()}
    report.update(
        measure(
            **plan,
            server_db=options.server_db,
            query_seconds=options.query_seconds,
            prefetch_seconds=options.prefetch_seconds,
        )
    )
    emit(report, _rows(report))


if __name__ == "__main__":
    main()
