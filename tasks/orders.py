"""order_push tasks: Handy orders -> Gestionix pedidos/ventas, exactly once (RULES O1-O11).

Exactly once (O8) never relies on Gestionix refusing a duplicate reference. Per order, in order:
  1. intent binding (status "intent", doc_type, reference) committed;
  2. POST the document with reference HANDY-<id>;
  3. binding "pushed" with the Gestionix id and folio, committed;
  4. Handy externalId := Gestionix document id (O9); 5. data.external_id_written = True.
A crash between 1 and 3 leaves an intent: the next run looks the reference up in Gestionix
first (found -> bind, not found -> create). A crash between 3 and 5 only re-writes externalId.
A 400/422 answer proves nothing was created, so that intent is dropped and the order
dead-lettered; a timeout/5xx after the budget keeps the intent (it may have been created).

Batch-sized tasks, awaited from the flow so they share its event loop and clients; orders run
concurrently (bounded) while each order's own steps stay in order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from prefect import task

from clients.errors import (
    ApiError,
    Conflict,
    NotFound,
    Permanent,
    Retryable,
    ValidationFailed,
)
from clients.handy import parse_timestamp
from mappings import gestionix_fields as G
from mappings import handy_fields as H
from mappings.bindings import DONE_ORDER_STATUSES, BindingStatus, Entity
from mappings.customers import BASELINE, link_baseline
from mappings.money import cents
from mappings.names import normalize_name
from mappings.order_customers import match_client, match_seller, new_client_body
from mappings.order_lookup import customer_key, indexed_fields, products_index
from mappings.orders import (
    OrderDocument,
    OrderRejected,
    OrderSkipped,
    build_document,
    distinct_orders,
    document_type,
    reference,
)
from mappings.tenant import TenantConfig
from store import binder, dead_letters
from store.binder import BindingConflict
from store.leases import LeaseLost
from tasks.audit import RunAudit
from tasks.concurrency import batches, run_bounded
from tasks.connect import Connection
from tasks.documents import CONCURRENCY, document_key, ensure_resolved, split_document_key
from tasks.fencing import fence_for
from tasks.options import RETRY_ON_OUTAGE, RUN_ONCE
from tasks.order_adoption import record_stale_create
from tasks.store_calls import store_call
from tasks.window import Window

DOC_LABEL = {"sales_order": "pedido", "sale": "venta"}


# ---------------------------------------------------------------------------------------------
# What flows between the tasks
# ---------------------------------------------------------------------------------------------


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
class NewCustomer:
    """A Gestionix client to create (O4) for every Handy customer of `keys` (one name, one client)."""

    name: str  # normalised nombre comercial: the creation's key in the run's create-once map
    body: dict
    keys: list[str]


@dataclass
class CustomerResolution:
    client_id: Any = None
    problem: str | None = None  # the orders of this customer are dead-lettered with it
    transient: bool = False  # a temporary failure: the orders are retried next run
    would_create: bool = False  # dry run
    # Still to create: the first order that needs it creates it in push_orders, the others of
    # that customer await that creation (_Run.creations); then the outcome replaces this one.
    to_create: NewCustomer | None = None


@dataclass
class OrderPlan:
    work: list[OrderWork] = field(default_factory=list)

    @property
    def needs_gestionix(self) -> bool:
        """Only orders without a document need the catalog (pushed ones only need externalId)."""
        return any(work.status != BindingStatus.PUSHED for work in self.work)

    def batches(self, size: int) -> list[list[OrderWork]]:
        return list(batches(self.work, size))


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Customers (O3, O4)
# ---------------------------------------------------------------------------------------------


def _client_id(value: Any) -> Any:
    text = str(value)
    return int(text) if text.isdigit() else value


@task(name="resolve-customers", **RUN_ONCE)
async def resolve_customers(
    connection: Connection,
    tenant: TenantConfig,
    plan: OrderPlan,
    catalog: Catalog,
    audit: RunAudit,
    dry_run: bool,
) -> dict[str, CustomerResolution]:
    """Each distinct customer of the pushable orders, once, before its first document (O3, O4):
    binding -> match by normalised nombre comercial / razón social among the sucursal's clients
    (oldest on ambiguity, reported) -> create it (address when sync_customer_address) and bind.
    Two orders of one new customer create it once; so do two Handy customers with one name.
    Creations are left to push_orders, made on demand: the first order of a new customer creates
    it right before its document and the others of that customer await it (NewCustomer), while
    the orders of known customers are pushed meanwhile (at 50 ms latency and Gestionix 600/min,
    creating ~180 customers up front held every push back ~18 s; see _customer)."""
    slug = tenant.slug
    first = _first_order_per_customer(plan, connection, catalog)
    bindings = await store_call(binder.get_many, slug, Entity.CUSTOMER, list(first))
    resolved: dict[str, CustomerResolution] = {}
    to_bind: list[tuple[str, dict]] = []
    to_create: dict[str, NewCustomer] = {}  # by normalised name: two Handy customers, one client
    for key, work in first.items():
        known = _known_client(key, work, bindings.get(key), catalog, audit)
        if known is not None:
            resolved[key], client = known
            if client is not None:
                to_bind.append((key, client))
            continue
        try:
            body = new_client_body(
                work.order.get(H.ORDER_CUSTOMER),
                branch_id=connection.branch_id,
                with_address=tenant.sync_customer_address,
                order_id=work.key,
            )
        except OrderRejected as exc:
            resolved[key] = CustomerResolution(problem=exc.reason)
            continue
        name_key = normalize_name(body[G.CLIENT_COMMERCIAL_NAME])
        to_create.setdefault(name_key, NewCustomer(name_key, body, [])).keys.append(key)

    if not dry_run:
        await _bind_customers(slug, to_bind, audit)
    _leave_creations(to_create, resolved, audit, dry_run)
    return resolved


def _known_client(
    key: str, work: OrderWork, binding: Any, catalog: Catalog, audit: RunAudit
) -> tuple[CustomerResolution, dict | None] | None:
    """O3/O4: the customer's Gestionix client by its binding, else by name among the sucursal's
    clients (the matched client is returned to be bound); None when neither knows it."""
    if binding is not None and binding.gestionix_key:
        return CustomerResolution(client_id=_client_id(binding.gestionix_key)), None
    client, note = match_client(work.order.get(H.ORDER_CUSTOMER), catalog.clients)
    if client is None:
        return None
    if note:
        audit.item(Entity.CUSTOMER, key, "ambiguous", note)
    return CustomerResolution(client_id=client[G.CLIENT_ID]), client


def _leave_creations(
    to_create: dict[str, NewCustomer],
    resolved: dict[str, CustomerResolution],
    audit: RunAudit,
    dry_run: bool,
) -> None:
    """Each new customer's Handy customers wait for its creation in push_orders (a dry run only
    reports it)."""
    for new in to_create.values():
        for key in new.keys:
            resolved[key] = CustomerResolution(
                would_create=dry_run, to_create=None if dry_run else new
            )
        if dry_run:
            audit.item(
                Entity.CUSTOMER,
                new.keys[0],
                "would create",
                "",
                name=new.body[G.CLIENT_COMMERCIAL_NAME],
            )
            audit.count("customers created")


def _first_order_per_customer(
    plan: OrderPlan, connection: Connection, catalog: Catalog
) -> dict[str, OrderWork]:
    """The first pushable order of each customer, its draft built: an order that cannot be
    pushed anyway (O5-O7) creates no customer."""
    first: dict[str, OrderWork] = {}
    for work in plan.work:
        if (
            work.problem is None
            and work.doc_type is not None
            and work.status != BindingStatus.PUSHED
        ):
            try:
                work.draft = _draft(work, connection, catalog)
            except (OrderRejected, OrderSkipped) as exc:
                work.problem = exc
                continue
            first.setdefault(customer_key(work.order), work)
    return first


async def _bind_customers(slug: str, pairs: list[tuple[str, dict]], audit: RunAudit) -> None:
    """O4: remember the link so the next order does not search again (and customer_sync updates
    that Handy customer instead of copying the client, C6), with the client's Gestionix content
    at this moment (C8: customer_sync then carries only what changes in Gestionix later, never
    over what was typed in Handy). A Gestionix client can be linked to one Handy customer only:
    a second Handy customer of the same client is used unbound."""
    rows = [
        {
            "handy_key": key,
            "gestionix_key": str(client[G.CLIENT_ID]),
            "status": "enabled",
            "fingerprint": None,
            "data": {BASELINE: baseline} if (baseline := link_baseline(client)) else None,
        }
        for key, client in pairs
        if not key.startswith("name:")
    ]
    if not rows:
        return
    try:
        await store_call(binder.bind_many, slug, Entity.CUSTOMER, rows)
        return
    except BindingConflict:
        pass
    for row in rows:
        try:
            await store_call(binder.bind_many, slug, Entity.CUSTOMER, [row])
        except BindingConflict:
            audit.note(
                f"Handy customer {row['handy_key']} uses Gestionix client {row['gestionix_key']}, "
                "already linked to another Handy customer; not linked."
            )


# ---------------------------------------------------------------------------------------------
# Pushing (O5, O8, O9)
# ---------------------------------------------------------------------------------------------


@dataclass
class _Run:
    connection: Connection
    tenant: TenantConfig
    catalog: Catalog | None
    customers: dict[str, CustomerResolution]
    window: Window
    audit: RunAudit
    dry_run: bool
    bindings: dict[str, Any]
    open_letters: set[str]
    fixed_tax_reported: set[str] = field(default_factory=set)  # product claves, once per run
    # O4 create-once map of this push: each new customer's creation by name, started by the
    # first order that needs it; the others of that customer await the same task.
    creations: dict[str, asyncio.Task] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return self.tenant.slug


@task(name="push-orders", **RUN_ONCE)
async def push_orders(
    connection: Connection,
    tenant: TenantConfig,
    batch: list[OrderWork],
    catalog: Catalog | None,
    customers: dict[str, CustomerResolution],
    window: Window,
    audit: RunAudit,
    dry_run: bool,
) -> None:
    """One batch of orders, concurrently; every order ends pushed, skipped (O7), dead-lettered
    (O6) or failed temporarily (the window is held back for it). Bindings are read here, not
    passed in, so a repeated call never acts on a stale view."""
    bindings = await store_call(
        binder.get_many, tenant.slug, Entity.ORDER, [work.key for work in batch]
    )
    letters = await store_call(dead_letters.open_letters, tenant.slug, Entity.ORDER)
    run = _Run(
        connection=connection,
        tenant=tenant,
        catalog=catalog,
        customers=customers,
        window=window,
        audit=audit,
        dry_run=dry_run,
        bindings=bindings,
        open_letters={letter.key for letter in letters},
    )
    try:
        await run_bounded(batch, lambda work: _push_one(run, work), CONCURRENCY)
    finally:  # a failed push lets the creations in flight finish and bind: a rerun must not
        # create those customers again (no order is left to start another one)
        if running := [task for task in run.creations.values() if not task.done()]:
            await asyncio.wait(running)


async def _push_one(run: _Run, work: OrderWork) -> None:
    binding = run.bindings.get(work.key)
    status = binding.status if binding is not None else None
    if status in DONE_ORDER_STATUSES:
        await _resolve(run, work)
        return
    if status == BindingStatus.PUSHED:
        if (binding.data or {}).get("external_id_written") or await _write_external_id(
            run, work, split_document_key(binding)[1]
        ):
            await _resolve(run, work)
        return
    if status == BindingStatus.INTENT and await _recover_intent(run, work, binding):
        return
    if work.problem is not None:
        await _not_pushable(run, work, work.problem)
        return
    await _create(run, work)


async def _recover_intent(run: _Run, work: OrderWork, binding: Any) -> bool:
    """O8: a previous run wrote the intent and may have created the document. True when the
    order is settled here (found and bound, or a temporary failure)."""
    doc_type = (binding.data or {}).get("doc_type") or work.doc_type
    ref = (binding.data or {}).get("reference") or reference(work.key)
    try:
        found = await run.connection.gestionix.find_document_by_reference(doc_type, ref)
    except ApiError as exc:
        _transient(run, work, f"interrupted push could not be checked in Gestionix ({exc})")
        return True
    if found is None:
        return False
    if run.dry_run:
        run.audit.item(
            Entity.ORDER, work.key, "would bind", "", folio=_folio(found), document=found["id"]
        )
        return True
    await _recovered(run, work, doc_type, found, "found by reference after an interrupted run")
    return True


async def _create(run: _Run, work: OrderWork) -> None:
    if run.catalog is None or work.doc_type is None:  # cannot happen: planned without catalog
        _transient(run, work, "Gestionix catalog not read in this run")
        return
    document = await _document(run, work)
    if document is None:
        return
    if run.dry_run:
        run.audit.count("created")
        run.audit.item(Entity.ORDER, work.key, "would push", "", **_document_extra(document))
        return
    await _write_intent(run, work, document)
    created = await _send_create(run, work, document)
    if created is None:
        return
    try:
        await _bind_pushed(run, work, document.doc_type, created)
    except LeaseLost:  # the create left after the lease was lost: maybe a duplicate
        await store_call(record_stale_create, run.slug, work.key)
        raise
    await _pushed(run, work, created, "created", **_document_extra(document))


async def _write_intent(run: _Run, work: OrderWork, document: OrderDocument) -> None:
    """O8: the intent binding, durable before the create leaves."""
    await store_call(
        binder.bind,
        run.slug,
        Entity.ORDER,
        work.key,
        None,
        status=BindingStatus.INTENT,
        data={"doc_type": document.doc_type, "reference": document.reference},
        fence=fence_for(run.connection.lease),
    )


async def _send_create(run: _Run, work: OrderWork, document: OrderDocument) -> dict | None:
    """The create itself: the Gestionix document, or None when the order ended otherwise (bound
    to the document Gestionix already held, dead-lettered, or failed temporarily)."""
    try:
        return await run.connection.gestionix.create_document(document.doc_type, document.body)
    except asyncio.CancelledError:  # a sibling stopped the batch while this create was out
        if run.connection.lease is not None and run.connection.lease.lapsed():
            await store_call(record_stale_create, run.slug, work.key)
        raise
    except Conflict as exc:
        # Gestionix already holds this reference (its duplicate check is on): that document is
        # ours, created by an earlier attempt. Bind it instead of failing.
        await _adopt_existing(run, work, document, exc)
    except ValidationFailed as exc:
        await store_call(
            binder.delete, run.slug, Entity.ORDER, work.key
        )  # 400/422: certainly not created
        await _dead_letter(
            run, work, f"Gestionix refused the {DOC_LABEL[document.doc_type]}: {exc}"
        )
    except Retryable as exc:
        _transient(
            run, work, f"Gestionix did not answer the create ({exc}); checked by reference next run"
        )
    except Permanent as exc:
        await _dead_letter(
            run,
            work,
            f"Gestionix answered the create unexpectedly ({exc}); checked by reference next run",
        )
    return None


async def _document(run: _Run, work: OrderWork) -> OrderDocument | None:
    """The order's document with its client (O3, O4) and seller; None when the order stops here:
    its customer could not be had (held or dead-lettered with the reason) or it cannot be pushed."""
    customer = customer_key(work.order)
    resolution = run.customers.get(customer) or CustomerResolution(
        problem="customer was not resolved"
    )
    if resolution.to_create is not None:  # O4: created once, on demand
        resolution = await _customer(run, resolution.to_create)
    if resolution.transient:
        _transient(run, work, resolution.problem or "customer not resolved")
        return None
    if resolution.problem:
        await _dead_letter(run, work, resolution.problem)
        return None
    try:
        draft = work.draft or _draft(work, run.connection, run.catalog)
    except (OrderRejected, OrderSkipped) as exc:
        await _not_pushable(run, work, exc)
        return None
    seller_id = match_seller(work.order.get(H.ORDER_CREATED_BY), run.catalog.sellers)
    document = replace(
        draft,
        body={
            **draft.body,
            G.DOCUMENT_CLIENT_ID: resolution.client_id,
            G.DOCUMENT_SELLER_ID: seller_id,
        },
    )
    _report_returns(run, work, document)
    _report_taxes(run, work, document)
    return document


async def _customer(run: _Run, new: NewCustomer) -> CustomerResolution:
    """The creation of `new`, started by the first order that needs it, just before that order's
    own document: made on demand, the creations share Gestionix's rate with the orders' creates
    at the pace orders need them, never ahead of the creates that pace Handy's externalId
    writes (all ~190 creations of 2 000 orders at once starved those creates for ~40 s)."""
    task = run.creations.get(new.name)
    if task is None:
        task = run.creations[new.name] = asyncio.create_task(_create_customer(run, new))
        task.add_done_callback(_retrieve)
    # shielded: an order cancelled while it waits must not cancel what the others await
    return await asyncio.shield(task)


def _retrieve(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()  # raised to the orders that await it; retrieved here to keep asyncio quiet


async def _create_customer(run: _Run, new: NewCustomer) -> CustomerResolution:
    """O4: create and bind the client; its outcome replaces the pending resolution of each of
    its Handy customers, so the next batches of this run use it without creating again."""
    created_pairs: list[tuple[str, dict]] = []
    try:
        client = await run.connection.gestionix.create_client(new.body)
    except Retryable as exc:
        outcome = CustomerResolution(
            problem=f"customer {new.keys[0]} could not be created in Gestionix yet ({exc})",
            transient=True,
        )
    except ApiError as exc:
        outcome = CustomerResolution(
            problem=f"customer {new.keys[0]} could not be created in Gestionix: {exc}"
        )
    else:
        outcome = CustomerResolution(client_id=client[G.CLIENT_ID])
        run.catalog.clients.append(client)
        created_pairs.extend((key, client) for key in new.keys)
        run.audit.count("customers created")
        run.audit.item(
            Entity.CUSTOMER,
            new.keys[0],
            "created",
            "",
            client_id=client[G.CLIENT_ID],
            name=new.body[G.CLIENT_COMMERCIAL_NAME],
        )
    await _bind_customers(run.slug, created_pairs, run.audit)
    for key in new.keys:
        run.customers[key] = outcome
    return outcome


def _draft(work: OrderWork, connection: Connection, catalog: Catalog) -> OrderDocument:
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


async def _adopt_existing(run: _Run, work: OrderWork, document: OrderDocument, exc: Conflict):
    try:
        found = await run.connection.gestionix.find_document_by_reference(
            document.doc_type, document.reference
        )
    except ApiError:
        found = None
    if found is None:
        await _dead_letter(
            run, work, f"Gestionix refused the {DOC_LABEL[document.doc_type]}: {exc}"
        )
        return
    await _recovered(run, work, document.doc_type, found, "reference already in Gestionix")


async def _bind_pushed(run: _Run, work: OrderWork, doc_type: str, document: dict) -> None:
    await store_call(
        binder.bind,
        run.slug,
        Entity.ORDER,
        work.key,
        document_key(doc_type, document["id"]),
        status=BindingStatus.PUSHED,
        data={
            "doc_type": doc_type,
            "reference": reference(work.key),
            "folio": _folio(document),
            "external_id_written": False,
        },
        fence=fence_for(run.connection.lease),  # lost: the intent stays, resolved by reference
    )


async def _write_external_id(run: _Run, work: OrderWork, document_id: Any) -> bool:
    """O9: the Gestionix document id on the Handy order. A failure leaves the document bound
    and a dead letter, so the next run writes it again without touching Gestionix. True when
    written."""
    if run.dry_run:
        return True
    try:
        await run.connection.handy.set_order_external_id(work.key, str(document_id))
    except ApiError as exc:
        run.audit.count("failed")
        reason = (
            f"Gestionix document {document_id} created but Handy externalId not written "
            f"({exc}); written next run"
        )
        run.audit.item(Entity.ORDER, work.key, "failed", reason)
        await store_call(dead_letters.put, run.slug, Entity.ORDER, work.key, reason, retry=True)
        run.open_letters.add(work.key)
        return False
    await store_call(
        binder.set_status,
        run.slug,
        Entity.ORDER,
        work.key,
        BindingStatus.PUSHED,
        external_id_written=True,
    )
    return True


async def _not_pushable(run: _Run, work: OrderWork, exc: OrderRejected | OrderSkipped) -> None:
    if isinstance(exc, OrderSkipped):
        run.audit.skip(Entity.ORDER, work.key, exc.reason)
        if not run.dry_run:
            await store_call(
                binder.bind,
                run.slug,
                Entity.ORDER,
                work.key,
                None,
                status=BindingStatus.SKIPPED,
                data={"skip_reason": exc.reason[:500]},
            )
            await _resolve(run, work)
        return
    await _dead_letter(run, work, exc.reason)


async def _dead_letter(run: _Run, work: OrderWork, reason: str) -> None:
    """O6: kept with its reason, retried on later runs; the rest of the window goes on."""
    run.audit.count("failed")
    run.audit.item(Entity.ORDER, work.key, "dead-lettered", reason)
    if not run.dry_run:
        await store_call(
            dead_letters.put,
            run.slug,
            Entity.ORDER,
            work.key,
            reason,
            retry=True,
            payload={H.ORDER_DATE_CREATED: work.order.get(H.ORDER_DATE_CREATED)},
        )
        run.open_letters.add(work.key)


def _transient(run: _Run, work: OrderWork, reason: str) -> None:
    """A temporary failure after the retry budget: no dead letter; the cursor stays before this
    order (window orders) or its dead letter stays open (retried orders)."""
    run.audit.fail(Entity.ORDER, work.key, f"temporary: {reason}; retried next run")
    if work.from_window:
        run.window.hold_back(work.created_at or run.window.start)


async def _resolve(run: _Run, work: OrderWork) -> None:
    if not run.dry_run and work.key in run.open_letters:
        await store_call(dead_letters.resolve, run.slug, Entity.ORDER, work.key)
        run.open_letters.discard(work.key)


def _report_returns(run: _Run, work: OrderWork, document: OrderDocument) -> None:
    """O7: return lines are not pushed as sold lines; the run says so."""
    if document.excluded_returns:
        codes = ", ".join(str(line.product_code) for line in document.excluded_returns)
        run.audit.item(
            Entity.ORDER,
            work.key,
            "note",
            f"{len(document.excluded_returns)} return lines not pushed ({codes})",
        )


def _report_taxes(run: _Run, work: OrderWork, document: OrderDocument) -> None:
    """O6: a line of a product without transferred percentage taxes is pushed without taxes and
    named in the audit; P6/O5: a fixed-amount tax left out is named once per product per run."""
    for code in document.untaxed_products:
        run.audit.count("untaxed lines")
        run.audit.item(
            Entity.ORDER,
            work.key,
            "reported",
            f"O6: product {code} has no transferred percentage taxes in Gestionix: "
            "its line is pushed without taxes",
        )
    for line in document.lines:
        if line.fixed_taxes and line.product_code not in run.fixed_tax_reported:
            run.fixed_tax_reported.add(line.product_code)
            run.audit.item(
                Entity.PRODUCT,
                line.product_code,
                "reported",
                f"O5: fixed-amount tax {', '.join(line.fixed_taxes)} not considered "
                f"(only percentage taxes count); first seen on order {work.key}",
            )


def _folio(document: dict) -> str:
    serie, folio = document.get(G.DOCUMENT_SERIE), document.get(G.DOCUMENT_FOLIO)
    return f"{serie}-{folio}" if serie and folio is not None else str(folio or "")


def _document_extra(document: OrderDocument) -> dict[str, Any]:
    return {
        "doc_type": document.doc_type,
        "client_id": document.body.get(G.DOCUMENT_CLIENT_ID),
        "lines": len(document.lines),
        "total": str(cents(document.expected_gestionix_total)),
    }


async def _recovered(run: _Run, work: OrderWork, doc_type: str, found: dict, note: str) -> None:
    """O8: the order's document was already in Gestionix: bind it, count it recovered, and
    write the order's externalId as after a create."""
    await _bind_pushed(run, work, doc_type, found)
    await _pushed(run, work, found, "recovered", note=note)


async def _pushed(run: _Run, work: OrderWork, document: dict, counted: str, **extra: Any) -> None:
    """The order is bound to `document` (created, or recovered): count and report it, then write
    the order's externalId (O9) and close its dead letter."""
    run.audit.count(counted)
    run.audit.item(
        Entity.ORDER,
        work.key,
        "pushed",
        "",
        folio=_folio(document),
        document=document["id"],
        **extra,
    )
    if await _write_external_id(run, work, document["id"]):
        await _resolve(run, work)
