"""The command of every hgsync-process run (prefect.yaml's work pool `command`).

It imports only the standard library. It sends its argv, working directory, environment (the run's,
as the worker built it) and its stdin/stdout/stderr to the preloaded process at
$HGSYNC_ZYGOTE_SOCKET, which forks a child that runs the flow run; then it forwards SIGTERM and
SIGINT to that child and exits with the child's status (or is killed by the child's signal), so the
worker sees the same process as with `python -m prefect.engine`. If the variable is unset, nothing
answers, or the preloaded process refuses (code changed since it started), it replaces itself with
`python -m prefect.engine`: a run never fails because of the preloaded process."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys

SOCKET_ENV = "HGSYNC_ZYGOTE_SOCKET"
MAX_MESSAGE = 1 << 20  # one request (the environment) or one reply
HANDSHAKE_TIMEOUT_S = 10
FORWARDED = (signal.SIGTERM, signal.SIGINT)


def send(sock: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.send(data)


def engine_command(argv: list[str]) -> list[str]:
    return [sys.executable, "-m", "prefect.engine", *argv]


def fall_back(reason: str | None) -> None:
    """Become `python -m prefect.engine` (same pid, so the worker's view is unchanged)."""
    if reason:
        print(
            f"hgsync launcher: {reason}; running python -m prefect.engine instead",
            file=sys.stderr,
            flush=True,
        )
    signal.pthread_sigmask(signal.SIG_SETMASK, [])  # the mask survives exec
    command = engine_command(sys.argv[1:])
    os.execv(command[0], command)


def _ask_for_child(path: str) -> tuple[socket.socket, int]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sock.settimeout(HANDSHAKE_TIMEOUT_S)
    try:
        sock.connect(path)
        send(sock, {"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}, [0, 1, 2])
        data = sock.recv(MAX_MESSAGE)
    except OSError as error:
        sock.close()
        fall_back(f"no preloaded process at {path} ({error.__class__.__name__})")
    reply = json.loads(data) if data else {"refused": "the preloaded process closed the connection"}
    if "pid" not in reply:
        sock.close()
        fall_back(f"the preloaded process did not start the run ({reply.get('refused')})")
    sock.settimeout(None)
    return sock, int(reply["pid"])


def main() -> None:
    path = os.environ.get(SOCKET_ENV)
    if not path:
        fall_back(None)
    # A signal that arrives before the child exists waits here and is forwarded once it does.
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    sock, child = _ask_for_child(path)

    def forward(signum: int, _frame) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signum)

    for signum in FORWARDED:
        signal.signal(signum, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
    data = sock.recv(MAX_MESSAGE)  # the outcome, once the child has exited
    outcome = json.loads(data) if data else {}
    if "signal" in outcome:  # die of the same signal, as the engine process would have
        for signum in FORWARDED:
            signal.signal(signum, signal.SIG_DFL)
        sys.stdout.flush()
        os.kill(os.getpid(), outcome["signal"])
        sys.exit(128 + outcome["signal"])  # a signal whose default is not to terminate
    if "exit" not in outcome:
        print(
            f"hgsync launcher: the preloaded process ended before flow run process {child} did",
            file=sys.stderr,
            flush=True,
        )
    sys.exit(outcome.get("exit", 1))


if __name__ == "__main__":
    main()
