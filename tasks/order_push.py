"""order_push's push: Handy orders -> Gestionix pedidos/ventas, exactly once (RULES O1-O11).

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
concurrently (bounded) while each order's own steps stay in order. Reading and planning are
tasks/orders.py, the customers tasks/order_customers.py, each order's document
tasks/order_documents.py, the ways an order ends short of a document tasks/order_run.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import task

from clients.errors import ApiError, Conflict, Permanent, Retryable, ValidationFailed
from mappings.bindings import DONE_ORDER_STATUSES, BindingStatus, Entity
from mappings.order_documents import OrderDocument
from mappings.orders import reference
from mappings.tenant import TenantConfig
from store import binder, dead_letters
from store.leases import LeaseLost
from tasks.audit import RunAudit
from tasks.concurrency import run_bounded
from tasks.connect import Connection
from tasks.documents import CONCURRENCY, DOC_LABEL, bind_pushed, folio, split_document_key
from tasks.fencing import fence_for
from tasks.options import RUN_ONCE
from tasks.order_customers import CustomerResolution
from tasks.order_documents import document_extra, order_document
from tasks.order_duplicates import record_stale_create
from tasks.order_run import PushRun, dead_letter, mark, not_pushable, resolve, transient
from tasks.orders import Catalog, OrderWork
from tasks.store_calls import store_call
from tasks.window import Window


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
    run = PushRun(
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


async def _push_one(run: PushRun, work: OrderWork) -> None:
    binding = run.bindings.get(work.key)
    status = binding.status if binding is not None else None
    if status in DONE_ORDER_STATUSES:
        await resolve(run, work)
        return
    if status == BindingStatus.PUSHED:
        if (binding.data or {}).get("external_id_written") or await _write_external_id(
            run, work, split_document_key(binding)[1]
        ):
            await resolve(run, work)
        return
    if status == BindingStatus.INTENT and await _recover_intent(run, work, binding):
        return
    if work.problem is not None:
        await not_pushable(run, work, work.problem)
        return
    await _create(run, work)


async def _recover_intent(run: PushRun, work: OrderWork, binding: Any) -> bool:
    """O8: a previous run wrote the intent and may have created the document. True when the
    order is settled here (found and bound, or a temporary failure)."""
    doc_type = (binding.data or {}).get("doc_type") or work.doc_type
    ref = (binding.data or {}).get("reference") or reference(work.key)
    try:
        found = await run.connection.gestionix.find_document_by_reference(doc_type, ref)
    except ApiError as exc:
        transient(run, work, f"interrupted push could not be checked in Gestionix ({exc})")
        return True
    if found is None:
        return False
    if run.dry_run:
        run.audit.item(
            Entity.ORDER, work.key, "would bind", "", folio=folio(found), document=found["id"]
        )
        return True
    await _recovered(run, work, doc_type, found, "found by reference after an interrupted run")
    return True


async def _create(run: PushRun, work: OrderWork) -> None:
    if run.catalog is None or work.doc_type is None:  # cannot happen: planned without catalog
        transient(run, work, "Gestionix catalog not read in this run")
        return
    document = await order_document(run, work)
    if document is None:
        return
    if run.dry_run:
        run.audit.count("created")
        run.audit.item(Entity.ORDER, work.key, "would push", "", **document_extra(document))
        return
    await _write_intent(run, work, document)
    created = await _send_create(run, work, document)
    if created is None:
        return
    try:
        await bind_pushed(run.slug, work.key, document.doc_type, created, run.connection.lease)
    except LeaseLost:  # the create left after the lease was lost: maybe a duplicate
        await store_call(record_stale_create, run.slug, work.key)
        raise
    await _pushed(run, work, created, "created", **document_extra(document))


async def _write_intent(run: PushRun, work: OrderWork, document: OrderDocument) -> None:
    """O8: the intent binding, durable before the create leaves."""
    await mark(
        run,
        work,
        BindingStatus.INTENT,
        {"doc_type": document.doc_type, "reference": document.reference},
        fence=fence_for(run.connection.lease),
    )


async def _send_create(run: PushRun, work: OrderWork, document: OrderDocument) -> dict | None:
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
        await dead_letter(run, work, f"Gestionix refused the {DOC_LABEL[document.doc_type]}: {exc}")
    except Retryable as exc:
        transient(
            run, work, f"Gestionix did not answer the create ({exc}); checked by reference next run"
        )
    except Permanent as exc:
        await dead_letter(
            run,
            work,
            f"Gestionix answered the create unexpectedly ({exc}); checked by reference next run",
        )
    return None


async def _adopt_existing(run: PushRun, work: OrderWork, document: OrderDocument, exc: Conflict):
    try:
        found = await run.connection.gestionix.find_document_by_reference(
            document.doc_type, document.reference
        )
    except ApiError:
        found = None
    if found is None:
        await dead_letter(run, work, f"Gestionix refused the {DOC_LABEL[document.doc_type]}: {exc}")
        return
    await _recovered(run, work, document.doc_type, found, "reference already in Gestionix")


async def _write_external_id(run: PushRun, work: OrderWork, document_id: Any) -> bool:
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


async def _recovered(run: PushRun, work: OrderWork, doc_type: str, found: dict, note: str) -> None:
    """O8: the order's document was already in Gestionix: bind it, count it recovered, and
    write the order's externalId as after a create."""
    await bind_pushed(run.slug, work.key, doc_type, found, run.connection.lease)
    await _pushed(run, work, found, "recovered", note=note)


async def _pushed(
    run: PushRun, work: OrderWork, document: dict, counted: str, **extra: Any
) -> None:
    """The order is bound to `document` (created, or recovered): count and report it, then write
    the order's externalId (O9) and close its dead letter."""
    run.audit.count(counted)
    run.audit.item(
        Entity.ORDER,
        work.key,
        "pushed",
        "",
        folio=folio(document),
        document=document["id"],
        **extra,
    )
    if await _write_external_id(run, work, document["id"]):
        await resolve(run, work)
