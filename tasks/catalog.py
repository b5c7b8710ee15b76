"""catalog_pull tasks: Gestionix branch catalog -> Handy products, families, prices, stock
(RULES P1-P8, I1-I3, X1, X3).

Steps (each a batch-sized Prefect task, awaited from the flow so they share its event loop and
its clients):
  read_catalog         one paged read of the branch catalog, each page mapped (P1-P6) in a
                       worker thread while the next ones are read, its raw records dropped once
                       mapped (memory at 50 000 products).
  read_bindings        what the integration wrote last time (P8).
  read_handy_products  full mode only: Handy's products, enabled AND disabled (drift, adoption).
  read_route_stock     sync_inventory only: open routes with their inventory (I1).
                       (The flow runs these four reads at once: the paced Gestionix pages set the
                       pace, the others fit in their waits.)
  plan_catalog         pure: create / update / enable / disable / adopt / rebind + stock (I2),
                       merged into one write per product where possible (a new product carries
                       its quantity in the create body; a price change carries its quantity);
                       the planned disables by kind for the mass-disable check
                       (tasks/mass_disable.py), which runs before any write.
  ensure_families      P5: Handy families of the products to write; missing ones created first,
                       each bound at once. Steady state (every family bound) reads nothing.
  bind_adopted         full mode: adopted/rebound records bound before any write.
  write_products       a chunk of writes, run concurrently under the client's rate limiter;
                       successes are bound in small batches as they arrive, so a crash loses
                       at most BIND_EVERY + in-flight writes, and a rerun adopts those (a create
                       answered 422 "code exists" -> read, compare, update if needed, bind).

Bindings: Entity.PRODUCT: handy_key = Handy code = Gestionix clave, gestionix_key = the clave
too (mappings.products decides the join key, P2: a clave changed in Gestionix is a new Handy
product and the old one is disabled), fingerprint of the written content, status
enabled|disabled, data {"gestionix_id", "quantity" (last written free-use stock, I2)}.
Entity.FAMILY: handy_key = Handy family id, gestionix_key = the family name normalised
(mappings.names.normalize_name), data {"description"}.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd
from prefect import task

from clients.errors import Permanent
from mappings import handy_fields as H
from mappings.bindings import BindingRecord, BindingStatus, Entity
from mappings.handy_products import (
    enabled_body,
    handy_products_frame,
    plan_families,
    product_create_body,
    product_update_body,
)
from mappings.inventory import StockPlan, known_stock, plan_stock, stock_body
from mappings.mass_disable import PlannedDisables, planned_disables
from mappings.names import normalize_name
from mappings.plan import Plan, PlanRow, plan_sync
from mappings.products import (
    ProductMapper,
    ProductMapping,
)
from store import binder
from tasks.audit import RunAudit
from tasks.concurrency import batches
from tasks.connect import Connection
from tasks.handy_writer import CREATE, HandyRecordWriter
from tasks.options import RETRY_ON_OUTAGE, RUN_ONCE
from tasks.store_calls import store_call

WRITE_CHUNK = 500  # writes per task run: a Prefect retry redoes at most this many (minus done)
BIND_EVERY = 25  # successes bound per store transaction
MAPPING_BACKLOG = 8  # pages read but not mapped yet, at most (memory of the raw records)
WORKERS = 32  # coroutines feeding the client; the client's semaphore and limiter are the bound
PAYLOAD = [
    "code",
    "description",
    "family",
    "price",
    "base_price",
    "tax_name",
    "tax_amount",
    "enabled",
    "gestionix_id",
]

UPDATE, ENABLE, DISABLE, STOCK = "update", "enable", "disable", "stock"
COUNT_OF = {
    CREATE: "created",
    UPDATE: "updated",
    ENABLE: "enabled",
    DISABLE: "disabled",
    STOCK: "stock_updated",
}
WOULD = {
    CREATE: "would create",
    UPDATE: "would update",
    ENABLE: "would enable",
    DISABLE: "would disable",
    STOCK: "would set stock",
}


# ----------------------------------------------------------------------------- data passed along


@dataclass
class Bindings:
    products: list[BindingRecord]
    families: list[BindingRecord]


@dataclass
class HandyCatalog:
    """Full mode: Handy's products by code (the raw records, for minimal update bodies)."""

    records: dict[str, dict]
    frame: pd.DataFrame  # mappings.products.HANDY_CURRENT_COLUMNS


@dataclass
class Write:
    """One Handy write for one product, and the binding to store once it succeeded."""

    action: str
    key: str
    row: dict[str, Any]  # desired payload (PAYLOAD); empty for a disable of a gone product
    binding: dict[str, Any]
    quantity: float | None = None
    reason: str = ""
    done: bool = False  # set once bound or failed for good: a task retry skips it
    adopted: bool = False  # a create that found the code already in Handy


@dataclass
class CatalogPlan:
    plan: Plan
    stock: StockPlan
    writes: list[Write]
    families_needed: list[str]
    bind_first: list[dict[str, Any]]  # adopt + rebind bindings, stored before any write
    disables: PlannedDisables  # every planned disable by kind (deletion protection)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for write in self.writes:
            out[write.action] = out.get(write.action, 0) + 1
        return out

    def chunks(self, size: int = WRITE_CHUNK) -> Iterator[list[Write]]:
        return batches(self.writes, size)


# ----------------------------------------------------------------------------- reads


@task(name="map-gestionix-catalog", **RETRY_ON_OUTAGE)
async def read_catalog(connection: Connection, audit: RunAudit) -> ProductMapping:
    """Steps 1-2: the branch catalog (one paged read), mapped P1-P6; rejected rows reported.
    Each page is mapped in a worker thread while the next ones are read (the client paces
    Gestionix, so the mapping fits in its waits); the reads never wait for the mapping unless it
    lags MAPPING_BACKLOG pages behind, and a page's raw records are dropped once mapped."""
    mapper = ProductMapper(connection.branch_id)
    loop = asyncio.get_running_loop()
    pending: deque[asyncio.Future[None]] = deque()
    read = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="map-catalog") as one_thread:
        try:  # one thread: the pages are mapped one at a time, in the catalog's order
            async for page in connection.gestionix.product_pages(connection.branch_id):
                read += len(page)
                pending.append(loop.run_in_executor(one_thread, mapper.add, page))
                del page
                while len(pending) > MAPPING_BACKLOG or (pending and pending[0].done()):
                    await pending.popleft()
            while pending:
                await pending.popleft()
        finally:
            if pending:  # a failed read: let the thread finish what it holds before leaving
                await asyncio.wait(pending)
    audit.count("read", read)
    mapping = await asyncio.to_thread(mapper.result)
    for row in mapping.rejected.itertuples(index=False):
        key = row.code if row.code not in (None, "") else f"id {row.gestionix_id}"
        audit.skip(Entity.PRODUCT, key, f"{row.rule}: {row.reason}")
    if not mapping.not_for_sale.empty:
        audit.count("not_for_sale", len(mapping.not_for_sale))  # P1: dropped, counted
    for row in mapping.tax_notes.itertuples(index=False):  # P6: synced, cuota left out
        audit.item(Entity.PRODUCT, row.key, "reported", f"P6: {row.reason}")
    if not mapping.tax_notes.empty:
        audit.count("fixed_tax_reported", len(mapping.tax_notes))
    return mapping


@task(name="read-bindings", **RUN_ONCE)
async def read_bindings(slug: str) -> Bindings:
    """In a worker thread: the flow reads the bindings while the catalog pages arrive."""
    products, families = await store_call(
        lambda: (binder.records(slug, Entity.PRODUCT), binder.records(slug, Entity.FAMILY))
    )
    return Bindings(products=products, families=families)


@task(name="read-handy-products", **RETRY_ON_OUTAGE)
async def read_handy_products(connection: Connection) -> HandyCatalog:
    """Full mode: every Handy product, enabled and disabled ([A] no filter = enabled only)."""
    records: dict[str, dict] = {}
    for enabled in (True, False):
        for record in await connection.handy.list_products(enabled=enabled):
            code = record.get(H.PRODUCT_CODE)
            if isinstance(code, str):
                records[code] = record
    return HandyCatalog(records=records, frame=handy_products_frame(records.values()))


@task(name="read-route-stock", **RETRY_ON_OUTAGE)
async def read_route_stock(connection: Connection) -> list[dict]:
    """I1: the open routes with the stock loaded on them."""
    return await connection.handy.list_open_routes(include_inventory=True)


# ----------------------------------------------------------------------------- plan


def _row(row: PlanRow) -> dict[str, Any]:
    return {c: row.payload.get(c) for c in PAYLOAD}


def _binding(row: PlanRow, **data: Any) -> dict[str, Any]:
    out = row.binding
    extra = {k: v for k, v in data.items() if v is not None}
    gid = row.payload.get("gestionix_id")
    if gid is not None:
        extra["gestionix_id"] = gid
    if extra:
        out["data"] = extra
    return out


def _plan_stock(
    plan: Plan,
    mapping: ProductMapping,
    bindings: Bindings,
    handy: HandyCatalog | None,
    routes: list[dict] | None,
    sync_inventory: bool,
    audit: RunAudit,
) -> tuple[StockPlan, dict[str, float]]:
    """I1-I3: the free-use stock of every product the plan keeps (not the skipped ones), and the
    quantity to write per code."""
    skipped = {row.handy_key for row in plan.skipped if row.handy_key is not None}
    stock_rows = mapping.desired[~mapping.desired["key"].isin(skipped)]
    last = known_stock(bindings.products, handy.records if handy is not None else None)
    stock = plan_stock(stock_rows, routes, last, sync_inventory=sync_inventory)
    for row in stock.reported.itertuples(index=False):
        audit.item(Entity.PRODUCT, row.key, "reported", f"{row.rule}: {row.reason}")
        audit.count("stock_reported")
    for row in stock.route_problems.itertuples(index=False):
        audit.item("route", row.route_id, "reported", f"I1: {row.reason}")
    quantities: dict[str, float] = dict(
        zip(stock.writes["key"].astype(str), stock.writes["quantity"].astype(float), strict=True)
    )
    return stock, quantities


def _content_writes(plan: Plan, quantities: dict[str, float]) -> list[Write]:
    """create / update / enable / disable writes, each carrying its product's stock write (taken
    out of `quantities`); a product no longer desired is disabled without content or stock."""
    writes: list[Write] = []

    def add(action: str, rows: list[PlanRow]) -> None:
        for row in rows:
            quantity = quantities.pop(row.handy_key, None)
            writes.append(
                Write(
                    action=action,
                    key=row.handy_key,
                    row=_row(row),
                    binding=_binding(row, quantity=quantity),
                    quantity=quantity,
                    reason=row.reason,
                )
            )

    add(CREATE, plan.create)
    add(UPDATE, plan.update)
    add(ENABLE, plan.enable)
    add(DISABLE, [row for row in plan.disable if row.payload.get("code") is not None])
    for row in plan.disable:
        if row.payload.get("code") is None:  # not desired any more: no content, no stock
            binding = {**row.binding, "status": BindingStatus.DISABLED}
            writes.append(Write(DISABLE, row.handy_key, {}, binding, reason=row.reason))
    return writes


@task(name="plan-catalog", **RUN_ONCE)
async def plan_catalog(
    mapping: ProductMapping,
    bindings: Bindings,
    handy: HandyCatalog | None,
    routes: list[dict] | None,
    *,
    sync_inventory: bool,
    audit: RunAudit,
) -> CatalogPlan:
    """Steps 3 and 5 planned together (P7, P8, I1-I3): at most one write per product."""
    current = handy.frame if handy is not None else None
    plan = plan_sync(mapping.desired, bindings.products, current, hold=mapping.held_keys)
    for row in plan.skipped:
        audit.skip(Entity.PRODUCT, row.handy_key, row.reason)
    stock, quantities = _plan_stock(plan, mapping, bindings, handy, routes, sync_inventory, audit)
    writes = _content_writes(plan, quantities)
    writes += [  # stock-only writes of bound, unchanged products
        Write(
            action=STOCK,
            key=key,
            row={},
            binding={"handy_key": key, "data": {"quantity": quantity}},
            quantity=quantity,
            reason="stock changed",
        )
        for key, quantity in quantities.items()
    ]
    bind_first = []
    for row in plan.adopt:
        data = {}
        if handy is not None:
            q = handy.records.get(row.handy_key, {}).get(H.PRODUCT_QUANTITY)
            if isinstance(q, (int, float)):
                data["quantity"] = float(q)
        bind_first.append(_binding(row, **data))
    bind_first.extend(_binding(row) for row in plan.rebind)

    needs_family = [w.row["family"] for w in writes if w.action in (CREATE, UPDATE) and w.row]
    families_needed = list(dict.fromkeys(f for f in needs_family if isinstance(f, str)))
    return CatalogPlan(
        plan=plan,
        stock=stock,
        writes=writes,
        families_needed=families_needed,
        bind_first=bind_first,
        disables=planned_disables(
            plan,
            bindings.products,
            mapping.desired["gestionix_key"],
            not_for_sale_keys=mapping.not_for_sale["gestionix_key"],
        ),
    )


# ----------------------------------------------------------------------------- families (P5)


@task(name="ensure-families", **RETRY_ON_OUTAGE)
async def ensure_families(
    connection: Connection,
    slug: str,
    needed: list[str],
    bindings: Bindings,
    audit: RunAudit,
    *,
    full: bool,
    dry_run: bool,
) -> dict[str, int]:
    """P5: normalised family name -> Handy family id for every family a write needs; missing
    ones are created before any product (and bound at once: Handy accepts duplicate family
    names, so a retried create must find the first one bound). Reads Handy's families only when
    a needed one is not bound yet, or in full mode (repair)."""
    ids: dict[str, int] = {}
    for family in bindings.families:
        try:
            ids[str(family.gestionix_key)] = int(family.handy_key)
        except (TypeError, ValueError):
            continue
    missing = [name for name in needed if normalize_name(name) not in ids]
    if not missing and not full:
        return ids
    handy_families = await connection.handy.list_families()
    families = plan_families(needed, handy_families)
    found = {normalize_name(name): int(fid) for name, fid in families.ids.items()}
    stale = {k for k, v in found.items() if k in ids and ids[k] != v}
    new_bindings = [
        {
            "handy_key": str(fid),
            "gestionix_key": key,
            "status": BindingStatus.ENABLED,
            "data": {"description": name},
        }
        for name, fid in families.ids.items()
        if (key := normalize_name(name)) not in ids or key in stale
    ]
    ids.update(found)
    if dry_run:
        for name in families.missing:
            audit.item(Entity.FAMILY, name, "would create", "P5: family missing in Handy")
            audit.count("families_created")
        return ids
    for key in stale:
        for family in bindings.families:
            if family.gestionix_key == key:
                await store_call(binder.delete, slug, Entity.FAMILY, family.handy_key)
    if new_bindings:
        await store_call(binder.bind_many, slug, Entity.FAMILY, new_bindings)
    for name in families.missing:  # one by one: few, and each must be bound before the next
        created = await connection.handy.create_family(name)
        fid = int(created[H.FAMILY_ID])
        await store_call(
            binder.bind,
            slug,
            Entity.FAMILY,
            str(fid),
            normalize_name(name),
            status=BindingStatus.ENABLED,
            data={"description": name},
        )
        ids[normalize_name(name)] = fid
        audit.count("families_created")
    return ids


# ----------------------------------------------------------------------------- writes


@task(name="bind-adopted", **RUN_ONCE)
async def bind_adopted(slug: str, catalog: CatalogPlan, audit: RunAudit) -> None:
    """Full mode: bind the adopted Handy records (with Handy's current state) and refresh stale
    bindings before writing, so a crash never leaves an adopted record unbound and recreated."""
    if catalog.bind_first:
        await store_call(binder.bind_many, slug, Entity.PRODUCT, catalog.bind_first)
        audit.count("adopted", len(catalog.plan.adopt))


def report_plan(catalog: CatalogPlan, audit: RunAudit) -> None:
    """X3: what the run would write, as counts and one item per write."""
    for write in catalog.writes:
        audit.count(COUNT_OF[write.action])
        detail = write.reason
        if write.quantity is not None:
            detail = (
                f"{detail}; stock {write.quantity:g}" if detail else f"stock {write.quantity:g}"
            )
        audit.item(Entity.PRODUCT, write.key, WOULD[write.action], detail)
    if catalog.plan.adopt:
        audit.count("adopted", len(catalog.plan.adopt))
        for row in catalog.plan.adopt:
            audit.item(
                Entity.PRODUCT,
                row.handy_key,
                "would adopt",
                "existing Handy product with the same code",
            )


def _body(write: Write, family_ids: Mapping[str, int], current: Mapping[str, Any] | None) -> dict:
    family_id = (
        family_ids.get(normalize_name(write.row["family"])) if write.row.get("family") else None
    )
    if write.action == CREATE:
        return product_create_body(write.row, family_id=family_id, quantity=write.quantity)
    if write.action == UPDATE:
        return product_update_body(
            write.row, current=current, family_id=family_id, quantity=write.quantity
        )
    if write.action in (ENABLE, DISABLE):
        body = enabled_body(write.action == ENABLE)
        if write.quantity is not None:
            body.update(stock_body(write.quantity))
        return body
    return stock_body(write.quantity)


class _ProductWrites:
    """The product side of the Handy record writer (tasks/handy_writer.py)."""

    code_field = H.PRODUCT_CODE

    def __init__(
        self,
        connection: Connection,
        slug: str,
        family_ids: Mapping[str, int],
        handy: HandyCatalog | None,
        audit: RunAudit,
    ) -> None:
        self.handy = connection.handy
        self.slug = slug
        self.family_ids = family_ids
        self.current = handy.records if handy is not None else {}
        self.audit = audit

    async def create(self, write: Write) -> None:
        created = Write(CREATE, write.key, write.row, write.binding, write.quantity)
        await self.handy.create_product(_body(created, self.family_ids, None))

    async def fetch(self, code: str) -> dict[str, Any]:
        return await self.handy.get_product(code)

    async def adopt(self, write: Write, record: dict[str, Any]) -> None:
        """A rerun after a crash, or a product made by hand: update what differs, then bind."""
        body = product_update_body(
            write.row,
            current=record,
            family_id=self.family_ids.get(normalize_name(write.row["family"])),
            quantity=write.quantity,
        )
        if body:
            await self.handy.update_product(write.key, body)
        write.adopted = True

    async def update(self, write: Write) -> None:
        body = _body(write, self.family_ids, self.current.get(write.key))
        if body:
            await self.handy.update_product(write.key, body)

    async def missing(self, write: Write) -> bool:
        """Deleted by hand in Handy: created again (what a full run would do), unless it is a
        gone product (nothing left to disable)."""
        return bool(write.row)

    async def bind(self, done: list[Write]) -> None:
        await store_call(binder.bind_many, self.slug, Entity.PRODUCT, [w.binding for w in done])
        for write in done:
            self.audit.count("adopted" if write.adopted else COUNT_OF[write.action])

    def failed(self, write: Write, error: Permanent) -> None:
        self.audit.fail(Entity.PRODUCT, write.key, f"{write.action} failed: {error}")


@task(name="write-products", **RETRY_ON_OUTAGE)
async def write_products(
    connection: Connection,
    slug: str,
    writes: list[Write],
    family_ids: dict[str, int],
    handy: HandyCatalog | None,
    audit: RunAudit,
) -> None:
    """Step 4 (and 5): one chunk of product writes, with the writer's one error policy
    (tasks/handy_writer.py): Permanent failures are reported per product and the rest goes on; a
    Retryable one after the client's budget fails the task (Prefect retries it; what was bound is
    skipped, what was in flight is adopted on 422)."""
    products = _ProductWrites(connection, slug, family_ids, handy, audit)
    await HandyRecordWriter(products, concurrency=WORKERS, bind_every=BIND_EVERY).run(writes)
