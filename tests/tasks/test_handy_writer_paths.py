"""The Handy record writer's paths (tasks/handy_writer.py) over the real Handy client, Handy
mocked with pytest-httpx (RULES P8, C6, X2): code taken -> read -> adopt; code taken but the
record not found -> the create's refusal reported; update 404 -> created again, or left when
the entity says nothing is due; Retryable -> the batch stops, successes bound, done skipped.

The entity side here is a minimal one over customers (the writer's contract, RecordWrites); the
product and customer sides are exercised against the sandbox in tests/flows.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from clients.clock import FakeClock
from clients.errors import Permanent, Retryable, ValidationFailed
from clients.handy import HandyClient
from clients.ratelimit import RetryPolicy
from tasks.handy_writer import HandyRecordWriter

HANDY_URL = "https://hub.handy.test/api/v2"
TOKEN = "handy-token-writer-1"
CODE_TAKEN = {
    "errors": [
        {
            "object": "customer",
            "field": "code",
            "rejected-value": "GX-1",
            "message": "ya existe un cliente con ese código",
        }
    ]
}


@dataclass
class Item:
    action: str
    code: str
    done: bool = False

    @property
    def key(self) -> str:
        return self.code


class Customers:
    """The smallest entity side: one body, binds and failures recorded."""

    code_field = "code"

    def __init__(self, handy: HandyClient, *, recreate: bool = True) -> None:
        self.handy = handy
        self.recreate = recreate
        self.bound: list[str] = []
        self.adopted: dict[str, dict] = {}
        self.failures: dict[str, Permanent] = {}

    async def create(self, write: Item) -> None:
        await self.handy.create_customer({"code": write.code, "description": "Tienda"})

    async def fetch(self, code: str) -> dict:
        return await self.handy.get_customer(code)

    async def adopt(self, write: Item, record: dict) -> None:
        self.adopted[write.code] = record

    async def update(self, write: Item) -> None:
        await self.handy.update_customer(write.code, {"description": "Tienda"})

    async def missing(self, write: Item) -> bool:
        return self.recreate

    async def bind(self, done: list[Item]) -> None:
        self.bound += [w.code for w in done]

    def failed(self, write: Item, error: Permanent) -> None:
        self.failures[write.code] = error


@pytest.fixture
async def handy():
    policy = RetryPolicy(
        max_attempts=2, max_total_seconds=10.0, backoff_initial=0.5, backoff_max=1.0
    )
    async with HandyClient(
        HANDY_URL, TOKEN, tenant="acme", clock=FakeClock(), retry_policy=policy
    ) as client:
        yield client


def calls(httpx_mock) -> list[str]:
    return [f"{r.method} {r.url.path.removeprefix('/api/v2')}" for r in httpx_mock.get_requests()]


async def test_p8_c6_create_meeting_its_code_reads_the_record_and_adopts_it(handy, httpx_mock):
    """P8/C6: a create refused because the code exists is read and adopted, then bound."""
    httpx_mock.add_response(
        method="POST", url=f"{HANDY_URL}/customer", status_code=422, json=CODE_TAKEN
    )
    httpx_mock.add_response(
        method="GET",
        url=f"{HANDY_URL}/customer/GX-1",
        json={"code": "GX-1", "description": "a medias", "enabled": True},
    )
    customers = Customers(handy)
    write = Item("create", "GX-1")

    await HandyRecordWriter(customers, concurrency=4).run([write])

    assert customers.adopted["GX-1"]["description"] == "a medias"
    assert customers.bound == ["GX-1"] and write.done and not customers.failures
    assert calls(httpx_mock) == ["POST /customer", "GET /customer/GX-1"]


async def test_p8_c6_code_taken_but_not_found_reports_the_create_refusal(handy, httpx_mock):
    """P8/C6: the code is said taken but reading it finds nothing: the create's own refusal is
    the record's failure (not the 404), and nothing is bound."""
    httpx_mock.add_response(
        method="POST", url=f"{HANDY_URL}/customer", status_code=422, json=CODE_TAKEN
    )
    httpx_mock.add_response(
        method="GET",
        url=f"{HANDY_URL}/customer/GX-1",
        status_code=404,
        json={"message": "not found"},
    )
    customers = Customers(handy)
    write = Item("create", "GX-1")

    await HandyRecordWriter(customers, concurrency=4).run([write])

    assert isinstance(customers.failures["GX-1"], ValidationFailed)
    assert customers.bound == [] and write.done  # reported; the next run plans it again


async def test_p8_c6_update_answered_404_creates_the_record_again(handy, httpx_mock):
    """P8/C6: a bound record deleted by hand in Handy answers 404 to the update: created again
    under its code, then bound."""
    httpx_mock.add_response(
        method="PUT",
        url=f"{HANDY_URL}/customer/GX-2",
        status_code=404,
        json={"message": "not found"},
    )
    httpx_mock.add_response(method="POST", url=f"{HANDY_URL}/customer", json={"code": "GX-2"})
    customers = Customers(handy)

    await HandyRecordWriter(customers, concurrency=4).run([Item("update", "GX-2")])

    assert calls(httpx_mock) == ["PUT /customer/GX-2", "POST /customer"]
    assert customers.bound == ["GX-2"] and not customers.failures


async def test_p7_c3_update_answered_404_with_nothing_due_is_bound_without_a_create(
    handy, httpx_mock
):
    """P7/C3: a record to disable that is gone from Handy needs nothing: bound, no create."""
    httpx_mock.add_response(
        method="PUT",
        url=f"{HANDY_URL}/customer/GX-3",
        status_code=404,
        json={"message": "not found"},
    )
    customers = Customers(handy, recreate=False)

    await HandyRecordWriter(customers, concurrency=4).run([Item("disable", "GX-3")])

    assert calls(httpx_mock) == ["PUT /customer/GX-3"]
    assert customers.bound == ["GX-3"] and not customers.failures


async def test_x2_retryable_stops_the_batch_binds_the_successes_and_a_rerun_skips_them(
    handy, httpx_mock
):
    """X2: a Retryable past the client's budget is raised (for the task retry), not reported as
    the record's failure; what succeeded before it is bound and done, so a rerun of the same
    batch (Prefect's task retry) writes only the rest."""
    httpx_mock.add_response(method="PUT", url=f"{HANDY_URL}/customer/GX-1", json={"code": "GX-1"})
    for _ in range(2):  # the client's whole budget (2 attempts)
        httpx_mock.add_response(method="PUT", url=f"{HANDY_URL}/customer/GX-2", status_code=503)
    customers = Customers(handy)
    batch = [Item("update", "GX-1"), Item("update", "GX-2")]
    writer = HandyRecordWriter(customers, concurrency=1)

    with pytest.raises(Retryable):
        await writer.run(batch)
    assert customers.bound == ["GX-1"] and not customers.failures
    assert [w.done for w in batch] == [True, False]

    httpx_mock.add_response(method="PUT", url=f"{HANDY_URL}/customer/GX-2", json={"code": "GX-2"})
    await HandyRecordWriter(customers, concurrency=1).run(batch)
    assert customers.bound == ["GX-1", "GX-2"]
    assert calls(httpx_mock).count("PUT /customer/GX-1") == 1
