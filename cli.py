"""`hgsync`: the operator's command line (Typer); the work behind it lives in ops/, flows/ and tasks/."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import re
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import typer

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

app = typer.Typer(
    name="hgsync",
    help="Handy <-> Konfio Gestionix sync: run the demo, the sandbox, flows, deployments and reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)
tenant_app = typer.Typer(
    help="A tenant's life: add, check, set, pause, resume, credentials, remove, list.",
    no_args_is_help=True,
)
app.add_typer(tenant_app, name="tenant")

PREFECT_YAML = typer.Option(Path("prefect.yaml"), "--file", help="The deployments file.")


def _fail(message: str, code: int = 1) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code=code)


@contextmanager
def _prefect_console_quiet(verbose: bool = False):
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


def _state_line(name: str, state) -> str:
    """ "demo-orders: Failed — Handy at http://… refused the connection": the state and, when it
    did not complete, the exception's own text (no traceback)."""
    if state.is_completed():
        return f"{name}: {state.name}"
    message = (state.message or "").strip()
    for prefix in ("Flow run encountered an exception: ", "Task run encountered an exception: "):
        message = message.removeprefix(prefix)
    message = re.sub(r"^[A-Z]\w*: ", "", message)  # "Unreachable: Handy at …" -> "Handy at …"
    return f"{name}: {state.name}" + (f" — {message}" if message else "")


def _validation_text(error) -> str:
    """A pydantic ValidationError as one line an operator reads: "field: problem; ..."."""
    parts = []
    for item in error.errors(include_input=False):  # never echo a refused secret (A2)
        where = ".".join(str(p) for p in item.get("loc", ())) or "value"
        parts.append(f"{where}: {str(item.get('msg', '')).removeprefix('Value error, ')}")
    return "; ".join(parts)


def _checked_slug(slug: str) -> str:
    """Refuse a bad slug before any secret is prompted for."""
    from mappings.tenant import SLUG_PATTERN

    if not SLUG_PATTERN.fullmatch(slug):
        _fail(
            f"tenant {slug!r}: a slug is 1-63 lowercase letters, digits or dashes, "
            "not starting or ending with a dash (e.g. abarrotes-lupita)"
        )
    return slug


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        _fail(f"--since {value!r}: use ISO format, e.g. 2026-11-27 or 2026-11-27T08:00:00-06:00")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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


@tenant_app.command("add")
def tenant_add(
    slug: str = typer.Argument(
        ..., help="Tenant id: lowercase letters, digits, dashes.", callback=_checked_slug
    ),
    branch: str = typer.Option(..., "--branch", help="Gestionix sucursal name."),
    company: str | None = typer.Option(None, "--company", help="Gestionix company id or name."),
    handy_url: str = typer.Option("https://hub.handy.la/api/v2", "--handy-url"),
    handy_token: str = typer.Option(
        ...,
        "--handy-token",
        envvar="HGSYNC_HANDY_TOKEN",
        prompt=True,
        hide_input=True,
        help="Handy API token (or env HGSYNC_HANDY_TOKEN; prompted, never echoed).",
    ),
    gestionix_url: str = typer.Option("https://api.gestionix.com/api/v3", "--gestionix-url"),
    gestionix_user: str = typer.Option(
        ..., "--gestionix-user", envvar="HGSYNC_GESTIONIX_USER", prompt=True
    ),
    gestionix_password: str = typer.Option(
        ...,
        "--gestionix-password",
        envvar="HGSYNC_GESTIONIX_PASSWORD",
        prompt=True,
        hide_input=True,
        help="Gestionix password (or env HGSYNC_GESTIONIX_PASSWORD; prompted, never echoed).",
    ),
    timezone_name: str = typer.Option("America/Mexico_City", "--timezone"),
    sync_customers: bool = typer.Option(True, "--sync-customers/--no-sync-customers"),
    sync_inventory: bool = typer.Option(True, "--sync-inventory/--no-sync-inventory"),
    sync_deletions: bool = typer.Option(True, "--sync-deletions/--no-sync-deletions"),
    sync_customer_address: bool = typer.Option(
        True, "--sync-customer-address/--no-sync-customer-address"
    ),
    treat_all_as_sales_orders: bool = typer.Option(
        True,
        "--all-as-sales-orders/--sales-as-ventas",
        help="O2: pedidos for all, or ventas for route sales.",
    ),
    file: Path = PREFECT_YAML,
    yaml_only: bool = typer.Option(
        False, "--yaml-only", help="Only edit prefect.yaml (blocks already saved)."
    ),
) -> None:
    """Save a tenant's two credential blocks and add its seven deployments to prefect.yaml."""
    from pydantic import ValidationError

    from clients.credentials import GestionixCredentials, HandyCredentials
    from mappings.tenant import TenantConfig
    from ops import deployments

    try:
        config = TenantConfig(
            slug=slug,
            gestionix_branch=branch,
            gestionix_company=company,
            handy_credentials=f"{slug}-handy",
            gestionix_credentials=f"{slug}-gestionix",
            handy_timezone=timezone_name,
            sync_customers=sync_customers,
            sync_inventory=sync_inventory,
            sync_deletions=sync_deletions,
            sync_customer_address=sync_customer_address,
            treat_all_as_sales_orders=treat_all_as_sales_orders,
        )
        handy_block = HandyCredentials(base_url=handy_url, api_token=handy_token)
        gestionix_block = GestionixCredentials(
            base_url=gestionix_url, user=gestionix_user, password=gestionix_password
        )
    except ValidationError as error:  # the blocks hide refused values from their errors (A2)
        _fail(f"tenant {slug}: {_validation_text(error)}")
    if not yaml_only:
        handy_block.save(config.handy_credentials, overwrite=True)
        gestionix_block.save(config.gestionix_credentials, overwrite=True)
        typer.echo(
            f"saved blocks {config.handy_credentials!r} and {config.gestionix_credentials!r}"
        )
    try:
        offset = deployments.add_tenant(config, file)
    except deployments.DeploymentFileError as error:
        _fail(str(error))
    typer.echo(f"added deployments {', '.join(f'{slug}-{k}' for k in deployments.FLOWS)} to {file}")
    typer.echo(
        f"schedules staggered: order push at minute {offset} of every 10, deletions 5 minutes later"
    )
    typer.echo(
        f"next: hgsync tenant check {slug} ; hgsync deploy ; prefect deployment run activate/{slug}-activate"
    )


@tenant_app.command("check")
def tenant_check(slug: str = typer.Argument(...), file: Path = PREFECT_YAML) -> None:
    """Run the activation checks (A4) for a tenant without writing anything."""
    from flows.activate import check_tenant
    from ops import deployments

    try:
        config = deployments.tenant(slug, file)
    except deployments.DeploymentFileError as error:
        _fail(str(error))
    with _prefect_console_quiet():
        report = asyncio.run(check_tenant(config))
    for line in report.lines():
        typer.echo(line)
    raise typer.Exit(code=0 if report.ok else 1)


def _prefect_api_url() -> str:
    """The Prefect server the lifecycle commands act on; refuse to guess (an ephemeral local
    server would accept the change and forget it)."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        _fail(
            "PREFECT_API_URL is not set: start the server (`prefect server start`) and "
            "export PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    return url


def _on_server(what: str, call):
    """Run one Prefect API coroutine; a server that does not answer is one line, not a traceback."""
    url = _prefect_api_url()
    try:
        return asyncio.run(call)
    except Exception as error:  # noqa: BLE001 - any failure of the API call is reported the same way
        _fail(f"{what}: the Prefect server at {url} failed: {type(error).__name__}: {error}")


def _known_tenant(slug: str, file: Path):
    from ops import deployments

    try:
        return deployments.tenant(slug, file)
    except deployments.DeploymentFileError as error:
        _fail(str(error))


SWITCH_FIELDS = (
    "sync_customers",
    "sync_inventory",
    "sync_deletions",
    "sync_customer_address",
    "treat_all_as_sales_orders",
)


@tenant_app.command("set")
def tenant_set(
    slug: str = typer.Argument(..., help="Tenant slug from prefect.yaml."),
    branch: str | None = typer.Option(None, "--branch", help="Gestionix sucursal name."),
    company: str | None = typer.Option(None, "--company", help="Gestionix company id or name."),
    timezone_name: str | None = typer.Option(None, "--timezone"),
    order_lookback_minutes: int | None = typer.Option(None, "--order-lookback-minutes"),
    sync_customers: bool | None = typer.Option(None, "--sync-customers/--no-sync-customers"),
    sync_inventory: bool | None = typer.Option(None, "--sync-inventory/--no-sync-inventory"),
    sync_deletions: bool | None = typer.Option(None, "--sync-deletions/--no-sync-deletions"),
    sync_customer_address: bool | None = typer.Option(
        None, "--sync-customer-address/--no-sync-customer-address"
    ),
    treat_all_as_sales_orders: bool | None = typer.Option(
        None,
        "--all-as-sales-orders/--sales-as-ventas",
        help="O2: pedidos for all, or ventas for route sales.",
    ),
    file: Path = PREFECT_YAML,
) -> None:
    """Change a tenant's settings (A7): its block in prefect.yaml, and at once every one of its
    deployments on the Prefect server. The one way to change them (not the UI's parameter editor)."""
    from pydantic import ValidationError

    from mappings.tenant import TenantConfig
    from ops import deployments
    from tasks.tenant_deployments import set_tenant_parameters

    config = _known_tenant(slug, file)
    wanted = {
        "gestionix_branch": branch,
        "gestionix_company": company,
        "handy_timezone": timezone_name,
        "order_lookback_minutes": order_lookback_minutes,
        "sync_customers": sync_customers,
        "sync_inventory": sync_inventory,
        "sync_deletions": sync_deletions,
        "sync_customer_address": sync_customer_address,
        "treat_all_as_sales_orders": treat_all_as_sales_orders,
    }
    changes = {key: value for key, value in wanted.items() if value is not None}
    if not changes:
        _fail("say what to change, e.g. --no-sync-deletions (see --help)")
    try:
        updated = TenantConfig(**{**config.model_dump(), **changes})
    except ValidationError as error:
        _fail(f"tenant {slug}: {_validation_text(error)}")
    changed = deployments.update_tenant(updated, file)
    if not changed:
        typer.echo(f"tenant {slug}: nothing changed")
    for key, (old, new) in changed.items():
        typer.echo(f"tenant {slug}: {key} {old} -> {new}")
    names = _on_server(
        f"tenant {slug} set (prefect.yaml is updated; run the same command again to update the server)",
        set_tenant_parameters(slug, updated.model_dump(mode="json")),
    )
    if names:
        typer.echo(f"updated {len(names)} deployments on the server: {', '.join(names)}")
    else:
        typer.echo(
            f"no deployment of tenant {slug} on the server yet: `hgsync deploy` creates them"
        )


def _set_paused(slug: str, file: Path, paused: bool) -> None:
    from store import cursors
    from tasks.tenant_deployments import set_schedules_active

    _known_tenant(slug, file)
    if not paused and cursors.get(slug, "orders") is None:
        _fail(
            f"tenant {slug} was never activated: run its activate deployment (RULES A4), "
            f"e.g. prefect deployment run activate/{slug}-activate"
        )
    names = _on_server(f"tenant {slug}", set_schedules_active(slug, not paused))
    if not names:
        _fail(
            f"no scheduled deployment of tenant {slug} on the server: `hgsync deploy` creates them"
        )
    typer.echo(
        f"tenant {slug}: schedules {'paused' if paused else 'resumed'} on {len(names)} deployments "
        f"({', '.join(names)})"
    )


@tenant_app.command("pause")
def tenant_pause(slug: str = typer.Argument(...), file: Path = PREFECT_YAML) -> None:
    """Pause every schedule of the tenant (trial ended, module not renewed); its runs already
    scheduled are dropped, its store and history stay. Manual runs still work."""
    _set_paused(slug, file, paused=True)


@tenant_app.command("resume")
def tenant_resume(slug: str = typer.Argument(...), file: Path = PREFECT_YAML) -> None:
    """Resume every schedule of a paused tenant (an activated one: otherwise run activate)."""
    _set_paused(slug, file, paused=False)


@tenant_app.command("credentials")
def tenant_credentials(
    slug: str = typer.Argument(..., help="Tenant slug from prefect.yaml."),
    which: str = typer.Option("both", "--which", help="both | handy | gestionix"),
    handy_url: str | None = typer.Option(
        None, "--handy-url", help="New Handy URL (default: keep)."
    ),
    gestionix_url: str | None = typer.Option(
        None, "--gestionix-url", help="New Gestionix URL (default: keep)."
    ),
    gestionix_user: str | None = typer.Option(
        None, "--gestionix-user", help="New Gestionix user (default: keep)."
    ),
    file: Path = PREFECT_YAML,
) -> None:
    """Replace the token and/or password in the tenant's blocks (prompted, never echoed; or env
    HGSYNC_HANDY_TOKEN / HGSYNC_GESTIONIX_PASSWORD), then run the checks of `tenant check`."""
    from pydantic import ValidationError

    from clients.credentials import GestionixCredentials, HandyCredentials
    from flows.activate import check_tenant

    if which not in ("both", "handy", "gestionix"):
        _fail(f"--which {which!r}: use both, handy or gestionix")
    config = _known_tenant(slug, file)
    _prefect_api_url()

    def secret(env: str, label: str) -> str:
        return os.environ.get(env) or typer.prompt(label, hide_input=True)

    try:
        if which in ("both", "handy"):
            try:
                current = HandyCredentials.load(config.handy_credentials, _sync=True)
                url = handy_url or current.base_url
            except ValueError:
                url = handy_url or "https://hub.handy.la/api/v2"
            token = secret("HGSYNC_HANDY_TOKEN", "Handy API token")
            HandyCredentials(base_url=url, api_token=token).save(
                config.handy_credentials, overwrite=True, _sync=True
            )
            typer.echo(f"saved block {config.handy_credentials!r}")
        if which in ("both", "gestionix"):
            try:
                current = GestionixCredentials.load(config.gestionix_credentials, _sync=True)
                url, user = gestionix_url or current.base_url, gestionix_user or current.user
            except ValueError:
                url, user = gestionix_url or "https://api.gestionix.com/api/v3", gestionix_user
            if not user:
                _fail(
                    f"block {config.gestionix_credentials!r} does not exist yet: pass --gestionix-user"
                )
            password = secret("HGSYNC_GESTIONIX_PASSWORD", "Gestionix password")
            GestionixCredentials(base_url=url, user=user, password=password).save(
                config.gestionix_credentials, overwrite=True, _sync=True
            )
            typer.echo(f"saved block {config.gestionix_credentials!r}")
    except ValidationError as error:
        _fail(f"tenant {slug}: {_validation_text(error)}")
    with _prefect_console_quiet():
        report = asyncio.run(check_tenant(config))
    for line in report.lines():
        typer.echo(line)
    raise typer.Exit(code=0 if report.ok else 1)


@tenant_app.command("remove")
def tenant_remove(
    slug: str = typer.Argument(..., help="Tenant slug from prefect.yaml."),
    purge_store: bool = typer.Option(
        False, "--purge-store", help="Also delete its rows in the store (history)."
    ),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    file: Path = PREFECT_YAML,
) -> None:
    """Remove a tenant: its deployments on the server, its two credential blocks and its entries in
    prefect.yaml. The store keeps its history (report, audit) unless --purge-store."""
    from clients.credentials import GestionixCredentials, HandyCredentials
    from ops import deployments
    from tasks.tenant_deployments import delete_deployments

    config = _known_tenant(slug, file)
    _prefect_api_url()
    if not yes:
        typer.confirm(
            f"remove tenant {slug} (deployments, blocks{', store rows' if purge_store else ''})?",
            abort=True,
        )
    names = _on_server(f"tenant {slug} remove", delete_deployments(slug))
    typer.echo(
        f"deleted {len(names)} deployments on the server"
        + (f": {', '.join(names)}" if names else "")
    )
    for block_type, name in (
        (HandyCredentials, config.handy_credentials),
        (GestionixCredentials, config.gestionix_credentials),
    ):
        try:
            block_type.delete(name, _sync=True)
            typer.echo(f"deleted block {name!r}")
        except ValueError:  # no such block: nothing to delete
            typer.echo(f"block {name!r} did not exist")
    removed = deployments.remove_tenant(slug, file)
    typer.echo(f"removed tenant {slug} and {len(removed)} deployments from {file}")
    if purge_store:
        from store.purge import purge_tenant

        counts = purge_tenant(slug)
        typer.echo(
            f"store rows deleted: {', '.join(f'{table} {n}' for table, n in counts.items())}"
        )
    else:
        typer.echo(f"the store keeps tenant {slug}'s history (hgsync report --tenant {slug})")


@tenant_app.command("list")
def tenant_list(file: Path = PREFECT_YAML) -> None:
    """Every tenant of prefect.yaml: switches, state (awaiting activation, active, paused) and the
    last run of each of its deployments on the server."""
    from ops import deployments
    from store import cursors
    from tasks.tenant_deployments import tenant_status

    _prefect_api_url()
    known = deployments.tenants(file)
    if not known:
        typer.echo(f"no tenant in {file}")
    for slug, config in sorted(known.items()):
        statuses = _on_server("tenant list", tenant_status(slug))
        scheduled = [status for status in statuses if status.scheduled]
        if not statuses:
            state = "not deployed"
        elif scheduled and all(status.active for status in scheduled):
            state = "active"
        elif any(status.active for status in scheduled):
            state = "partly paused"
        elif cursors.get(slug, "orders") is None:
            state = "awaiting activation"
        else:
            state = "paused"
        switches = ", ".join(
            f"{name.removeprefix('sync_')} {'on' if getattr(config, name) else 'off'}"
            for name in SWITCH_FIELDS
        )
        typer.echo(f"{slug}: {state} — {switches}")
        for status in statuses:
            typer.echo(f"  {status.name}: last run {status.last_run}")


@app.command()
def deploy(file: Path = PREFECT_YAML) -> None:
    """`prefect deploy --all` for prefect.yaml, keeping each deployment's schedules as the server
    has them (activated, paused); new deployments start paused until their activation (A4)."""
    import subprocess
    import sys

    from ops import deployments
    from tasks.tenant_deployments import restore_schedule_states, schedule_states

    _prefect_api_url()
    states = _on_server("deploy", schedule_states())
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
        _fail(f"prefect deploy failed (exit {done.returncode}); its output is above")
    restored = _on_server("deploy", restore_schedule_states(states))
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
    from flows.runs import tenant_tags

    with tenant_tags(spec.tenant.slug, flow), _prefect_console_quiet(verbose):  # X4: tag filter
        result = flow_fn(**kwargs, return_state=True)
        state = asyncio.run(result) if inspect.isawaitable(result) else result
    typer.echo(_state_line(spec.name, state))  # a stop says how to go on (e.g. mass disable)
    if not state.is_completed():
        raise typer.Exit(code=1)


@app.command()
def serve(file: Path = PREFECT_YAML) -> None:
    """Serve every deployment of prefect.yaml in this process (no worker needed)."""
    from prefect import serve as prefect_serve

    from ops import deployments
    from tasks.tenant_deployments import schedule_states

    states = _on_server(
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
    """`prefect worker start --pool hgsync-process` (other options, e.g. --limit 12, passed on) with a
    preloaded process that starts each run without importing Prefect and our flows again."""
    from zygote.supervise import run_worker

    raise typer.Exit(code=run_worker(["--pool", pool, *ctx.args], preload=preload))


@app.command()
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
        _fail(f"--format {output!r}: use table, json or csv")
    if not runs.recent(
        tenant, limit=1
    ):  # a removed tenant keeps its history: it is known by its runs
        try:
            deployments.tenant(tenant, file)
        except deployments.DeploymentFileError as error:
            _fail(f"{error}; and the store has no run of {tenant!r}")
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
        _fail(str(error))
    except ValueError:
        _fail(f"--day {day!r}: use YYYY-MM-DD")
    from flows.runs import tenant_tags

    with tenant_tags(config.slug, "reconcile"), _prefect_console_quiet():
        state = asyncio.run(
            reconcile_flow(tenant=config, day=wanted, dry_run=dry_run, return_state=True)
        )
    typer.echo(
        state.message
        if state.is_completed() and state.message
        else _state_line(f"{config.slug}-reconcile", state)
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
        _fail("say which: --key ORDER_ID or --all")
    try:
        config = deployments.tenant(tenant, file)
    except deployments.DeploymentFileError as error:
        _fail(str(error))
    from flows.runs import tenant_tags

    with tenant_tags(config.slug, "replay"), _prefect_console_quiet():
        state = asyncio.run(replay_flow(tenant=config, key=key, dry_run=dry_run, return_state=True))
    last = runs.recent(config.slug, flow="replay", limit=1)
    for item in runs.items(config.slug, last[0].id) if last else []:
        typer.echo(
            f"{item.entity} {item.key}: {item.action}{' — ' + item.reason if item.reason else ''}"
        )
    typer.echo(
        state.message
        if state.is_completed() and state.message
        else _state_line(f"{config.slug}-replay", state)
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
        _fail(f"explain {entity!r}: say order, product or customer")
    try:
        config = deployments.tenant(tenant, file)
    except deployments.DeploymentFileError as error:
        _fail(str(error))
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


AUTOMATIONS_FILE = typer.Option(Path("automations.yaml"), "--file", help="The automations file.")
alerts_app = typer.Typer(
    help="Prefect automations that tell the operator about problems (X4).", no_args_is_help=True
)
app.add_typer(alerts_app, name="alerts")


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
        _fail(str(error))
    except FileNotFoundError:
        _fail(f"{file} not found")
    for name, automation_id in asyncio.run(automations.install(wanted)):
        typer.echo(f"{name}: {automation_id}")


if __name__ == "__main__":
    app()
