"""deletion_sync tasks: a deleted Handy order deletes its Gestionix document (RULES D1-D4, O10).

Per deleted order, by its binding (Entity.ORDER):
  pushed     -> DELETE the pedido/venta recorded in the binding; "deleted" or "gone" (404, D3)
                -> status deleted. 409 (invoiced, or a pedido turned into a venta) -> dead letter
                "order_deletion" with Gestionix's reason, retry=False: it waits for an operator
                replay and is not tried again blindly on later runs (D3).
  intent     -> a push was interrupted: look the reference up first; found -> delete it;
                not found -> tombstone.
  none       -> tombstone: order_push never pushes it (D2).
  deleted / tombstoned / skipped -> nothing.
An edited order (O10) is the deletion of the old version (isEdited) plus a new order: the old
document is deleted here like any other; the new one is order_push's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prefect import task

from clients.errors import ApiError, Permanent, Retryable
from clients.handy import parse_timestamp
from mappings import handy_fields as H
from mappings.bindings import BindingStatus, Entity
from mappings.orders import reference
from mappings.tenant import TenantConfig
from store import binder, dead_letters
from tasks.audit import RunAudit
from tasks.concurrency import run_bounded
from tasks.connect import Connection
from tasks.documents import (
    CONCURRENCY,
    DOC_LABEL,
    document_key,
    ensure_resolved,
    split_document_key,
)
from tasks.fencing import fence_for
from tasks.options import RETRY_ON_OUTAGE, RUN_ONCE
from tasks.store_calls import store_call
from tasks.window import Window, fail_temporarily

DATE_DELETED, IS_EDITED = "dateDeleted", "isEdited"


@dataclass
class DeletionWork:
    key: str
    from_window: bool  # False: an operator replayed its dead letter
    deleted_at: datetime | None = None
    edited: bool = False


@task(name="read-deleted-orders", **RETRY_ON_OUTAGE)
async def read_deleted_orders(connection: Connection, window: Window) -> list[dict]:
    """Orders deleted in Handy (deleted=true) whose dateDeleted is in the window, oldest first,
    each once; the read is proven complete or the run fails (the cursor stays)."""
    return await connection.handy.list_sales_orders(
        window.start, window.end, filter_with_date=DATE_DELETED, deleted=True
    )


@task(name="plan-deletions", **RUN_ONCE)
async def plan_deletions(
    tenant: TenantConfig, deleted_orders: list[dict], audit: RunAudit
) -> list[DeletionWork]:
    """The window's deleted orders, plus dead letters an operator released for replay
    (order_deletion letters set back to retry=True)."""
    work: dict[str, DeletionWork] = {}
    for order in deleted_orders:
        key = str(order.get(H.ORDER_ID))
        try:
            deleted_at = parse_timestamp(order.get(DATE_DELETED))
        except (TypeError, ValueError):
            deleted_at = None
        work.setdefault(key, DeletionWork(key, True, deleted_at, order.get(IS_EDITED) is True))
    audit.count("read", len(work))
    released = await store_call(
        dead_letters.open_letters, tenant.slug, Entity.ORDER_DELETION, retry_only=True
    )
    for letter in released:
        work.setdefault(letter.key, DeletionWork(letter.key, False))
    return list(work.values())


@dataclass
class _Run:
    connection: Connection
    slug: str
    window: Window
    audit: RunAudit
    dry_run: bool
    bindings: dict[str, Any]
    letters: dict[str, Any]


@task(name="apply-deletions", **RUN_ONCE)
async def apply_deletions(
    connection: Connection,
    tenant: TenantConfig,
    batch: list[DeletionWork],
    window: Window,
    audit: RunAudit,
    dry_run: bool,
) -> None:
    """D1-D3 for one batch, concurrently. Bindings are read here so a repeat never uses a stale view."""
    run = _Run(
        connection=connection,
        slug=tenant.slug,
        window=window,
        audit=audit,
        dry_run=dry_run,
        bindings=await store_call(
            binder.get_many, tenant.slug, Entity.ORDER, [w.key for w in batch]
        ),
        letters={
            letter.key: letter
            for letter in await store_call(
                dead_letters.open_letters, tenant.slug, Entity.ORDER_DELETION
            )
        },
    )
    if any(b.status in (BindingStatus.PUSHED, BindingStatus.INTENT) for b in run.bindings.values()):
        await ensure_resolved(connection)  # Gestionix is only logged in to when needed
    await run_bounded(batch, lambda work: _delete_one(run, work), CONCURRENCY)


async def _delete_one(run: _Run, work: DeletionWork) -> None:
    letter = run.letters.get(work.key)
    if letter is not None and not letter.retry:
        run.audit.count("skipped")
        run.audit.item(
            Entity.ORDER,
            work.key,
            "waiting",
            f"Gestionix refused this deletion before ({letter.reason}); waits for an "
            "operator replay (D3)",
        )
        return
    binding = run.bindings.get(work.key)
    status = binding.status if binding is not None else None
    if status == BindingStatus.PUSHED:
        doc_type, document_id = split_document_key(binding)
        await _delete_document(run, work, doc_type, document_id, (binding.data or {}).get("folio"))
        return
    if status == BindingStatus.INTENT:
        doc_type = (binding.data or {}).get("doc_type") or "sales_order"
        try:
            found = await run.connection.gestionix.find_document_by_reference(
                doc_type, (binding.data or {}).get("reference") or reference(work.key)
            )
        except ApiError as exc:
            _transient(run, work, f"interrupted push could not be checked in Gestionix ({exc})")
            return
        if found is not None:
            await _delete_document(run, work, doc_type, found["id"], found.get("folio"))
            return
        await _tombstone(
            run, work, "deleted in Handy; its interrupted push never reached Gestionix"
        )
        return
    if status is None:
        await _tombstone(run, work, "deleted in Handy before it was pushed: never pushed (D2)")
        return
    # deleted, tombstoned, skipped: nothing left to do; a replayed letter is closed.
    await _resolve(run, work)


async def _delete_document(
    run: _Run, work: DeletionWork, doc_type: str | None, document_id: str | None, folio: Any
) -> None:
    label = f"{DOC_LABEL.get(doc_type or '', 'document')} {folio or ''} (id {document_id})"
    label = " ".join(label.split())
    if doc_type not in DOC_LABEL or not document_id:
        await _dead_letter(
            run, work, f"binding has no usable Gestionix document ({doc_type}:{document_id})"
        )
        return
    if run.dry_run:
        run.audit.count("deleted")
        run.audit.item(Entity.ORDER, work.key, "would delete", "", document=label)
        return
    try:
        result = await run.connection.gestionix.delete_document(doc_type, document_id)
    except Retryable as exc:
        _transient(run, work, f"Gestionix did not answer the deletion ({exc})")
        return
    except Permanent as exc:  # 409 invoiced / converted, or another refusal
        await _dead_letter(run, work, f"Gestionix refused to delete {label}: {exc.message or exc}")
        return
    await store_call(
        binder.bind,
        run.slug,
        Entity.ORDER,
        work.key,
        document_key(doc_type, document_id),
        status=BindingStatus.DELETED,
        data={"doc_type": doc_type, "deletion": result, "edited": work.edited},
        fence=fence_for(run.connection.lease),
    )
    await _resolve(run, work)
    run.audit.count("deleted")
    note = "already gone in Gestionix (404): done (D3)" if result == "gone" else ""
    if work.edited:
        note = (note + "; " if note else "") + "old version of an edited order (O10)"
    run.audit.item(Entity.ORDER, work.key, "deleted", "", document=label, note=note)


async def _tombstone(run: _Run, work: DeletionWork, reason: str) -> None:
    run.audit.count("tombstoned")
    run.audit.item(
        Entity.ORDER, work.key, "would tombstone" if run.dry_run else "tombstoned", "", note=reason
    )
    if not run.dry_run:
        await store_call(binder.tombstone, run.slug, Entity.ORDER, work.key, reason=reason)
        await _resolve(run, work)


async def _dead_letter(run: _Run, work: DeletionWork, reason: str) -> None:
    """D3: kept with Gestionix's reason; not retried until an operator replays it."""
    run.audit.count("failed")
    run.audit.item(Entity.ORDER, work.key, "dead-lettered", reason)
    if not run.dry_run:
        await store_call(
            dead_letters.put, run.slug, Entity.ORDER_DELETION, work.key, reason, retry=False
        )


def _transient(run: _Run, work: DeletionWork, reason: str) -> None:
    fail_temporarily(
        run.window, run.audit, work.key, reason, at=work.deleted_at, from_window=work.from_window
    )


async def _resolve(run: _Run, work: DeletionWork) -> None:
    if not run.dry_run and work.key in run.letters:
        await store_call(dead_letters.resolve, run.slug, Entity.ORDER_DELETION, work.key)
