"""customer_sync after the plan (RULES C3-C6, C8, X3): the bindings that need no Handy write
(adopt, rebind), zone General, and the writes. The reads, the plan and the binding conventions
are in tasks/customers.py.

Zone General (C4): entity "zone", handy_key = str(zone id), gestionix_key = "General". Found by
binding, else by description in Handy, else created; looked up only when something is created.

Writes run concurrently inside one batch-sized task, through the one Handy record writer
(tasks/handy_writer.py, its error policy included; the clients hold the rate limit and the
concurrency bound); each success is bound at once, so a crash loses at most the in-flight records,
and a create that meets its own code in Handy (crash before binding, or a customer made by hand
with that code) adopts it instead of failing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from prefect import task

from clients.errors import ApiError, Conflict, Permanent, ValidationFailed
from mappings import handy_fields as H
from mappings.bindings import BindingStatus, Entity
from mappings.customers import (
    BASELINE,
    ZONE_GENERAL,
    baseline_of,
    customer_create_body,
    customer_update_body,
    handy_customers_frame,
    zone_id,
)
from mappings.plan import PlanRow
from mappings.tenant import TenantConfig
from store import binder
from store.binder import BindingConflict
from tasks.audit import RunAudit
from tasks.concurrency import batches as batches_of
from tasks.connect import Connection
from tasks.customers import CustomerPlan
from tasks.handy_writer import CREATE, HandyRecordWriter, code_taken
from tasks.options import RETRY_ON_OUTAGE, RUN_ONCE
from tasks.store_calls import store_call

BATCH_SIZE = 500  # records per write task run
WRITE_CONCURRENCY = 32  # coroutines in flight per batch; the Handy client bounds the real calls

# Plan set -> (audit count, past-tense action, dry-run action)
ACTIONS = {
    "create": ("created", "created", "would create"),
    "update": ("updated", "updated", "would update"),
    "enable": ("enabled", "enabled", "would enable"),
    "disable": ("disabled", "disabled", "would disable"),
}
WRITE_ORDER = ("create", "update", "enable", "disable")


# ---------------------------------------------------------------------------------------------
# Bindings without a Handy write: adopt, rebind
# ---------------------------------------------------------------------------------------------


async def _bind(slug: str, row: PlanRow, audit: RunAudit, **override: Any) -> bool:
    try:
        await store_call(binder.bind_many, slug, Entity.CUSTOMER, [{**row.binding, **override}])
    except BindingConflict as exc:
        audit.fail(Entity.CUSTOMER, row.handy_key, f"client {row.gestionix_key}: {exc}")
        return False
    return True


@task(name="bind-customers", **RUN_ONCE)
async def bind_without_writing(
    tenant: TenantConfig, customer_plan: CustomerPlan, audit: RunAudit, dry_run: bool
) -> None:
    """Adoptions (bound with Handy's current state, so a later write in this run brings them to
    the Gestionix content) and refreshed bindings; neither writes to Handy."""
    plan = customer_plan.plan
    for row in plan.adopt:
        audit.count("adopted")
        audit.item(
            Entity.CUSTOMER,
            row.handy_key,
            "would adopt" if dry_run else "adopted",
            f"client {row.gestionix_key}: {row.reason}",
        )
        if not dry_run:
            await _bind(tenant.slug, row, audit)
    for row in plan.rebind:
        audit.count("rebound")
        if not dry_run:
            await _bind(tenant.slug, row, audit)


# ---------------------------------------------------------------------------------------------
# Zone General (C4)
# ---------------------------------------------------------------------------------------------


class ZoneGeneral:
    """The id of Handy's zone General, found or created once per run (and remembered in a
    binding across runs). Concurrent callers share one lookup."""

    def __init__(
        self, connection: Connection, tenant: TenantConfig, audit: RunAudit, dry_run: bool
    ):
        self.connection = connection
        self.slug = tenant.slug
        self.audit = audit
        self.dry_run = dry_run
        self.zone_id: int | None = None
        self.resolved = False
        self._lock = asyncio.Lock()

    async def get(self) -> int | None:
        async with self._lock:
            if not self.resolved:
                self.zone_id = await self._resolve()
                self.resolved = True
            return self.zone_id

    async def refresh(self) -> int | None:
        """The bound zone was refused (deleted in Handy): forget it and look again."""
        async with self._lock:
            if self.zone_id is not None and not self.dry_run:
                await store_call(binder.delete, self.slug, Entity.ZONE, str(self.zone_id))
            self.resolved = False
        return await self.get()

    async def _resolve(self) -> int | None:
        bound = await store_call(binder.get_by_gestionix, self.slug, Entity.ZONE, ZONE_GENERAL)
        if bound is not None:
            return int(bound.handy_key)
        found = zone_id(await self.connection.handy.list_zones(), ZONE_GENERAL)
        if found is None:
            if self.dry_run:
                self.audit.item(
                    Entity.ZONE,
                    ZONE_GENERAL,
                    "would create",
                    "zone General is missing in Handy (C4)",
                )
                return None
            zone = await self.connection.handy.create_zone(ZONE_GENERAL)
            found = int(zone[H.ID])
            self.audit.count("zones created")
            self.audit.item(Entity.ZONE, found, "created", "zone General was missing in Handy (C4)")
        if not self.dry_run:
            await store_call(
                binder.bind,
                self.slug,
                Entity.ZONE,
                str(found),
                ZONE_GENERAL,
                status=BindingStatus.ENABLED,
            )
        return found


@task(name="ensure-zone-general", **RETRY_ON_OUTAGE)
async def ensure_zone(zone: ZoneGeneral) -> int | None:
    """C4: find or create zone General before the first customer is created."""
    return await zone.get()


# ---------------------------------------------------------------------------------------------
# Writes
# ---------------------------------------------------------------------------------------------


@dataclass
class CustomerWrite:
    """One Handy write for one plan row, and what to bind and report once it succeeded."""

    action: str
    row: PlanRow
    done: bool = False  # bound or failed for good: a task retry skips it
    outcome: str | None = None  # ACTIONS key (bound, counted, reported) or one of the below
    reason: str | None = None  # the item's detail when not the plan row's reason

    @property
    def key(self) -> str:
        return self.row.handy_key


BIND_ONLY = "bind"  # nothing to write: bound (C8 baseline moved on), not counted
BIND_AS_IS = "bind as is"  # the adopted record held the content: bound, not counted
MISSING = "missing"  # a disabled customer gone from Handy: bound, reported skipped
SETTLED = None  # nothing to bind (the adoption's own bind was refused and reported)


def write_rows(customer_plan: CustomerPlan) -> list[CustomerWrite]:
    """One write per plan row that changes Handy, creates first."""
    return [
        CustomerWrite(action, row)
        for action in WRITE_ORDER
        for row in getattr(customer_plan.plan, action)
    ]


def _zone_refused(exc: ApiError) -> bool:
    return any(str(fe.get("field") or "").startswith("zone") for fe in exc.field_errors)


@dataclass
class _CustomerWrites:
    """The customer side of the Handy record writer (tasks/handy_writer.py)."""

    connection: Connection
    slug: str
    zone: ZoneGeneral
    handy_by_code: dict[str, dict]
    audit: RunAudit
    baselines: dict[str, dict] = field(default_factory=dict)
    code_field: str = H.CUSTOMER_CODE

    def _moved_baseline(self, row: PlanRow) -> dict[str, Any]:
        """C8: a customer from a Handy order keeps its baseline, now at the content just taken."""
        if row.handy_key in self.baselines:
            return {"data": {BASELINE: baseline_of(row.payload)}}
        return {}

    async def create(self, write: CustomerWrite) -> None:
        handy = self.connection.handy
        body = customer_create_body(write.row.payload, code=write.key, zone=await self.zone.get())
        try:
            await handy.create_customer(body)
        except (ValidationFailed, Conflict) as exc:
            if code_taken(exc, self.code_field) or not _zone_refused(exc):
                raise  # the writer adopts a taken code
            zone = await self.zone.refresh()
            body = customer_create_body(write.row.payload, code=write.key, zone=zone)
            await handy.create_customer(body)
        write.outcome = CREATE

    async def fetch(self, code: str) -> dict[str, Any]:
        return await self.connection.handy.get_customer(code)

    async def adopt(self, write: CustomerWrite, record: dict[str, Any]) -> None:
        """The code exists in Handy (a crash before binding, or made by hand): bound at once with
        Handy's state, then brought to the Gestionix content if it differs."""
        row, code = write.row, write.key
        state = handy_customers_frame([record]).iloc[0]
        adopted = await _bind(
            self.slug,
            row,
            self.audit,
            fingerprint=state["fingerprint"],
            status=BindingStatus.ENABLED if state["enabled"] else BindingStatus.DISABLED,
        )
        if not adopted:
            write.outcome = SETTLED
            return
        self.audit.count("adopted")
        self.audit.item(
            Entity.CUSTOMER,
            code,
            "adopted",
            f"client {row.gestionix_key}: code already in Handy",
        )
        body = customer_update_body(row.payload, current=record)
        write.outcome, write.reason = BIND_AS_IS, None
        if body:
            await self.connection.handy.update_customer(code, body)
            write.outcome, write.reason = "update", "adopted record differs"

    async def update(self, write: CustomerWrite) -> None:
        if write.action != "update":
            await self.connection.handy.update_customer(
                write.key, {"enabled": write.action == "enable"}
            )
            write.outcome = write.action
            return
        code = write.key
        current = self.handy_by_code.get(code)
        body = customer_update_body(
            write.row.payload, current=current, baseline=self.baselines.get(code)
        )
        if code in self.baselines and current is None and body == {"enabled": True}:
            body = {}  # C8: nothing changed in Gestionix since the link (linked while enabled)
        if not body:  # Handy already holds it (full mode), or nothing to take (C8)
            write.outcome = BIND_ONLY
            return
        await self.connection.handy.update_customer(code, body)
        write.outcome = "update"

    async def missing(self, write: CustomerWrite) -> bool:
        """A bound customer deleted in Handy: created again when it should be enabled; a disabled
        one needs nothing (its binding says disabled so it is not tried again)."""
        if write.row.status == BindingStatus.ENABLED:
            write.reason = "bound but missing in Handy: created again"
            return True
        write.outcome = MISSING
        return False

    async def bind(self, done: list[CustomerWrite]) -> None:
        for write in done:
            row = write.row
            if write.outcome is SETTLED:
                continue
            if write.outcome in (MISSING, BIND_AS_IS):
                await _bind(self.slug, row, self.audit)
                if write.outcome == MISSING:
                    self.audit.item(
                        Entity.CUSTOMER,
                        write.key,
                        "skipped",
                        "missing in Handy: nothing to disable",
                    )
                continue
            if not await _bind(self.slug, row, self.audit, **self._moved_baseline(row)):
                continue
            if write.outcome == BIND_ONLY:
                continue
            count, past, _ = ACTIONS[write.outcome]
            self.audit.count(count)
            self.audit.item(
                Entity.CUSTOMER,
                write.key,
                past,
                f"client {row.gestionix_key}: {write.reason or row.reason}",
            )

    def failed(self, write: CustomerWrite, error: Permanent) -> None:
        self.audit.fail(
            Entity.CUSTOMER,
            write.key,
            f"client {write.row.gestionix_key}: {write.action} failed: {error}",
        )


def batches(writes: list[CustomerWrite], size: int = BATCH_SIZE) -> Iterable[list[CustomerWrite]]:
    return batches_of(writes, size)


@task(name="write-customers", **RETRY_ON_OUTAGE)
async def write_customers(
    connection: Connection,
    tenant: TenantConfig,
    batch: list[CustomerWrite],
    zone: ZoneGeneral,
    customer_plan: CustomerPlan,
    audit: RunAudit,
    dry_run: bool,
) -> None:
    """One batch of writes: creates, updates, enables, disables, concurrently; each success
    bound at once. The writer's one error policy (tasks/handy_writer.py): a Permanent failure is
    audited and left for the next run; a Retryable one after the client's budget fails the task
    for Prefect to retry (done writes skipped); a lost credential fails the run. Dry run (X3):
    only reported."""
    if dry_run:
        for write in batch:
            row = write.row
            count, _, would = ACTIONS[write.action]
            audit.count(count)
            audit.item(
                Entity.CUSTOMER, row.handy_key, would, f"client {row.gestionix_key}: {row.reason}"
            )
        return
    customers = _CustomerWrites(
        connection, tenant.slug, zone, customer_plan.handy_by_code, audit, customer_plan.baselines
    )
    await HandyRecordWriter(customers, concurrency=WRITE_CONCURRENCY).run(batch)
