"""Prefect's own floor for one process-worker run: a flow that imports nothing of ours and does
nothing, deployed and run beside the fleet's (bench.fleet), so each run's CPU-s and MB can be read
as Prefect's share plus ours."""

from prefect import flow


@flow(name="fleet_floor")
async def empty_flow() -> None:
    """Nothing: what remains is the engine's start, its API calls and the process's exit."""
