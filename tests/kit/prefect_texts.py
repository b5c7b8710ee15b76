"""What Prefect holds of the runs (logs, parameters, state messages, artifacts), read back from
its API: the secrets tests search it for any fragment of a secret."""

from __future__ import annotations


async def prefect_texts() -> str:
    """Every flow run's logs, parameters and every artifact, read back from the Prefect API."""
    from prefect.client.orchestration import get_client
    from prefect.logging.handlers import APILogHandler

    try:
        await APILogHandler.aflush()
    except Exception:  # noqa: BLE001 - older/newer Prefect: flush is best effort
        pass
    async with get_client() as client:
        logs = await client.read_logs()
        artifacts = await client.read_artifacts()
        flow_runs = await client.read_flow_runs()
    parts = [log.message for log in logs]
    parts += [repr(a.data) + repr(a.description) for a in artifacts]
    parts += [repr(run.parameters) + repr(run.state and run.state.message) for run in flow_runs]
    assert artifacts, "no artifact was published: nothing to check"
    return "\n".join(parts)
