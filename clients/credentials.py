"""Prefect blocks holding each tenant's secrets (RULES A2). Tenant parameters only name them.
Each block builds its client (`get_client()`, as Prefect's own integrations' credential blocks
do), so the secret goes from the block straight into the client and nowhere else."""

from __future__ import annotations

from typing import Any

from prefect.blocks.abstract import CredentialsBlock
from pydantic import ConfigDict, Field, SecretStr, field_validator

from clients.gestionix import GestionixClient
from clients.handy import HandyClient
from clients.secret_check import check_secret

HANDY_DEFAULT_URL = "https://hub.handy.la/api/v2"
GESTIONIX_DEFAULT_URL = "https://api.gestionix.com/api/v3"


class _ApiCredentials(CredentialsBlock):
    """What both systems' blocks share: a checked base URL, and validation errors that never
    echo the refused value (A2)."""

    base_url: str

    model_config = ConfigDict(hide_input_in_errors=True)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"base_url {value!r} must start with http:// or https://")
        return value


class HandyCredentials(_ApiCredentials):
    """Handy API v2 access for one tenant: base URL and the admin user's API token."""

    _block_type_name = "Handy Credentials"
    _block_type_slug = "handy-credentials"
    _description = "Handy (handy.la) REST API v2 base URL and API token of one tenant."

    base_url: str = Field(default=HANDY_DEFAULT_URL, description="Handy API v2 base URL.")
    api_token: SecretStr = Field(description="Handy API token (Bearer). Never logged.")

    @field_validator("api_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        check_secret("the Handy API token (api_token)", value, header=True)
        return value

    def get_client(self, *, tenant: str, **options: Any) -> HandyClient:
        """A HandyClient for `tenant` (use it as `async with`); `options` are the client's own
        keyword arguments (timezone, timeout, retry_policy, transport...)."""
        return HandyClient(self.base_url, self.api_token, tenant=tenant, **options)


class GestionixCredentials(_ApiCredentials):
    """Konfío Gestionix API v3 access for one tenant: base URL, user e-mail and password."""

    _block_type_name = "Gestionix Credentials"
    _block_type_slug = "gestionix-credentials"
    _description = "Konfío Gestionix REST API v3 base URL, user and password of one tenant."

    base_url: str = Field(default=GESTIONIX_DEFAULT_URL, description="Gestionix API v3 base URL.")
    user: str = Field(description="Gestionix user (login e-mail).")
    password: SecretStr = Field(description="Gestionix password. Never logged.")

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

    def get_client(self, *, tenant: str, **options: Any) -> GestionixClient:
        """A GestionixClient for `tenant` (use it as `async with`); `options` are the client's
        own keyword arguments (timeout, retry_policy, transport...)."""
        return GestionixClient(self.base_url, self.user, self.password, tenant=tenant, **options)
