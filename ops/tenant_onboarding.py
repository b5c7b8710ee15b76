"""`hgsync tenant add | check | credentials | remove`: a tenant coming and going, the commands
that save, replace or delete its credential blocks (and run the activation checks on them).
Registered in the `tenant` group by ops/tenant_commands.py."""

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

SWITCH_FIELDS = (
    "sync_customers",
    "sync_inventory",
    "sync_deletions",
    "sync_customer_address",
    "treat_all_as_sales_orders",
)


def _secret_option(flag: str, env: str, what: str) -> typer.models.OptionInfo:
    """A secret's option: from the environment or a prompt, never echoed (A2)."""
    return typer.Option(
        ...,
        flag,
        envvar=env,
        prompt=True,
        hide_input=True,
        help=f"{what} (or env {env}; prompted, never echoed).",
    )


def tenant_add(
    slug: str = typer.Argument(
        ..., help="Tenant id: lowercase letters, digits, dashes.", callback=checked_slug
    ),
    branch: str = typer.Option(..., "--branch", help="Gestionix sucursal name."),
    company: str | None = typer.Option(None, "--company", help="Gestionix company id or name."),
    handy_url: str = typer.Option("https://hub.handy.la/api/v2", "--handy-url"),
    handy_token: str = _secret_option("--handy-token", "HGSYNC_HANDY_TOKEN", "Handy API token"),
    gestionix_url: str = typer.Option("https://api.gestionix.com/api/v3", "--gestionix-url"),
    gestionix_user: str = typer.Option(
        ..., "--gestionix-user", envvar="HGSYNC_GESTIONIX_USER", prompt=True
    ),
    gestionix_password: str = _secret_option(
        "--gestionix-password", "HGSYNC_GESTIONIX_PASSWORD", "Gestionix password"
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
