"""`hgsync`: the operator's command line (Typer); the work behind it lives in ops/, flows/ and tasks/."""

from __future__ import annotations

import asyncio
import inspect
import os
from datetime import UTC, datetime
from pathlib import Path

import typer

from ops.alerts_command import alerts_app
from ops.cli_support import (
    PREFECT_YAML,
    fail,
    on_server,
    parse_since,
    prefect_api_url,
    prefect_console_quiet,
    state_line,
)
from ops.report_command import report
from ops.tenant_commands import tenant_app

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

app = typer.Typer(
    name="hgsync",
    help="Handy <-> Konfio Gestionix sync: run the demo, the sandbox, flows, deployments and reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)
app.add_typer(tenant_app, name="tenant")


@app.command()
def demo(
    products: int = typer.Option(120, help="Gestionix products in the sandbox."),
    customers: int = typer.Option(40, help="Gestionix clients in the sandbox."),
    cycles: int = typer.Option(
        3, min=1, max=3, help="Cycles of seller activity, each followed by a push."
    ),
    seed: int = typer.Option(7, help="Seed of the sandbox's demo data."),
) -> None:
    """Run the whole integration against the local sandbox and print a summary."""
    from ops.demo import run_demo

    raise typer.Exit(
        code=run_demo(products=products, customers=customers, cycles=cycles, seed=seed)
    )


def _register_sandbox() -> None:
    from ops.sandbox_command import sandbox_command

    app.command("sandbox", help="Serve the Handy and Gestionix sandboxes on loopback.")(
        sandbox_command
    )


_register_sandbox()


@app.command()
def deploy(file: Path = PREFECT_YAML) -> None:
    """`prefect deploy --all` for prefect.yaml, keeping each deployment's schedules as the server
    has them (activated, paused); new deployments start paused until their activation (A4)."""
    import subprocess
    import sys

    from ops import deployments
    from tasks.tenant_deployments import restore_schedule_states, schedule_states

    prefect_api_url()
    states = on_server("deploy", schedule_states())
    prefect = Path(sys.executable).with_name("prefect")
    command = [
        str(prefect),
        "--no-prompt",
        "deploy",
        "--all",
        "--prefect-file",
        str(file.resolve()),
    ]
    done = subprocess.run(
        command, cwd=deployments.PROJECT_ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        typer.echo(done.stdout[-4000:] + done.stderr[-4000:], err=True)
        fail(f"prefect deploy failed (exit {done.returncode}); its output is above")
    restored = on_server("deploy", restore_schedule_states(states))
    active = sum(states.values())
    typer.echo(
        f"deployed every deployment of {file}; schedules kept as they were ({active} active"
        + (f", restored: {', '.join(restored)}" if restored else "")
        + ")"
    )


@app.command()
def run(
    flow: str = typer.Argument(..., help="catalog | customers | orders | deletions | activate"),
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug from prefect.yaml."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Report what would be written; write nothing."
    ),
    since: str | None = typer.Option(
        None, "--since", help="Backfill from this date (orders, deletions)."
    ),
    full: bool = typer.Option(
        False, "--full", help="Also read Handy and repair drift (catalog, customers)."
    ),
    confirm_mass_disable: bool = typer.Option(
        False,
        "--confirm-mass-disable",
        help="Go on although the run disables more than the tenant's mass_disable_threshold_percent "
        "(catalog, customers).",
    ),
    file: Path = PREFECT_YAML,
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show Prefect's log lines (and tracebacks)."
    ),
) -> None:
    """Run one flow once for one tenant, with the tenant's parameters from prefect.yaml."""
    from ops import deployments

    try:
        spec = deployments.find(tenant, flow, file)
        flow_fn = spec.load_flow()
    except deployments.DeploymentFileError as error:
        fail(str(error))
    accepted = inspect.signature(flow_fn.fn).parameters
    options = {
        "dry_run": dry_run,
        "since": parse_since(since),
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
            fail(f"flow {flow} has no --{name.replace('_', '-')} option")
    from flows.runs import tenant_tags

    with tenant_tags(spec.tenant.slug, flow), prefect_console_quiet(verbose):  # X4: tag filter
        result = flow_fn(**kwargs, return_state=True)
        state = asyncio.run(result) if inspect.isawaitable(result) else result
    typer.echo(state_line(spec.name, state))  # a stop says how to go on (e.g. mass disable)
    if not state.is_completed():
        raise typer.Exit(code=1)


@app.command()
def serve(file: Path = PREFECT_YAML) -> None:
    """Serve every deployment of prefect.yaml in this process (no worker needed)."""
    from prefect import serve as prefect_serve

    from ops import deployments
    from tasks.tenant_deployments import schedule_states

    states = on_server(
        "serve", schedule_states()
    )  # activated/paused as the server has them (A4, A7)
    runner_deployments = [
        deployments.to_runner_deployment(spec, states.get(spec.name))
        for spec in deployments.deployments(file)
    ]
    typer.echo(f"serving {len(runner_deployments)} deployments from {file}")
    prefect_serve(*runner_deployments, pause_on_shutdown=False)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(
    ctx: typer.Context,
    pool: str = typer.Option("hgsync-process", "--pool", help="The work pool."),
    preload: bool = typer.Option(
        True,
        "--preload/--no-preload",
        help="Start runs from a preloaded process (off: every run imports Prefect anew).",
    ),
) -> None:
    """`prefect worker start --pool hgsync-process --limit 30` (other options, e.g. --limit 12,
    passed on; polling every 5 s for runs due in 20 s unless PREFECT_WORKER_QUERY_SECONDS /
    PREFECT_WORKER_PREFETCH_SECONDS say otherwise) with a preloaded process that starts each run
    without importing Prefect and our flows again."""
    from zygote.supervise import run_worker

    raise typer.Exit(code=run_worker(["--pool", pool, *ctx.args], preload=preload))


app.command()(report)


@app.command()
def reconcile(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug from prefect.yaml."),
    day: str | None = typer.Option(
        None, "--day", help="Local day YYYY-MM-DD (default: yesterday)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List the repairs it would make; write nothing."
    ),
    file: Path = PREFECT_YAML,
) -> None:
    """Compare a day's Handy orders with the bindings and Gestionix documents and repair what can be
    (missing orders pushed, documents of deleted orders deleted); exit 1 on any difference."""
    from datetime import date as date_type

    from flows.reconcile import reconcile as reconcile_flow
    from ops import deployments

    try:
        config = deployments.tenant(tenant, file)
        wanted = date_type.fromisoformat(day) if day else None
    except deployments.DeploymentFileError as error:
        fail(str(error))
    except ValueError:
        fail(f"--day {day!r}: use YYYY-MM-DD")
    from flows.runs import tenant_tags

    with tenant_tags(config.slug, "reconcile"), prefect_console_quiet():
        state = asyncio.run(
            reconcile_flow(tenant=config, day=wanted, dry_run=dry_run, return_state=True)
        )
    typer.echo(
        state.message
        if state.is_completed() and state.message
        else state_line(f"{config.slug}-reconcile", state)
    )
    if not state.is_completed():
        raise typer.Exit(code=1)


@app.command()
def prune(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug."),
    older_than_days: int = typer.Option(
        400, "--older-than-days", min=1, help="Keep this many days of audit."
    ),
    yes: bool = typer.Option(False, "--yes", help="Really delete (otherwise only count)."),
) -> None:
    """Delete audit runs (and their items) older than N days. Nothing is pruned automatically."""
    from datetime import timedelta

    from store import runs

    cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
    if not yes:
        count = len(runs.recent(tenant, limit=10**9)) - len(
            runs.recent(tenant, since=cutoff, limit=10**9)
        )
        typer.echo(
            f"{count} runs of tenant {tenant} started before {cutoff:%Y-%m-%d} would be deleted; add --yes"
        )
        return
    typer.echo(
        f"deleted {runs.prune(tenant, cutoff)} runs of tenant {tenant} started before {cutoff:%Y-%m-%d}"
    )


@app.command()
def replay(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug from prefect.yaml."),
    key: str | None = typer.Option(
        None, "--key", help="Only the dead letter of this Handy order id."
    ),
    all_letters: bool = typer.Option(False, "--all", help="Every open dead letter of the tenant."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List what would be retried; change nothing."
    ),
    file: Path = PREFECT_YAML,
) -> None:
    """Retry dead letters now (after fixing their cause) and report the outcome of each."""
    from flows.replay import replay as replay_flow
    from ops import deployments
    from store import runs

    if bool(key) == all_letters:
        fail("say which: --key ORDER_ID or --all")
    try:
        config = deployments.tenant(tenant, file)
    except deployments.DeploymentFileError as error:
        fail(str(error))
    from flows.runs import tenant_tags

    with tenant_tags(config.slug, "replay"), prefect_console_quiet():
        state = asyncio.run(replay_flow(tenant=config, key=key, dry_run=dry_run, return_state=True))
    last = runs.recent(config.slug, flow="replay", limit=1)
    for item in runs.items(config.slug, last[0].id) if last else []:
        typer.echo(
            f"{item.entity} {item.key}: {item.action}{' — ' + item.reason if item.reason else ''}"
        )
    typer.echo(
        state.message
        if state.is_completed() and state.message
        else state_line(f"{config.slug}-replay", state)
    )
    if not state.is_completed():
        raise typer.Exit(code=1)


@app.command()
def explain(
    entity: str = typer.Argument(..., help="order | product | customer"),
    key: str = typer.Argument(
        ..., help="Handy order id, product code (clave), customer code or Gestionix client id."
    ),
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug from prefect.yaml."),
    live: bool = typer.Option(
        False, "--live", help="Also ask Handy and Gestionix what they hold now."
    ),
    file: Path = PREFECT_YAML,
) -> None:
    """The whole story of one record and, first, why it is (not) in the other system (X5)."""
    from mappings.explain import VERDICTS, story_markdown, verdict
    from ops import deployments
    from store.history import record_story

    if entity not in VERDICTS:
        fail(f"explain {entity!r}: say order, product or customer")
    try:
        config = deployments.tenant(tenant, file)
    except deployments.DeploymentFileError as error:
        fail(str(error))
    story = record_story(config.slug, entity, key)
    now = asyncio.run(_read_live(config, entity, key)) if live else None
    sentence = verdict(story, now)
    typer.echo(f"{entity} {key}: {sentence}\n")
    typer.echo(story_markdown(story, sentence, now))


async def _read_live(config, entity: str, key: str) -> dict:
    from tasks.connect import connect
    from tasks.explain import read_live

    async with connect(config) as connection:
        return await read_live.fn(connection, entity, key)


app.add_typer(alerts_app, name="alerts")


if __name__ == "__main__":
    app()
