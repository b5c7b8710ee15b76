"""Pieces shared by both sandbox servers: an injectable clock, knobs, call counters,
fault injection / rate limiting (one pure-ASGI middleware) and fast JSON responses.

The middleware sits in front of the real API routes only; everything under
``/_sandbox/`` (the control surface) bypasses latency, faults, limits and counters.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, ClassVar

import httpx
from starlette.responses import Response
from starlette.routing import Match

CONTROL_PREFIX = "/_sandbox"


class Clock:
    """Unix-seconds clock. Real time by default; `freeze()`/`advance()` let tests move time
    without sleeping (rate-limit windows, token expiry, order timestamps all read it)."""

    def __init__(self, frozen_at: float | None = None) -> None:
        self._frozen_at = frozen_at
        self._offset = 0.0

    def now(self) -> float:
        base = self._frozen_at if self._frozen_at is not None else time.time()
        return base + self._offset

    def now_dt(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    def freeze(self, at: float | None = None) -> None:
        self._frozen_at = self.now() if at is None else at
        self._offset = 0.0

    def unfreeze(self) -> None:
        self._offset = self.now() - time.time()
        self._frozen_at = None

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None


def http_date(ts: float) -> str:
    """Unix seconds -> RFC 7231 `Date` value ('Mon, 30 Nov 2026 01:39:05 GMT')."""
    return format_datetime(datetime.fromtimestamp(int(ts), UTC), usegmt=True)


def iso_z(ts: float | None) -> str | None:
    """Unix seconds -> '2023-02-26T07:14:32Z' (seconds precision, UTC)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Knobs:
    """Behaviour of one server. Rates are probabilities per API request (0..1)."""

    latency_ms: float = 0.0
    rate_limit_per_minute: int | None = None  # None/0 = unlimited
    fail_rate: float = 0.0  # random 500/502/503 with an HTML body
    timeout_rate: float = 0.0  # hang `timeout_seconds`, then 504
    timeout_seconds: float = 30.0
    drop_rate: float = 0.0  # send the response start, then drop the connection
    html_error_rate: float = 0.0  # 200 with an HTML maintenance page instead of JSON
    truncated_json_rate: float = 0.0  # the real JSON response cut in half

    # Knobs that take one of a few words; other values are refused (400 on PUT /_sandbox/knobs).
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {}
    # Whole-number knobs that cannot be negative.
    NON_NEGATIVE: ClassVar[frozenset[str]] = frozenset()

    def update(self, values: dict[str, Any]) -> None:
        """Validate every value first, then apply them all (a refused update changes nothing)."""
        known = {f.name: f for f in fields(self)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise KeyError(f"unknown knob(s) {unknown}; known: {sorted(known)}")
        coerced = {
            name: _coerce_knob(name, getattr(self, name), value) for name, value in values.items()
        }
        for name, value in coerced.items():
            choices = self.CHOICES.get(name)
            if choices is not None and value not in choices:
                raise ValueError(
                    f"knob {name} must be one of {list(choices)}, got {values[name]!r}"
                )
            if name in self.NON_NEGATIVE and (value or 0) < 0:
                raise ValueError(f"knob {name} must be >= 0, got {values[name]!r}")
        for name, value in coerced.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coerce_knob(name: str, current: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(current, bool):
        if isinstance(value, str):
            return value.strip().lower() in {"1", "true", "yes", "on"}
        return bool(value)
    if isinstance(current, str):
        return str(value).strip().lower()
    if name == "rate_limit_per_minute":
        number = int(value)
        return number if number > 0 else None
    if isinstance(current, int) and not isinstance(current, bool):
        return int(value)
    return float(value)


class CallStats:
    """Per-route call counters keyed "METHOD /path-template" (relative to the API base)."""

    WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, not_counted_as_write: set[str] | None = None) -> None:
        self.calls: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self._not_writes = not_counted_as_write or set()

    def record(self, key: str) -> None:
        self.calls[key] += 1

    def record_status(self, status: int) -> None:
        self.statuses[str(status)] += 1

    def reset(self) -> None:
        self.calls.clear()
        self.statuses.clear()

    @property
    def reads(self) -> int:
        return sum(n for k, n in self.calls.items() if k.startswith("GET "))

    @property
    def writes(self) -> int:
        return sum(
            n
            for k, n in self.calls.items()
            if k.split(" ", 1)[0] in self.WRITE_METHODS and k not in self._not_writes
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": dict(sorted(self.calls.items())),
            "reads": self.reads,
            "writes": self.writes,
            "total": sum(self.calls.values()),
            "statuses": dict(sorted(self.statuses.items())),
        }


class FixedWindowLimiter:
    """Requests per fixed one-minute window aligned on the clock's minute."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._window_start = -1.0
        self._count = 0

    def reset(self) -> None:
        self._window_start = -1.0
        self._count = 0

    def hit(self, limit: int) -> tuple[bool, int, int]:
        """Count one request. Returns (allowed, remaining, reset_unix_seconds)."""
        now = self.clock.now()
        window_start = math.floor(now / 60.0) * 60.0
        if window_start != self._window_start:
            self._window_start = window_start
            self._count = 0
        reset_at = int(window_start + 60)
        if self._count >= limit:
            return False, 0, reset_at
        self._count += 1
        return True, max(limit - self._count, 0), reset_at


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """JSON response without FastAPI's jsonable_encoder pass (our data is already plain JSON)."""
    body = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(body, status_code=status_code, headers=headers, media_type="application/json")


HTML_ERROR_PAGE = (
    "<!DOCTYPE html><html><head><title>{status} {reason}</title></head>"
    "<body><center><h1>{status} {reason}</h1></center><hr><center>nginx</center></body></html>"
)
REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class SandboxMiddleware:
    """Counts calls, adds latency, enforces the rate limit and injects faults (pure ASGI).

    `rate_limit_style` is "handy" (X-RateLimit-* headers on every response, 429 over the limit)
    or "gestionix" (429 with Retry-After, no headers otherwise). `server_time` (Unix seconds) is
    the server's own clock: every API response, errors included, carries it as an RFC 7231 `Date`.
    """

    def __init__(
        self,
        app: Any,
        *,
        knobs: Knobs,
        stats: CallStats,
        clock: Clock,
        rng: random.Random,
        api_prefix: str,
        rate_limit_style: str,
        routes_provider: Callable[[], list[Any]],
        limiter: FixedWindowLimiter,
        server_time: Callable[[], float],
    ) -> None:
        self.app = app
        self.knobs = knobs
        self.stats = stats
        self.clock = clock
        self.rng = rng
        self.api_prefix = api_prefix
        self.style = rate_limit_style
        self.routes_provider = routes_provider
        self.limiter = limiter
        self.server_time = server_time

    def _template(self, scope: dict) -> str:
        for route in self.routes_provider():
            match, _ = route.matches(scope)
            if match == Match.FULL:
                path = getattr(route, "path", scope["path"])
                break
        else:
            return f"{scope['method']} ?unmatched"
        if path.startswith(self.api_prefix):
            path = path[len(self.api_prefix) :] or "/"
        if len(path) > 1:
            path = path.rstrip("/")
        return f"{scope['method']} {path}"

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        knobs = self.knobs
        self.stats.record(self._template(scope))
        if knobs.latency_ms:
            await asyncio.sleep(knobs.latency_ms / 1000.0)

        extra_headers: list[tuple[bytes, bytes]] = [
            (b"date", http_date(self.server_time()).encode())
        ]
        limit = knobs.rate_limit_per_minute
        if limit:
            allowed, remaining, reset_at = self.limiter.hit(limit)
            if self.style == "handy":
                extra_headers += [
                    (b"x-ratelimit-limit", str(limit).encode()),
                    (b"x-ratelimit-remaining", str(remaining).encode()),
                    (b"x-ratelimit-reset", str(reset_at).encode()),
                ]
            if not allowed:
                if self.style == "handy":
                    response = Response("Too Many Requests", 429, media_type="text/plain")
                else:
                    retry_after = max(1, math.ceil(reset_at - self.clock.now()))
                    response = json_response(
                        {"message": "Demasiadas solicitudes, intente más tarde"},
                        429,
                        headers={"Retry-After": str(retry_after)},
                    )
                await self._send(response, scope, receive, send, extra_headers)
                return

        roll = self.rng.random
        if knobs.timeout_rate and roll() < knobs.timeout_rate:
            await asyncio.sleep(knobs.timeout_seconds)
            await self._send(_html_error(504), scope, receive, send, extra_headers)
            return
        if knobs.fail_rate and roll() < knobs.fail_rate:
            status = self.rng.choice([500, 502, 503])
            await self._send(_html_error(status), scope, receive, send, extra_headers)
            return
        if knobs.drop_rate and roll() < knobs.drop_rate:
            self.stats.record_status(0)
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", b"4096"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b'{"pagin', "more_body": True})
            # Same exception type a client sees over a real socket; uvicorn just closes the connection.
            raise httpx.RemoteProtocolError("sandbox: connection dropped (drop_rate)")
        if knobs.html_error_rate and roll() < knobs.html_error_rate:
            page = "<!DOCTYPE html><html><body><h1>Estamos en mantenimiento</h1></body></html>"
            await self._send(
                Response(page, 200, media_type="text/html"), scope, receive, send, extra_headers
            )
            return
        truncate = bool(knobs.truncated_json_rate and roll() < knobs.truncated_json_rate)
        await self._call_app(scope, receive, send, extra_headers, truncate)

    async def _send(self, response: Response, scope, receive, send, extra_headers) -> None:
        self.stats.record_status(response.status_code)
        response.raw_headers.extend(extra_headers)
        await response(scope, receive, send)

    async def _call_app(self, scope, receive, send, extra_headers, truncate: bool) -> None:
        if not truncate:

            async def send_with_headers(message: dict) -> None:
                if message["type"] == "http.response.start":
                    self.stats.record_status(message["status"])
                    if extra_headers:
                        message = {
                            **message,
                            "headers": [*message.get("headers", []), *extra_headers],
                        }
                await send(message)

            await self.app(scope, receive, send_with_headers)
            return

        start: dict = {}
        chunks: list[bytes] = []

        async def capture(message: dict) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        body = body[: len(body) // 2]
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers += [(b"content-length", str(len(body)).encode()), *extra_headers]
        self.stats.record_status(start.get("status", 200))
        await send(
            {"type": "http.response.start", "status": start.get("status", 200), "headers": headers}
        )
        await send({"type": "http.response.body", "body": body})


def _html_error(status: int) -> Response:
    return Response(
        HTML_ERROR_PAGE.format(status=status, reason=REASONS[status]),
        status,
        media_type="text/html",
    )


def page_slice(items: list, page: int, size: int) -> list:
    start = (page - 1) * size
    return items[start : start + size]


class VersionedStore:
    """Id sequences and a write-versioned cache of filtered lists, shared by both fake servers:
    a list is rebuilt only after a write (`touch`), so paging 50 000 records stays cheap."""

    _ids: dict[str, int]
    _version: int
    _cache: dict[tuple, tuple[int, list]]

    def _reset_versioning(self, ids: dict[str, int]) -> None:
        self._ids = dict(ids)
        self._version = 0
        self._cache = {}

    def next_id(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def touch(self) -> None:
        self._version += 1

    def cached(self, key: tuple, build) -> list:
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self._version:
            return hit[1]
        if len(self._cache) > 64:
            self._cache.clear()
        value = build()
        self._cache[key] = (self._version, value)
        return value
