"""Knobs: rate limits (with an injected clock, no sleeping), 5xx, drops, timeouts, bad bodies."""

from __future__ import annotations

import json

import httpx
import pytest


async def test_x2_handy_429_with_headers_then_success_after_reset(handy, sb):
    sb.set_handy_knobs(rate_limit_per_minute=3)
    now = sb.clock.now()
    for remaining in (2, 1, 0):
        response = await handy.get("/user")
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert response.headers["X-RateLimit-Remaining"] == str(remaining)
    limited = await handy.get("/user")
    assert limited.status_code == 429
    reset_at = int(limited.headers["X-RateLimit-Reset"])
    assert limited.headers["X-RateLimit-Remaining"] == "0" and now < reset_at <= now + 60
    assert "Retry-After" not in limited.headers
    sb.clock.advance(reset_at - sb.clock.now())
    after = await handy.get("/user")
    assert after.status_code == 200 and after.headers["X-RateLimit-Remaining"] == "2"


async def test_rate_limit_window_reset_gives_the_whole_minute_back(handy, handy_ctl, sb):
    sb.set_handy_knobs(rate_limit_per_minute=2)  # the clock is frozen: one window throughout
    assert [(await handy.get("/user")).status_code for _ in range(3)] == [200, 200, 429]
    await handy_ctl.post("/ratelimit/reset")
    response = await handy.get("/user")
    assert response.status_code == 200 and response.headers["X-RateLimit-Remaining"] == "1"


async def test_handy_default_limit_is_500_with_headers_on_every_response(handy):
    response = await handy.get("/user")
    assert response.headers["X-RateLimit-Limit"] == "500"
    unauthorised = await handy.get("/user", headers={"Authorization": "Bearer bad"})
    assert unauthorised.status_code == 401 and "X-RateLimit-Remaining" in unauthorised.headers


async def test_x2_gestionix_429_with_retry_after(gx, sb):
    sb.set_gestionix_knobs(rate_limit_per_minute=2)
    assert (await gx.get("/taxes")).status_code == 200
    assert (await gx.get("/taxes")).status_code == 200
    limited = await gx.get("/taxes")
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "X-RateLimit-Limit" not in limited.headers
    sb.clock.advance(int(limited.headers["Retry-After"]))
    assert (await gx.get("/taxes")).status_code == 200


async def test_fail_rate_gives_5xx_with_html_body(handy, sb):
    sb.set_handy_knobs(fail_rate=1.0)
    response = await handy.get("/user")
    assert response.status_code in (500, 502, 503)
    assert response.headers["content-type"].startswith("text/html") and "<html>" in response.text


async def test_drop_rate_raises_a_protocol_error_in_process(handy, sb):
    sb.set_handy_knobs(drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        await handy.get("/user")


async def test_timeout_rate_hangs_then_504(handy, sb):
    sb.set_handy_knobs(timeout_rate=1.0, timeout_seconds=0)
    assert (await handy.get("/user")).status_code == 504


async def test_html_and_truncated_bodies(gx, sb):
    sb.set_gestionix_knobs(html_error_rate=1.0)
    html = await gx.get("/taxes")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    sb.set_gestionix_knobs(html_error_rate=0.0, truncated_json_rate=1.0)
    cut = await gx.get("/taxes")
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)


async def test_faults_are_reproducible_from_the_seed(clock):
    from sandbox.server import build_sandbox

    outcomes = []
    for _ in range(2):
        sb = build_sandbox(seed=3, products=5, customers=5, clock=clock, handy_fail_rate=0.5)
        async with httpx.AsyncClient(
            transport=sb.handy_transport(),
            base_url=sb.handy_url,
            headers={"Authorization": f"Bearer {sb.handy_token}"},
        ) as client:
            outcomes.append([(await client.get("/user")).status_code for _ in range(12)])
    assert outcomes[0] == outcomes[1] and set(outcomes[0]) - {200}


async def test_control_surface_is_never_limited_or_failed(handy_ctl, sb):
    sb.set_handy_knobs(rate_limit_per_minute=1, fail_rate=1.0)
    for _ in range(3):
        assert (await handy_ctl.get("/stats")).status_code == 200


async def test_latency_knob_is_applied(handy, sb, monkeypatch):
    slept = []

    async def fake_sleep(seconds):
        slept.append(seconds)

    monkeypatch.setattr("sandbox.common.asyncio.sleep", fake_sleep)
    sb.set_handy_knobs(latency_ms=250)
    assert (await handy.get("/user")).status_code == 200
    assert slept == [0.25]


def test_unknown_knob_is_refused_by_name(sb):
    with pytest.raises(KeyError, match="nope"):
        sb.set_knobs(nope=1)
    sb.set_knobs(fail_rate=0.1, handy_latency_ms=5, token_lifetime_seconds=9)
    assert sb.handy.knobs.fail_rate == sb.gestionix.knobs.fail_rate == 0.1
    assert sb.handy.knobs.latency_ms == 5 and sb.gestionix.knobs.latency_ms == 0
    assert sb.gestionix.knobs.token_lifetime_seconds == 9
