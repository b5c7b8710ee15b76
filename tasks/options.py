"""Task defaults shared by every side-effecting task (X2).

The client already retries 429/5xx/timeouts in place; these task retries cover an outage that
outlasts the client's budget. Only `Retryable` errors are retried (the one error table).
"""

from __future__ import annotations

from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from clients.errors import retry_condition_fn

# Reads, and writes safe to repeat (what succeeded is bound or adopted): retried, so an outage of Handy or Gestionix longer than the
# client's own retries does not fail the run.
RETRY_ON_OUTAGE = dict(  # noqa: C408 - keyword form reads as task options
    retries=2,
    retry_delay_seconds=exponential_backoff(backoff_factor=5),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_condition_fn,
    # Inputs are live clients and DataFrames: never hash or persist them.
    cache_policy=NO_CACHE,
    persist_result=False,
)

# Store-only work and writes that must not be repeated blindly (pushes, deletions): never
# retried by Prefect, never cached.
RUN_ONCE = dict(cache_policy=NO_CACHE, persist_result=False)  # noqa: C408
