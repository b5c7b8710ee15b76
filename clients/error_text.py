"""What a client error may say: secrets masked in every form they can take (`redact`), and a
server's error body read into a message and field errors (`parse_error_body`). Used by
clients/errors.py to build its exceptions; imports nothing of ours."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

SNIPPET_CHARS = 200
MESSAGE_CHARS = 500

# Up to the next space or quote: a token's escaped CR/LF/NUL ("abc\\r\\ndef") is masked whole.
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s'\"]+")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_SECRET_FIELDS = re.compile(
    r'(?i)("?(?:password|passwd|access_token|refresh_token|token|authorization)"?\s*[:=]\s*)'
    r'("[^"]*"|[^\s,&}]+)'
)
_TAGS = re.compile(r"<[^>]*>")


MIN_FRAGMENT = 4  # shorter pieces of a secret are too common in ordinary text to mask


def secret_forms(secret: str) -> list[str]:
    """Every way a secret may show up in a text, longest first: as is; escaped as Python, bytes,
    JSON or a URL would print it; and each fragment between characters that such printing
    escapes or a log line splits at (CR, LF, NUL, non-ASCII...), so no piece of it survives."""
    if not secret:
        return []
    forms = {
        secret,
        repr(secret)[1:-1],
        secret.encode("unicode_escape").decode("ascii"),
        repr(secret.encode("utf-8", "backslashreplace"))[2:-1],
        json.dumps(secret)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
    }
    forms.update(re.split(r"[^\x21-\x7e]+|\\", secret))
    return sorted((form for form in forms if len(form) >= MIN_FRAGMENT), key=len, reverse=True)


def redact(text: Any, secrets: Iterable[str] = ()) -> str:
    """`text` with known secrets (in every form and fragment, see secret_forms), bearer tokens,
    JWTs and password/token fields masked."""
    out = "" if text is None else str(text)
    for secret in secrets:
        for form in secret_forms(secret or ""):
            out = out.replace(form, "***")
    out = _BEARER.sub(r"\1***", out)
    out = _JWT.sub("***", out)
    return _SECRET_FIELDS.sub(r"\1***", out)


def _redact_value(value: Any, secrets: Iterable[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, Mapping):
        return {k: _redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v, secrets) for v in value]
    return value


def snippet(content: bytes | str | None, limit: int = SNIPPET_CHARS) -> str:
    """A short, single-line, tag-free start of a body, for error messages."""
    if not content:
        return ""
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    text = " ".join(_TAGS.sub(" ", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe_field_error(fe: Mapping[str, Any]) -> str:
    field, message = fe.get("field"), fe.get("message") or ""
    text = f"{field}: {message}" if field else str(message)
    if fe.get("rejected_value") is not None:
        text += f" (rejected: {fe['rejected_value']!r})"
    return text


def _field_errors(items: Any) -> list[dict[str, Any]]:
    """Handy {"object","field","rejected-value","message"}, Gestionix {"field","message"},
    and FastAPI {"loc","msg"} entries, normalised to {"field","message",...}."""
    if not isinstance(items, list):
        return []
    out: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, Mapping):
            out.append({"field": None, "message": str(item)})
            continue
        field = item.get("field")
        if field is None and isinstance(item.get("loc"), list):
            field = ".".join(str(p) for p in item["loc"] if p != "body")
        entry: dict[str, Any] = {
            "field": field,
            "message": str(
                item.get("message") or item.get("msg") or item.get("defaultMessage") or ""
            ),
        }
        for key in ("rejected-value", "rejectedValue", "rejected_value"):
            if key in item:
                entry["rejected_value"] = item[key]
                break
        if "object" in item:
            entry["object"] = item["object"]
        out.append(entry)
    return out


def parse_error_body(
    content: bytes | None,
) -> tuple[str, list[dict[str, Any]], dict[str, Any], str]:
    """(message, field_errors, other JSON keys, snippet) of an error body; never raises."""
    try:
        body = json.loads(content) if content else None
    except (ValueError, UnicodeDecodeError):
        return "", [], {}, snippet(content)
    if isinstance(body, list):
        return "", _field_errors(body), {}, snippet(content)
    if not isinstance(body, Mapping):
        return (str(body) if body is not None else ""), [], {}, ""
    message = ""
    for key in ("message", "error_description", "error", "detail", "title"):
        if isinstance(body.get(key), str) and body[key].strip():
            message = body[key].strip()
            break
    field_errors = _field_errors(body.get("errors")) or _field_errors(body.get("detail"))
    if not message and field_errors:
        message = "; ".join(_describe_field_error(fe) for fe in field_errors)
    details = {k: v for k, v in body.items() if k not in ("message", "errors", "detail")}
    return message[:MESSAGE_CHARS], field_errors, details, "" if message else snippet(content)
