"""Fixtures of the client tests: a fake clock and clients pointed at mocked hosts."""

from __future__ import annotations

import pytest

from clients.clock import FakeClock
from clients.gestionix import GestionixClient
from clients.handy import HandyClient
from clients.ratelimit import RetryPolicy
from tests.kit.mocked_apis import GESTIONIX_URL, GX_PASSWORD, GX_USER, HANDY_TOKEN, HANDY_URL


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def retry_policy() -> RetryPolicy:
    return RetryPolicy(
        max_attempts=4, max_total_seconds=120.0, backoff_initial=0.5, backoff_max=8.0
    )


@pytest.fixture
async def handy(clock, retry_policy):
    async with HandyClient(
        HANDY_URL, HANDY_TOKEN, tenant="acme", clock=clock, retry_policy=retry_policy
    ) as client:
        yield client


@pytest.fixture
async def gestionix(clock, retry_policy):
    async with GestionixClient(
        GESTIONIX_URL,
        GX_USER,
        GX_PASSWORD,
        tenant="acme",
        company_id=92,
        clock=clock,
        retry_policy=retry_policy,
        page_size=500,
    ) as client:
        yield client
