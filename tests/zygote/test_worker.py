"""Flow runs through a real process worker started by `hgsync worker` (issue 20): the pool command
of prefect.yaml forks each run from the preloaded process; it completes, fails and is cancelled
exactly as a `python -m prefect.engine` run would."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from bench.common import free_port

ROOT = Path(__file__).resolve().parents[2]
FLOWS = {"reporter": "report_process", "failer": "fail", "sleeper": "sleep_long"}


def _wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} within {seconds} s")


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _deployments_file(path: Path) -> None:
    """The project's work pool definition (its `command`), applied to three test flows."""
    project = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    work_pool = project["definitions"]["work_pool"]
    assert work_pool["job_variables"]["command"] == "python -m zygote.launch"
    deployments = [
        {
            "name": name,
            "entrypoint": f"tests/zygote/worker_flows.py:{function}",
            "work_pool": work_pool,
        }
        for name, function in FLOWS.items()
    ]
    path.write_text(
        yaml.safe_dump(
            {
                "name": "zygote-test",
                "prefect-version": project["prefect-version"],
                "build": None,
                "push": None,
                "deployments": deployments,
            }
        )
    )


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    work = tmp_path_factory.mktemp("worker")
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PREFECT_HOME": str(work / "prefect"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_CLI_PROMPT": "false",
    }
    env.pop("HGSYNC_ZYGOTE_SOCKET", None)
    prefect = [sys.executable, "-m", "prefect"]
    processes = []

    def start(command: list[str], log: str) -> subprocess.Popen:
        with (work / log).open("w") as out:
            process = subprocess.Popen(
                command,
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        processes.append(process)
        return process

    try:
        start(
            [*prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)], "server.log"
        )
        _wait_for(lambda: _up(f"http://127.0.0.1:{port}/api/health"), 180, "the Prefect server")
        subprocess.run(
            [*prefect, "work-pool", "create", "hgsync-process", "--type", "process", "--overwrite"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        _deployments_file(work / "prefect.yaml")
        subprocess.run(
            [*prefect, "deploy", "--all", "--prefect-file", str(work / "prefect.yaml")],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        hgsync_worker = start([sys.executable, "-m", "cli", "worker", "--limit", "4"], "worker.log")
        yield {
            "work": work,
            "log": work / "worker.log",
            "process": hgsync_worker,
            "api": env["PREFECT_API_URL"],
        }
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(work / "prefect", ignore_errors=True)


async def _run(api: str, name: str, path: Path, cancel: bool = False):
    """On this module's server (not the suite's harness, which may be the current settings')."""
    from prefect.client.orchestration import PrefectClient
    from prefect.states import Cancelling

    async with PrefectClient(api=api) as client:
        deployment = await client.read_deployment_by_name(f"{_flow_name(name)}/{name}")
        run = await client.create_flow_run_from_deployment(
            deployment.id, parameters={"path": str(path)}
        )
        deadline = time.monotonic() + 240
        cancelled = False
        while time.monotonic() < deadline:
            run = await client.read_flow_run(run.id)
            if cancel and not cancelled and path.exists():
                await client.set_flow_run_state(run.id, Cancelling())
                cancelled = True
            if run.state.is_final():
                return run
            await asyncio.sleep(0.5)
        raise AssertionError(f"{name}: still {run.state.name}")


def _flow_name(name: str) -> str:
    return {"reporter": "zygote_reporter", "failer": "zygote_failer", "sleeper": "zygote_sleeper"}[
        name
    ]


def test_a_scheduled_style_run_completes_in_a_forked_process(worker):
    path = worker["work"] / "reporter.json"
    run = asyncio.run(_run(worker["api"], "reporter", path))
    assert run.state.is_completed(), run.state
    seen = json.loads(path.read_text())
    assert seen["forked"] is True, (
        seen
    )  # forked by the preloaded process (it imported zygote.launch), not an exec of python -m prefect.engine
    assert seen["flow_run_id"] == str(run.id)
    assert "reporter ran" in worker["log"].read_text()  # the run's stdout reached the worker's


def test_a_failing_run_is_failed(worker):
    path = worker["work"] / "failer.json"
    run = asyncio.run(_run(worker["api"], "failer", path))
    assert run.state.is_failed(), run.state
    assert json.loads(path.read_text())["forked"] is True


def test_a_cancelled_run_stops(worker):
    """Cancel in the UI: the worker signals the launcher, which forwards to the run."""
    path = worker["work"] / "sleeper.json"
    run = asyncio.run(_run(worker["api"], "sleeper", path, cancel=True))
    assert run.state.is_cancelled(), run.state
    pid = json.loads(path.read_text())["pid"]
    _wait_for(lambda: not Path(f"/proc/{pid}").exists(), 60, f"run process {pid} gone")
