"""Flows deployed by test_worker.py: each says which process ran it."""

from __future__ import annotations

import json
import os
import sys
import time

from prefect import flow


def _write(path: str) -> None:
    with open(path, "w") as out:
        json.dump(
            {
                "pid": os.getpid(),
                "ppid": os.getppid(),
                "forked": "zygote.launch" in sys.modules,
                "flow_run_id": os.environ.get("PREFECT__FLOW_RUN_ID"),
            },
            out,
        )


@flow(name="zygote_reporter")
def report_process(path: str) -> str:
    _write(path)
    print("reporter ran")  # reaches the worker's output through the launcher's stdout
    return "done"


@flow(name="zygote_failer")
def fail(path: str) -> None:
    _write(path)
    raise ValueError("this flow fails on purpose")


@flow(name="zygote_sleeper")
def sleep_long(path: str) -> None:
    _write(path)
    time.sleep(300)
