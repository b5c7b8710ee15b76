"""`hgsync alerts install`: the operator's notifications (X4); registered by cli.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from ops.cli_support import fail

AUTOMATIONS_FILE = typer.Option(Path("automations.yaml"), "--file", help="The automations file.")
alerts_app = typer.Typer(
    help="Prefect automations that tell the operator about problems (X4).", no_args_is_help=True
)


@alerts_app.command("install")
def alerts_install(
    block: str = typer.Option(
        ...,
        "--block",
        help="Notification block as <type>/<name> (prefect block ls): slack-webhook/ops, email/ops, "
        "ms-teams-webhook/ops, custom-webhook/ops.",
    ),
    held_limit_minutes: float | None = typer.Option(
        None,
        "--held-limit-minutes",
        min=0.2,
        help="Notify when an order stays held this long (file: 120).",
    ),
    late_limit_minutes: float | None = typer.Option(
        None,
        "--late-limit-minutes",
        min=0.2,
        help="Notify when a scheduled orders run is not completed this long after it was due (file: 30).",
    ),
    file: Path = AUTOMATIONS_FILE,
) -> None:
    """Create (or replace) the automations of automations.yaml, notifying through one block."""
    from tasks import automations

    try:
        block_id = asyncio.run(automations.block_document_id(block))
        wanted = automations.load(
            file,
            block_id,
            held_limit_minutes=held_limit_minutes,
            late_limit_minutes=late_limit_minutes,
        )
    except automations.AlertsError as error:
        fail(str(error))
    except FileNotFoundError:
        fail(f"{file} not found")
    for name, automation_id in asyncio.run(automations.install(wanted)):
        typer.echo(f"{name}: {automation_id}")
