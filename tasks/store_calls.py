"""Store calls made from async code run in a worker thread, so a transaction never stalls the
event loop that paces both APIs (SQLite's commits, PostgreSQL's round trips).

`store_call(fn, ...)` behaves like the synchronous `fn(...)` it replaces: the caller resumes only
when the transaction is over, with its result or its exception, so the exactly-once order of
writes and calls (tasks/order_push.py) is unchanged. A cancellation that arrives meanwhile (a sibling
order failed) does not interrupt it: it waits for the transaction to end, then takes effect at the
caller's next await, as it would have after a synchronous call.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")


async def store_call(fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
    # asyncio.to_thread without its extra task: the loop's default executor, this context
    # (Prefect's run context) carried into the thread
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    job = asyncio.get_running_loop().run_in_executor(None, call)
    interrupted = False
    while not job.done():
        try:
            await asyncio.shield(job)
        except asyncio.CancelledError:
            if job.cancelled():  # the thread's future itself (executor shutting down)
                raise
            interrupted = True  # the transaction goes on; the cancellation waits for it
        except BaseException:  # noqa: BLE001 - fn's own error: raised below by job.result()
            break
    if interrupted:
        current = asyncio.current_task()
        if current is not None:
            current.cancel()  # delivered at the caller's next await
    return job.result()
