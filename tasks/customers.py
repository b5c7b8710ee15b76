"""customer_sync tasks: Gestionix clients of the sucursal -> Handy customers (RULES C1-C6, X1, X3).

Bindings (Entity.CUSTOMER, shared with order_push): handy_key = Handy customer code,
gestionix_key = str(client_id), status "enabled" | "disabled" (what was last written),
fingerprint = mappings.customers.customer_fingerprint of the written content. Customers created
here get the code "GX-<client_id>"; order_push binds clients it created to the Handy customer's
own code with fingerprint None, so the planner sees "state unknown" and updates that customer in
place (C6) instead of creating "GX-<id>".

C8: no update sends an empty value. A customer bound by order_push keeps what was typed in Handy:
its binding's data[BASELINE] holds the Gestionix address, e-mail, phone, RFC and seller of the
moment the link was made, and an update sends those only when they changed in Gestionix since
(then the baseline moves on). A binding of order_push from before baselines existed (fingerprint
None, no baseline) takes today's Gestionix values as its baseline: none of them is written over
Handy's fields, later changes are.

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
from collections import Counter
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from prefect import task

from clients.errors import ApiError, Conflict, Permanent, ValidationFailed
from mappings import handy_fields as H
from mappings.bindings import BindingRecord, BindingStatus, Entity
from mappings.customer_adoption import match_existing_customers
from mappings.customers import (
    BASELINE,
    ZONE_GENERAL,
    baseline_of,
    customer_create_body,
    customer_update_body,
    handy_customers_frame,
    map_customers,
    zone_id,
)
from mappings.mass_disable import PlannedDisables, planned_disables
from mappings.plan import Plan, PlanRow, plan_sync
from mappings.sellers import match_sellers, sellers_in_use
from mappings.tenant import TenantConfig
from store import binder
from store.binder import BindingConflict
from tasks.audit import RunAudit
from tasks.concurrency import batches as batches_of
from tasks.connect import Connection
from tasks.handy_writer import CREATE, HandyRecordWriter, code_taken
from tasks.options import RETRY_ON_OUTAGE, RUN_ONCE
from tasks.store_calls import store_call

SELLER = "seller"
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
# Reads
# ---------------------------------------------------------------------------------------------


@dataclass
class Sources:
    """What the run read: the sucursal's clients and sellers, Handy's users (and customers in
    full mode, None otherwise)."""

    clients: list[dict]
    sellers: list[dict]
    users: list[dict]
    handy_customers: list[dict] | None = None


@task(name="read-customer-sources", **RETRY_ON_OUTAGE)
async def read_sources(connection: Connection, full: bool) -> Sources:
    """C1/C5 reads, concurrently: Gestionix clients of the sucursal and sellers, Handy users;
    with `full`, Handy customers too (enabled and disabled)."""
    reads: list[Awaitable[Any]] = [
        connection.gestionix.list_clients(connection.branch_id),
        connection.gestionix.list_sellers(),
        connection.handy.list_users(),
    ]
    if full:
        reads.append(connection.handy.list_customers())
    results = await asyncio.gather(*reads)
    return Sources(
        clients=results[0],
        sellers=results[1],
        users=results[2],
        handy_customers=results[3] if full else None,
    )


# ---------------------------------------------------------------------------------------------
# Plan
# ---------------------------------------------------------------------------------------------


@dataclass
class CustomerPlan:
    plan: Plan
    disables: PlannedDisables  # every planned disable by kind (deletion protection)
    handy_by_code: dict[str, dict] = field(default_factory=dict)  # full mode: Handy's records
    # C8: Handy code -> Gestionix content at the last write, for customers from Handy orders
    baselines: dict[str, dict] = field(default_factory=dict)

    def write_rows(self) -> list[CustomerWrite]:
        """One write per plan row that changes Handy, creates first."""
        return [
            CustomerWrite(action, row)
            for action in WRITE_ORDER
            for row in getattr(self.plan, action)
        ]

    @property
    def needs_zone(self) -> bool:
        return bool(self.plan.create)


@task(name="plan-customers", **RUN_ONCE)
async def plan_customers(tenant: TenantConfig, sources: Sources, audit: RunAudit) -> CustomerPlan:
    """Map (C2-C5), report rejected clients and unmatched sellers (once per seller), and plan
    against the bindings (C3, C6); in full mode against Handy's records too, adopting unique
    name matches and reporting ambiguous ones."""
    audit.count("read", len(sources.clients))
    match = match_sellers(sellers_in_use(sources.clients, sources.sellers), sources.users)
    mapping = map_customers(sources.clients, match.user_by_seller)

    for row in mapping.rejected.to_dict("records"):
        audit.count("skipped")
        audit.item(
            Entity.CUSTOMER, row["gestionix_key"] or "-", "skipped", row["reason"], rule=row["rule"]
        )

    per_seller = Counter(mapping.desired["gestionix_seller_id"].dropna().astype(str))
    for row in match.unmatched.to_dict("records"):
        audit.count("unmatched sellers")
        customers = per_seller.get(str(row["seller_id"]), 0)
        audit.item(
            SELLER,
            row["seller_id"],
            "unmatched",
            f"{row['reason']}; its {customers} customer(s) are synced without a Handy seller (C5)",
        )

    bindings = await store_call(binder.records, tenant.slug, Entity.CUSTOMER)
    current = adopt_pairs = None
    handy_by_code: dict[str, dict] = {}
    if sources.handy_customers is not None:
        records = [
            r for r in sources.handy_customers if isinstance(r, dict) and r.get(H.CUSTOMER_CODE)
        ]
        handy_by_code = {str(r[H.CUSTOMER_CODE]): r for r in records}
        current = handy_customers_frame(records)
        adoption = match_existing_customers(mapping.desired, current, bindings)
        adopt_pairs = adoption.pairs
        for row in adoption.ambiguous.to_dict("records"):
            audit.item(
                Entity.CUSTOMER,
                row["gestionix_key"],
                "ambiguous",
                row["reason"] + "; created as a new customer",
            )

    plan = plan_sync(
        mapping.desired, bindings, current, hold=mapping.held_keys, adopt_pairs=adopt_pairs
    )
    for row in plan.skipped:
        audit.skip(Entity.CUSTOMER, row.handy_key or row.gestionix_key, row.reason)
    disables = planned_disables(plan, bindings, mapping.desired["gestionix_key"])
    return CustomerPlan(
        plan=plan,
        disables=disables,
        handy_by_code=handy_by_code,
        baselines=baselines(bindings, mapping.desired),
    )


def baselines(bindings: list[BindingRecord], desired: pd.DataFrame) -> dict[str, dict]:
    """C8: Handy code -> baseline of every customer that came from a Handy order: the one its
    binding keeps, else (a link made before baselines, fingerprint None) today's content."""
    found: dict[str, dict] = {}
    today = None
    for binding in bindings:
        data = binding.data if isinstance(binding.data, dict) else {}
        if isinstance(data.get(BASELINE), dict):
            found[binding.handy_key] = data[BASELINE]
        elif binding.fingerprint is None and binding.gestionix_key is not None:
            if today is None:
                today = {str(r["gestionix_key"]): r for r in desired.to_dict("records")}
            match = today.get(binding.gestionix_key)
            if match is not None:
                found[binding.handy_key] = baseline_of(match)
    return found


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
