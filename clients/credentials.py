"""Prefect blocks holding each tenant's secrets (RULES A2). Tenant parameters only name them."""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr, field_validator

HANDY_DEFAULT_URL = "https://hub.handy.la/api/v2"
GESTIONIX_DEFAULT_URL = "https://api.gestionix.com/api/v3"


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

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)


class GestionixCredentials(Block):
    """Konfío Gestionix API v3 access for one tenant: base URL, user e-mail and password."""

    _block_type_name = "Gestionix Credentials"
    _block_type_slug = "gestionix-credentials"
    _description = "Konfío Gestionix REST API v3 base URL, user and password of one tenant."

    base_url: str = Field(default=GESTIONIX_DEFAULT_URL, description="Gestionix API v3 base URL.")
    user: str = Field(description="Gestionix user (login e-mail).")
    password: SecretStr = Field(description="Gestionix password. Never logged.")

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)
