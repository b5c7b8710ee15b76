"""What the integration remembers. Every row carries `tenant`; no query runs without it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(**kwargs: Any) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), **kwargs))


class Binding(SQLModel, table=True):
    """Link between a Handy record and its Gestionix counterpart (the backbone, like OCA connector).

    entity: a mappings.bindings.Entity (product | family | customer | zone | order), status a
    BindingStatus, both stored as their plain string values. For orders `gestionix_key` is
    "<doc_type>:<id>" because pedidos and ventas number independently.
    """

    __table_args__ = (
        UniqueConstraint("tenant", "entity", "handy_key", name="uq_binding_handy"),
        UniqueConstraint("tenant", "entity", "gestionix_key", name="uq_binding_gestionix"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True, max_length=63)
    entity: str = Field(max_length=32)
    handy_key: str = Field(max_length=255)
    gestionix_key: str | None = Field(default=None, max_length=255)
    fingerprint: str | None = Field(default=None, max_length=128)
    status: str = Field(max_length=32)
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    synced_at: datetime = _ts(nullable=False, default=utcnow)


class Cursor(SQLModel, table=True):
    """High-water mark of a stream (e.g. orders' dateCreated), advanced only after its window is safe."""

    tenant: str = Field(primary_key=True, max_length=63)
    stream: str = Field(primary_key=True, max_length=64)
    value: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False, default=utcnow)


class Lease(SQLModel, table=True):
    """A named per-tenant mutual-exclusion lease with an expiry, so a killed holder cannot block forever."""

    tenant: str = Field(primary_key=True, max_length=63)
    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=255)
    expires_at: datetime = _ts(nullable=False)


class SyncRun(SQLModel, table=True):
    """One flow run's audit record (X1)."""

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True, max_length=63)
    flow: str = Field(max_length=64)
    flow_run_id: str | None = Field(default=None, max_length=64)
    started_at: datetime = _ts(nullable=False, default=utcnow)
    finished_at: datetime | None = _ts(nullable=True)
    window_start: datetime | None = _ts(nullable=True)
    window_end: datetime | None = _ts(nullable=True)
    dry_run: bool = False
    counts: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="running", max_length=32)
    summary: str = Field(default="", max_length=4000)


class RunItem(SQLModel, table=True):
    """One record a run skipped, failed, or otherwise wants to explain (X1)."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="syncrun.id", index=True)
    tenant: str = Field(index=True, max_length=63)
    entity: str = Field(max_length=32)
    key: str = Field(max_length=255)
    action: str = Field(max_length=32)
    reason: str = Field(default="", max_length=2000)
    details: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class DeadLetter(SQLModel, table=True):
    """A record that could not be processed, kept with its reason until it succeeds or is replayed (O6, D3).

    entity: "order" (push) or "order_deletion" (delete).  `retry` False means only an operator
    replay retries it (D3: not retried blindly).
    """

    __table_args__ = (UniqueConstraint("tenant", "entity", "key", name="uq_dead_letter"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True, max_length=63)
    entity: str = Field(max_length=32)
    key: str = Field(max_length=255)
    reason: str = Field(max_length=2000)
    retry: bool = True
    attempts: int = 1
    first_seen: datetime = _ts(nullable=False, default=utcnow)
    last_seen: datetime = _ts(nullable=False, default=utcnow)
    resolved_at: datetime | None = _ts(nullable=True)
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class LeftOut(SQLModel, table=True):
    """A Gestionix record a run left out of Handy on purpose, with why (X5): product not for sale,
    inactive, refused (bad clave, price...), gone from the sucursal. One row per record while it
    stays left out, written only when that changes (a 50 000-product catalog writes nothing on a
    run where nothing changed); `ended_at` is set when it comes back in."""

    __table_args__ = (UniqueConstraint("tenant", "entity", "key", name="uq_left_out"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True, max_length=63)
    entity: str = Field(max_length=32)
    key: str = Field(max_length=255)  # the clave, or "id <gestionix id>" when the clave is unusable
    reason_code: str = Field(max_length=32)  # not_for_sale | inactive | rejected | not_in_branch
    reason: str = Field(default="", max_length=2000)
    gestionix_id: str | None = Field(default=None, max_length=64)
    since_run_id: int | None = None
    since: datetime = _ts(nullable=False, default=utcnow)
    ended_at: datetime | None = _ts(nullable=True)
    ended_run_id: int | None = None
