"""Assertions of the issue-18 block of scripts/e2e.sh (X4): automations from automations.yaml on the
server, notifications received on 127.0.0.1 for a held order and a failed run, runs found by tag
tenant:demo (skipped unless the script set the env)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.environ.get("E2E_NOTIFICATIONS"), reason="run by scripts/e2e.sh"),
]


def _notifications() -> list[dict]:
    path = Path(os.environ["E2E_NOTIFICATIONS"])
    return (
        [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if path.exists()
        else []
    )


def test_x4_the_automations_of_the_file_are_on_the_server():
    from prefect.client.orchestration import get_client

    wanted = {
        a["name"] for a in yaml.safe_load(Path("automations.yaml").read_text())["automations"]
    }
    with get_client(sync_client=True) as client:
        found = {a.name for a in client.read_automations() if a.enabled}
    assert wanted <= found


def test_x4_notified_of_the_order_held_too_long_and_of_the_failed_run():
    notes = _notifications()
    held = [n for n in notes if "still held" in n["subject"]]
    assert held and os.environ["E2E_HELD_ORDER"] in held[0]["subject"] + held[0]["body"]
    assert "SOLO-HANDY-E2E" in held[0]["body"] and "tenant demo" in held[0]["subject"]
    failed = [
        n
        for n in notes
        if n["subject"].startswith("hgsync: demo · deletions") and "Failed" in n["subject"]
    ]
    assert failed, notes


def test_x4_runs_of_the_deployment_hgsync_run_and_activate_subflows_found_by_tenant_tag():
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=["tenant:demo"])), limit=200
        )
    by_flow: dict[str, list] = {}
    for run in runs:
        if run.start_time is None or not run.run_count:
            # a scheduled run that never ran (not yet, or cancelled by its deployment's CANCEL_NEW
            # limit) keeps Prefect's name: flow_run_name applies when the flow starts
            continue
        assert run.name.startswith("demo · "), run.name
        by_flow.setdefault(run.name.split(" · ")[1], []).append(run)
    assert any(r.deployment_id for r in by_flow["orders"])  # the deployment's runs
    assert any(r.state_name == "Completed with issues" for r in by_flow["orders"])
    assert any(
        r.deployment_id is None and r.parent_task_run_id is None for r in by_flow["catalog"]
    )  # hgsync run
    for subflow in ("catalog", "customers"):  # activate's subflows
        assert any(r.parent_task_run_id is not None for r in by_flow[subflow]), subflow
