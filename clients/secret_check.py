"""Whether a secret can be used as saved (RULES A2). Imports nothing of ours: the credential
blocks check a value when it is saved and loaded, the clients again before it reaches a header."""

from __future__ import annotations

from typing import Any


class UnusableSecret(ValueError):
    """A secret that cannot be used as saved (a control or non-ASCII character, surrounding
    spaces). The message names the field and the problem, never the value."""


def secret_problem(value: str, *, header: bool) -> str | None:
    """What makes `value` unusable, or None. Control characters (CR, LF, NUL, TAB...) and
    non-ASCII are refused in every secret: they cannot travel in an HTTP header, and a CR or LF
    would split any log line or message that ever met them. A value sent in a header (a token)
    may not have surrounding spaces either (a copy-paste slip the server would refuse)."""
    if not value:
        return "is empty"
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        return "contains a control character (line break, tab, NUL...)"
    if not value.isascii():
        return "contains a non-ASCII character (accents, ñ, typographic quotes...)"
    if header and value != value.strip():
        return "starts or ends with a space"
    return None


def check_secret(label: str, value: Any, *, header: bool) -> str:
    """The plain text of a secret (str or SecretStr), or UnusableSecret naming `label`."""
    getter = getattr(value, "get_secret_value", None)
    text = getter() if callable(getter) else ("" if value is None else str(value))
    problem = secret_problem(text, header=header)
    if problem:
        raise UnusableSecret(f"{label} {problem}; type it again (the value is not shown)")
    return text
