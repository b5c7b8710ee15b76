"""Scheduled order and deletion runs stay light (issue 20): their flow modules import no pandas or
numpy (those belong to catalog/customers planning), so each process worker run starts fast and small."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("pandas", "numpy")


@pytest.mark.parametrize("module", ["flows.orders", "flows.deletions"])
def test_s2_scheduled_flow_modules_import_no_pandas(module):
    """S2 runs every 10 minutes per tenant: a fresh interpreter importing the flow (as the process
    worker's `python -m prefect.engine` does) must not load pandas or numpy."""
    code = f"import json, sys, {module}; print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [], (
        f"{module} imports {done.stdout.strip()}"
    )


def test_the_check_sees_pandas_once_a_frame_is_built():
    """The same check after building a customers frame (customer_sync's planning) reports pandas:
    the import moved into the function, it did not disappear."""
    code = (
        "import json, sys, mappings.customers; mappings.customers.handy_customers_frame([]); "
        "print(json.dumps(sorted(m for m in ('pandas', 'numpy') if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=300
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["numpy", "pandas"]
