"""The launcher and the preloaded process without a Prefect server (issue 20): exit status and
output relayed, signals forwarded, the run killed with its launcher, fallback to `python -m
prefect.engine` when nothing answers or the code changed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FALLBACK_NOTE = "running python -m prefect.engine instead"


def _env(extra_path: Path | None = None, **values: str) -> dict[str, str]:
    path = os.pathsep.join(str(p) for p in (extra_path, ROOT) if p)
    return {**os.environ, "PYTHONPATH": path, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **values}


def _wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} within {seconds} s")


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _start_zygote(directory: Path, extra_path: Path | None = None) -> tuple[subprocess.Popen, str]:
    path = str(directory / "zygote.sock")
    process = subprocess.Popen(
        [sys.executable, "-m", "zygote.server", path], env=_env(extra_path), cwd=ROOT
    )
    _wait_for(
        lambda: os.path.exists(path) or process.poll() is not None,
        120,
        "the preloaded process listens",
    )
    assert process.poll() is None, "the preloaded process exited"
    return process, path


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=60)


@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    process, path = _start_zygote(tmp_path_factory.mktemp("zygote"))
    yield process, path
    _stop(process)


def _launch(socket_path: str | None, **values: str) -> subprocess.CompletedProcess:
    env = _env(**values)
    env.pop("HGSYNC_ZYGOTE_SOCKET", None)
    if socket_path:
        env["HGSYNC_ZYGOTE_SOCKET"] = socket_path
    return subprocess.run(
        [sys.executable, "-m", "zygote.launch"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


def test_the_run_gets_the_launchers_output_and_exit_status(zygote):
    """The engine's own error (an invalid flow run id) reaches the launcher's stderr and its exit
    status 1 is the launcher's, with no fallback."""
    done = _launch(zygote[1], PREFECT__FLOW_RUN_ID="not-a-uuid")
    assert done.returncode == 1
    assert "Invalid flow run id" in done.stderr
    assert FALLBACK_NOTE not in done.stderr


def test_without_a_preloaded_process_the_launcher_is_the_engine(tmp_path):
    silent = _launch(None, PREFECT__FLOW_RUN_ID="not-a-uuid")
    assert silent.returncode == 1 and "Invalid flow run id" in silent.stderr
    assert FALLBACK_NOTE not in silent.stderr  # no socket configured: a plain `prefect worker`
    missing = _launch(str(tmp_path / "nobody.sock"), PREFECT__FLOW_RUN_ID="not-a-uuid")
    assert missing.returncode == 1 and "Invalid flow run id" in missing.stderr
    assert FALLBACK_NOTE in missing.stderr


@pytest.fixture
def silent_api():
    """An API that accepts connections and never answers: the run waits in its first API call."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield f"http://127.0.0.1:{server.getsockname()[1]}/api"
    server.close()


def _waiting_run(zygote, api_url: str) -> tuple[subprocess.Popen, int]:
    process, path = zygote
    before = set(_children(process.pid))
    env = _env(
        HGSYNC_ZYGOTE_SOCKET=path, PREFECT_API_URL=api_url, PREFECT__FLOW_RUN_ID=str(uuid.uuid4())
    )
    launcher = subprocess.Popen(
        [sys.executable, "-m", "zygote.launch"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    child = _wait_for(
        lambda: (set(_children(process.pid)) - before or {None}).pop(), 60, "a forked run"
    )
    return launcher, child


def test_sigterm_to_the_launcher_reaches_the_run(zygote, silent_api):
    """The worker cancels a run by signalling the pid it started (the launcher's)."""
    launcher, child = _waiting_run(zygote, silent_api)
    launcher.send_signal(signal.SIGTERM)
    assert (
        launcher.wait(timeout=60) == -signal.SIGTERM
    )  # the run died of it, and so did the launcher
    _wait_for(lambda: not _alive(child), 30, "the run is gone")


def test_a_killed_launcher_takes_its_run_along(zygote, silent_api):
    launcher, child = _waiting_run(zygote, silent_api)
    launcher.kill()
    launcher.wait(timeout=30)
    _wait_for(lambda: not _alive(child), 30, "the run is gone")
    assert zygote[0].poll() is None


def test_changed_code_falls_back_then_the_preloaded_process_restarts(tmp_path):
    """A file the preloaded process imported changes: that run falls back to `python -m
    prefect.engine`, the process re-executes itself (same pid) and serves the next one."""
    extra = tmp_path / "extra"
    extra.mkdir()
    module = extra / "sitecustomize.py"  # imported at start-up, so one of its source files
    module.write_text("LOADED = True\n")
    process, path = _start_zygote(tmp_path, extra)
    try:
        assert _launch(path, PREFECT__FLOW_RUN_ID="x").stderr.count(FALLBACK_NOTE) == 0
        later = time.time() + 5
        os.utime(module, (later, later))
        stale = _launch(path, PREFECT__FLOW_RUN_ID="x")
        assert "changed since the preloaded process started" in stale.stderr
        assert stale.returncode == 1 and "Invalid flow run id" in stale.stderr
        _wait_for(lambda: os.path.exists(path), 120, "the restarted process listens")
        again = _launch(path, PREFECT__FLOW_RUN_ID="x")
        assert FALLBACK_NOTE not in again.stderr and "Invalid flow run id" in again.stderr
        assert process.poll() is None  # re-executed in place
    finally:
        _stop(process)
