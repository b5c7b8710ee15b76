"""order_push's reading and planning (RULES O1, O2, O6, D2): the window's new orders and the
dead-lettered ones read from Handy, the plan of what still needs pushing, the Gestionix catalog read
once per run, and each order's draft document. The push itself (the exactly-once protocol, O8) is
tasks/order_push.py; the customers of the orders (O3, O4) tasks/order_customers.py.

Batch-sized tasks, awaited from the flow so they share its event loop and clients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from prefect import task

from clients.errors import ApiError, NotFound
from clients.handy import parse_timestamp
from mappings import handy_fields as H
from mappings.bindings import DONE_ORDER_STATUSES, BindingStatus, Entity
from mappings.order_documents import OrderDocument, build_document
from mappings.order_lookup import indexed_fields, products_index
from mappings.orders import OrderRejected, OrderSkipped, distinct_orders, document_type
from mappings.tenant import TenantConfig
from store import binder, dead_letters
from tasks.audit import RunAudit
from tasks.concurrency import batches, run_bounded
from tasks.connect import Connection
from tasks.documents import CONCURRENCY, ensure_resolved
from tasks.options import RETRY_ON_OUTAGE, RUN_ONCE
from tasks.store_calls import store_call
from tasks.window import Window

# what flows between the tasks


@dataclass
class OrderWork:
    """One Handy order this run has to act on, with what planning found out about it."""

    order: dict
    from_window: bool  # False: picked up from an open dead letter (O6 retry)
    doc_type: str | None = None
    status: str | None = None  # binding status when planned (None, intent, or pushed)
    problem: OrderRejected | OrderSkipped | None = None  # known before any write
    # its document without client and seller, built (and so checked, O5-O7) by resolve_customers
    draft: OrderDocument | None = None

    @property
    def key(self) -> str:
        return str(self.order.get(H.ORDER_ID))

    @property
    def created_at(self) -> datetime | None:
        try:
            return parse_timestamp(self.order.get(H.ORDER_DATE_CREATED))
        except (TypeError, ValueError):
            return None


@dataclass
class Catalog:
    """The Gestionix side of one run, read once and only when something needs pushing."""

    products_by_key: dict[str, dict]
    clients: list[dict]
    sellers: list[dict]


@dataclass
class OrderPlan:
    work: list[OrderWork] = field(default_factory=list)

    @property
    def needs_gestionix(self) -> bool:
        """Only orders without a document need the catalog (pushed ones only need externalId)."""
        return any(work.status != BindingStatus.PUSHED for work in self.work)

    def batches(self, size: int) -> list[list[OrderWork]]:
        return list(batches(self.work, size))


@task(name="read-new-orders", **RETRY_ON_OUTAGE)
async def read_new_orders(connection: Connection, window: Window) -> list[dict]:
    """O1: live orders whose server receipt time (dateCreated) is in the window, oldest first.
    The phone's time (mobileDateCreated) plays no part, so orders of an offline phone are found.
    Each order once; the read is proven complete or the run fails (the cursor stays)."""
    return await connection.handy.list_sales_orders(
        window.start, window.end, filter_with_date=H.ORDER_DATE_CREATED, deleted=False
    )


@task(name="read-dead-lettered-orders", **RETRY_ON_OUTAGE)
async def read_dead_lettered_orders(
    connection: Connection,
    tenant: TenantConfig,
    window_orders: list[dict],
    audit: RunAudit,
    dry_run: bool,
) -> list[dict]:
    """O6: the orders of open retryable dead letters that are outside this window, by id.
    An order deleted in Handy or gone is not pushed (D2); its letter is closed."""
    slug = tenant.slug
    known_keys = {str(order.get(H.ORDER_ID)) for order in window_orders}
    letters = await store_call(dead_letters.open_letters, slug, Entity.ORDER, retry_only=True)
    keys = [letter.key for letter in letters if letter.key not in known_keys]
    if not keys:
        return []

    async def fetch(key: str) -> dict | None:
        try:
            order = await connection.handy.get_sales_order(key)
        except NotFound:
            await _close_letter(slug, key, audit, dry_run, "no longer exists in Handy: not pushed")
            return None
        except ApiError as exc:
            audit.fail(
                Entity.ORDER,
                key,
                f"dead-lettered order could not be read from Handy ({exc}); retried next run",
            )
            return None
        if order.get(H.ORDER_DELETED):
            await _close_letter(
                slug, key, audit, dry_run, "deleted in Handy before it was pushed (D2)"
            )
            return None
        return order

    found = await run_bounded(keys, fetch, CONCURRENCY)
    return [order for order in found if order is not None]


async def _close_letter(slug: str, key: str, audit: RunAudit, dry_run: bool, reason: str) -> None:
    audit.skip(Entity.ORDER, key, reason)
    if not dry_run:
        await store_call(dead_letters.resolve, slug, Entity.ORDER, key)


@task(name="plan-orders", **RUN_ONCE)
async def plan_orders(
    tenant: TenantConfig, window_orders: list[dict], retry_orders: list[dict], audit: RunAudit
) -> OrderPlan:
    """D2/O8: leave out orders already pushed (externalId written), deleted, tombstoned or
    skipped; map the rest far enough to know their document type and whether they can be pushed
    at all (O2, O5-O7), before anything is written."""
    plan = OrderPlan()
    everything, repeats = distinct_orders(
        [(order, True) for order in window_orders] + [(o, False) for o in retry_orders]
    )
    audit.count("read", len(everything))
    if repeats:
        audit.note(
            f"{repeats} repeated order ids in what Handy listed were dropped: each order is "
            "pushed at most once per run (O8)."
        )
    bindings = await store_call(
        binder.get_many, tenant.slug, Entity.ORDER, [str(o.get(H.ORDER_ID)) for o, _ in everything]
    )
    done = 0
    for order, from_window in everything:
        work = OrderWork(order=order, from_window=from_window)
        binding = bindings.get(work.key)
        work.status = binding.status if binding is not None else None
        if binding is not None and (
            binding.status in DONE_ORDER_STATUSES
            or (
                binding.status == BindingStatus.PUSHED
                and (binding.data or {}).get("external_id_written")
            )
        ):
            done += 1
            continue
        try:
            work.doc_type = document_type(order, tenant.treat_all_as_sales_orders)
        except OrderRejected as exc:
            work.problem = exc
        plan.work.append(work)
    if done:
        audit.note(f"{done} orders of the window were already pushed, deleted or skipped.")
    return plan


@task(name="read-gestionix-catalog", **RETRY_ON_OUTAGE)
async def read_catalog(connection: Connection) -> Catalog:
    """Products of the sucursal by clave (with their Gestionix taxes, O5), clients of the
    sucursal (O3) and sellers: once per run."""
    await ensure_resolved(connection)
    gestionix = connection.gestionix
    products: list[dict] = []
    async for page in gestionix.product_pages(connection.branch_id):  # raw pages dropped at once
        products.extend(indexed_fields(product) for product in page)
    taxes = await gestionix.list_taxes()
    clients = await gestionix.list_clients(connection.branch_id)
    sellers = await gestionix.list_sellers()
    return Catalog(
        products_by_key=products_index(products, taxes), clients=clients, sellers=sellers
    )


def draft_document(work: OrderWork, connection: Connection, catalog: Catalog) -> OrderDocument:
    """The order's document before its client and seller are known (they only fill two fields
    of the body); OrderRejected / OrderSkipped when it cannot be pushed (O5-O7)."""
    return build_document(
        work.order,
        doc_type=work.doc_type,
        branch_id=connection.branch_id,
        client_id=0,
        seller_id=None,
        products_by_key=catalog.products_by_key,
        branch_name=connection.branch_name,
    )
