"""Activation checks (RULES A4): each one says what is wrong and what to do about it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from prefect import task

from clients.errors import ApiError, CredentialsError, Unreachable
from clients.ratelimit import RetryPolicy
from clients.secret_check import UnusableSecret
from mappings.company import NotChosen
from mappings.products import map_products
from mappings.tenant import TenantConfig
from store import cursors
from tasks.connect import Connection, connect, load_credentials, resolve_branch, resolve_company
from tasks.options import RUN_ONCE
from tasks.store_calls import store_call

ORDER_STREAMS = ("orders", "deletions")
# A check gives up on an unreachable host quickly (one connect timeout per system, a retry
# only when it is quick): an operator waits for it at the terminal.
CHECK_TIMEOUT_SECONDS = 4.0
CHECK_RETRY_POLICY = RetryPolicy(max_attempts=2, max_total_seconds=2.0, backoff_max=1.0, jitter=0.2)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class CheckReport:
    tenant: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok

    def lines(self) -> list[str]:
        marks = [f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}" for c in self.checks]
        verdict = "ready to activate" if self.ok else "NOT ready: fix the FAIL lines above"
        return [f"tenant {self.tenant}:", *marks, verdict]

    def failure(self) -> str:
        return "; ".join(f"{c.name}: {c.detail}" for c in self.checks if not c.ok)


async def _check_handy(connection: Connection) -> tuple[bool, str]:
    try:
        users = await connection.handy.list_users()
        return True, f"token accepted ({len(users)} users)"
    except CredentialsError:
        return False, (
            f"Handy rejected the API token of block {connection.tenant.handy_credentials!r}; "
            "save a valid token"
        )
    except Unreachable as error:
        return False, str(error)
    except ApiError as error:
        return False, f"Handy did not answer: {error}"


async def _check_gestionix(connection: Connection) -> tuple[bool, str]:
    try:
        return True, f"company {await resolve_company(connection)}"
    except CredentialsError:
        return (
            False,
            f"Gestionix rejected the user/password of block {connection.tenant.gestionix_credentials!r}",
        )
    except (ApiError, NotChosen) as error:
        return False, str(error)


def _gestionix_refused(connection: Connection, reading: str) -> str:
    """A credential lost after the login check (password rotated, session revoked) is a failed
    check like the others, not a traceback at the operator's terminal."""
    return (
        f"Gestionix refused the credentials of block {connection.tenant.gestionix_credentials!r} "
        f"while reading {reading}; save the block again and rerun the check"
    )


async def check_tenant(tenant: TenantConfig) -> CheckReport:
    """Run every A4 check without writing anything; stops at the first check the next ones need."""
    report = CheckReport(tenant.slug)
    try:
        await load_credentials(tenant)
    except UnusableSecret as error:  # A2: names the block and field, never the value
        report.add("credential blocks", False, f"{error} — save the block again with a valid value")
        return report
    except ValueError as error:
        report.add(
            "credential blocks",
            False,
            f"{error} — create it with `hgsync tenant add {tenant.slug}`",
        )
        return report
    report.add(
        "credential blocks", True, f"{tenant.handy_credentials}, {tenant.gestionix_credentials}"
    )
    async with connect(
        tenant, resolve=False, timeout=CHECK_TIMEOUT_SECONDS, retry_policy=CHECK_RETRY_POLICY
    ) as connection:
        # Both systems at once: on unreachable hosts the check waits one connect timeout, not two.
        (handy_ok, handy_detail), (gestionix_ok, gestionix_detail) = await asyncio.gather(
            _check_handy(connection), _check_gestionix(connection)
        )
        report.add("Handy credentials", handy_ok, handy_detail)
        if not report.add("Gestionix credentials and company", gestionix_ok, gestionix_detail):
            return report
        try:
            await resolve_branch(connection)
            report.add("sucursal", True, f"{connection.branch_name!r} (id {connection.branch_id})")
        except CredentialsError:
            report.add("sucursal", False, _gestionix_refused(connection, "the sucursales"))
            return report
        except (ApiError, NotChosen) as error:
            report.add("sucursal", False, str(error))
            return report
        try:
            products = await connection.gestionix.list_products(connection.branch_id)
        except CredentialsError:
            report.add("products for sale", False, _gestionix_refused(connection, "the products"))
            return report
        except ApiError as error:
            report.add("products for sale", False, str(error))
            return report
        mapping = map_products(products, connection.branch_id)
        sellable = len(mapping.desired)
        report.add(
            "products for sale",
            sellable > 0,
            f"{sellable} syncable of {len(products)} in the sucursal ({len(mapping.rejected)} rejected, "
            f"{len(mapping.not_for_sale)} not for sale)"
            if sellable
            else f"sucursal {connection.branch_name!r} has no product for sale with a valid clave "
            f"({len(products)} products read): nothing to sync",
        )
    return report


@task(name="check-tenant", **RUN_ONCE)
async def run_activation_checks(tenant: TenantConfig) -> CheckReport:
    return await check_tenant(tenant)


@task(name="set-order-cursors", **RUN_ONCE)
async def set_order_cursors(tenant: TenantConfig, start: datetime) -> datetime:
    """From now on (or the backfill date), order push and deletion sync read from `start` (A4)."""
    for stream in ORDER_STREAMS:
        await store_call(cursors.set, tenant.slug, stream, start)
    return start
