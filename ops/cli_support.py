"""What the operator's commands (cli.py, ops/tenant_*.py) share: the deployments-file
option, one-line failures, Prefect's console kept quiet, and the Prefect server they act on."""

from __future__ import annotations

import asyncio
import logging
import re
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import typer

PREFECT_YAML = typer.Option(Path("prefect.yaml"), "--file", help="The deployments file.")


def fail(message: str, code: int = 1) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code=code)


@contextmanager
def prefect_console_quiet(verbose: bool = False):
    """While a command runs flows in this process, Prefect's console log lines (and their
    tracebacks) stay off the terminal; they still reach the Prefect API, so the run's logs keep
    the traceback. The command then prints the outcome in one line."""
    import prefect  # noqa: F401  (configures Prefect's logging first)
    from prefect.logging.handlers import PrefectConsoleHandler

    if verbose:
        yield
        return
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in ("uvicorn", "fastapi"))]
    handlers = [
        h for logger in loggers for h in logger.handlers if isinstance(h, PrefectConsoleHandler)
    ]
    levels = [h.level for h in handlers]
    for handler in handlers:
        handler.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for handler, level in zip(handlers, levels, strict=False):
            handler.setLevel(level)


def state_line(name: str, state) -> str:
    """ "demo-orders: Failed — Handy at http://… refused the connection": the state and, when it
    did not complete, the exception's own text (no traceback)."""
    if state.is_completed():
        return f"{name}: {state.name}"
    message = (state.message or "").strip()
    for prefix in ("Flow run encountered an exception: ", "Task run encountered an exception: "):
        message = message.removeprefix(prefix)
    message = re.sub(r"^[A-Z]\w*: ", "", message)  # "Unreachable: Handy at …" -> "Handy at …"
    return f"{name}: {state.name}" + (f" — {message}" if message else "")


def validation_text(error) -> str:
    """A pydantic ValidationError as one line an operator reads: "field: problem; ..."."""
    parts = []
    for item in error.errors(include_input=False):  # never echo a refused secret (A2)
        where = ".".join(str(p) for p in item.get("loc", ())) or "value"
        parts.append(f"{where}: {str(item.get('msg', '')).removeprefix('Value error, ')}")
    return "; ".join(parts)


def checked_slug(slug: str) -> str:
    """Refuse a bad slug before any secret is prompted for."""
    from mappings.tenant import SLUG_PATTERN

    if not SLUG_PATTERN.fullmatch(slug):
        fail(
            f"tenant {slug!r}: a slug is 1-63 lowercase letters, digits or dashes, "
            "not starting or ending with a dash (e.g. abarrotes-lupita)"
        )
    return slug


def parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--since {value!r}: use ISO format, e.g. 2026-11-27 or 2026-11-27T08:00:00-06:00")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def prefect_api_url() -> str:
    """The Prefect server the lifecycle commands act on; refuse to guess (an ephemeral local
    server would accept the change and forget it)."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        fail(
            "PREFECT_API_URL is not set: start the server (`prefect server start`) and "
            "export PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    return url


def on_server(what: str, call):
    """Run one Prefect API coroutine; a server that does not answer is one line, not a traceback."""
    url = prefect_api_url()
    try:
        return asyncio.run(call)
    except Exception as error:  # noqa: BLE001 - any failure of the API call is reported the same way
        fail(f"{what}: the Prefect server at {url} failed: {type(error).__name__}: {error}")


def known_tenant(slug: str, file: Path):
    from ops import deployments

    try:
        return deployments.tenant(slug, file)
    except deployments.DeploymentFileError as error:
        fail(str(error))
