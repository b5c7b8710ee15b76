"""Rate limiting and retries shared by both clients (RULES X2).

- RateLimiter: one per (tenant, system) and event loop, shared by every client of that pair.
  A token bucket (aiolimiter.AsyncLimiter) keeps the pace at `rate_per_minute`; on top of it a
  gate holds every request while the server has told us to wait:
    * a response with X-RateLimit-Remaining: 0 -> wait until X-RateLimit-Reset (Unix seconds);
    * a 429 -> wait until X-RateLimit-Reset (Handy) or Retry-After (Gestionix, seconds or date).
- RetryPolicy + build_retrying(): tenacity retries of Retryable errors, exponential backoff with
  jitter, bounded in attempts and total time; a 429 waits exactly what the server asked.

Every wait goes through a Clock (clients/clock.py), so tests run on a FakeClock.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from clients.clock import SYSTEM_CLOCK, Clock
from clients.errors import ApiError, Retryable

logger = logging.getLogger("clients.ratelimit")

DEFAULT_RATE_PER_MINUTE = {"handy": 500, "gestionix": 600}
# Reset values below this are read as "seconds from now" rather than a Unix timestamp.
_UNIX_EPOCH_FLOOR = 1_000_000_000
# A 429 whose reset is already past (clock skew, rounding) still waits this long.
MIN_RATE_LIMIT_WAIT = 0.5


class _ClockedBucket(AsyncLimiter):
    """AsyncLimiter reading time from our Clock, so a FakeClock drives it in tests.

    Only has_capacity()/acquire() on a bucket with capacity are used: waiting for capacity
    is done by RateLimiter through Clock.sleep, never by the limiter's own loop timers.
    """

    def __init__(self, max_rate: float, time_period: float, clock: Clock) -> None:
        super().__init__(max_rate, time_period)
        self._clock = clock
        self._last_check = clock.monotonic()

    def _leak(self) -> None:
        now = self._clock.monotonic()
        if self._level:
            elapsed = now - self._last_check
            self._level = max(self._level - elapsed * self._rate_per_sec, 0)
        self._last_check = now

    def seconds_until_capacity(self, amount: float = 1) -> float:
        self._leak()
        missing = self._level + amount - self.max_rate
        # At least 1 ms: float rounding can leave a sliver that a fake clock would never pass.
        return max(missing / self._rate_per_sec, 0.001)


class RateLimiter:
    """Token bucket + server-ordered pauses for one (tenant, system)."""

    def __init__(
        self,
        rate_per_minute: float,
        *,
        clock: Clock = SYSTEM_CLOCK,
        burst: float | None = None,
        max_server_wait: float = 120.0,
        name: str = "",
    ) -> None:
        if rate_per_minute <= 0:
            raise ValueError(f"rate_per_minute must be positive, got {rate_per_minute}")
        per_second = rate_per_minute / 60.0
        # A burst of about one second's worth: enough to absorb jitter, small enough that a
        # server counting per minute never sees much more than the configured rate.
        self.burst = max(1.0, float(burst) if burst else float(math.ceil(per_second)))
        self.rate_per_minute = float(rate_per_minute)
        self.max_server_wait = max_server_wait
        self.name = name
        self._clock = clock
        self._bucket = _ClockedBucket(self.burst, self.burst / per_second, clock)
        self._resume_at = -math.inf  # monotonic time before which nothing is sent
        self._lock = asyncio.Lock()
        self.waited_for_server = 0.0  # seconds spent in server-ordered pauses (for benchmarks)

    @property
    def clock(self) -> Clock:
        return self._clock

    async def acquire(self) -> None:
        """Wait for the server-ordered pause (if any) and for a token. FIFO across callers."""
        async with self._lock:
            while True:
                pause = self._resume_at - self._clock.monotonic()
                if pause > 0:
                    self.waited_for_server += pause
                    await self._clock.sleep(pause)
                    continue
                if self._bucket.has_capacity():
                    await self._bucket.acquire()  # returns at once: capacity is there
                    return
                await self._clock.sleep(self._bucket.seconds_until_capacity())

    def pause_for(self, seconds: float, reason: str) -> float:
        """Hold every request of this (tenant, system) for `seconds`; returns the wait."""
        seconds = min(max(seconds, 0.0), self.max_server_wait)
        resume_at = self._clock.monotonic() + seconds
        if resume_at > self._resume_at:
            self._resume_at = resume_at
            logger.debug("%s: pausing %.2fs (%s)", self.name, seconds, reason)
        return seconds

    def seconds_until_resume(self) -> float:
        return max(self._resume_at - self._clock.monotonic(), 0.0)

    def observe(self, status: int, headers: Mapping[str, str]) -> float | None:
        """Adapt to a response's rate-limit headers. For a 429, returns the seconds to wait
        before retrying (None when the server gave no hint: then plain backoff applies)."""
        reset_in = self._seconds_until_reset(headers.get("x-ratelimit-reset"))
        if status == 429:
            retry_after = _parse_retry_after(headers.get("retry-after"), self._clock.time())
            wait = retry_after if retry_after is not None else reset_in
            if wait is None:
                return None
            return self.pause_for(max(wait, MIN_RATE_LIMIT_WAIT), "429 Too Many Requests")
        remaining = _parse_float(headers.get("x-ratelimit-remaining"))
        if remaining is not None and remaining <= 0 and reset_in is not None:
            self.pause_for(reset_in, "X-RateLimit-Remaining is 0")
        return None

    def _seconds_until_reset(self, value: str | None) -> float | None:
        reset = _parse_float(value)
        if reset is None:
            return None
        if reset < _UNIX_EPOCH_FLOOR:
            return max(reset, 0.0)
        return max(reset - self._clock.time(), 0.0)


def _parse_float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _parse_retry_after(value: str | None, now_unix: float) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    seconds = _parse_float(value)
    if seconds is not None:
        return max(seconds, 0.0)
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now_unix, 0.0)


# One limiter per (tenant, system) per event loop: asyncio primitives belong to one loop, and
# everything sharing a loop shares the limiter. Loops that end take their limiters with them.
_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], RateLimiter]]
_LIMITERS = weakref.WeakKeyDictionary()


def shared_limiter(
    tenant: str,
    system: str,
    rate_per_minute: float | None = None,
    *,
    clock: Clock = SYSTEM_CLOCK,
    burst: float | None = None,
) -> RateLimiter:
    """The limiter of (tenant, system) in the running event loop, created on first use.

    The first client of a pair fixes its rate; a later client asking another rate gets the
    existing limiter (and a warning), because two buckets for one account would double it.
    """
    loop = asyncio.get_running_loop()
    per_loop = _LIMITERS.setdefault(loop, {})
    rate = rate_per_minute or DEFAULT_RATE_PER_MINUTE.get(system, 500)
    limiter = per_loop.get((tenant, system))
    if limiter is None:
        limiter = RateLimiter(rate, clock=clock, burst=burst, name=f"{tenant}/{system}")
        per_loop[(tenant, system)] = limiter
    elif limiter.rate_per_minute != float(rate):
        logger.warning(
            "%s/%s: rate limiter already exists at %s/min; ignoring %s/min",
            tenant,
            system,
            limiter.rate_per_minute,
            rate,
        )
    return limiter


@dataclass(frozen=True)
class RetryPolicy:
    """How Retryable errors are retried inside a client call."""

    max_attempts: int = 6  # HTTP attempts in total, the first included
    max_total_seconds: float = 300.0  # waiting included; a retry that would pass it is not made
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    jitter: float = 1.0  # up to this many random seconds added to each backoff


def build_retrying(
    policy: RetryPolicy,
    clock: Clock,
    *,
    should_retry: Callable[[BaseException], bool],
    log: logging.Logger = logger,
) -> AsyncRetrying:
    """A tenacity AsyncRetrying for one call: retries while `should_retry(exc)`, waits what a
    429 asked for (Retryable.retry_after) or else exponential backoff with jitter, stops at
    `max_attempts` or when the next wait would pass `max_total_seconds`; then re-raises the
    last error instead of tenacity's RetryError."""
    started = clock.monotonic()
    backoff = wait_exponential_jitter(
        initial=policy.backoff_initial, max=policy.backoff_max, jitter=policy.jitter
    )

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ApiError) and exc.retry_after is not None:
            return exc.retry_after
        return backoff(state)

    def stop(state: RetryCallState) -> bool:
        elapsed = clock.monotonic() - started
        return (
            state.attempt_number >= policy.max_attempts
            or elapsed + state.upcoming_sleep > policy.max_total_seconds
        )

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.debug(
            "retrying after %s (attempt %d, waiting %.2fs)",
            repr(exc),
            state.attempt_number,
            state.upcoming_sleep,
        )

    return AsyncRetrying(
        stop=stop,
        wait=wait,
        retry=retry_if_exception(should_retry),
        sleep=clock.sleep,
        before_sleep=before_sleep,
        reraise=True,
    )


def default_should_retry(exc: BaseException, *, idempotent: bool) -> bool:
    """Retry Retryable errors; a non-idempotent request only when the server surely did not
    process it (429, connection never made) — a timed-out POST may have created a record."""
    return isinstance(exc, Retryable) and (idempotent or exc.resend_safe)
