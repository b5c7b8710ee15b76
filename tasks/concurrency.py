"""The batcher, the bounded-concurrency runner and the ExceptionGroup unwrapper every batch task
shares (one copy each: tasks/handy_writer.py, tasks/order_push.py, tasks/deletions.py and the flows use these)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def batches(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """`items` in consecutive lists of at most `size` (one task run each)."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def first_leaf(error: BaseException) -> BaseException:
    """The first real exception inside (nested) exception groups: what a TaskGroup's caller
    should see."""
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


async def run_bounded(
    items: Iterable[T], worker: Callable[[T], Awaitable[R]], limit: int
) -> list[R]:
    """worker(item) for every item, at most `limit` at once, results in order. An exception that
    the worker let through (a bug, a lost credential) cancels the others and is re-raised as is."""
    semaphore = asyncio.Semaphore(limit)

    async def guarded(item: T) -> R:
        async with semaphore:
            return await worker(item)

    try:
        async with asyncio.TaskGroup() as group:
            jobs = [group.create_task(guarded(item)) for item in items]
    except BaseExceptionGroup as group_error:
        raise first_leaf(group_error) from None
    return [job.result() for job in jobs]
