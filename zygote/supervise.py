"""`hgsync worker`: `prefect worker start --pool hgsync-process ...` beside the preloaded process.

Both are children of this process, each in its own session so one Ctrl-C or SIGTERM reaches the
worker once (forwarded from here). The preloaded process is started first, restarted if it dies,
and stopped when the worker ends; the worker (and every run's launcher) gets its socket path in
HGSYNC_ZYGOTE_SOCKET and this interpreter's folder first on PATH, so the pool's command
`python -m zygote.launch` is this virtualenv's Python even when the venv is not activated."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from zygote.launch import SOCKET_ENV

# How often the Prefect worker asks for due runs and how far ahead, and how many runs it keeps in
# flight, unless the operator sets them (Prefect's defaults: 10 s, 10 s, no limit). Staggered
# tenants make a run due every few seconds; a run taken early starts early and its engine waits
# on the server for its scheduled time, so the worker's submission and the run's start-up are not
# lateness. Sized by bench.fleet (README "Scale out").
WORKER_SETTINGS = {"PREFECT_WORKER_QUERY_SECONDS": "5", "PREFECT_WORKER_PREFETCH_SECONDS": "20"}
DEFAULT_LIMIT = 30
RESTART_PAUSE_S = 10  # a preloaded process that keeps dying is restarted at most this often
READY_WAIT_S = (
    120  # the worker starts once the preloaded process listens (or after this, runs falling back)
)


def _start_zygote(path: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "zygote.server", path], env=env, start_new_session=True
    )


def _wait_ready(zygote: subprocess.Popen, path: str, started: float) -> None:
    """Until the preloaded process listens on its socket (or exits, or READY_WAIT_S passes)."""
    while (
        zygote.poll() is None
        and not os.path.exists(path)
        and time.monotonic() - started < READY_WAIT_S
    ):
        time.sleep(0.2)


def worker_environment(environ: dict[str, str]) -> dict[str, str]:
    """The worker's environment: this venv's python first on PATH, and WORKER_SETTINGS where the
    operator set nothing."""
    env = {
        **WORKER_SETTINGS,
        **environ,
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), environ.get("PATH", "")]),
    }
    env.pop(SOCKET_ENV, None)
    return env


def worker_arguments(worker_args: list[str]) -> list[str]:
    """`prefect worker start` arguments, with DEFAULT_LIMIT unless --limit is given."""
    given = any(arg in ("--limit", "-l") or arg.startswith("--limit=") for arg in worker_args)
    return worker_args if given else [*worker_args, "--limit", str(DEFAULT_LIMIT)]


def run_worker(worker_args: list[str], preload: bool = True) -> int:
    directory = tempfile.mkdtemp(prefix="hgsync-worker-")  # 0700: only this user reaches the socket
    path = os.path.join(directory, "zygote.sock")
    env = worker_environment(dict(os.environ))
    worker_args = worker_arguments(worker_args)
    print(
        f"hgsync worker: polling every {env['PREFECT_WORKER_QUERY_SECONDS']} s, prefetch "
        f"{env['PREFECT_WORKER_PREFETCH_SECONDS']} s, {' '.join(worker_args)}",
        file=sys.stderr,
        flush=True,
    )
    if preload:
        env[SOCKET_ENV] = path
    zygote = _start_zygote(path, env) if preload else None
    started = time.monotonic()
    if zygote is not None:
        _wait_ready(zygote, path, started)
    worker = subprocess.Popen(
        [sys.executable, "-m", "prefect", "worker", "start", *worker_args],
        env=env,
        start_new_session=True,
    )

    def forward(signum, _frame) -> None:
        if worker.poll() is None:
            worker.send_signal(signum)

    previous = {
        signum: signal.signal(signum, forward) for signum in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        while True:
            try:
                worker.wait(timeout=1)
                break
            except subprocess.TimeoutExpired:
                pass
            if (
                zygote is not None
                and zygote.poll() is not None
                and time.monotonic() - started > RESTART_PAUSE_S
            ):
                print(
                    f"hgsync worker: the preloaded process exited ({zygote.returncode}); restarting it",
                    file=sys.stderr,
                    flush=True,
                )
                zygote, started = _start_zygote(path, env), time.monotonic()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if worker.poll() is None:
            worker.terminate()
            worker.wait()
        if zygote is not None and zygote.poll() is None:
            zygote.terminate()  # it lets its running children finish first (up to 30 s)
            zygote.wait()
        shutil.rmtree(directory, ignore_errors=True)
    return worker.returncode
