"""Suite-wide settings: no analytics, and each test gets its own HGSYNC_HOME (hence its own SQLite
store). Fixtures of the flow and fault tests: the Prefect harness, a loopback sandbox, a tenant
(imported when first used: unit tests need neither Prefect nor the sandbox)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HGSYNC_HOME", str(tmp_path / "hgsync-home"))
    if "HGSYNC_DATABASE_URL" in os.environ and not os.environ.get("HGSYNC_KEEP_DATABASE_URL"):
        monkeypatch.delenv("HGSYNC_DATABASE_URL")
    return


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect server for the tests that run flows (~10 s, started once, on demand)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture
def sandbox():
    """Both stand-ins on loopback (free ports), a small seeded world, no faults."""
    from sandbox.server import run_sandbox

    with run_sandbox(seed=7, products=60, customers=30) as sb:
        yield sb


@pytest.fixture
def tenant(prefect_harness, sandbox):
    """A tenant of the sandbox, its credential blocks saved in the Prefect harness."""
    from tests.kit.tenants import make_tenant

    return make_tenant(sandbox)
