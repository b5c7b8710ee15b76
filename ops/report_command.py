"""`hgsync report`: a tenant's recent runs and open dead letters; registered by cli.py."""

from __future__ import annotations

from pathlib import Path

import typer

from ops.cli_support import PREFECT_YAML, fail, parse_since


def report(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug."),
    since: str | None = typer.Option(
        None, "--since", help="Only runs started since this date (ISO)."
    ),
    flow: str | None = typer.Option(
        None, "--flow", help="Only this flow: catalog, customers, orders, ..."
    ),
    output: str = typer.Option("table", "--format", help="table | json | csv"),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many runs."),
    file: Path = PREFECT_YAML,
) -> None:
    """Recent runs with their counts and status, and the open dead letters with their reasons."""
    import csv
    import json
    import sys

    from ops import deployments
    from store import runs
    from store.reporting import build_report, report_rows

    if output not in ("table", "json", "csv"):
        fail(f"--format {output!r}: use table, json or csv")
    if not runs.recent(
        tenant, limit=1
    ):  # a removed tenant keeps its history: it is known by its runs
        try:
            deployments.tenant(tenant, file)
        except deployments.DeploymentFileError as error:
            fail(f"{error}; and the store has no run of {tenant!r}")
    data = build_report(tenant, since=parse_since(since), flow=flow, limit=limit)
    if output == "json":
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    if output == "csv":
        rows = report_rows(data)
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["section"])
        writer.writeheader()
        writer.writerows(rows)
        return
    _print_report_tables(data)


def _print_report_tables(data: dict) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    short_status = {"completed": "ok", "completed_with_issues": "issues", "failed": "FAILED"}
    runs_table = Table(title=f"runs of tenant {data['tenant']}")
    runs_table.add_column("run", justify="right")
    runs_table.add_column("flow")
    runs_table.add_column("status")
    runs_table.add_column("started UTC", no_wrap=True)
    runs_table.add_column("summary (counts — reasons)", overflow="fold", ratio=1)
    for run in data["runs"]:
        started = str(run["started_at"] or "")[5:16].replace("T", " ")
        runs_table.add_row(
            str(run["id"]),
            run["flow"],
            short_status.get(run["status"], run["status"]),
            started,
            escape(run["summary"] or ""),
        )  # "[dry run] …" is text, not markup
    console.print(runs_table)
    letters = Table(title=f"open dead letters of tenant {data['tenant']}")
    for column in ("entity", "key", "tries", "auto-retry", "first / last seen UTC"):
        letters.add_column(column, overflow="fold")
    letters.add_column("reason", overflow="fold", ratio=1)
    for letter in data["dead_letters"]:
        seen = f"{str(letter['first_seen'])[5:16]} / {str(letter['last_seen'])[5:16]}".replace(
            "T", " "
        )
        letters.add_row(
            letter["entity"],
            letter["key"],
            str(letter["attempts"]),
            "yes" if letter["retry"] else "on replay",
            seen,
            escape(letter["reason"] or ""),
        )
    console.print(letters if data["dead_letters"] else "no open dead letters")
