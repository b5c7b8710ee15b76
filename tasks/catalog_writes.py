"""catalog_pull's writes to Handy (RULES P5, P7, P8, I2, X3), after tasks/catalog.py planned them:

ensure_families  P5: Handy families of the products to write; missing ones created first,
                 each bound at once. Steady state (every family bound) reads nothing.
bind_adopted     full mode: adopted/rebound records bound before any write.
report_plan      dry run (X3): what would be written, as counts and items.
write_products   a chunk of writes, run concurrently under the client's rate limiter through
                 the one Handy record writer (tasks/handy_writer.py); successes are bound in
                 small batches as they arrive, so a crash loses at most BIND_EVERY +
                 in-flight writes, and a rerun adopts those (a create answered 422 "code
                 exists" -> read, compare, update if needed, bind).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prefect import task

from clients.errors import Permanent
from mappings import handy_fields as H
from mappings.bindings import BindingRecord, BindingStatus, Entity
from mappings.handy_products import (
    enabled_body,
    plan_families,
    product_create_body,
    product_update_body,
)
from mappings.inventory import stock_body
from mappings.names import normalize_name
from store import binder
from tasks.audit import RunAudit
from tasks.catalog import (
    DISABLE,
    ENABLE,
    STOCK,
    UPDATE,
    Bindings,
    CatalogPlan,
    HandyCatalog,
    Write,
)
from tasks.connect import Connection
from tasks.handy_writer import CREATE, HandyRecordWriter
from tasks.options import RETRY_ON_OUTAGE, RUN_ONCE
from tasks.store_calls import store_call

BIND_EVERY = 25  # successes bound per store transaction
WORKERS = 32  # coroutines feeding the client; the client's semaphore and limiter are the bound
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


# ----------------------------------------------------------------------------- families (P5)


def _bound_family_ids(families: list[BindingRecord]) -> dict[str, int]:
    """Normalised family name -> Handy family id, from the family bindings."""
    ids: dict[str, int] = {}
    for family in families:
        try:
            ids[str(family.gestionix_key)] = int(family.handy_key)
        except (TypeError, ValueError):
            continue
    return ids


def _family_binding(name: str, family_id: Any) -> dict[str, Any]:
    return {
        "handy_key": str(family_id),
        "gestionix_key": normalize_name(name),
        "status": BindingStatus.ENABLED,
        "data": {"description": name},
    }


async def _store_found(
    slug: str, bound: list[BindingRecord], stale: set[str], found: list[dict[str, Any]]
) -> None:
    """Bind the families found in Handy; a stale binding (its family replaced) goes first."""
    for family in bound:
        if family.gestionix_key in stale:
            await store_call(binder.delete, slug, Entity.FAMILY, family.handy_key)
    if found:
        await store_call(binder.bind_many, slug, Entity.FAMILY, found)


async def _create_family(connection: Connection, slug: str, name: str, audit: RunAudit) -> int:
    created = await connection.handy.create_family(name)
    family_id = int(created[H.FAMILY_ID])
    await store_call(binder.bind_many, slug, Entity.FAMILY, [_family_binding(name, family_id)])
    audit.count("families_created")
    return family_id


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
    ids = _bound_family_ids(bindings.families)
    if not full and all(normalize_name(name) in ids for name in needed):
        return ids
    families = plan_families(needed, await connection.handy.list_families())
    found = {normalize_name(name): int(fid) for name, fid in families.ids.items()}
    stale = {key for key, fid in found.items() if key in ids and ids[key] != fid}
    found_bindings = [
        _family_binding(name, fid)
        for name, fid in families.ids.items()
        if (key := normalize_name(name)) not in ids or key in stale
    ]
    ids.update(found)
    if dry_run:
        for name in families.missing:
            audit.item(Entity.FAMILY, name, "would create", "P5: family missing in Handy")
            audit.count("families_created")
        return ids
    await _store_found(slug, bindings.families, stale, found_bindings)
    for name in families.missing:  # one by one: few, and each must be bound before the next
        ids[normalize_name(name)] = await _create_family(connection, slug, name, audit)
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
