"""O8/S3 with store calls off the event loop (tasks/store_calls.py, issue 20): a transaction runs
in a worker thread while the loop goes on, and the caller sees it exactly as a synchronous call:
its result or its error, and a cancellation only after the transaction is over."""

from __future__ import annotations

import asyncio
import threading

import pytest

from store.leases import LeaseLost
from tasks.store_calls import store_call


async def test_o8_a_store_call_runs_in_a_worker_thread_while_the_event_loop_goes_on():
    loop_thread = threading.get_ident()
    release = threading.Event()
    ticks = 0

    def transaction() -> int:
        release.wait(timeout=30)
        return threading.get_ident()

    async def ticker() -> None:
        nonlocal ticks
        while not release.is_set():
            ticks += 1
            if ticks == 3:
                release.set()
            await asyncio.sleep(0)

    worker_thread, _ = await asyncio.gather(store_call(transaction), ticker())
    assert worker_thread != loop_thread
    assert ticks >= 3  # the loop ran other work while the transaction was in flight


async def test_o8_a_store_call_raises_the_transactions_own_error():
    def fenced_write() -> None:
        raise LeaseLost("tenant acme: lease 'orders' is no longer held by this run")

    with pytest.raises(LeaseLost, match="no longer held"):
        await store_call(fenced_write)


async def test_o8_a_cancellation_waits_for_the_transaction_then_takes_effect_at_the_next_await():
    """A sibling order failing cancels this one while its intent is being written: the intent
    transaction still completes and the caller sees its result (it may record what it did), and
    the cancellation arrives at its next await, never in the middle of the write."""
    started, release = threading.Event(), threading.Event()
    steps: list[str] = []

    def write_intent() -> str:
        started.set()
        release.wait(timeout=30)
        steps.append("intent committed")
        return "intent"

    async def push_one() -> None:
        steps.append(await store_call(write_intent) + " seen by the caller")
        await asyncio.sleep(0)
        steps.append("create sent")  # never: the cancellation is delivered here

    job = asyncio.create_task(push_one())
    while not started.is_set():
        await asyncio.sleep(0)
    job.cancel()
    await asyncio.sleep(0)
    assert not job.done() and steps == []  # still waiting for the transaction
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert steps == ["intent committed", "intent seen by the caller"]
