"""`hgsync tenant set | pause | resume | list`: operating a tenant that exists, through its
settings in prefect.yaml and its deployments on the Prefect server (its blocks untouched).
Registered in the `tenant` group by ops/tenant_commands.py."""

from __future__ import annotations

from pathlib import Path

import typer

from ops.cli_support import (
    PREFECT_YAML,
    fail,
    known_tenant,
    on_server,
    prefect_api_url,
    validation_text,
)
from ops.tenant_onboarding import SWITCH_FIELDS


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


def tenant_pause(slug: str = typer.Argument(...), file: Path = PREFECT_YAML) -> None:
    """Pause every schedule of the tenant (trial ended, module not renewed); its runs already
    scheduled are dropped, its store and history stay. Manual runs still work."""
    _set_paused(slug, file, paused=True)


def tenant_resume(slug: str = typer.Argument(...), file: Path = PREFECT_YAML) -> None:
    """Resume every schedule of a paused tenant (an activated one: otherwise run activate)."""
    _set_paused(slug, file, paused=False)


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
