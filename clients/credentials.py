"""Prefect blocks holding each tenant's secrets (RULES A2). Tenant parameters only name them.
Each block builds its client (`get_client()`, as Prefect's own integrations' credential blocks
do), so the secret goes from the block straight into the client and nowhere else."""

from __future__ import annotations

from typing import Any, ClassVar

from prefect.blocks.abstract import CredentialsBlock
from pydantic import ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from clients.gestionix import GestionixClient
from clients.handy import HandyClient
from clients.secret_check import check_secret

HANDY_DEFAULT_URL = "https://hub.handy.la/api/v2"
GESTIONIX_DEFAULT_URL = "https://api.gestionix.com/api/v3"


class _ApiCredentials(CredentialsBlock):
    """What both systems' blocks share: a checked base URL, secrets checked as they are saved and
    loaded, and validation errors that never echo the refused value (A2)."""

    # field name -> (how an error names it, whether it travels in an HTTP header)
    SECRET_FIELDS: ClassVar[dict[str, tuple[str, bool]]] = {}

    base_url: str

    model_config = ConfigDict(hide_input_in_errors=True)

    @field_validator("*")
    @classmethod
    def _usable_secret(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name in cls.SECRET_FIELDS:
            label, header = cls.SECRET_FIELDS[info.field_name]
            check_secret(label, value, header=header)
        return value

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
    SECRET_FIELDS = {"api_token": ("the Handy API token (api_token)", True)}

    base_url: str = Field(default=HANDY_DEFAULT_URL, description="Handy API v2 base URL.")
    api_token: SecretStr = Field(description="Handy API token (Bearer). Never logged.")

    def get_client(self, *, tenant: str, **options: Any) -> HandyClient:
        """A HandyClient for `tenant` (use it as `async with`); `options` are the client's own
        keyword arguments (timezone, timeout, retry_policy, transport...)."""
        return HandyClient(self.base_url, self.api_token, tenant=tenant, **options)


class GestionixCredentials(_ApiCredentials):
    """Konfío Gestionix API v3 access for one tenant: base URL, user e-mail and password."""

    _block_type_name = "Gestionix Credentials"
    _block_type_slug = "gestionix-credentials"
    _description = "Konfío Gestionix REST API v3 base URL, user and password of one tenant."
    SECRET_FIELDS = {
        "user": ("the Gestionix user (user)", False),
        "password": ("the Gestionix password (password)", False),
    }

    base_url: str = Field(default=GESTIONIX_DEFAULT_URL, description="Gestionix API v3 base URL.")
    user: str = Field(description="Gestionix user (login e-mail).")
    password: SecretStr = Field(description="Gestionix password. Never logged.")

    def get_client(self, *, tenant: str, **options: Any) -> GestionixClient:
        """A GestionixClient for `tenant` (use it as `async with`); `options` are the client's
        own keyword arguments (timeout, retry_policy, transport...)."""
        return GestionixClient(self.base_url, self.user, self.password, tenant=tenant, **options)
