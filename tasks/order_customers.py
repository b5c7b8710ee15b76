"""The customers of the orders of one push (RULES O3, O4): each distinct customer resolved once
before its first document (binding, else a match among the sucursal's clients, else a creation),
and the run's create-once map: a new client is created by the first order that needs it, the other
orders of that customer await the same creation.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prefect import task

from clients.errors import ApiError, Retryable
from mappings import gestionix_fields as G
from mappings import handy_fields as H
from mappings.bindings import BindingStatus, Entity
from mappings.customers import BASELINE, link_baseline
from mappings.names import normalize_name
from mappings.order_customers import match_client, new_client_body
from mappings.order_lookup import customer_key
from mappings.orders import OrderRejected, OrderSkipped
from mappings.tenant import TenantConfig
from store import binder
from store.binder import BindingConflict
from tasks.audit import RunAudit
from tasks.connect import Connection
from tasks.options import RUN_ONCE
from tasks.orders import Catalog, OrderPlan, OrderWork, draft_document
from tasks.store_calls import store_call

if TYPE_CHECKING:
    from tasks.order_run import PushRun


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
    # that customer await that creation (PushRun.creations); then the outcome replaces this one.
    to_create: NewCustomer | None = None


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
    creating ~180 customers up front held every push back ~18 s; see customer_for)."""
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
                work.draft = draft_document(work, connection, catalog)
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


async def customer_for(run: PushRun, new: NewCustomer) -> CustomerResolution:
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


async def _create_customer(run: PushRun, new: NewCustomer) -> CustomerResolution:
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
