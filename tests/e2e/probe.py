"""What scripts/e2e.sh asserts between two operator commands, on the real Prefect server and store:

    python -m tests.e2e.probe schedules SLUG paused|active
    python -m tests.e2e.probe scheduled-runs SLUG none|some [--wait SECONDS]
    python -m tests.e2e.probe parameter SLUG FIELD VALUE
    python -m tests.e2e.probe last-run DEPLOYMENT STATE
    python -m tests.e2e.probe removed SLUG

Exits 1 with the reason when the server or the store says otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    DeploymentFilterTags,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort

from ops.deployments import FLOWS


def _by_tag(slug: str) -> DeploymentFilter:
    return DeploymentFilter(tags=DeploymentFilterTags(all_=[f"tenant:{slug}"]))


async def _deployments(slug: str):
    async with get_client() as client:
        return await client.read_deployments(deployment_filter=_by_tag(slug))


async def _scheduled_runs(slug: str):
    async with get_client() as client:
        return await client.read_flow_runs(
            deployment_filter=_by_tag(slug),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
            ),
        )


def schedules(slug: str, expected: str) -> str:
    found = asyncio.run(_deployments(slug))
    scheduled = [d for d in found if d.schedules]
    if len(scheduled) != 5:
        return f"tenant {slug}: {len(scheduled)} scheduled deployments on the server, expected 5"
    wrong = [
        d.name for d in scheduled if any(s.active != (expected == "active") for s in d.schedules)
    ]
    return f"tenant {slug}: schedules of {wrong} are not {expected}" if wrong else ""


def scheduled_runs(slug: str, expected: str, wait: float) -> str:
    deadline = time.monotonic() + wait
    while True:
        runs = asyncio.run(_scheduled_runs(slug))
        if (expected == "some") == bool(runs):
            return ""
        if time.monotonic() >= deadline:
            return f"tenant {slug}: {len(runs)} scheduled runs, expected {expected}"
        time.sleep(1)


def parameter(slug: str, field: str, value: str) -> str:
    wanted = json.loads(value)
    found = asyncio.run(_deployments(slug))
    wrong = [d.name for d in found if d.parameters["tenant"].get(field) != wanted]
    if len(found) != len(FLOWS) or wrong:  # every flow of the tenant
        return f"tenant {slug}: {len(found)} deployments; {field} is not {wanted!r} on {wrong}"
    return ""


def last_run(deployment: str, state: str) -> str:
    async def read():
        async with get_client() as client:
            return await client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[deployment])),
                sort=FlowRunSort.START_TIME_DESC,
                limit=1,
            )

    runs = asyncio.run(read())
    got = runs[0].state.name if runs and runs[0].state else "no run"
    return "" if got == state else f"{deployment}: last run {got}, expected {state}"


def removed(slug: str) -> str:
    from clients.credentials import GestionixCredentials, HandyCredentials
    from store import binder, runs

    problems = []
    if left := asyncio.run(_deployments(slug)):
        problems.append(f"deployments left: {[d.name for d in left]}")
    for block_type, name in (
        (HandyCredentials, f"{slug}-handy"),
        (GestionixCredentials, f"{slug}-gestionix"),
    ):
        try:
            block_type.load(name, _sync=True)
            problems.append(f"block {name} still exists")
        except ValueError:
            pass
    if not runs.recent(slug, flow="activate") or not binder.all_for(slug, "product"):
        problems.append("the store lost its runs or bindings")
    return f"tenant {slug}: " + "; ".join(problems) if problems else ""


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("schedules").add_argument("args", nargs=2)
    runs_parser = sub.add_parser("scheduled-runs")
    runs_parser.add_argument("args", nargs=2)
    runs_parser.add_argument("--wait", type=float, default=0.0)
    sub.add_parser("parameter").add_argument("args", nargs=3)
    sub.add_parser("last-run").add_argument("args", nargs=2)
    sub.add_parser("removed").add_argument("args", nargs=1)
    options = parser.parse_args()
    if options.what == "schedules":
        problem = schedules(*options.args)
    elif options.what == "scheduled-runs":
        problem = scheduled_runs(*options.args, wait=options.wait)
    elif options.what == "parameter":
        problem = parameter(*options.args)
    elif options.what == "last-run":
        problem = last_run(*options.args)
    else:
        problem = removed(*options.args)
    if problem:
        print(f"e2e probe FAILED: {problem}", file=sys.stderr)
        return 1
    print(f"e2e probe ok: {options.what} {' '.join(options.args)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
