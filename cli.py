"""`hgsync`: the operator's command line (Typer). Commands not built yet say so and exit 2."""

from __future__ import annotations

import os

import typer

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

app = typer.Typer(
    name="hgsync",
    help="Handy <-> Konfio Gestionix sync: run the demo, the sandbox, flows, deployments and reports.",
    no_args_is_help=True,
    add_completion=False,
)
tenant_app = typer.Typer(help="Add a tenant (credential blocks + deployments) or check one.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")


def _not_built(what: str) -> None:
    typer.echo(f"hgsync {what}: not built yet (see the open issues).", err=True)
    raise typer.Exit(code=2)


@app.command()
def demo() -> None:
    """Run the whole integration against the local sandbox and print a summary."""
    _not_built("demo")


@app.command()
def sandbox() -> None:
    """Serve the Handy and Gestionix sandboxes on loopback."""
    _not_built("sandbox")


@tenant_app.command("add")
def tenant_add() -> None:
    """Save a tenant's credential blocks and add its deployments to prefect.yaml."""
    _not_built("tenant add")


@tenant_app.command("check")
def tenant_check() -> None:
    """Run the activation checks for a tenant without writing anything."""
    _not_built("tenant check")


@app.command()
def run() -> None:
    """Run one flow once for one tenant."""
    _not_built("run")


@app.command()
def serve() -> None:
    """Serve every deployment of prefect.yaml in this process (no worker needed)."""
    _not_built("serve")


@app.command()
def report() -> None:
    """Recent runs with their counts, and the open dead letters."""
    _not_built("report")


@app.command()
def replay() -> None:
    """Retry dead letters now."""
    _not_built("replay")


if __name__ == "__main__":
    app()
