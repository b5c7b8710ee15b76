"""The one Handy record writer (tasks/handy_writer.py) under catalog_pull and customer_sync, against
the sandbox (RULES X2, P8, C6): its Retryable policy for both entities, and the adopt / create
again paths where they meet it.

Policy under test: a Retryable past the client's budget stops the batch, what succeeded stays
bound, and the Prefect task retry redoes only what was not done; an outage that outlasts the
retries fails the run with the record's error, and a rerun converges without duplicates.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from prefect.client.orchestration import get_client

import flows.catalog
import flows.customers
from clients.errors import Retryable
from clients.handy import HandyClient
from clients.ratelimit import shared_limiter
from flows.catalog import catalog_pull
from flows.customers import customer_sync
from store import binder, runs

pytestmark = pytest.mark.flow

FAST = 60_000  # requests/min: these tests check calls, not pacing
ENTITIES = {
    # entity: (flow, HandyClient create method, code field of its body, write task)
    "product": (catalog_pull, "create_product", "code", "write-products"),
    "customer": (customer_sync, "create_customer", "code", "write-customers"),
}


@pytest.fixture
def no_retry_delay(monkeypatch):
    """The write tasks' Prefect retries without their 5-20 s delays (no real sleeping)."""
    monkeypatch.setattr(
        flows.catalog,
        "write_products",
        flows.catalog.write_products.with_options(retry_delay_seconds=0),
    )
    monkeypatch.setattr(
        flows.customers,
        "write_customers",
        flows.customers.write_customers.with_options(retry_delay_seconds=0),
    )


def fail_creates(monkeypatch, method: str, *, after: int, times: int) -> dict:
    """Handy's create answers Retryable (as after the client's own retries) to the create sent
    after the first `after` ones, once `after` creates have returned, and to the `times`-1 next
    tries of that record. Records every create by code, and the codes whose create had returned
    to the writer when the first Retryable was raised (the writer holds them done from then on)."""
    original = getattr(HandyClient, method)
    enough_returned = asyncio.Event()
    seen: dict = {
        "calls": Counter(),
        "returned": set(),
        "victim": None,
        "failed": 0,
        "done_before": None,
    }

    async def flaky(self, body):
        code = body["code"]
        seen["calls"][code] += 1
        if seen["victim"] is None and sum(seen["calls"].values()) > after:
            seen["victim"] = code
        if code == seen["victim"] and seen["failed"] < times:
            if seen["done_before"] is None:
                await enough_returned.wait()
                seen["done_before"] = set(seen["returned"])
            seen["failed"] += 1
            raise Retryable(
                "Handy answered 503 after 4 attempts",
                system="handy",
                status=503,
                method="POST",
                attempts=4,
            )
        result = await original(self, body)
        seen["returned"].add(code)
        if len(seen["returned"]) >= after:
            enough_returned.set()
        return result

    monkeypatch.setattr(HandyClient, method, flaky)
    return seen


async def run_count_of(task_name: str) -> list[int]:
    # Filtered by name: the harness's server holds every task run of the session, and an
    # unfiltered read returns only its first page.
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName
    from prefect.client.schemas.sorting import TaskRunSort

    async with get_client() as client:
        task_runs = await client.read_task_runs(
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_=f"{task_name}-")),
            sort=TaskRunSort.EXPECTED_START_TIME_DESC,
            limit=20,
        )
    return [r.run_count for r in task_runs if r.name.startswith(f"{task_name}-")]


async def highest_run_count(task_name: str, reaching: int) -> int:
    """The highest run count among the task's runs. Prefect 3 records task-run states from
    events, after the flow has returned: read again (up to ~10 s) until `reaching` shows."""
    highest = 0
    for _ in range(40):
        highest = max(await run_count_of(task_name), default=0)
        if highest >= reaching:
            break
        await asyncio.sleep(0.25)
    return highest


def last_run(slug: str, flow: str):
    run = runs.recent(slug, flow=flow, limit=1)[0]
    return run, runs.items(slug, run.id)


def handy_records(sb, entity: str) -> dict:
    return sb.handy.products if entity == "product" else sb.handy.customers


@pytest.mark.parametrize("entity", list(ENTITIES))
async def test_x2_p8_c6_retryable_write_fails_the_batch_then_the_task_retry_redoes_only_the_rest(
    sandbox, tenant, monkeypatch, no_retry_delay, entity
):
    """X2 (one policy for products and customers): a Retryable past the client's budget is not
    swallowed as one record's failure: it stops the batch, the successes so far stay bound, and
    Prefect's task retry (a visible second run of the write task) writes the rest. Nothing is
    written twice that had already succeeded, nothing is reported failed, nothing is duplicated
    (P8/C6: a create that was in flight is adopted)."""
    sb = sandbox
    flow, method, _, task_name = ENTITIES[entity]
    sb.set_handy_knobs(rate_limit_per_minute=0)
    shared_limiter(tenant.slug, "handy", FAST)
    seen = fail_creates(monkeypatch, method, after=3, times=1)

    await flow(tenant)

    run, items = last_run(tenant.slug, "catalog" if entity == "product" else "customers")
    assert run.status == "completed", run.summary
    assert not [i for i in items if i.action == "failed"]
    assert seen["failed"] == 1 and seen["calls"][seen["victim"]] == 2  # retried by the task
    assert await highest_run_count(task_name, reaching=2) == 2
    done_before = seen["done_before"]
    assert done_before and all(seen["calls"][code] == 1 for code in done_before)
    created = set(seen["calls"])
    assert created <= set(handy_records(sb, entity))
    bound = [b.handy_key for b in binder.records(tenant.slug, entity)]
    assert created <= set(bound)
    assert len(bound) == len(set(bound))
    counted = run.counts.get("created", 0) + run.counts.get("adopted", 0)
    assert counted == len(created)  # each once, whether created or adopted on the retry


@pytest.mark.parametrize("entity", list(ENTITIES))
async def test_x2_p8_c6_outage_past_the_task_retries_fails_the_run_and_a_rerun_converges(
    sandbox, tenant, monkeypatch, no_retry_delay, entity
):
    """X2: a Retryable that outlasts the task's retries fails the run with the reason (the audit
    does not report it completed); the next run writes what is missing, without a duplicate."""
    sb = sandbox
    flow, method, _, _ = ENTITIES[entity]
    flow_name = "catalog" if entity == "product" else "customers"
    sb.set_handy_knobs(rate_limit_per_minute=0)
    shared_limiter(tenant.slug, "handy", FAST)
    seen = fail_creates(monkeypatch, method, after=2, times=99)

    with pytest.raises(Retryable, match="503"):
        await flow(tenant)
    run, items = last_run(tenant.slug, flow_name)
    assert run.status == "failed" and "503" in run.summary
    assert not [i for i in items if i.action == "failed"]
    assert seen["calls"][seen["victim"]] == 3  # the first try and two task retries

    monkeypatch.undo()
    before = set(handy_records(sb, entity))
    await flow(tenant)
    run, _ = last_run(tenant.slug, flow_name)
    assert run.status == "completed", run.summary
    assert seen["victim"] in handy_records(sb, entity)
    assert before <= set(handy_records(sb, entity))
    sb.reset_stats()
    await flow(tenant)  # converged: a third run writes nothing
    assert not [k for k in sb.handy.stats.calls if k.split(" ", 1)[0] in {"POST", "PUT", "PATCH"}]
