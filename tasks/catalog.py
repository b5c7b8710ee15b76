"""catalog_pull tasks: Gestionix branch catalog -> Handy products, families, prices, stock
(RULES P1-P8, I1-I3, X1, X3): the reads and the plan, and what they pass along. The writes that
follow the plan (families, adopted bindings, products) are in tasks/catalog_writes.py.

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
  then tasks/catalog_writes.py: ensure_families (P5), bind_adopted (full mode), write_products.

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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd
from prefect import task

from mappings import handy_fields as H
from mappings.bindings import BindingRecord, BindingStatus, Entity
from mappings.handy_products import handy_products_frame
from mappings.inventory import StockPlan, known_stock, plan_stock
from mappings.mass_disable import PlannedDisables, planned_disables
from mappings.plan import Plan, PlanRow, plan_sync
from mappings.products import CONTENT_COLUMNS, ProductMapper, ProductMapping
from store import binder
from tasks.audit import RunAudit
from tasks.concurrency import batches
from tasks.connect import Connection
from tasks.handy_writer import CREATE
from tasks.options import RETRY_ON_OUTAGE, RUN_ONCE
from tasks.store_calls import store_call

WRITE_CHUNK = 500  # writes per task run: a Prefect retry redoes at most this many (minus done)
MAPPING_BACKLOG = 8  # pages read but not mapped yet, at most (memory of the raw records)
PAYLOAD = [*CONTENT_COLUMNS, "gestionix_id"]  # a write's row; gestionix_id goes to the binding

UPDATE, ENABLE, DISABLE, STOCK = "update", "enable", "disable", "stock"
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
    desired: pd.DataFrame,
    last: pd.DataFrame,
    routes: list[dict] | None,
    sync_inventory: bool,
    audit: RunAudit,
) -> tuple[StockPlan, dict[str, float]]:
    """I1-I3: the free-use stock of every product the plan keeps (not the skipped ones), and the
    quantity to write per code."""
    skipped = {row.handy_key for row in plan.skipped if row.handy_key is not None}
    stock = plan_stock(
        desired[~desired["key"].isin(skipped)], routes, last, sync_inventory=sync_inventory
    )
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


def _stock_writes(quantities: dict[str, float]) -> list[Write]:
    """Stock-only writes of bound, unchanged products (I2)."""
    return [
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


def _bind_first(plan: Plan, handy: HandyCatalog | None) -> list[dict[str, Any]]:
    """Adopted records, bound with Handy's state (and stock), and refreshed bindings."""
    bind_first = []
    for row in plan.adopt:
        data = {}
        if handy is not None:
            q = handy.records.get(row.handy_key, {}).get(H.PRODUCT_QUANTITY)
            if isinstance(q, (int, float)):
                data["quantity"] = float(q)
        bind_first.append(_binding(row, **data))
    bind_first.extend(_binding(row) for row in plan.rebind)
    return bind_first


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
    last = known_stock(bindings.products, handy.records if handy is not None else None)
    stock, quantities = _plan_stock(plan, mapping.desired, last, routes, sync_inventory, audit)
    writes = _content_writes(plan, quantities) + _stock_writes(quantities)
    needs_family = [w.row["family"] for w in writes if w.action in (CREATE, UPDATE) and w.row]
    families_needed = list(dict.fromkeys(f for f in needs_family if isinstance(f, str)))
    return CatalogPlan(
        plan=plan,
        stock=stock,
        writes=writes,
        families_needed=families_needed,
        bind_first=_bind_first(plan, handy),
        disables=planned_disables(
            plan,
            bindings.products,
            mapping.desired["gestionix_key"],
            not_for_sale_keys=mapping.not_for_sale["gestionix_key"],
        ),
    )
