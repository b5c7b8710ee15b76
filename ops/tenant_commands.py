"""`hgsync tenant ...`: a tenant's life (add, check, set, pause, resume, credentials, remove,
list); registered by cli.py.

Over 400 lines on purpose: one Typer group of eight commands whose option declarations are most
of its length; split, one command group would live in several modules."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import typer

from ops.cli_support import (
    PREFECT_YAML,
    checked_slug,
    fail,
    known_tenant,
    on_server,
    prefect_api_url,
    prefect_console_quiet,
    validation_text,
)

tenant_app = typer.Typer(
    help="A tenant's life: add, check, set, pause, resume, credentials, remove, list.",
    no_args_is_help=True,
)


@tenant_app.command("add")
def tenant_add(
    slug: str = typer.Argument(
        ..., help="Tenant id: lowercase letters, digits, dashes.", callback=checked_slug
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
    given = locals()  # the five switches, by the names TenantConfig and SWITCH_FIELDS share
    config, blocks = _new_tenant(
        slug,
        branch=branch,
        company=company,
        timezone_name=timezone_name,
        switches={name: given[name] for name in SWITCH_FIELDS},
        handy=(handy_url, handy_token),
        gestionix=(gestionix_url, gestionix_user, gestionix_password),
    )
    if not yaml_only:
        for name, block in blocks.items():
            block.save(name, overwrite=True)
        typer.echo(f"saved blocks {' and '.join(repr(name) for name in blocks)}")
    _add_deployments(config, file)


def _new_tenant(
    slug: str,
    *,
    branch: str,
    company: str | None,
    timezone_name: str,
    switches: dict[str, bool],
    handy: tuple[str, str],
    gestionix: tuple[str, str, str],
):
    """The tenant's settings and its two credential blocks, validated; one line when refused."""
    from pydantic import ValidationError

    from clients.credentials import GestionixCredentials, HandyCredentials
    from mappings.tenant import TenantConfig

    try:
        config = TenantConfig(
            slug=slug,
            gestionix_branch=branch,
            gestionix_company=company,
            handy_credentials=f"{slug}-handy",
            gestionix_credentials=f"{slug}-gestionix",
            handy_timezone=timezone_name,
            **switches,
        )
        handy_url, handy_token = handy
        handy_block = HandyCredentials(base_url=handy_url, api_token=handy_token)
        gestionix_url, gestionix_user, gestionix_password = gestionix
        gestionix_block = GestionixCredentials(
            base_url=gestionix_url, user=gestionix_user, password=gestionix_password
        )
    except ValidationError as error:  # the blocks hide refused values from their errors (A2)
        fail(f"tenant {slug}: {validation_text(error)}")
    return config, {
        config.handy_credentials: handy_block,
        config.gestionix_credentials: gestionix_block,
    }


def _add_deployments(config, file: Path) -> None:
    from ops import deployments

    slug = config.slug
    try:
        offset = deployments.add_tenant(config, file)
    except deployments.DeploymentFileError as error:
        fail(str(error))
    typer.echo(f"added deployments {', '.join(f'{slug}-{k}' for k in deployments.FLOWS)} to {file}")
    typer.echo(
        f"schedules staggered: order push at {offset // 60}:{offset % 60:02d} past every 10 minutes,"
        " deletions 5 minutes later"
    )
    typer.echo(
        f"next: hgsync tenant check {slug} ; hgsync deploy ; prefect deployment run activate/{slug}-activate"
    )


@tenant_app.command("check")
def tenant_check(slug: str = typer.Argument(...), file: Path = PREFECT_YAML) -> None:
    """Run the activation checks (A4) for a tenant without writing anything."""
    from ops import deployments

    try:
        config = deployments.tenant(slug, file)
    except deployments.DeploymentFileError as error:
        fail(str(error))
    _run_checks(config)


def _run_checks(config) -> None:
    """The activation checks (A4), printed; the command exits 0 when they all pass."""
    from flows.activate import check_tenant

    with prefect_console_quiet():
        report = asyncio.run(check_tenant(config))
    for line in report.lines():
        typer.echo(line)
    raise typer.Exit(code=0 if report.ok else 1)


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
    config = known_tenant(slug, file)
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
        fail("say what to change, e.g. --no-sync-deletions (see --help)")
    _apply_settings(config, changes, file)


def _apply_settings(config, changes: dict, file: Path) -> None:
    """The changed settings into prefect.yaml, then onto the tenant's deployments on the server."""
    from pydantic import ValidationError

    from mappings.tenant import TenantConfig
    from ops import deployments
    from tasks.tenant_deployments import set_tenant_parameters

    slug = config.slug
    try:
        updated = TenantConfig(**{**config.model_dump(), **changes})
    except ValidationError as error:
        fail(f"tenant {slug}: {validation_text(error)}")
    changed = deployments.update_tenant(updated, file)
    if not changed:
        typer.echo(f"tenant {slug}: nothing changed")
    for key, (old, new) in changed.items():
        typer.echo(f"tenant {slug}: {key} {old} -> {new}")
    names = on_server(
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

    known_tenant(slug, file)
    if not paused and cursors.get(slug, "orders") is None:
        fail(
            f"tenant {slug} was never activated: run its activate deployment (RULES A4), "
            f"e.g. prefect deployment run activate/{slug}-activate"
        )
    names = on_server(f"tenant {slug}", set_schedules_active(slug, not paused))
    if not names:
        fail(
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

    if which not in ("both", "handy", "gestionix"):
        fail(f"--which {which!r}: use both, handy or gestionix")
    config = known_tenant(slug, file)
    prefect_api_url()
    try:
        if which in ("both", "handy"):
            _replace_handy_block(config, handy_url)
        if which in ("both", "gestionix"):
            _replace_gestionix_block(config, gestionix_url, gestionix_user)
    except ValidationError as error:
        fail(f"tenant {slug}: {validation_text(error)}")
    _run_checks(config)


def _secret(env: str, label: str) -> str:
    return os.environ.get(env) or typer.prompt(label, hide_input=True)


def _replace_handy_block(config, handy_url: str | None) -> None:
    from clients.credentials import HandyCredentials

    try:
        current = HandyCredentials.load(config.handy_credentials, _sync=True)
        url = handy_url or current.base_url
    except ValueError:
        url = handy_url or "https://hub.handy.la/api/v2"
    token = _secret("HGSYNC_HANDY_TOKEN", "Handy API token")
    HandyCredentials(base_url=url, api_token=token).save(
        config.handy_credentials, overwrite=True, _sync=True
    )
    typer.echo(f"saved block {config.handy_credentials!r}")


def _replace_gestionix_block(config, gestionix_url: str | None, gestionix_user: str | None) -> None:
    from clients.credentials import GestionixCredentials

    try:
        current = GestionixCredentials.load(config.gestionix_credentials, _sync=True)
        url, user = gestionix_url or current.base_url, gestionix_user or current.user
    except ValueError:
        url, user = gestionix_url or "https://api.gestionix.com/api/v3", gestionix_user
    if not user:
        fail(f"block {config.gestionix_credentials!r} does not exist yet: pass --gestionix-user")
    password = _secret("HGSYNC_GESTIONIX_PASSWORD", "Gestionix password")
    GestionixCredentials(base_url=url, user=user, password=password).save(
        config.gestionix_credentials, overwrite=True, _sync=True
    )
    typer.echo(f"saved block {config.gestionix_credentials!r}")


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

    config = known_tenant(slug, file)
    prefect_api_url()
    if not yes:
        typer.confirm(
            f"remove tenant {slug} (deployments, blocks{', store rows' if purge_store else ''})?",
            abort=True,
        )
    names = on_server(f"tenant {slug} remove", delete_deployments(slug))
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

    prefect_api_url()
    known = deployments.tenants(file)
    if not known:
        typer.echo(f"no tenant in {file}")
    for slug, config in sorted(known.items()):
        statuses = on_server("tenant list", tenant_status(slug))
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
