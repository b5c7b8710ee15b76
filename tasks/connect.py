"""Open one Handy and one Gestionix client per run, from the tenant's credential blocks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from clients.credentials import GestionixCredentials, HandyCredentials
from clients.gestionix import GestionixClient
from clients.handy import HandyClient
from clients.ratelimit import RetryPolicy
from mappings.tenant import TenantConfig


@dataclass
class Connection:
    """What every task of a run needs to talk to both systems for one tenant."""

    tenant: TenantConfig
    handy: HandyClient
    gestionix: GestionixClient
    company_id: int | None = None
    branch: dict[str, Any] | None = None

    @property
    def branch_id(self) -> int:
        if self.branch is None:
            raise RuntimeError(f"tenant {self.tenant.slug}: branch not resolved")
        return int(self.branch["branch_id"])

    @property
    def branch_name(self) -> str:
        return str(self.branch["name"]) if self.branch else self.tenant.gestionix_branch


async def load_credentials(tenant: TenantConfig) -> tuple[HandyCredentials, GestionixCredentials]:
    handy = await HandyCredentials.aload(tenant.handy_credentials)
    gestionix = await GestionixCredentials.aload(tenant.gestionix_credentials)
    return handy, gestionix


@asynccontextmanager
async def connect(
    tenant: TenantConfig, *, resolve: bool = True, timeout: float = 30.0, retry_policy: RetryPolicy | None = None
) -> AsyncIterator[Connection]:
    """Both clients, open for the block; with `resolve`, the company and the sucursal are resolved
    (A1) so a wrong name fails the run at once with the list of existing ones. `timeout` and
    `retry_policy` default to the clients' own (a run's patience); a check passes shorter ones."""
    handy_creds, gestionix_creds = await load_credentials(tenant)
    async with (
        HandyClient(
            handy_creds.base_url,
            handy_creds.api_token.get_secret_value(),
            tenant=tenant.slug,
            timezone=tenant.handy_timezone,
            timeout=timeout,
            retry_policy=retry_policy,
        ) as handy,
        GestionixClient(
            gestionix_creds.base_url,
            gestionix_creds.user,
            gestionix_creds.password.get_secret_value(),
            tenant=tenant.slug,
            company=tenant.gestionix_company,
            timeout=timeout,
            retry_policy=retry_policy,
        ) as gestionix,
    ):
        connection = Connection(tenant=tenant, handy=handy, gestionix=gestionix)
        if resolve:
            connection.company_id = await gestionix.resolve_company()
            connection.branch = await gestionix.resolve_branch(tenant.gestionix_branch)
        yield connection
