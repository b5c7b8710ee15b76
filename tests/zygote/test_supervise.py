"""`hgsync worker`'s settings for the Prefect worker (issue 20, README "Scale out"): its own
defaults for polling, prefetch and the run limit, never over what the operator set."""

from __future__ import annotations

import os
import sys

from zygote.launch import SOCKET_ENV
from zygote.supervise import (
    DEFAULT_LIMIT,
    WORKER_SETTINGS,
    worker_arguments,
    worker_environment,
)


def test_the_worker_gets_the_measured_polling_and_prefetch_unless_the_operator_set_them():
    env = worker_environment({"PATH": "/usr/bin", SOCKET_ENV: "/stale.sock"})
    for variable, value in WORKER_SETTINGS.items():
        assert env[variable] == value
    assert env["PATH"].split(os.pathsep)[0] == os.path.dirname(sys.executable)
    assert SOCKET_ENV not in env  # a stale socket from an outer worker is not inherited
    mine = worker_environment({"PATH": "/usr/bin", "PREFECT_WORKER_QUERY_SECONDS": "1"})
    assert mine["PREFECT_WORKER_QUERY_SECONDS"] == "1"


def test_the_worker_gets_the_measured_limit_unless_one_is_given():
    assert worker_arguments(["--pool", "p"]) == ["--pool", "p", "--limit", str(DEFAULT_LIMIT)]
    for given in (["--limit", "4"], ["--limit=4"], ["-l", "4"]):
        assert worker_arguments(["--pool", "p", *given]) == ["--pool", "p", *given]
