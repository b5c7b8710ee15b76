"""Open one Handy and one Gestionix client per run, from the tenant's credential blocks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from prefect.blocks.core import Block
from pydantic import ValidationError

from clients.credentials import GestionixCredentials, HandyCredentials
from clients.gestionix import GestionixClient
from clients.handy import HandyClient
from clients.ratelimit import RetryPolicy
from clients.secret_check import UnusableSecret
from mappings import gestionix_fields as G
from mappings.company import choose_branch, choose_company
from mappings.tenant import TenantConfig


@dataclass
class Connection:
    """What every task of a run needs to talk to both systems for one tenant."""

    tenant: TenantConfig
    handy: HandyClient
    gestionix: GestionixClient
    company_id: int | None = None
    branch: dict[str, Any] | None = None
    _lease: Any = field(default=None, repr=False)

    @property
    def lease(self) -> Any:
        """The run's tasks.fencing.LeaseGuard (None: dry run, or a flow without a lease)."""
        return self._lease

    @lease.setter
    def lease(self, guard: Any) -> None:
        """Hold the run's writes to its lease (O8): every Gestionix write (document and client
        creates, deletions) is checked right before it is sent, and the tasks fence their
        intent and binding rows with it (tasks.fencing.fence_for)."""
        self._lease = guard
        self.gestionix.write_gate = guard.check if guard is not None else None

    @property
    def branch_id(self) -> int:
        if self.branch is None:
            raise RuntimeError(f"tenant {self.tenant.slug}: branch not resolved")
        return int(self.branch[G.BRANCH_ID])

    @property
    def branch_name(self) -> str:
        return str(self.branch[G.BRANCH_NAME]) if self.branch else self.tenant.gestionix_branch


async def load_credentials(tenant: TenantConfig) -> tuple[HandyCredentials, GestionixCredentials]:
    """Both blocks, validated as when saved (A2). A block that fails validation (saved before
    the checks, or edited in the UI) raises UnusableSecret naming the block and field, never the
    value; a missing block raises Prefect's ValueError."""
    handy = await _load(HandyCredentials, tenant.handy_credentials)
    gestionix = await _load(GestionixCredentials, tenant.gestionix_credentials)
    return handy, gestionix


async def _load(block_type: type[Block], name: str) -> Any:
    try:
        return await block_type.aload(name)
    except RuntimeError as exc:
        cause = exc.__cause__
        if not isinstance(cause, ValidationError):
            raise
        problems = "; ".join(
            error["msg"].removeprefix("Value error, ")
            for error in cause.errors(include_input=False)
        )
    # Raised here, outside the except block: no chained error carries the block's data.
    raise UnusableSecret(f"credential block {name!r}: {problems}")


@asynccontextmanager
async def connect(
    tenant: TenantConfig,
    *,
    resolve: bool = True,
    timeout: float = 30.0,
    retry_policy: RetryPolicy | None = None,
) -> AsyncIterator[Connection]:
    """Both clients, open for the block; with `resolve`, the company and the sucursal are resolved
    (A1) so a wrong name fails the run at once with the list of existing ones. `timeout` and
    `retry_policy` default to the clients' own (a run's patience); a check passes shorter ones."""
    handy_creds, gestionix_creds = await load_credentials(tenant)
    patience = {"timeout": timeout, "retry_policy": retry_policy}
    async with (
        handy_creds.get_client(
            tenant=tenant.slug, timezone=tenant.handy_timezone, **patience
        ) as handy,
        gestionix_creds.get_client(tenant=tenant.slug, **patience) as gestionix,
    ):
        connection = Connection(tenant=tenant, handy=handy, gestionix=gestionix)
        if resolve:
            await resolve_branch(connection)
        yield connection


async def resolve_company(connection: Connection) -> int:
    """A1: the tenant's Gestionix company among the user's (mappings.company; NotChosen lists
    them); the client sends it as `Company` from then on."""
    gestionix = connection.gestionix
    if gestionix.company_id is None:
        companies = await gestionix.list_companies()
        tenant = connection.tenant
        gestionix.company_id = choose_company(companies, tenant.gestionix_company, tenant.slug)
    connection.company_id = gestionix.company_id
    return gestionix.company_id


async def resolve_branch(connection: Connection) -> dict[str, Any]:
    """A1: the company, then the tenant's sucursal by name (NotChosen lists the existing ones)."""
    company_id = await resolve_company(connection)
    branches = await connection.gestionix.list_branches()
    connection.branch = choose_branch(branches, connection.tenant.gestionix_branch, company_id)
    return connection.branch
