"""The (tenant, system) limiter and the retry policy, on a fake clock."""

from __future__ import annotations

import asyncio
from email.utils import formatdate

import pytest

from clients.clock import FakeClock
from clients.errors import Retryable, ValidationFailed
from clients.ratelimit import RateLimiter, RetryPolicy, build_retrying, shared_limiter


async def test_given_a_rate_when_acquiring_many_then_paced_after_a_one_second_burst():
    clock = FakeClock()
    limiter = RateLimiter(600, clock=clock)  # 10/s, burst 10
    for _ in range(30):
        await limiter.acquire()
    assert clock.monotonic() == pytest.approx(2.0, abs=0.01)


async def test_given_concurrent_callers_when_acquiring_then_the_rate_holds_for_all():
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock, burst=1)
    await asyncio.gather(*(limiter.acquire() for _ in range(6)))
    assert clock.monotonic() == pytest.approx(5.0, abs=0.01)


async def test_given_remaining_zero_when_observed_then_every_caller_waits_until_reset():
    clock = FakeClock()
    limiter = RateLimiter(6000, clock=clock)
    limiter.observe(
        200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(clock.time() + 20)}
    )
    await asyncio.gather(limiter.acquire(), limiter.acquire())
    assert clock.monotonic() == pytest.approx(20.0, abs=0.01)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "9"}, 9.0),
        ({"x-ratelimit-reset": "1700000030"}, 30.0),  # Unix seconds (FakeClock starts at 1.7e9)
        ({"x-ratelimit-reset": "15"}, 15.0),  # seconds from now
        ({"x-ratelimit-reset": "1699999990"}, 0.5),  # already past: a short pause anyway
        ({}, None),
    ],
)
def test_given_a_429_when_observed_then_wait_from_its_headers(headers, expected):
    limiter = RateLimiter(500, clock=FakeClock())
    assert limiter.observe(429, headers) == expected


def test_given_a_retry_after_date_when_observed_then_seconds_until_it():
    clock = FakeClock()
    limiter = RateLimiter(500, clock=clock)
    assert limiter.observe(
        429, {"retry-after": formatdate(clock.time() + 42, usegmt=True)}
    ) == pytest.approx(42, abs=1)


def test_given_an_absurd_reset_when_observed_then_capped():
    limiter = RateLimiter(500, clock=FakeClock(), max_server_wait=120)
    assert limiter.observe(429, {"retry-after": "86400"}) == 120


async def test_given_two_clients_of_one_tenant_when_getting_limiters_then_shared_per_tenant_and_system():
    a = shared_limiter("acme", "handy", 500)
    assert shared_limiter("acme", "handy", 500) is a
    assert shared_limiter("acme", "gestionix") is not a
    assert shared_limiter("other", "handy", 500) is not a
    assert shared_limiter("acme", "handy", 900) is a  # first one wins (with a warning)


async def test_given_a_policy_when_errors_are_permanent_then_no_retry():
    clock = FakeClock()
    attempts = 0
    with pytest.raises(ValidationFailed):
        async for attempt in build_retrying(
            RetryPolicy(), clock, should_retry=lambda e: isinstance(e, Retryable)
        ):
            with attempt:
                attempts += 1
                raise ValidationFailed("bad", status=422)
    assert attempts == 1 and clock.sleeps == []


async def test_given_retryable_errors_when_retrying_then_exponential_backoff_bounded_by_attempts():
    clock = FakeClock()
    policy = RetryPolicy(max_attempts=5, backoff_initial=1, backoff_max=100, jitter=0)
    attempts = 0
    with pytest.raises(Retryable):
        async for attempt in build_retrying(
            policy, clock, should_retry=lambda e: isinstance(e, Retryable)
        ):
            with attempt:
                attempts += 1
                raise Retryable("busy", status=503)
    assert attempts == 5
    assert clock.sleeps == [1, 2, 4, 8]


async def test_given_a_time_budget_when_the_next_backoff_would_pass_it_then_stops():
    clock = FakeClock()
    policy = RetryPolicy(
        max_attempts=50, max_total_seconds=10, backoff_initial=1, backoff_max=100, jitter=0
    )
    with pytest.raises(Retryable):
        async for attempt in build_retrying(
            policy, clock, should_retry=lambda e: isinstance(e, Retryable)
        ):
            with attempt:
                raise Retryable("busy", status=503)
    assert clock.sleeps == [1, 2, 4]  # 1+2+4 = 7; another 8 would pass 10
