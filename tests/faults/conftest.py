"""Fault tests: the flow fixtures (Prefect harness, loopback sandbox, tenant) plus helpers that
keep fault tests fast: client limiters on a fake clock (backoffs and 429 waits cost no real
time), Prefect task retries without delay, and short client timeouts."""

from __future__ import annotations

import pytest

from clients.clock import FakeClock
from clients.ratelimit import shared_limiter
from tests.flows.conftest import make_tenant, sandbox, tenant  # noqa: F401 - fixtures reused
from tests.kit.client_options import build_clients_with

FAST = 60_000  # requests/min: fault tests check outcomes, not pacing


def fast_clients(slug: str, clock: FakeClock | None = None) -> FakeClock:
    """Pre-create the (tenant, system) limiters of the running event loop on a FakeClock, so
    every client wait (token bucket, 429 pause, retry backoff) of `slug` returns at once."""
    clock = clock or FakeClock()
    shared_limiter(slug, "handy", FAST, clock=clock)
    shared_limiter(slug, "gestionix", FAST, clock=clock)
    return clock


@pytest.fixture
def no_task_retry_delay(monkeypatch):
    """Prefect task retries (for outages past the client budget) without their 5-20 s delays."""
    import flows.catalog
    import flows.customers
    import flows.deletions
    import flows.orders

    for module in (flows.orders, flows.deletions, flows.catalog, flows.customers):
        for name in dir(module):
            obj = getattr(module, name)
            if getattr(obj, "retries", 0) and hasattr(obj, "with_options"):
                monkeypatch.setattr(module, name, obj.with_options(retry_delay_seconds=0))


@pytest.fixture
def short_client_timeouts(monkeypatch):
    """Both clients built by the credential blocks with a 0.5 s timeout (the sandbox hangs
    longer)."""
    build_clients_with(monkeypatch, handy={"timeout": 0.5}, gestionix={"timeout": 0.5})
