"""Dead letters (O6, D3): records kept with their reason until they succeed or an operator replays them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import select

from mappings.bindings import Entity
from store.db import Store, session_scope
from store.models import DeadLetter, utcnow


def put(
    tenant: str,
    entity: Entity,
    key: str,
    reason: str,
    *,
    retry: bool = True,
    payload: Mapping[str, Any] | None = None,
    store: Store | None = None,
) -> DeadLetter:
    """Record (or re-record) a failure: counts attempts, keeps first_seen, reopens a resolved one."""
    if not reason:
        raise ValueError(f"dead letter {entity} {key} of tenant {tenant} needs a reason")
    with session_scope(store) as session:
        letter = session.exec(
            select(DeadLetter).where(
                DeadLetter.tenant == tenant, DeadLetter.entity == entity, DeadLetter.key == str(key)
            )
        ).first()
        now = utcnow()
        if letter is None:
            letter = DeadLetter(tenant=tenant, entity=entity, key=str(key), reason=reason[:2000])
        elif letter.resolved_at is not None:
            letter.resolved_at = None
            letter.attempts = 1
            letter.first_seen = now
        else:
            letter.attempts += 1
        letter.reason = reason[:2000]
        letter.retry = retry
        letter.last_seen = now
        if payload is not None:
            letter.payload = dict(payload)
        session.add(letter)
        return letter


def resolve(tenant: str, entity: Entity, key: str, *, store: Store | None = None) -> bool:
    """Close an open dead letter; False when there was none open."""
    with session_scope(store) as session:
        letter = session.exec(_open_query(tenant, entity, key)).first()
        if letter is None:
            return False
        letter.resolved_at = utcnow()
        session.add(letter)
        return True


def open_letters(
    tenant: str,
    entity: Entity | None = None,
    *,
    retry_only: bool = False,
    store: Store | None = None,
) -> list[DeadLetter]:
    """Unresolved dead letters, oldest first; `retry_only` leaves out those waiting for an operator."""
    query = _open_query(tenant, entity)
    if retry_only:
        query = query.where(DeadLetter.retry.is_(True))
    with session_scope(store) as session:
        return list(session.exec(query))


def get(tenant: str, entity: Entity, key: str, *, store: Store | None = None) -> DeadLetter | None:
    with session_scope(store) as session:
        return session.exec(
            select(DeadLetter).where(
                DeadLetter.tenant == tenant, DeadLetter.entity == entity, DeadLetter.key == str(key)
            )
        ).first()


def release(
    tenant: str, *, entity: Entity | None = None, key: str | None = None, store: Store | None = None
) -> list[DeadLetter]:
    """Operator replay: mark open dead letters (all, or one key) for retry on the next run."""
    with session_scope(store) as session:
        letters = list(session.exec(_open_query(tenant, entity, key)))
        for letter in letters:
            letter.retry = True
            session.add(letter)
        return letters


def _open_query(tenant: str, entity: Entity | None = None, key: str | None = None) -> Any:
    """The tenant's unresolved dead letters (of one entity, one key), oldest first."""
    query = select(DeadLetter).where(DeadLetter.tenant == tenant, DeadLetter.resolved_at.is_(None))
    if entity is not None:
        query = query.where(DeadLetter.entity == entity)
    if key is not None:
        query = query.where(DeadLetter.key == str(key))
    return query.order_by(DeadLetter.first_seen, DeadLetter.id)
