"""Fault tests' fixtures that keep them fast: Prefect task retries without delay, and short
client timeouts (the sandbox and tenant fixtures come from tests/conftest.py; the fake-clock
limiters from tests/kit/fast_clients.py)."""

from __future__ import annotations

import pytest

from tests.kit.client_options import build_clients_with


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
