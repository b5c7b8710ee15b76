"""The store's vocabulary: what a stored row is about (`Entity`) and where a binding stands
(`BindingStatus`). str-valued, so the values in the database stay the plain words they have
always been ("order", "pushed"...) and a value read back compares equal to its member."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple


class Entity(StrEnum):
    """The `entity` of bindings, dead letters, left-out rows and audit items."""

    PRODUCT = "product"
    FAMILY = "family"
    CUSTOMER = "customer"
    ZONE = "zone"
    ORDER = "order"
    ORDER_DELETION = "order_deletion"  # dead letters of deletion_sync (D3)


class BindingStatus(StrEnum):
    """Products, families, customers, zones: what the integration last wrote (enabled/disabled).
    Orders: intent (push started, document unconfirmed) -> pushed -> deleted; tombstoned (deleted
    in Handy before it was pushed, D2); skipped (nothing to push, O7)."""

    ENABLED = "enabled"
    DISABLED = "disabled"
    INTENT = "intent"
    PUSHED = "pushed"
    DELETED = "deleted"
    TOMBSTONED = "tombstoned"
    SKIPPED = "skipped"


# An order binding in one of these needs no more work from order_push.
FINISHED_ORDER_STATUSES = frozenset({BindingStatus.DELETED, BindingStatus.TOMBSTONED})
DONE_ORDER_STATUSES = FINISHED_ORDER_STATUSES | {BindingStatus.SKIPPED}


class BindingRecord(NamedTuple):
    """One binding's columns as plain values: what store.binder.records reads (no ORM object)
    and what the planners take (mappings.plan, mass_disable, inventory, customer_adoption)."""

    handy_key: str
    gestionix_key: str | None
    fingerprint: str | None = None
    status: str = BindingStatus.ENABLED
    data: dict[str, Any] | None = None
    synced_at: datetime | None = None
