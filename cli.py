"""`hgsync`: the operator's command line (Typer). Commands not built yet say so and exit 2."""

from __future__ import annotations

import asyncio
import inspect
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

app = typer.Typer(
    name="hgsync",
    help="Handy <-> Konfio Gestionix sync: run the demo, the sandbox, flows, deployments and reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)
tenant_app = typer.Typer(help="Add a tenant (credential blocks + deployments) or check one.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")

PREFECT_YAML = typer.Option(Path("prefect.yaml"), "--file", help="The deployments file.")


def _not_built(what: str) -> None:
    typer.echo(f"hgsync {what}: not built yet (see the open issues).", err=True)
    raise typer.Exit(code=2)


def _fail(message: str, code: int = 1) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code=code)


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        _fail(f"--since {value!r}: use ISO format, e.g. 2026-11-27 or 2026-11-27T08:00:00-06:00")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@app.command()
def demo(
    products: int = typer.Option(120, help="Gestionix products in the sandbox."),
    customers: int = typer.Option(40, help="Gestionix clients in the sandbox."),
    cycles: int = typer.Option(3, min=1, max=3, help="Cycles of seller activity, each followed by a push."),
    seed: int = typer.Option(7, help="Seed of the sandbox's demo data."),
) -> None:
    """Run the whole integration against the local sandbox and print a summary."""
    from sandbox.demo import run_demo

    raise typer.Exit(code=run_demo(products=products, customers=customers, cycles=cycles, seed=seed))


def _register_sandbox() -> None:
    from sandbox.cli import sandbox_command

    app.command("sandbox", help="Serve the Handy and Gestionix sandboxes on loopback.")(sandbox_command)


_register_sandbox()


@tenant_app.command("add")
def tenant_add(
    slug: str = typer.Argument(..., help="Tenant id: lowercase letters, digits, dashes."),
    branch: str = typer.Option(..., "--branch", help="Gestionix sucursal name."),
    company: Optional[str] = typer.Option(None, "--company", help="Gestionix company id or name."),
    handy_url: str = typer.Option("https://hub.handy.la/api/v2", "--handy-url"),
    handy_token: str = typer.Option(
        ..., "--handy-token", envvar="HGSYNC_HANDY_TOKEN", prompt=True, hide_input=True,
        help="Handy API token (or env HGSYNC_HANDY_TOKEN; prompted, never echoed).",
    ),
    gestionix_url: str = typer.Option("https://api.gestionix.com/api/v3", "--gestionix-url"),
    gestionix_user: str = typer.Option(..., "--gestionix-user", envvar="HGSYNC_GESTIONIX_USER", prompt=True),
    gestionix_password: str = typer.Option(
        ..., "--gestionix-password", envvar="HGSYNC_GESTIONIX_PASSWORD", prompt=True, hide_input=True,
        help="Gestionix password (or env HGSYNC_GESTIONIX_PASSWORD; prompted, never echoed).",
    ),
    timezone_name: str = typer.Option("America/Mexico_City", "--timezone"),
    sync_customers: bool = typer.Option(True, "--sync-customers/--no-sync-customers"),
    sync_inventory: bool = typer.Option(True, "--sync-inventory/--no-sync-inventory"),
    sync_deletions: bool = typer.Option(True, "--sync-deletions/--no-sync-deletions"),
    sync_customer_address: bool = typer.Option(True, "--sync-customer-address/--no-sync-customer-address"),
    treat_all_as_sales_orders: bool = typer.Option(
        True, "--all-as-sales-orders/--sales-as-ventas", help="O2: pedidos for all, or ventas for route sales."
    ),
    file: Path = PREFECT_YAML,
    yaml_only: bool = typer.Option(False, "--yaml-only", help="Only edit prefect.yaml (blocks already saved)."),
) -> None:
    """Save a tenant's two credential blocks and add its five deployments to prefect.yaml."""
    from pydantic import ValidationError

    from clients.credentials import GestionixCredentials, HandyCredentials
    from flows import deployments
    from mappings.tenant import TenantConfig

    try:
        config = TenantConfig(
            slug=slug, gestionix_branch=branch, gestionix_company=company,
            handy_credentials=f"{slug}-handy", gestionix_credentials=f"{slug}-gestionix",
            handy_timezone=timezone_name, sync_customers=sync_customers, sync_inventory=sync_inventory,
            sync_deletions=sync_deletions, sync_customer_address=sync_customer_address,
            treat_all_as_sales_orders=treat_all_as_sales_orders,
        )
        handy_block = HandyCredentials(base_url=handy_url, api_token=handy_token)
        gestionix_block = GestionixCredentials(base_url=gestionix_url, user=gestionix_user, password=gestionix_password)
    except ValidationError as error:
        _fail(f"tenant {slug}: {error}")
    if not yaml_only:
        handy_block.save(config.handy_credentials, overwrite=True)
        gestionix_block.save(config.gestionix_credentials, overwrite=True)
        typer.echo(f"saved blocks {config.handy_credentials!r} and {config.gestionix_credentials!r}")
    try:
        deployments.add_tenant(config, file)
    except deployments.DeploymentFileError as error:
        _fail(str(error))
    typer.echo(f"added deployments {', '.join(f'{slug}-{k}' for k in deployments.FLOWS)} to {file}")
    typer.echo(f"next: hgsync tenant check {slug} ; prefect deploy --all ; run {slug}-activate")


@tenant_app.command("check")
def tenant_check(slug: str = typer.Argument(...), file: Path = PREFECT_YAML) -> None:
    """Run the activation checks (A4) for a tenant without writing anything."""
    from flows import deployments

    try:
        config = deployments.tenant(slug, file)
        from flows.activate import check_tenant
    except deployments.DeploymentFileError as error:
        _fail(str(error))
    except ImportError:
        _not_built("tenant check")
    report = asyncio.run(check_tenant(config))
    for line in report.lines():
        typer.echo(line)
    raise typer.Exit(code=0 if report.ok else 1)


@app.command()
def run(
    flow: str = typer.Argument(..., help="catalog | customers | orders | deletions | activate"),
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug from prefect.yaml."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would be written; write nothing."),
    since: Optional[str] = typer.Option(None, "--since", help="Backfill from this date (orders, deletions)."),
    full: bool = typer.Option(False, "--full", help="Also read Handy and repair drift (catalog, customers)."),
    confirm_mass_disable: bool = typer.Option(
        False,
        "--confirm-mass-disable",
        help="Go on although the run disables more than the tenant's mass_disable_threshold_percent "
        "(catalog, customers).",
    ),
    file: Path = PREFECT_YAML,
) -> None:
    """Run one flow once for one tenant, with the tenant's parameters from prefect.yaml."""
    from flows import deployments

    try:
        spec = deployments.find(tenant, flow, file)
        flow_fn = spec.load_flow()
    except deployments.DeploymentFileError as error:
        _fail(str(error))
    accepted = inspect.signature(flow_fn.fn).parameters
    options = {
        "dry_run": dry_run,
        "since": _parse_since(since),
        "full": full,
        "confirm_mass_disable": confirm_mass_disable,
    }
    if "backfill_from" in accepted:
        options["backfill_from"] = options["since"]
    kwargs = {"tenant": spec.tenant}
    for name, value in options.items():
        if name in accepted:
            kwargs[name] = value
        elif value:
            _fail(f"flow {flow} has no --{name.replace('_', '-')} option")
    result = flow_fn(**kwargs, return_state=True)
    state = asyncio.run(result) if inspect.isawaitable(result) else result
    typer.echo(f"{spec.name}: {state.name}")
    if not state.is_completed():
        if state.message:  # e.g. the mass-disable stop says how to go on
            typer.echo(state.message, err=True)
        raise typer.Exit(code=1)


@app.command()
def serve(file: Path = PREFECT_YAML) -> None:
    """Serve every deployment of prefect.yaml in this process (no worker needed)."""
    from prefect import serve as prefect_serve

    from flows import deployments

    runner_deployments = [deployments.to_runner_deployment(spec) for spec in deployments.deployments(file)]
    typer.echo(f"serving {len(runner_deployments)} deployments from {file}")
    prefect_serve(*runner_deployments, pause_on_shutdown=False)


@app.command()
def report(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug."),
    since: Optional[str] = typer.Option(None, "--since", help="Only runs started since this date (ISO)."),
    flow: Optional[str] = typer.Option(None, "--flow", help="Only this flow: catalog, customers, orders, ..."),
    output: str = typer.Option("table", "--format", help="table | json | csv"),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many runs."),
) -> None:
    """Recent runs with their counts and status, and the open dead letters with their reasons."""
    import csv
    import json
    import sys

    from store.reporting import build_report, report_rows

    if output not in ("table", "json", "csv"):
        _fail(f"--format {output!r}: use table, json or csv")
    data = build_report(tenant, since=_parse_since(since), flow=flow, limit=limit)
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
        runs_table.add_row(str(run["id"]), run["flow"], short_status.get(run["status"], run["status"]),
                           started, run["summary"])
    console.print(runs_table)
    letters = Table(title=f"open dead letters of tenant {data['tenant']}")
    for column in ("entity", "key", "tries", "auto-retry", "first / last seen UTC"):
        letters.add_column(column, overflow="fold")
    letters.add_column("reason", overflow="fold", ratio=1)
    for letter in data["dead_letters"]:
        seen = f"{str(letter['first_seen'])[5:16]} / {str(letter['last_seen'])[5:16]}".replace("T", " ")
        letters.add_row(letter["entity"], letter["key"], str(letter["attempts"]),
                        "yes" if letter["retry"] else "on replay", seen, letter["reason"])
    console.print(letters if data["dead_letters"] else "no open dead letters")


@app.command()
def reconcile(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug from prefect.yaml."),
    day: Optional[str] = typer.Option(None, "--day", help="Local day YYYY-MM-DD (default: yesterday)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the repairs it would make; write nothing."),
    file: Path = PREFECT_YAML,
) -> None:
    """Compare a day's Handy orders with the bindings and Gestionix documents and repair what can be
    (missing orders pushed, documents of deleted orders deleted); exit 1 on any difference."""
    from datetime import date as date_type

    from flows import deployments
    from flows.reconcile import reconcile as reconcile_flow

    try:
        config = deployments.tenant(tenant, file)
        wanted = date_type.fromisoformat(day) if day else None
    except deployments.DeploymentFileError as error:
        _fail(str(error))
    except ValueError:
        _fail(f"--day {day!r}: use YYYY-MM-DD")
    state = asyncio.run(reconcile_flow(tenant=config, day=wanted, dry_run=dry_run, return_state=True))
    typer.echo(state.message or state.name)
    if not state.is_completed():
        raise typer.Exit(code=1)


@app.command()
def prune(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug."),
    older_than_days: int = typer.Option(400, "--older-than-days", min=1, help="Keep this many days of audit."),
    yes: bool = typer.Option(False, "--yes", help="Really delete (otherwise only count)."),
) -> None:
    """Delete audit runs (and their items) older than N days. Nothing is pruned automatically."""
    from datetime import timedelta

    from store import runs

    cutoff = datetime.now(timezone.utc) - timedelta(days=older_than_days)
    if not yes:
        count = len(runs.recent(tenant, limit=10**9)) - len(runs.recent(tenant, since=cutoff, limit=10**9))
        typer.echo(f"{count} runs of tenant {tenant} started before {cutoff:%Y-%m-%d} would be deleted; add --yes")
        return
    typer.echo(f"deleted {runs.prune(tenant, cutoff)} runs of tenant {tenant} started before {cutoff:%Y-%m-%d}")


@app.command()
def replay(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug from prefect.yaml."),
    key: Optional[str] = typer.Option(None, "--key", help="Only the dead letter of this Handy order id."),
    all_letters: bool = typer.Option(False, "--all", help="Every open dead letter of the tenant."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be retried; change nothing."),
    file: Path = PREFECT_YAML,
) -> None:
    """Retry dead letters now (after fixing their cause) and report the outcome of each."""
    from flows import deployments
    from flows.replay import replay as replay_flow
    from store import runs

    if bool(key) == all_letters:
        _fail("say which: --key ORDER_ID or --all")
    try:
        config = deployments.tenant(tenant, file)
    except deployments.DeploymentFileError as error:
        _fail(str(error))
    state = asyncio.run(replay_flow(tenant=config, key=key, dry_run=dry_run, return_state=True))
    last = runs.recent(config.slug, flow="replay", limit=1)
    for item in runs.items(config.slug, last[0].id) if last else []:
        typer.echo(f"{item.entity} {item.key}: {item.action}{' — ' + item.reason if item.reason else ''}")
    typer.echo(state.message or state.name)
    if not state.is_completed():
        raise typer.Exit(code=1)


if __name__ == "__main__":
    app()
