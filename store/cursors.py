"""Stream cursors: the high-water mark of a windowed read, per tenant and stream."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlmodel import Session, select

from store.db import Store, session_scope
from store.models import Cursor, utcnow


def _aware(value: datetime) -> datetime:
    # SQLite hands timestamps back naive; we only ever store UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def get(tenant: str, stream: str, *, store: Store | None = None) -> datetime | None:
    with session_scope(store) as session:
        row = session.get(Cursor, (tenant, stream))
        return _aware(row.value) if row else None


def set(tenant: str, stream: str, value: datetime, *, store: Store | None = None) -> datetime:  # noqa: A001
    """Set the cursor to `value` unconditionally (activation, operator backfill)."""
    if value.tzinfo is None:
        raise ValueError(f"cursor {stream} of tenant {tenant}: value must be timezone-aware")
    with session_scope(store) as session:
        row = session.get(Cursor, (tenant, stream)) or Cursor(
            tenant=tenant, stream=stream, value=value
        )
        row.value = value
        row.updated_at = utcnow()
        session.add(row)
    return value


def advance(
    tenant: str,
    stream: str,
    value: datetime,
    *,
    store: Store | None = None,
    fence: Callable[[Session], None] | None = None,
) -> datetime:
    """Move the cursor forward to `value`; never backwards. Returns the stored value.
    `fence(session)` runs first in the same transaction and may refuse the move (lost lease)."""
    if value.tzinfo is None:
        raise ValueError(f"cursor {stream} of tenant {tenant}: value must be timezone-aware")
    with session_scope(store) as session:
        if fence is not None:
            fence(session)
        row = session.exec(
            select(Cursor).where(Cursor.tenant == tenant, Cursor.stream == stream).with_for_update()
        ).first()
        if row is None:
            row = Cursor(tenant=tenant, stream=stream, value=value)
        elif _aware(row.value) >= value:
            return _aware(row.value)
        row.value = value
        row.updated_at = utcnow()
        session.add(row)
        return value
