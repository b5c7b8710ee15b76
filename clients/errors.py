"""The error taxonomy of both clients, and THE one table that classifies failures (RULES X2).

Everything above clients/ sees only these exceptions:

    ClientError           what both kinds share: the redacted server message, status, path ...
    ├── Fatal             the run cannot go on: no per-record handler catches it
    │   └── CredentialsError  Handy 401; Gestionix 401 after a fresh login; a refused login
    └── ApiError          this call failed: a per-record handler may catch it (`except ApiError`)
        ├── Retryable         429, 408, 425, 5xx (but 501/505), timeouts, dropped connections:
    │   │                 raised only after the in-client retry budget is spent
    │   └── UnreadableBody  a 2xx whose body is not JSON (maintenance page, truncated)
        ├── Reauth            401 — Gestionix logs in again once inside the client
        └── Permanent         what retrying cannot fix
            ├── NotFound          404, 410
            ├── Conflict          409 (e.g. a document Gestionix refuses to delete)
            ├── ValidationFailed  400, 422 — with the server's field errors
            ├── InvalidCode       a code that cannot be put in a URL (contains '/'), refused before any request
            └── UnexpectedResponse / PaginationError   JSON of the wrong shape; untrustworthy paging

Fatal is not an ApiError so that a handler of one record (`except ApiError: dead-letter it`)
can never swallow a lost credential: that stops the run, it is not the record's fault.

A ClientError keeps the server's message (and 422 field errors) but never the request's
secrets: no headers, no request body, and every text is passed through `redact()` with the
client's known secrets, so even a server that echoes a token or password back cannot leak it.
The texts themselves (redaction, reading an error body) live in clients/error_text.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import httpx

from clients.error_text import _describe_field_error, _redact_value, parse_error_body, redact


class ClientError(Exception):
    """A failed call to Handy or Gestionix (base of ApiError and Fatal).

    Attributes: system ("handy" | "gestionix" | ""), status (HTTP status or None for transport
    errors), message (the server's text, redacted), field_errors (list of {"field", "message",
    and when given "rejected_value", "object"}), method, path (URL path, no query), details
    (other keys of a JSON error body, e.g. Gestionix's "existing_id"), body_snippet (start of a
    non-JSON body), retry_after (seconds the server asked to wait), attempts (HTTP attempts
    made), transport_error (name of the httpx exception, if any), resend_safe (True when the
    server certainly did not process the request, so even a POST may be sent again).
    """

    def __init__(
        self,
        message: str = "",
        *,
        system: str = "",
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
        field_errors: list[dict[str, Any]] | None = None,
        details: dict[str, Any] | None = None,
        body_snippet: str | None = None,
        retry_after: float | None = None,
        attempts: int = 1,
        transport_error: str | None = None,
        resend_safe: bool = False,
    ) -> None:
        self.message = message
        self.system = system
        self.status = status
        self.method = method
        self.path = path
        self.field_errors = list(field_errors or [])
        self.details = dict(details or {})
        self.body_snippet = body_snippet
        self.retry_after = retry_after
        self.attempts = attempts
        self.transport_error = transport_error
        self.resend_safe = resend_safe
        super().__init__(self._text())

    def _text(self) -> str:
        where = " ".join(p for p in (self.system, self.method, self.path) if p)
        what = self.message or (self.body_snippet or "")
        if self.status is not None:
            head = f"{where} answered {self.status}" if where else f"HTTP {self.status}"
        elif self.transport_error:
            head = f"{where} failed ({self.transport_error})" if where else self.transport_error
        else:
            head = where
        text = f"{head}: {what}" if head and what else (head or what)
        fields = [_describe_field_error(fe) for fe in self.field_errors]
        if fields and not self.message.startswith(fields[0]):
            text += " [" + "; ".join(fields) + "]"
        if self.attempts > 1:
            text += f" (after {self.attempts} attempts)"
        return text

    def __str__(self) -> str:
        return self._text()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(system={self.system!r}, status={self.status!r}, "
            f"method={self.method!r}, path={self.path!r}, message={self.message!r})"
        )

    def __reduce__(self):  # keyword-only fields survive pickling (Prefect may pickle states)
        return (_rebuild_error, (type(self), self.__getstate__()))

    def __getstate__(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "system": self.system,
            "status": self.status,
            "method": self.method,
            "path": self.path,
            "field_errors": self.field_errors,
            "details": self.details,
            "body_snippet": self.body_snippet,
            "retry_after": self.retry_after,
            "attempts": self.attempts,
            "transport_error": self.transport_error,
            "resend_safe": self.resend_safe,
        }


def _rebuild_error(cls: type[ClientError], state: dict[str, Any]) -> ClientError:
    return cls(**state)


class ApiError(ClientError):
    """This call failed, and only this call: a per-record handler may catch it (X2)."""


class Fatal(ClientError):
    """The run cannot go on (no per-record handler catches it): it fails the run."""


class CredentialsError(Fatal):
    """Handy 401; Gestionix 401 after a fresh login; a refused login; an unusable secret."""


class Retryable(ApiError):
    """Temporary: the same call may succeed later (X2)."""


class Unreachable(Retryable):
    """The connection itself failed (refused, name not found, connect timeout): the message names
    the system and its URL, so an operator knows what to start or fix."""

    def _text(self) -> str:
        return self.message + (f" (after {self.attempts} attempts)" if self.attempts > 1 else "")


class UnreadableBody(Retryable):
    """A 2xx answer whose body is not JSON (HTML maintenance page, truncated body): the
    server is having a moment; GETs/PUTs/DELETEs are retried, a POST is not resent."""


class Reauth(ApiError):
    """401: the token is no longer accepted; Gestionix logs in again once."""


class Permanent(ApiError):
    """Retrying the same call cannot fix it (X2)."""


class NotFound(Permanent):
    pass


class Conflict(Permanent):
    pass


class ValidationFailed(Permanent):
    pass


class InvalidCode(Permanent):
    pass


class UnexpectedResponse(Permanent):
    """A successful status with JSON of a shape we cannot use (missing list, missing id)."""


class PaginationError(Permanent):
    """The server's paging cannot be trusted (e.g. it ignores `page`), so the list is unknown."""


# ---------------------------------------------------------------------------------------------
# THE table. classify() is the only place that decides retryable vs permanent; the in-client
# retries (clients/ratelimit.py) and Prefect's retry_condition_fn both read it.
# ---------------------------------------------------------------------------------------------
STATUS_TABLE: dict[int, type[ApiError]] = {
    400: ValidationFailed,
    401: Reauth,
    403: Permanent,
    404: NotFound,
    408: Retryable,
    409: Conflict,
    410: NotFound,
    422: ValidationFailed,
    425: Retryable,
    429: Retryable,
    501: Permanent,
    505: Permanent,
}
# Checked in order; the first matching exception type wins.
TRANSPORT_TABLE: tuple[tuple[type[BaseException], type[ApiError]], ...] = (
    (httpx.TimeoutException, Retryable),  # connect/read/write/pool timeouts
    (httpx.NetworkError, Retryable),  # connection refused/reset/dropped
    (httpx.RemoteProtocolError, Retryable),  # server closed mid-response, truncated body
    (httpx.ProxyError, Retryable),
    (httpx.HTTPError, Permanent),  # bad URL, unsupported protocol, too many redirects ...
)
# Failures where the server certainly did not act on the request: safe to resend even a POST.
RESEND_SAFE_STATUSES = frozenset({425, 429})
RESEND_SAFE_EXCEPTIONS: tuple[type[BaseException], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


def classify(status: int | None, exc: BaseException | None = None) -> type[ClientError]:
    """The error class for an HTTP status (non-2xx) or a transport exception."""
    if exc is not None:
        if isinstance(exc, ClientError):
            return type(exc)
        for exc_type, error_class in TRANSPORT_TABLE:
            if isinstance(exc, exc_type):
                return error_class
        return Permanent
    if status is None:
        raise ValueError("classify() needs a status or an exception")
    if 200 <= status < 300:
        raise ValueError(f"status {status} is a success, not an error")
    if status in STATUS_TABLE:
        return STATUS_TABLE[status]
    if 500 <= status < 600:
        return Retryable
    return Permanent  # other 4xx, and 1xx/3xx we never asked for


def is_retryable(exc: BaseException) -> bool:
    """True when the table says retrying may help (walks __cause__/__context__ chains)."""
    for candidate in _exception_chain(exc):
        if isinstance(candidate, ClientError):
            return isinstance(candidate, Retryable)
        if isinstance(candidate, httpx.HTTPError):
            return issubclass(classify(None, candidate), Retryable)
    return False


def retry_condition_fn(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect `retry_condition_fn`: retry a failed task only when its error is Retryable.

    Permanent errors (validation, not found, conflict), Fatal ones (bad credentials) and our own bugs are
    not retried: retrying cannot fix them (RULES X2).
    """
    exc = getattr(state, "data", None)
    if not isinstance(exc, BaseException):
        try:
            exc = state.result(raise_on_failure=False)
        except Exception:  # noqa: BLE001 - an unreadable result is not a reason to retry
            return False
    return isinstance(exc, BaseException) and is_retryable(exc)


def _exception_chain(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


# ---------------------------------------------------------------------------------------------
# Building errors from responses and transport exceptions
# ---------------------------------------------------------------------------------------------
def error_from_response(
    *,
    system: str,
    method: str,
    path: str,
    status: int,
    content: bytes | None,
    secrets: Iterable[str] = (),
    retry_after: float | None = None,
    keep_body: bool = True,
) -> ApiError:
    """The ApiError for a non-2xx answer. keep_body=False for answers to secret-bearing
    requests (login): then only the server's short message is kept."""
    secrets = list(secrets)
    message, field_errors, details, body_snippet = parse_error_body(content)
    if not keep_body:
        field_errors, details, body_snippet = [], {}, ""
    error_class = classify(status)
    text = message or body_snippet  # an HTML or plain-text body is the server's message too
    return error_class(
        redact(text, secrets) or httpx.codes.get_reason_phrase(status),
        system=system,
        status=status,
        method=method,
        path=path,
        field_errors=_redact_value(field_errors, secrets),
        details=_redact_value(details, secrets),
        body_snippet=redact(body_snippet, secrets) or None,
        retry_after=retry_after,
        resend_safe=status in RESEND_SAFE_STATUSES,
    )


SYSTEM_NAMES = {"handy": "Handy", "gestionix": "Gestionix"}


def unreachable_text(system: str, base_url: str, exc: BaseException) -> str:
    """ "Handy at http://127.0.0.1:8701/api/v2 refused the connection", and the like."""
    where = f"{SYSTEM_NAMES.get(system, system)} at {base_url}"
    detail = str(exc)
    causes = list(_exception_chain(exc))
    if isinstance(exc, httpx.ConnectTimeout):
        return f"{where} did not accept the connection in time (host down or unreachable)"
    if (
        any(isinstance(cause, ConnectionRefusedError) for cause in causes)
        or "refused" in detail.lower()
    ):
        return f"{where} refused the connection (is it running? is the URL right?)"
    if re.search(
        r"name or service not known|nodename nor servname|getaddrinfo|name resolution|no address",
        detail,
        re.IGNORECASE,
    ):
        return (
            f"{where} cannot be reached: its host name is not found (DNS: {detail.split('] ')[-1]})"
        )
    return f"{where} cannot be reached: {detail or type(exc).__name__}"


def error_from_exception(
    *,
    system: str,
    method: str,
    path: str,
    exc: BaseException,
    secrets: Iterable[str] = (),
    base_url: str | None = None,
) -> ApiError:
    """The ApiError for a transport failure. The httpx exception is not chained (it holds the
    request and its Authorization header); its type name and text are kept instead. A failed
    connection (with `base_url` known) is Unreachable, whose text names the system and URL."""
    error_class = classify(None, exc)
    detail = str(exc) or type(exc).__name__
    if base_url and isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        error_class, detail = Unreachable, unreachable_text(system, base_url, exc)  # redacted below
    return error_class(
        redact(detail, secrets),
        system=system,
        method=method,
        path=path,
        transport_error=type(exc).__name__,
        resend_safe=isinstance(exc, RESEND_SAFE_EXCEPTIONS),
    )


def unsendable_request(*, system: str, method: str, path: str, exc: BaseException) -> ApiError:
    """The request could not be written (a header or URL holds a character HTTP does not allow).
    The original text quotes the offending header value, so only the exception's type is kept;
    credentials are checked when saved and loaded, so this names what to look at."""
    return Permanent(
        "the request could not be sent: a header or the URL holds a character HTTP does not allow "
        "(check the tenant's credential block and base URL)",
        system=system,
        method=method,
        path=path,
        transport_error=type(exc).__name__,
    )
