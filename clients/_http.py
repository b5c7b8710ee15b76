"""The HTTP plumbing both clients share: one httpx.AsyncClient, the call counter, bounded
concurrency, the (tenant, system) rate limiter, retries, and turning failures into ApiErrors.

Knows nothing about Handy or Gestionix paths; each client passes its path template (for the
`calls` counter and logs) and the concrete path.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Self, TypedDict

import httpx

from clients.clock import SYSTEM_CLOCK, Clock
from clients.error_text import redact, snippet
from clients.errors import (
    ApiError,
    CredentialsError,
    UnreadableBody,
    error_from_exception,
    error_from_response,
    unsendable_request,
)
from clients.ratelimit import (
    RateLimiter,
    RetryPolicy,
    build_retrying,
    default_should_retry,
    shared_limiter,
)
from clients.secret_check import UnusableSecret, check_secret

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
USER_AGENT = "handy-gestionix/0.1 (+httpx)"
# Failures of writing the request itself (a header that cannot be sent), before any answer.
UNSENDABLE = (httpx.LocalProtocolError, UnicodeError, ValueError)


def call_key(method: str, template: str) -> str:
    """The `calls` counter key, "METHOD /path-template" (no trailing slash), as the sandbox's
    stats count them."""
    return f"{method} {template.rstrip('/') or '/'}"


@functools.cache
def _verified_tls():
    """One certificate-verifying TLS context per process (loading the CA bundle costs ~50 ms of CPU,
    paid once instead of per client: a scheduled run starts several)."""
    return httpx.create_ssl_context()


class HttpCore:
    def __init__(
        self,
        *,
        system: str,
        base_url: str,
        limiter: RateLimiter,
        max_concurrency: int,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None,
        retry_policy: RetryPolicy,
        secrets: Callable[[], Iterable[str]],
        log: logging.Logger,
        write_gate: Callable[[], Callable[[], None] | None] = lambda: None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        self.system = system
        self.base_url = base_url.rstrip("/")
        self.calls: Counter[str] = Counter()
        # Seconds the server's clock is ahead of this worker's wall clock (its `Date` header).
        self.server_clock_offset: float | None = None
        self.limiter = limiter
        self.retry_policy = retry_policy
        self._secrets = secrets
        self._log = log
        self._write_gate = write_gate
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            verify=_verified_tls(),
            follow_redirects=False,
            limits=httpx.Limits(
                max_connections=max_concurrency,
                max_keepalive_connections=max_concurrency,
                # Below the common 5 s server idle timeout (uvicorn, many proxies): reusing a
                # connection the server is closing makes a POST fail in a way we must not resend.
                keepalive_expiry=4.0,
            ),
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            transport=transport,
        )

    @property
    def clock(self) -> Clock:
        return self.limiter.clock

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(
        self,
        method: str,
        template: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Callable[[], Mapping[str, str]] | None = None,
        accept: Collection[int] = (),
        idempotent: bool | None = None,
        keep_error_body: bool = True,
    ) -> tuple[httpx.Response, Any]:
        """Send with rate limiting and retries. Returns (response, decoded JSON or None) for a
        2xx answer or one whose status is in `accept`; raises an ApiError otherwise.
        `headers` is called before every attempt. A 2xx body that is not JSON (an HTML
        maintenance page, a truncated body) is UnreadableBody, retried like a 5xx."""
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        retrying = build_retrying(
            self.retry_policy,
            self.clock,
            should_retry=lambda exc: default_should_retry(exc, idempotent=idempotent),
            log=self._log,
        )
        attempt_number = 0
        try:
            async for attempt in retrying:
                with attempt:
                    attempt_number += 1
                    return await self._send_once(
                        method,
                        template,
                        path,
                        params,
                        json_body,
                        headers() if headers else {},
                        accept,
                        keep_error_body,
                    )
        except ApiError as exc:
            exc.attempts = attempt_number
            raise
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    async def _send_once(
        self,
        method: str,
        template: str,
        path: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
        headers: Mapping[str, str],
        accept: Collection[int],
        keep_error_body: bool,
    ) -> tuple[httpx.Response, Any]:
        async with self._semaphore:
            await self.limiter.acquire()
            gate = self._write_gate() if method not in READ_METHODS else None
            if gate is not None:
                gate()  # the last moment before a write leaves: e.g. "is the lease still ours?"
            self.calls[call_key(method, template)] += 1
            started = self.clock.monotonic()
            failure: ApiError | None = None
            try:
                response = await self._client.request(
                    method, path, params=params, json=json_body, headers=headers
                )
            except (*UNSENDABLE, httpx.HTTPError) as exc:
                failure = self._failure_before_answer(method, path, exc)
            if failure is not None:
                # Raised outside the except block: not even __context__ holds the httpx error
                # (its request carries the Authorization header).
                self._log.debug("%s %s failed: %s", method, template, failure.transport_error)
                raise failure
        status = response.status_code
        self._observe_server_clock(response)
        self._log.debug(
            "%s %s -> %d (%.0f ms)",
            method,
            template,
            status,
            (self.clock.monotonic() - started) * 1000,
        )
        retry_after = self.limiter.observe(status, response.headers)
        if 200 <= status < 300:
            return response, self._decode_json(response, method, path)
        if status in accept:
            return response, None
        raise error_from_response(
            system=self.system,
            method=method,
            path=path,
            status=status,
            content=response.content,
            secrets=self._secrets(),
            retry_after=retry_after,
            keep_body=keep_error_body,
        )

    def _failure_before_answer(self, method: str, path: str, exc: BaseException) -> ApiError:
        if isinstance(exc, UNSENDABLE):
            # The request could not even be written: such an error's text and args quote the
            # offending header ('Bearer …'), so only its type is kept (A2).
            return unsendable_request(system=self.system, method=method, path=path, exc=exc)
        return error_from_exception(
            system=self.system,
            method=method,
            path=path,
            exc=exc,
            secrets=self._secrets(),
            base_url=self.base_url,
        )

    def _observe_server_clock(self, response: httpx.Response) -> None:
        """The server's clock from its `Date` header (whole seconds), against our wall clock,
        which is what the order windows are cut with."""
        header = response.headers.get("date")
        if not header:
            return
        try:
            server_time = parsedate_to_datetime(header).timestamp()
        except (TypeError, ValueError, IndexError):
            return
        # Date is truncated to the second: half a second is its expected lag.
        self.server_clock_offset = server_time + 0.5 - time.time()

    def _decode_json(self, response: httpx.Response, method: str, path: str) -> Any:
        """The JSON body of a successful response (None when empty)."""
        if not response.content or response.status_code == 204:
            return None
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            start = redact(snippet(response.content), self._secrets())
            raise UnreadableBody(
                f"the answer is not JSON: {start}",
                system=self.system,
                status=response.status_code,
                method=method,
                path=path,
                body_snippet=start or None,
            ) from None


class ClientOptions(TypedDict, total=False):
    """ApiClient's keyword arguments, which each client takes as `**options` after its own."""

    rate_per_minute: float
    max_concurrency: int
    transport: httpx.AsyncBaseTransport | None
    timeout: float
    clock: Clock
    retry_policy: RetryPolicy | None
    limiter: RateLimiter | None


class ApiClient:
    """What both API clients share: one HttpCore per client (built on first use inside the event
    loop, since the shared per-(tenant, system) limiter belongs to that loop), the call counter,
    and the async context-manager lifecycle. Subclasses set SYSTEM, LOG and their defaults of
    pace and concurrency, and name their secrets."""

    SYSTEM: str
    LOG: logging.Logger
    RATE_PER_MINUTE: float
    MAX_CONCURRENCY: int

    def __init__(
        self,
        base_url: str,
        *,
        tenant: str,
        rate_per_minute: float | None = None,
        max_concurrency: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        clock: Clock = SYSTEM_CLOCK,
        retry_policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.tenant = tenant
        self.base_url = base_url
        self._rate_per_minute = self.RATE_PER_MINUTE if rate_per_minute is None else rate_per_minute
        self._clock = clock
        self._limiter = limiter
        self._max_concurrency = self.MAX_CONCURRENCY if max_concurrency is None else max_concurrency
        self._timeout = timeout
        self._transport = transport
        self._retry_policy = retry_policy or RetryPolicy()
        self._core: HttpCore | None = None
        self.calls: Counter[str] = Counter()
        # Called right before every write is sent (after the rate limiter's wait); it may raise
        # to stop the write. Set by whoever owns the run's lease (tasks/connect.Connection.lease).
        self.write_gate: Callable[[], None] | None = None

    def _usable_secret(self, label: str, value: Any, *, header: bool) -> str:
        """The plain text of a secret, checked again here (a block saved before the checks must
        not reach a header); CredentialsError names the field, never the value."""
        try:
            return check_secret(label, value, header=header)
        except UnusableSecret as exc:
            raise CredentialsError(f"tenant {self.tenant!r}: {exc}", system=self.SYSTEM) from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, tenant={self.tenant!r})"

    async def __aenter__(self) -> Self:
        self._ensure_core()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._core is not None:
            await self._core.aclose()

    @property
    def limiter(self) -> RateLimiter:
        return self._ensure_core().limiter

    def _secrets(self) -> tuple[str, ...]:
        """Values no error text may carry (tokens, passwords)."""
        raise NotImplementedError

    def _ensure_core(self) -> HttpCore:
        if self._core is None:
            limiter = self._limiter or shared_limiter(
                self.tenant, self.SYSTEM, self._rate_per_minute, clock=self._clock
            )
            self._core = HttpCore(
                system=self.SYSTEM,
                base_url=self.base_url,
                limiter=limiter,
                max_concurrency=self._max_concurrency,
                timeout=self._timeout,
                transport=self._transport,
                retry_policy=self._retry_policy,
                secrets=self._secrets,
                log=self.LOG,
                write_gate=lambda: self.write_gate,
            )
            self._core.calls = self.calls
        return self._core
