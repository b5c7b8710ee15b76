"""Bindings: the link of each Handy record to its Gestionix counterpart, per tenant."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from mappings.bindings import BindingRecord, BindingStatus, Entity
from store.db import Store, session_scope
from store.models import Binding, utcnow

BINDING_COLUMNS = list(BindingRecord._fields)


class BindingConflict(Exception):
    """The Gestionix record is already bound to another Handy record (or vice versa)."""


def _one(tenant: str, entity: Entity, handy_key: str) -> SelectOfScalar[Binding]:
    """The select of one binding by its Handy key."""
    return select(Binding).where(
        Binding.tenant == tenant, Binding.entity == entity, Binding.handy_key == str(handy_key)
    )


def get(
    tenant: str, entity: Entity, handy_key: str, *, store: Store | None = None
) -> Binding | None:
    with session_scope(store) as session:
        return session.exec(_one(tenant, entity, handy_key)).first()


def get_by_gestionix(
    tenant: str, entity: Entity, gestionix_key: str, *, store: Store | None = None
) -> Binding | None:
    query = select(Binding).where(
        Binding.tenant == tenant,
        Binding.entity == entity,
        Binding.gestionix_key == str(gestionix_key),
    )
    with session_scope(store) as session:
        return session.exec(query).first()


def all_for(
    tenant: str, entity: Entity, *, status: BindingStatus | None = None, store: Store | None = None
) -> list[Binding]:
    with session_scope(store) as session:
        query = select(Binding).where(Binding.tenant == tenant, Binding.entity == entity)
        if status is not None:
            query = query.where(Binding.status == status)
        return list(session.exec(query))


def get_many(
    tenant: str, entity: Entity, handy_keys: Iterable[str], *, store: Store | None = None
) -> dict[str, Binding]:
    """Bindings of the given Handy keys, by key (one query per 500 keys)."""
    keys = [str(k) for k in handy_keys]
    found: dict[str, Binding] = {}
    with session_scope(store) as session:
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = session.exec(
                select(Binding).where(
                    Binding.tenant == tenant, Binding.entity == entity, Binding.handy_key.in_(chunk)
                )
            )
            found.update({row.handy_key: row for row in rows})
    return found


def records(tenant: str, entity: Entity, *, store: Store | None = None) -> list[BindingRecord]:
    """All bindings of an entity as BindingRecords. Plain column rows, no ORM objects: a
    50 000-product catalog reads them ten times faster (issue 20: 0.09 s vs 0.86 s)."""
    query = select(*(getattr(Binding, column) for column in BINDING_COLUMNS)).where(
        Binding.tenant == tenant, Binding.entity == entity
    )
    with session_scope(store) as session:
        return [BindingRecord._make(row) for row in session.exec(query)]


def bind(
    tenant: str,
    entity: Entity,
    handy_key: str,
    gestionix_key: str | None,
    *,
    status: BindingStatus,
    fingerprint: str | None = None,
    data: Mapping[str, Any] | None = None,
    store: Store | None = None,
    fence: Callable[[Session], None] | None = None,
) -> Binding:
    """Create or update the binding of `handy_key` (upsert on tenant, entity, handy_key)."""
    return bind_many(
        tenant,
        entity,
        [
            {
                "handy_key": handy_key,
                "gestionix_key": gestionix_key,
                "status": status,
                "fingerprint": fingerprint,
                "data": data,
            }
        ],
        store=store,
        fence=fence,
    )[0]


def bind_many(
    tenant: str,
    entity: Entity,
    rows: Iterable[Mapping[str, Any]],
    *,
    store: Store | None = None,
    fence: Callable[[Session], None] | None = None,
) -> list[Binding]:
    """Upsert several bindings in one transaction. Keys: handy_key, gestionix_key, status,
    fingerprint, data (a missing key keeps the stored value). `fence(session)` runs first in
    the same transaction and may refuse the write (the run's lease is lost: store.leases.fence)."""
    rows = list(rows)
    saved: list[Binding] = []
    try:
        with session_scope(store) as session:
            if fence is not None:
                fence(session)
            existing = {
                b.handy_key: b
                for start in range(0, len(rows), 500)
                for b in session.exec(
                    select(Binding).where(
                        Binding.tenant == tenant,
                        Binding.entity == entity,
                        Binding.handy_key.in_(
                            [str(r["handy_key"]) for r in rows[start : start + 500]]
                        ),
                    )
                )
            }
            now = utcnow()
            for row in rows:
                key = str(row["handy_key"])
                binding = existing.get(key)
                if binding is None:
                    binding = Binding(
                        tenant=tenant, entity=entity, handy_key=key, status=row["status"]
                    )
                    existing[key] = binding
                if "gestionix_key" in row:
                    gkey = row["gestionix_key"]
                    binding.gestionix_key = None if gkey is None else str(gkey)
                binding.status = row.get("status") or binding.status
                if "fingerprint" in row:
                    binding.fingerprint = row["fingerprint"]
                if row.get("data") is not None:
                    binding.data = {**(binding.data or {}), **dict(row["data"])}
                binding.synced_at = now
                session.add(binding)
                saved.append(binding)
    except IntegrityError as exc:
        raise BindingConflict(
            f"tenant {tenant}: {entity} binding would link one record twice ({exc.orig})"
        ) from None
    return saved


def set_status(
    tenant: str,
    entity: Entity,
    handy_key: str,
    status: BindingStatus,
    *,
    store: Store | None = None,
    **data: Any,
) -> Binding | None:
    """Change the status of an existing binding (and merge `data`); None when unbound."""
    with session_scope(store) as session:
        binding = session.exec(_one(tenant, entity, handy_key)).first()
        if binding is None:
            return None
        binding.status = status
        if data:
            binding.data = {**(binding.data or {}), **data}
        binding.synced_at = utcnow()
        session.add(binding)
        return binding


def tombstone(
    tenant: str, entity: Entity, handy_key: str, *, reason: str = "", store: Store | None = None
) -> Binding:
    """Mark a Handy record as never to be pushed (D2): an unbound deleted order.

    Creates the binding when missing; leaves a binding that already has a Gestionix key alone
    (that one needs a real deletion, not a tombstone) and returns it unchanged.
    """
    with session_scope(store) as session:
        binding = session.exec(_one(tenant, entity, handy_key)).first()
        if binding is not None and binding.gestionix_key is not None:
            return binding
        if binding is None:
            binding = Binding(
                tenant=tenant,
                entity=entity,
                handy_key=str(handy_key),
                status=BindingStatus.TOMBSTONED,
            )
        binding.status = BindingStatus.TOMBSTONED
        binding.data = {**(binding.data or {}), "tombstone_reason": reason}
        binding.synced_at = utcnow()
        session.add(binding)
        return binding


def delete(tenant: str, entity: Entity, handy_key: str, *, store: Store | None = None) -> bool:
    with session_scope(store) as session:
        binding = session.exec(_one(tenant, entity, handy_key)).first()
        if binding is None:
            return False
        session.delete(binding)
        return True
