"""Prefect blocks holding each tenant's secrets (RULES A2). Tenant parameters only name them."""

from __future__ import annotations

from typing import Any

from prefect.blocks.core import Block
from pydantic import ConfigDict, Field, SecretStr, field_validator

HANDY_DEFAULT_URL = "https://hub.handy.la/api/v2"
GESTIONIX_DEFAULT_URL = "https://api.gestionix.com/api/v3"


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


def _http_url(value: str) -> str:
    value = value.strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"base_url {value!r} must start with http:// or https://")
    return value


class HandyCredentials(Block):
    """Handy API v2 access for one tenant: base URL and the admin user's API token."""

    _block_type_name = "Handy Credentials"
    _block_type_slug = "handy-credentials"
    _description = "Handy (handy.la) REST API v2 base URL and API token of one tenant."

    base_url: str = Field(default=HANDY_DEFAULT_URL, description="Handy API v2 base URL.")
    api_token: SecretStr = Field(description="Handy API token (Bearer). Never logged.")

    # A refused value is never echoed in the validation error (A2).
    model_config = ConfigDict(hide_input_in_errors=True)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("api_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        check_secret("the Handy API token (api_token)", value, header=True)
        return value


class GestionixCredentials(Block):
    """Konfío Gestionix API v3 access for one tenant: base URL, user e-mail and password."""

    _block_type_name = "Gestionix Credentials"
    _block_type_slug = "gestionix-credentials"
    _description = "Konfío Gestionix REST API v3 base URL, user and password of one tenant."

    base_url: str = Field(default=GESTIONIX_DEFAULT_URL, description="Gestionix API v3 base URL.")
    user: str = Field(description="Gestionix user (login e-mail).")
    password: SecretStr = Field(description="Gestionix password. Never logged.")

    model_config = ConfigDict(hide_input_in_errors=True)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("user")
    @classmethod
    def _user(cls, value: str) -> str:
        check_secret("the Gestionix user (user)", value, header=False)
        return value

    @field_validator("password")
    @classmethod
    def _password(cls, value: SecretStr) -> SecretStr:
        check_secret("the Gestionix password (password)", value, header=False)
        return value
