"""`hgsync sandbox`: serve both stand-ins on loopback (registered by cli.py)."""

from __future__ import annotations

import typer

from sandbox.server import serve


def sandbox_command(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (keep loopback)."),
    handy_port: int = typer.Option(8701, help="Port of the Handy v2 stand-in (0 = any free port)."),
    gestionix_port: int = typer.Option(8702, help="Port of the Gestionix v3 stand-in (0 = any free port)."),
    seed: int = typer.Option(7, help="Seed of the demo data and of the fault dice."),
    products: int = typer.Option(200, help="Gestionix products in company 92 (50000 works)."),
    customers: int = typer.Option(60, help="Gestionix clients in company 92."),
    orders: int = typer.Option(
        0, help="Random Handy orders, created the first time sales orders are listed after Handy has products."
    ),
    latency_ms: float = typer.Option(0.0, help="Latency added to every API call of both servers (ms)."),
    rate_limit: int = typer.Option(500, help="Handy requests per minute before 429 (0 = unlimited)."),
    fail_rate: float = typer.Option(0.0, help="Probability of a random 5xx (HTML body) on both servers."),
    handy_timezone: str = typer.Option(
        "America/Mexico_City", help="Handy account time zone: how start/end query bounds are read."
    ),
) -> None:
    """Serve the Handy and Gestionix sandboxes and print their URLs and demo credentials."""
    serve(seed=seed, products=products, customers=customers, host=host, handy_port=handy_port,
          gestionix_port=gestionix_port, orders=orders, latency_ms=latency_ms,
          handy_rate_limit_per_minute=rate_limit or None, fail_rate=fail_rate, handy_timezone=handy_timezone)
