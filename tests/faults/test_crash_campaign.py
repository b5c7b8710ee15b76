"""O8 / S3 / D1-D3 under random kills, lease expiries, clock skew and store restores: the
randomised crash campaign (see tests/faults/campaign.py).

CI runs HGSYNC_FAULT_SEEDS (default 30) seeds with the `faults` mark; the long campaign
(`-m campaign`) runs HGSYNC_CAMPAIGN_SEEDS (default 500) and writes its totals as JSON to
HGSYNC_CAMPAIGN_REPORT when set (docs/faults.md quotes them)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from sandbox.server import run_sandbox
from tests.faults.campaign import (
    CampaignTotals,
    Faults,
    Killer,
    MonotonicShift,
    WorkerClock,
    bare_tasks,
    run_seed,
    summarise,
)
from tests.kit.tenants import save_tenant_blocks


async def run_campaign(seeds: range, monkeypatch, *, label: str) -> dict:
    killer = Killer()
    killer.install(monkeypatch)
    faults = Faults(killer, MonotonicShift(), WorkerClock())
    faults.monotonic.install(monkeypatch)
    faults.clock.install(monkeypatch)
    bare_tasks(monkeypatch)
    totals = CampaignTotals()
    started = time.perf_counter()
    with run_sandbox(seed=7, products=40, customers=12) as sb:
        blocks = save_tenant_blocks(sb, f"{label}-{os.getpid()}")
        for seed in seeds:
            fired = killer.fired
            result = await run_seed(seed, sb, faults, blocks, slug_prefix=label)
            result.kills = killer.fired - fired
            totals.add(result)
    summary = summarise(totals)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["first_seed"], summary["last_seed"] = seeds.start, seeds.stop - 1
    return summary


def assert_clean(summary: dict) -> None:
    assert summary["kills"] > 0, "the campaign never killed a run"
    assert (
        summary["lease_expiries"] > 0
        and summary["skewed_runs"] > 0
        and summary["store_restores"] > 0
    )
    assert summary["pushed"] > 0 and summary["deleted"] > 0 and summary["dead_lettered"] > 0
    assert summary["duplicates"] == 0 and summary["lost"] == 0, summary["failed_seeds"]
    assert not summary["failed_seeds"], json.dumps(summary["failed_seeds"], indent=1)


@pytest.mark.faults
async def test_o8_random_kills_leave_one_document_per_live_order_ci_subset(
    prefect_harness, monkeypatch
):
    """O8, D1-D3, O6, O7: random activity (sales, presales, offline orders, edits, deletions,
    unknown products, returns) over 3 cycles, each flow run killed at a random HTTP call with
    probability 0.7, rerun until quiet: every live order has exactly one document (or an open
    dead letter with a reason / a skip), every deleted one none, no intent left, every pushed
    binding's document exists, cursors past every record; duplicate-reference check off."""
    count = int(os.environ.get("HGSYNC_FAULT_SEEDS", "30"))
    summary = await run_campaign(range(1, count + 1), monkeypatch, label="ci")
    print(json.dumps(summary))
    assert_clean(summary)


@pytest.mark.campaign
async def test_o8_crash_campaign(prefect_harness, monkeypatch):
    """O8: the long campaign (HGSYNC_CAMPAIGN_SEEDS seeds from HGSYNC_CAMPAIGN_FIRST_SEED)."""
    count = int(os.environ.get("HGSYNC_CAMPAIGN_SEEDS", "500"))
    first = int(os.environ.get("HGSYNC_CAMPAIGN_FIRST_SEED", "1000"))
    summary = await run_campaign(range(first, first + count), monkeypatch, label="campaign")
    report = os.environ.get("HGSYNC_CAMPAIGN_REPORT")
    if report:
        Path(report).write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))
    assert_clean(summary)
