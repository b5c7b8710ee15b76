"""The preloaded process: `python -m zygote.server SOCKET_PATH`, started by `hgsync worker`.

It imports Prefect's engine and every module of flows/ once, freezes the garbage collector (so
children do not copy pages by touching old objects), then listens on a Unix socket. For each
launcher (zygote.launch) it forks a child: the child takes the launcher's stdin/stdout/stderr,
working directory, environment and argv, rebuilds Prefect's settings from that environment and runs
`prefect.engine` as `__main__`, exactly as `python -m prefect.engine` does; the interpreter then
exits the usual way (atexit, Prefect's log and event flushes). This process stays the child's
parent: it reaps it and sends its exit status (or signal) to the launcher, kills it if the launcher
dies, and the child dies if this process does.

It refuses a run (the launcher then runs `python -m prefect.engine` itself) while a thread other
than the main one exists (forking then is unsafe) and when a source file it imported has changed
since it started: then it stops listening, waits for its children and re-executes itself, so the
next runs see the new code."""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import pkgutil
import runpy
import selectors
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass

from zygote.launch import MAX_MESSAGE, send

STOP_GRACE_S = 30  # after SIGTERM, children get this long before SIGKILL
PR_SET_PDEATHSIG = 1


@dataclass
class Request:
    argv: list[str]
    cwd: str
    env: dict[str, str]
    fds: list[int]


def preload() -> None:
    """What every run would import, imported once. No client, thread or event loop is created."""
    import ctypes  # noqa: F401  (the child's parent-death signal)

    import prefect.engine
    import prefect.flow_engine
    import prefect.task_engine  # noqa: F401

    import flows

    for module in pkgutil.iter_modules(flows.__path__):
        importlib.import_module(f"flows.{module.name}")


def source_files() -> dict[str, int]:
    """Every imported module's file and its modification time."""
    files = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            files[path] = _mtime(path)
    return files


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def changed_file(files: dict[str, int]) -> str | None:
    return next((path for path, mtime in files.items() if _mtime(path) != mtime), None)


class Zygote:
    def __init__(self, path: str) -> None:
        self.path = path
        self.pid, self.parent = os.getpid(), os.getppid()
        self.files = source_files()
        self.children: dict[int, socket.socket] = {}  # child pid -> its launcher's connection
        self.stop_at: float | None = None  # SIGTERM received: stop, children get STOP_GRACE_S
        self.restart = False  # code changed: re-execute once the children are done
        self.wakeup_read, self.wakeup_write = os.pipe()
        os.set_blocking(self.wakeup_read, False)
        os.set_blocking(self.wakeup_write, False)
        signal.set_wakeup_fd(self.wakeup_write)  # SIGCHLD and SIGTERM wake the loop at once
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        if os.path.exists(path):
            os.unlink(path)
        self.listener: socket.socket | None = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.listener.bind(path)
        os.chmod(path, 0o600)
        self.listener.listen(128)
        self.selector = selectors.PollSelector()
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.selector.register(self.wakeup_read, selectors.EVENT_READ)

    def _on_stop(self, _signum, _frame) -> None:
        if self.stop_at is None:
            self.stop_at = time.monotonic() + STOP_GRACE_S

    def serve(self) -> Request | None:
        """Returns a Request in each forked child; None in this process when it must stop or restart."""
        stopping_sent = False
        while True:
            if self.stop_at is not None and not stopping_sent:
                self._stop_listening()
                for pid in self.children:
                    _kill(pid, signal.SIGTERM)
                stopping_sent = True
            if (self.stop_at is not None or self.restart) and not self.children:
                return None
            if self.stop_at is not None and time.monotonic() > self.stop_at:
                for pid in self.children:
                    _kill(pid, signal.SIGKILL)
            for key, _events in self.selector.select(timeout=1.0):
                if key.fileobj is self.listener:
                    request = self._accept()
                    if request is not None:
                        return request
                elif key.fileobj == self.wakeup_read:
                    while True:
                        try:
                            if not os.read(self.wakeup_read, 512):
                                break
                        except BlockingIOError:
                            break
                else:
                    self._launcher_readable(key.fileobj, key.data)
            self._reap()
            if os.getppid() != self.parent:  # `hgsync worker` is gone
                self._on_stop(None, None)

    def _refusal(self) -> str | None:
        if threading.active_count() > 1:
            return f"{threading.active_count()} threads in the preloaded process"
        changed = changed_file(self.files)
        if changed:
            self.restart = True
            self._stop_listening()
            print(
                f"hgsync preloaded process: {changed} changed; restarting once its runs are done",
                file=sys.stderr,
                flush=True,
            )
            return f"{changed} changed since the preloaded process started (it restarts)"
        return None

    def _accept(self) -> Request | None:
        conn, _ = self.listener.accept()
        fds: list[int] = []
        try:
            data, fds, _flags, _address = socket.recv_fds(conn, MAX_MESSAGE, 3)
            message = json.loads(data)
            refusal = (
                "the request did not carry stdin, stdout and stderr"
                if len(fds) != 3
                else self._refusal()
            )
            if refusal:
                send(conn, {"refused": refusal})
                raise ConnectionAbortedError(refusal)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
        except (OSError, ValueError):
            conn.close()
            for fd in fds:
                os.close(fd)
            return None
        if pid == 0:
            conn.close()
            self._become_child()
            return Request(argv=message["argv"], cwd=message["cwd"], env=message["env"], fds=fds)
        for fd in fds:
            os.close(fd)
        self.children[pid] = conn
        self.selector.register(conn, selectors.EVENT_READ, pid)
        try:
            send(conn, {"pid": pid})
        except OSError:
            _kill(pid, signal.SIGKILL)
        return None

    def _launcher_readable(self, conn: socket.socket, pid: int) -> None:
        """The launcher only ever closes its end: it died, so its run dies too."""
        try:
            data = conn.recv(MAX_MESSAGE)
        except OSError:
            data = b""
        if not data:
            self.selector.unregister(conn)
            _kill(pid, signal.SIGKILL)

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            if conn is None:
                continue
            outcome = (
                {"signal": os.WTERMSIG(status)}
                if os.WIFSIGNALED(status)
                else {"exit": os.waitstatus_to_exitcode(status)}
            )
            with contextlib.suppress(OSError):
                send(conn, outcome)
            if conn.fileno() in self.selector.get_map():
                self.selector.unregister(conn)
            conn.close()

    def _stop_listening(self) -> None:
        if self.listener is not None:
            self.selector.unregister(self.listener)
            self.listener.close()
            self.listener = None
            if os.path.exists(self.path):
                os.unlink(self.path)

    def _become_child(self) -> None:
        """Drop everything of the server's: its sockets, its signal handlers."""
        self.selector.close()
        if self.listener is not None:
            self.listener.close()
        for conn in self.children.values():
            conn.close()
        signal.set_wakeup_fd(-1)
        os.close(self.wakeup_read)
        os.close(self.wakeup_write)
        for signum in (signal.SIGTERM, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def finish(self) -> None:
        """In the server once serve() returned None: re-execute with fresh code, or end."""
        self._stop_listening()
        if self.restart and self.stop_at is None:
            command = [sys.executable, "-m", "zygote.server", self.path]
            os.execv(command[0], command)


def _kill(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _die_with_parent(parent: int) -> None:
    """A run must not outlive the process that reports its status (Linux; elsewhere it may)."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)


def run_engine(request: Request, parent: int) -> None:
    """In the child: become the run's process, then run prefect.engine as `python -m` would."""
    os.setsid()  # signals reach it through its launcher only, like any run's process
    _die_with_parent(parent)
    for target, fd in enumerate(request.fds):
        os.dup2(fd, target)
        if fd > 2:
            os.close(fd)
    os.chdir(request.cwd)
    os.environ.clear()
    os.environ.update(request.env)

    from prefect.context import refresh_global_settings_context
    from prefect.logging.configuration import setup_logging
    from prefect.settings import get_current_settings

    logging_before = get_current_settings().logging
    refresh_global_settings_context()
    if get_current_settings().logging != logging_before:
        setup_logging(incremental=False)
    sys.argv = [sys.argv[0], *request.argv]
    sys.path[0] = request.cwd  # `python -m` puts the working directory first
    sys.modules.pop("prefect.engine", None)  # it runs as __main__, as under `python -m`
    runpy.run_module("prefect.engine", run_name="__main__", alter_sys=True)


def main() -> None:
    path = sys.argv[1]
    preload()
    gc.collect()
    gc.freeze()
    zygote = Zygote(path)
    print(
        f"hgsync preloaded process {zygote.pid}: {len(zygote.files)} modules imported, listening",
        file=sys.stderr,
        flush=True,
    )
    request = zygote.serve()
    if request is None:
        zygote.finish()
        return
    run_engine(request, zygote.pid)


if __name__ == "__main__":
    main()
