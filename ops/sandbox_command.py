"""`hgsync sandbox`: serve both stand-ins on loopback (registered by cli.py)."""

from __future__ import annotations

import typer

from sandbox.server import PortBusy, serve

# The credential blocks the demo tenant of prefect.yaml names (definitions.tenants.demo).
DEMO_BLOCKS = ("demo-handy", "demo-gestionix")


def save_demo_blocks(sb) -> None:
    """Point the demo tenant's two credential blocks at this sandbox (its URLs and demo secrets)."""
    from clients.credentials import GestionixCredentials, HandyCredentials

    HandyCredentials(base_url=sb.handy_url, api_token=sb.handy_token).save(
        DEMO_BLOCKS[0], overwrite=True
    )
    GestionixCredentials(
        base_url=sb.gestionix_url, user=sb.gestionix_user, password=sb.gestionix_password
    ).save(DEMO_BLOCKS[1], overwrite=True)
    print(
        f"saved blocks {DEMO_BLOCKS[0]!r} and {DEMO_BLOCKS[1]!r} (the demo tenant) pointing at this sandbox",
        flush=True,
    )


def sandbox_command(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (keep loopback)."),
    handy_port: int = typer.Option(8701, help="Port of the Handy v2 stand-in (0 = any free port)."),
    gestionix_port: int = typer.Option(
        8702, help="Port of the Gestionix v3 stand-in (0 = any free port)."
    ),
    seed: int = typer.Option(7, help="Seed of the demo data and of the fault dice."),
    products: int = typer.Option(200, help="Gestionix products in company 92 (50000 works)."),
    customers: int = typer.Option(60, help="Gestionix clients in company 92."),
    orders: int = typer.Option(
        0,
        help="Random Handy orders, created the first time sales orders are listed after Handy has products.",
    ),
    latency_ms: float = typer.Option(
        0.0, help="Latency added to every API call of both servers (ms)."
    ),
    rate_limit: int = typer.Option(
        500, help="Handy requests per minute before 429 (0 = unlimited)."
    ),
    fail_rate: float = typer.Option(
        0.0, help="Probability of a random 5xx (HTML body) on both servers."
    ),
    save_demo_blocks_: bool = typer.Option(
        False,
        "--save-demo-blocks",
        help=f"Save the demo tenant's blocks ({', '.join(DEMO_BLOCKS)}) with this sandbox's URLs (needs the Prefect API).",
    ),
    handy_timezone: str = typer.Option(
        "America/Mexico_City", help="Handy account time zone: how start/end query bounds are read."
    ),
) -> None:
    """Serve the Handy and Gestionix sandboxes and print their URLs and demo credentials."""
    if save_demo_blocks_:
        from prefect.settings import PREFECT_API_URL

        if not PREFECT_API_URL.value():  # a temporary local server would keep the blocks nowhere
            typer.secho(
                "--save-demo-blocks: PREFECT_API_URL is not set (the Prefect server that keeps the blocks)",
                fg=typer.colors.RED,
                err=True,
            )
            raise typer.Exit(code=1)
    try:
        serve(
            seed=seed,
            products=products,
            customers=customers,
            host=host,
            handy_port=handy_port,
            gestionix_port=gestionix_port,
            orders=orders,
            latency_ms=latency_ms,
            handy_rate_limit_per_minute=rate_limit or None,
            fail_rate=fail_rate,
            on_ready=save_demo_blocks if save_demo_blocks_ else None,
            handy_timezone=handy_timezone,
        )
    except PortBusy as error:
        typer.secho(str(error), fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from None
