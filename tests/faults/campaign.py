"""The randomised crash campaign (RULES O8, S3, D1-D3, O6, O7): random seller activity, order_push
and deletion_sync killed at a random HTTP call, reruns until quiet, then the invariants.

Besides kills, three kinds of events are drawn:
- lease expiry: at a random HTTP call the running holder freezes (its whole event loop blocks,
  as under SIGSTOP) past its lease TTL; meanwhile a competing run takes the expired lease and
  runs to the end in another thread; then the holder thaws and must stop before its next write;
- clock skew: a run whose own clock is 20 minutes ahead or behind (the store's clock rules);
- store restore: the tenant's rows are snapshotted after some cycle and restored later, so the
  store forgets the pushes made since (found again by reference, never created twice).

One sandbox serves many seeds: `sb.reset()` regenerates its world between seeds and every seed
uses a fresh tenant slug, so bindings, cursors and dead letters of one seed never meet another's.
The flows run through `.fn` (the same tasks, no flow-run bookkeeping on the Prefect server), which
makes a seed cost about a second.
"""

from __future__ import annotations

import asyncio
import functools
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete as sql_delete
from sqlalchemy import update
from sqlmodel import select

import store.models
import tasks.fencing
import tasks.lease
from clients._http import HttpCore
from clients.errors import PaginationError
from flows.deletions import deletion_sync
from flows.orders import order_push
from flows.reconcile import reconcile
from mappings.tenant import TenantConfig
from sandbox.handy import SALES_TYPE_ROUTE
from sandbox.server import Sandbox
from store import binder, cursors, dead_letters, runs
from store.db import database_time, session_scope
from store.leases import LeaseLost
from store.models import Binding, Cursor, DeadLetter, Lease, RunItem, SyncRun
from tests.kit.fast_clients import fast_clients
from tests.kit.sandbox_orders import (
    activate,
    company,
    customer,
    delete,
    edit,
    handy_product,
    order,
    seed_catalog,
)

UNKNOWN_CODES = ("ZZ-NO-EXISTE-1", "ZZ-NO-EXISTE-2")  # in Handy, never in Gestionix (O6)
CYCLES = 3
MAX_QUIET_PASSES = 6
DOC_TYPES = ("sales_order", "sale")


def bare_tasks(monkeypatch) -> None:
    """Call the flows' tasks as plain coroutines (Task.fn): the same code without Prefect's
    task-run bookkeeping (~50 ms a task), so a seed costs well under a second. Killed is no
    Retryable, so Prefect would not have retried it anyway; tests/flows/test_order_crashes.py
    and the transport-fault tests cover the same protocol through real task runs."""
    from prefect import Task

    import flows.deletions
    import flows.orders
    import flows.reconcile

    for module in (flows.orders, flows.deletions, flows.reconcile):
        for name, obj in list(vars(module).items()):
            if isinstance(obj, Task):
                monkeypatch.setattr(module, name, _bare(obj))


def _bare(task):
    """task.fn given its arguments as Prefect's engine gives them: quote(...) unwrapped (the flows
    quote their large arguments, flows/orders.py)."""
    from prefect.utilities.annotations import quote

    def unquoted(value):
        return value.unquote() if isinstance(value, quote) else value

    @functools.wraps(task.fn)
    def call(*args, **kwargs):
        return task.fn(*map(unquoted, args), **{k: unquoted(v) for k, v in kwargs.items()})

    return call


LEASE_EXPIRY_RATE = 0.12  # per flow run: the holder freezes past its TTL at a random call
CLOCK_SKEW_RATE = 0.2  # per flow run: the worker's clock is 20 minutes off
RESTORE_RATE = 0.4  # per seed: the store is restored from a snapshot taken after some cycle
SKEW = timedelta(minutes=20)


class Killed(RuntimeError):
    """The worker dies here. Not an ApiError: no handler of ours catches it."""


class Killer:
    """Counts the clients' HTTP attempts (both systems) and raises Killed at the armed one,
    before the request is sent or after its answer arrived (the server acted, we never knew).
    Armed for a freeze instead, it runs `freeze()` at that call (before sending it)."""

    def __init__(self) -> None:
        self.calls = 0
        self.at: int | None = None
        self.after = False
        self.fired = 0
        self.freeze = None

    def arm(self, at: int, *, after: bool) -> None:
        self.calls, self.at, self.after = 0, at, after

    def arm_freeze(self, at: int, freeze) -> None:
        self.calls, self.at, self.after, self.freeze = 0, at, False, freeze

    def disarm(self) -> None:
        self.at, self.freeze = None, None

    def _hit(self) -> bool:
        return self.at is not None and self.calls == self.at

    def install(self, monkeypatch) -> None:
        original = HttpCore._send_once
        killer = self

        async def send_once(core, method, template, *args, **kwargs):
            killer.calls += 1
            if killer._hit() and killer.freeze is not None:
                freeze, killer.at, killer.freeze = killer.freeze, None, None
                freeze()  # blocks this whole event loop, like SIGSTOP; then the call goes on
                return await original(core, method, template, *args, **kwargs)
            if killer._hit() and not killer.after:
                killer.at, killer.fired = None, killer.fired + 1
                raise Killed(f"killed before {method} {template}")
            result = await original(core, method, template, *args, **kwargs)
            if killer._hit() and killer.after:
                killer.at, killer.fired = None, killer.fired + 1
                raise Killed(f"killed after {method} {template}")
            return result

        monkeypatch.setattr(HttpCore, "_send_once", send_once)


class MonotonicShift:
    """`time` for tasks.fencing and tasks.lease whose monotonic clock can jump forward: a
    frozen holder's notion of how long ago it renewed its lease, without really waiting."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def time(self) -> float:  # the wall clock does not jump: only the frozen holder's monotonic
        return time.time()

    def install(self, monkeypatch) -> None:
        monkeypatch.setattr(tasks.fencing, "time", self)
        monkeypatch.setattr(tasks.lease, "time", self)


class WorkerClock:
    """The wall clock the store's writers use (store.models.utcnow and its importers)."""

    MODULES = (store.models, binder, cursors, dead_letters, runs)

    def __init__(self) -> None:
        self.skew = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.skew

    def install(self, monkeypatch) -> None:
        for module in self.MODULES:
            monkeypatch.setattr(module, "utcnow", self.now)


@dataclass
class Faults:
    killer: Killer
    monotonic: MonotonicShift
    clock: WorkerClock


@dataclass
class SeedResult:
    seed: int
    orders: int = 0
    live: int = 0
    deleted: int = 0
    pushed: int = 0
    dead_lettered: int = 0
    skipped: int = 0
    kills: int = 0
    runs: int = 0
    list_faults: list[str] = field(default_factory=list)  # the knobs this seed drew
    runs_refused: int = 0  # runs that failed because a list could not be proven complete
    repaired: int = 0  # orders pushed or documents deleted by the day's reconcile
    lease_expiries: int = 0
    lease_losses: int = 0  # frozen holders that found their lease lost on thawing
    skewed_runs: int = 0
    restores: int = 0
    duplicates: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.duplicates or self.lost or self.problems)


@dataclass
class CampaignTotals:
    seeds: int = 0
    orders: int = 0
    live: int = 0
    deleted: int = 0
    pushed: int = 0
    dead_lettered: int = 0
    skipped: int = 0
    kills: int = 0
    runs: int = 0
    runs_refused: int = 0
    repaired: int = 0
    list_faults: Counter = field(default_factory=Counter)
    lease_expiries: int = 0
    lease_losses: int = 0
    skewed_runs: int = 0
    restores: int = 0
    duplicates: int = 0
    lost: int = 0
    failed_seeds: list[dict] = field(default_factory=list)

    def add(self, result: SeedResult) -> None:
        self.seeds += 1
        self.list_faults.update(result.list_faults)
        for name in (
            "orders",
            "live",
            "deleted",
            "pushed",
            "dead_lettered",
            "skipped",
            "kills",
            "runs",
            "runs_refused",
            "repaired",
            "lease_expiries",
            "lease_losses",
            "skewed_runs",
            "restores",
        ):
            setattr(self, name, getattr(self, name) + getattr(result, name))
        self.duplicates += len(result.duplicates)
        self.lost += len(result.lost)
        if not result.ok:
            self.failed_seeds.append(
                {
                    "seed": result.seed,
                    "duplicates": result.duplicates,
                    "lost": result.lost,
                    "problems": result.problems[:10],
                }
            )


# ---------------------------------------------------------------------------------------------
# Seller activity
# ---------------------------------------------------------------------------------------------


class Activity:
    """Random seller activity of one seed on the sandbox's Handy."""

    def __init__(self, sb: Sandbox, rng: random.Random) -> None:
        self.sb, self.rng = sb, rng
        self.codes = seed_catalog(sb, 5)
        for code in UNKNOWN_CODES:
            handy_product(sb, code, 12.5)
        self.customers = ["C-1", "C-2", "C-3"]
        customer(sb, "C-1", "Depósito El Sol")
        customer(sb, "C-2", "Tienda Lucía")  # matches existing Gestionix clients by name (O3)
        customer(sb, "C-3", "Abarrotes Sin Igual")  # created in Gestionix by order_push (O4)
        self.new_customers = 0

    def items(self) -> list[dict]:
        rng = self.rng
        lines = [
            {"product": rng.choice(self.codes), "quantity": rng.randint(1, 5)}
            for _ in range(rng.randint(1, 3))
        ]
        roll = rng.random()
        if roll < 0.12:
            lines.append({"product": rng.choice(UNKNOWN_CODES), "quantity": 1})  # O6
        elif roll < 0.20:
            lines.append({"product": rng.choice(self.codes), "quantity": 1, "isReturn": True})
        elif roll < 0.24:
            lines = [{"product": rng.choice(self.codes), "quantity": 2, "isReturn": True}]  # O7
        return lines

    def buyer(self):
        if self.rng.random() < 0.15:
            self.new_customers += 1
            return {
                "code": f"H-NEW-{self.new_customers}",
                "description": f"Tiendita Nueva {self.new_customers}",
            }
        return self.rng.choice(self.customers)

    def live_orders(self) -> list[int]:
        return [oid for oid, o in self.sb.handy.orders.items() if not o["deleted"]]

    def cycle(self) -> None:
        rng = self.rng
        for _ in range(rng.randint(1, 4)):
            spec = {"salesType": rng.choice(["ROUTE", "PRESALE"])}
            if rng.random() < 0.3:
                spec["offlineMinutes"] = rng.choice([30, 180, 600])  # O1: phone offline
            order(self.sb, self.buyer(), self.items(), **spec)
        live = self.live_orders()
        if live and rng.random() < 0.5:
            edit(self.sb, rng.choice(live), items=self.items())  # O10
        live = self.live_orders()
        if live and rng.random() < 0.5:
            delete(self.sb, rng.choice(live))  # D1 / D2


# ---------------------------------------------------------------------------------------------
# One seed
# ---------------------------------------------------------------------------------------------


def tenant_for(slug: str, handy_block: str, gestionix_block: str, sb: Sandbox, **switches):
    return TenantConfig(
        slug=slug,
        gestionix_branch=sb.branch_name,
        gestionix_company=sb.company_id,
        handy_credentials=handy_block,
        gestionix_credentials=gestionix_block,
        **switches,
    )


async def run_flow(flow, tenant: TenantConfig, result: SeedResult | None = None) -> bool:
    """One run; False when it was killed, stopped because its lease was lost, or refused a
    list it could not prove complete (the run fails, as it would in production, and the next
    run reads the window again)."""
    try:
        await flow.fn(tenant)
    except Killed:
        return False
    except PaginationError:
        if result is not None:
            result.runs_refused += 1
        return False
    except LeaseLost:
        if result is not None:
            result.lease_losses += 1
        return False
    return True


# Issue 15: Handy and Gestionix lists that behave like real servers may (sandbox/README.md).
# Each seed draws some; the "transient" ones (an unreliable list) are lifted before the quiet
# passes, the others (a page cap, a clock behind ours) stay for the whole seed.
LIST_FAULTS = {
    "handy page cap 3": {"handy": {"page_size_cap": 3}},
    "gestionix page cap 2": {"gestionix": {"page_size_cap": 2}},
    "handy clock 20 min behind": {"handy": {"clock_offset_seconds": -1200}},
    "handy clock 90 s behind": {"handy": {"clock_offset_seconds": -90}},
}
TRANSIENT_LIST_FAULTS = {
    "no paging envelope": {"handy": {"paging_envelope": False}},
    "repeat across pages": {"handy": {"repeat_across_pages": True, "page_size_cap": 3}},
    "delete while paging": {"handy": {"mutate_while_paging": "delete", "page_size_cap": 3}},
    "insert while paging": {"handy": {"mutate_while_paging": "insert", "page_size_cap": 3}},
}
LIST_FAULT_ODDS = 0.25  # per fault and seed


def draw_list_faults(rng: random.Random, sb: Sandbox, result: SeedResult) -> dict[str, dict]:
    """Set the drawn knobs; returns the transient ones (to lift before the quiet passes)."""
    transient: dict[str, dict] = {}
    for table, keep in ((LIST_FAULTS, True), (TRANSIENT_LIST_FAULTS, False)):
        for name, knobs in table.items():
            if rng.random() < LIST_FAULT_ODDS:
                result.list_faults.append(name)
                sb.set_handy_knobs(**knobs.get("handy", {}))
                sb.set_gestionix_knobs(**knobs.get("gestionix", {}))
                if not keep:
                    transient[name] = knobs
    return transient


def lift_transient_faults(sb: Sandbox, transient: dict[str, dict]) -> None:
    if transient:
        sb.set_handy_knobs(
            paging_envelope=True, repeat_across_pages=False, mutate_while_paging="none"
        )


def freeze_past_ttl(faults: Faults, tenant: TenantConfig, competitor, result: SeedResult):
    """What a SIGSTOP of the holder past its TTL looks like from outside: the holder's loop is
    blocked; its lease expires by the store's clock; a competing run (another worker) takes it
    and runs to the end in its own thread and event loop; when the holder thaws, its monotonic
    clock says more than a TTL has passed since its last renewal."""

    def freeze() -> None:
        result.lease_expiries += 1
        with session_scope() as session:  # one TTL later, by the database's clock
            session.exec(
                update(Lease)
                .where(Lease.tenant == tenant.slug)
                .values(expires_at=database_time() - timedelta(seconds=1))
            )

        async def other_worker() -> None:
            fast_clients(tenant.slug)
            await run_flow(competitor, tenant)

        worker = threading.Thread(target=asyncio.run, args=(other_worker(),))
        worker.start()
        worker.join()
        faults.monotonic.offset += 2 * tasks.fencing.lease_ttl().total_seconds()

    return freeze


def snapshot(slug: str) -> dict[type, list[dict]]:
    """The tenant's rows (a backup of the store, as far as this tenant is concerned)."""
    with session_scope() as session:
        return {
            model: [
                row.model_dump() for row in session.exec(select(model).where(model.tenant == slug))
            ]
            for model in SNAPSHOT_MODELS
        }


def restore(slug: str, rows: dict[type, list[dict]]) -> None:
    with session_scope() as session:
        for model in reversed(SNAPSHOT_MODELS):  # items before their runs
            session.exec(sql_delete(model).where(model.tenant == slug))
        session.flush()
        for model in SNAPSHOT_MODELS:
            session.add_all(model(**row) for row in rows[model])
            session.flush()


SNAPSHOT_MODELS = (SyncRun, RunItem, Binding, Cursor, DeadLetter, Lease)


async def run_seed(
    seed: int, sb: Sandbox, faults: Faults, blocks: tuple[str, str], *, slug_prefix: str = "seed"
) -> SeedResult:
    killer = faults.killer
    rng = random.Random(seed)
    sb.reset()
    sb.reset_knobs()
    sb.set_handy_knobs(rate_limit_per_minute=0)
    sb.set_gestionix_knobs(reject_duplicate_reference=False)
    slug = f"{slug_prefix}-{seed}"
    fast_clients(slug)
    tenant = tenant_for(slug, *blocks, sb, treat_all_as_sales_orders=rng.random() < 0.6)
    activity = Activity(sb, rng)
    activate(slug)
    result = SeedResult(seed=seed)
    transient = draw_list_faults(rng, sb, result)
    backup_after = rng.randrange(CYCLES - 1) if rng.random() < RESTORE_RATE else None
    backup = None
    for cycle in range(CYCLES):
        activity.cycle()
        flows = [order_push, deletion_sync]
        rng.shuffle(flows)
        for flow in flows:
            draw = rng.random()
            if draw < LEASE_EXPIRY_RATE:
                competitor = rng.choice([order_push, deletion_sync])
                killer.arm_freeze(
                    rng.randint(1, 14), freeze_past_ttl(faults, tenant, competitor, result)
                )
            elif draw < 0.7:
                killer.arm(rng.randint(1, 14), after=rng.random() < 0.5)
            if rng.random() < CLOCK_SKEW_RATE:
                faults.clock.skew = SKEW if rng.random() < 0.5 else -SKEW
                result.skewed_runs += 1
            result.runs += 1
            await run_flow(flow, tenant, result)
            killer.disarm()
            faults.clock.skew = timedelta(0)
        if cycle == backup_after:
            backup = snapshot(slug)
        elif backup is not None:
            restore(slug, backup)  # the store forgets what was pushed since the backup
            result.restores += 1
            backup = None
    lift_transient_faults(sb, transient)
    await wait_past_newest_stamp(sb)
    # Rerun until quiet: a pass of both flows that writes nothing to either system.
    for _ in range(MAX_QUIET_PASSES):
        before = (sb.handy.stats.writes, sb.gestionix.stats.writes)
        for flow in (order_push, deletion_sync):
            result.runs += 1
            await run_flow(flow, tenant, result)
        if (sb.handy.stats.writes, sb.gestionix.stats.writes) == before:
            break
    else:
        result.problems.append(f"not quiet after {MAX_QUIET_PASSES} passes")
    await reconcile_days(tenant, result)
    check_invariants(sb, tenant, result)
    return result


async def wait_past_newest_stamp(sb: Sandbox) -> None:
    """Let the store's clock pass the second of Handy's newest dateCreated/dateDeleted before the
    quiet passes, which stand for the next scheduled run (10 minutes later in production).

    A window ends at the store's now cut to the whole second (tasks/window.open_window) and
    Handy filters by whole seconds, so a record stamped later in that second is read by the
    next run in a later second, whose window starts at or before the cursor (D1, O1; nothing
    is skipped). The seller activity here is dated in the past for that reason
    (tests.kit.sandbox_orders.PAST_SECONDS), but a "delete while paging" fault deletes an order at Handy's
    current time, during a run: when the remaining runs all fell in that same second, no
    window could have read the deletion yet and the check below reported "deleted order N:
    binding status None" (seed 19) for a deletion the next run tombstones. Waiting (at most a
    second, and only when a stamp is that recent) keeps every check below as strict as before."""
    stamps = [
        moment
        for times in sb.handy.order_times.values()
        for moment in (times["dateCreated"], times["dateDeleted"])
        if moment is not None
    ]
    if stamps:
        past = int(max(stamps)) + 1  # windows end at the store's clock, the real one here
        while time.time() < past:
            await asyncio.sleep(past - time.time() + 0.001)


async def reconcile_days(tenant: TenantConfig, result: SeedResult) -> None:
    """The daily reconcile of the local days the seed's orders fall on: it must heal what no
    run could see (an order inserted late on an already-read page, a clock far behind)."""
    today = datetime.now(ZoneInfo(tenant.handy_timezone)).date()
    for day in (today - timedelta(days=1), today):
        result.runs += 1
        state = await reconcile.fn(tenant, day=day)
        message = getattr(state, "message", "") or ""
        match = re.search(r"repaired: (\d+) pushed, (\d+) deleted", message)
        if match:
            result.repaired += int(match.group(1)) + int(match.group(2))


# ---------------------------------------------------------------------------------------------
# Invariants
# ---------------------------------------------------------------------------------------------


def expected_outcome(handy_order: dict) -> str:
    """'dead' (unknown product, O6), 'skip' (only returns, O7) or 'push'."""
    items = handy_order["items"]
    if any(item["product"]["code"] in UNKNOWN_CODES for item in items):
        return "dead"
    if all(item["isReturn"] for item in items):
        return "skip"
    return "push"


def check_invariants(sb: Sandbox, tenant: TenantConfig, result: SeedResult) -> None:
    slug = tenant.slug
    gx = company(sb)
    docs_by_ref: dict[str, list[tuple[str, dict]]] = {}
    for doc_type in DOC_TYPES:
        for doc in gx.documents[doc_type].values():
            docs_by_ref.setdefault(doc["reference"], []).append((doc_type, doc))
    problems = result.problems
    open_orders = {letter.key: letter for letter in dead_letters.open_letters(slug, "order")}
    open_deletions = dead_letters.open_letters(slug, "order_deletion")
    for letter in list(open_orders.values()) + list(open_deletions):
        if not (letter.reason or "").strip():
            problems.append(f"dead letter {letter.entity} {letter.key} has no reason")
    if open_deletions:  # the sandbox never invoices here, so no deletion may be refused (D3)
        problems.append(f"deletion dead letters: {[(x.key, x.reason) for x in open_deletions]}")

    orders = sb.handy.orders
    result.orders = len(orders)
    known_refs = set()
    for order_id, handy_order in orders.items():
        key, ref = str(order_id), f"HANDY-{order_id}"
        known_refs.add(ref)
        docs = docs_by_ref.get(ref, [])
        binding = binder.get(slug, "order", key)
        status = binding.status if binding else None
        if len(docs) > 1:
            result.duplicates.append(ref)
        if handy_order["deleted"]:
            result.deleted += 1
            if docs:
                problems.append(f"deleted order {key} still has {len(docs)} document(s)")
            if status not in ("deleted", "tombstoned", "skipped"):
                problems.append(f"deleted order {key}: binding status {status}")
            if key in open_orders:
                problems.append(f"deleted order {key}: order dead letter still open")
            continue
        result.live += 1
        outcome = expected_outcome(handy_order)
        if outcome == "dead":
            result.dead_lettered += 1
            if docs:
                problems.append(f"order {key} with an unknown product was pushed")
            if key not in open_orders:
                problems.append(f"order {key} with an unknown product has no open dead letter")
            continue
        if outcome == "skip":
            result.skipped += 1
            if docs or status != "skipped":
                problems.append(f"returns-only order {key}: {len(docs)} docs, status {status}")
            continue
        if not docs:
            result.lost.append(key)
            continue
        result.pushed += 1
        doc_type, doc = docs[0]
        wanted = "sales_order"
        if not tenant.treat_all_as_sales_orders and handy_order["salesType"] == SALES_TYPE_ROUTE:
            wanted = "sale"
        if doc_type != wanted:
            problems.append(f"order {key} became a {doc_type}, expected {wanted} (O2)")
        doc_id = doc["sales_order_id" if doc_type == "sales_order" else "sale_id"]
        if status != "pushed" or binding.gestionix_key != f"{doc_type}:{doc_id}":
            problems.append(f"order {key}: binding {status} {binding and binding.gestionix_key}")
        elif not (binding.data or {}).get("external_id_written"):
            problems.append(f"order {key}: externalId not marked written")
        if str(handy_order.get("externalId")) != str(doc_id):
            problems.append(f"order {key}: Handy externalId {handy_order.get('externalId')!r}")
        if key in open_orders:
            problems.append(f"pushed order {key} keeps an open dead letter")
    for ref in docs_by_ref:
        if ref.startswith("HANDY-") and ref not in known_refs:
            problems.append(f"document {ref} of no Handy order")

    # Bindings: no intent after a quiet run; every pushed binding's document exists.
    for binding in binder.all_for(slug, "order"):
        if binding.status == "intent":
            problems.append(f"order {binding.handy_key}: intent left after a quiet run")
        if binding.status == "pushed":
            doc_type, _, doc_id = (binding.gestionix_key or "").partition(":")
            if doc_type not in DOC_TYPES or int(doc_id) not in gx.documents[doc_type]:
                problems.append(
                    f"order {binding.handy_key}: bound document {binding.gestionix_key} "
                    "missing in Gestionix"
                )
    # Cursors: past every order and deletion (nothing held back after a quiet run).
    now = datetime.now(UTC)
    newest_created = max((sb.handy.order_times[o]["dateCreated"] for o in orders), default=None)
    newest_deleted = max(
        (t["dateDeleted"] for t in sb.handy.order_times.values() if t["dateDeleted"] is not None),
        default=None,
    )
    for stream, newest in (("orders", newest_created), ("deletions", newest_deleted)):
        cursor = cursors.get(slug, stream)
        if cursor is None or cursor > now:
            problems.append(f"{stream} cursor {cursor} not set or in the future")
        elif newest is not None and cursor.timestamp() < int(newest):
            problems.append(f"{stream} cursor {cursor} before the newest record ({newest})")
    clients = Counter(c.get("commercial_name") for c in gx.clients.values())
    for name, count in clients.items():
        if name and name.startswith("Tiendita Nueva") and count > 1:
            problems.append(f"Gestionix client {name!r} created {count} times")


def summarise(totals: CampaignTotals) -> dict:
    return {
        "seeds": totals.seeds,
        "orders": totals.orders,
        "live": totals.live,
        "deleted": totals.deleted,
        "pushed": totals.pushed,
        "dead_lettered": totals.dead_lettered,
        "skipped": totals.skipped,
        "kills": totals.kills,
        "flow_runs": totals.runs,
        "runs_refused_incomplete_list": totals.runs_refused,
        "repaired_by_reconcile": totals.repaired,
        "list_faults": dict(sorted(totals.list_faults.items())),
        "lease_expiries": totals.lease_expiries,
        "lease_losses": totals.lease_losses,
        "skewed_runs": totals.skewed_runs,
        "store_restores": totals.restores,
        "duplicates": totals.duplicates,
        "lost": totals.lost,
        "failed_seeds": totals.failed_seeds,
    }
