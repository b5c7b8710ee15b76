"""One push_orders run of a batch: its state (PushRun) and the ways an order's push ends short
of a document: skipped (O7), dead-lettered (O6), failed temporarily (the window is held back), and
its open dead letter resolved once the order is settled.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mappings import handy_fields as H
from mappings.bindings import BindingStatus, Entity
from mappings.orders import OrderRejected, OrderSkipped
from mappings.tenant import TenantConfig
from store import binder, dead_letters
from tasks.audit import RunAudit
from tasks.connect import Connection
from tasks.store_calls import store_call
from tasks.window import Window, fail_temporarily

if TYPE_CHECKING:
    from tasks.order_customers import CustomerResolution
    from tasks.orders import Catalog, OrderWork


@dataclass
class PushRun:
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


async def mark(
    run: PushRun, work: OrderWork, status: BindingStatus, data: dict, fence: Any = None
) -> None:
    """The order's binding without a Gestionix document: an intent (O8, fenced by the lease) or
    skipped (O7)."""
    await store_call(
        binder.bind, run.slug, Entity.ORDER, work.key, None, status=status, data=data, fence=fence
    )


async def not_pushable(run: PushRun, work: OrderWork, exc: OrderRejected | OrderSkipped) -> None:
    if isinstance(exc, OrderSkipped):
        run.audit.skip(Entity.ORDER, work.key, exc.reason)
        if not run.dry_run:
            await mark(run, work, BindingStatus.SKIPPED, {"skip_reason": exc.reason[:500]})
            await resolve(run, work)
        return
    await dead_letter(run, work, exc.reason)


async def dead_letter(run: PushRun, work: OrderWork, reason: str) -> None:
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


def transient(run: PushRun, work: OrderWork, reason: str) -> None:
    """A temporary failure after the retry budget: no dead letter; the cursor stays before this
    order (window orders) or its dead letter stays open (retried orders)."""
    fail_temporarily(
        run.window, run.audit, work.key, reason, at=work.created_at, from_window=work.from_window
    )


async def resolve(run: PushRun, work: OrderWork) -> None:
    if not run.dry_run and work.key in run.open_letters:
        await store_call(dead_letters.resolve, run.slug, Entity.ORDER, work.key)
        run.open_letters.discard(work.key)
