"""Everything the store knows about one record (X5): bindings, every run item that named it with
its run, dead letters, and why it was left out. Plain dicts, for `hgsync explain`."""

from __future__ import annotations

from typing import Any

from sqlmodel import or_, select

from mappings.bindings import Entity
from store.db import Store, session_scope
from store.models import Binding, DeadLetter, LeftOut, RunItem, SyncRun

# Dead-letter entities and left-out entities that belong to each explained kind.
LETTER_ENTITIES = {
    Entity.ORDER: (Entity.ORDER, Entity.ORDER_DELETION),
    Entity.PRODUCT: (),
    Entity.CUSTOMER: (),
}


def _row(model: Any, *fields: str) -> dict[str, Any]:
    return {name: getattr(model, name) for name in fields}


def record_story(
    tenant: str, entity: Entity, key: str, *, store: Store | None = None
) -> dict[str, Any]:
    key = str(key)
    with session_scope(store) as session:
        bindings = list(
            session.exec(
                select(Binding).where(
                    Binding.tenant == tenant,
                    Binding.entity == entity,
                    or_(Binding.handy_key == key, Binding.gestionix_key == key),
                )
            )
        )
        keys = (
            {key}
            | {b.handy_key for b in bindings}
            | {b.gestionix_key for b in bindings if b.gestionix_key}
        )
        items = _run_items(session, tenant, entity, keys)
        letters = _dead_letters(session, tenant, entity, keys)
        left = session.exec(
            select(LeftOut).where(
                LeftOut.tenant == tenant, LeftOut.entity == entity, LeftOut.key.in_(keys)
            )
        ).first()
        return {
            "tenant": tenant,
            "entity": entity,
            "key": key,
            "bindings": [
                _row(b, "handy_key", "gestionix_key", "status", "data", "synced_at")
                for b in bindings
            ],
            "items": [_item_row(item, run) for item, run in items],
            "dead_letters": [
                _row(
                    letter,
                    "entity",
                    "reason",
                    "retry",
                    "attempts",
                    "first_seen",
                    "last_seen",
                    "resolved_at",
                )
                for letter in letters
            ],
            "left_out": _row(
                left, "reason_code", "reason", "gestionix_id", "since", "since_run_id", "ended_at"
            )
            if left
            else None,
        }


def _item_row(item: RunItem, run: SyncRun) -> dict[str, Any]:
    return {
        **_row(item, "action", "reason", "details"),
        "run_id": run.id,
        "flow": run.flow,
        "flow_run_id": run.flow_run_id,
        "started_at": run.started_at,
        "dry_run": run.dry_run,
    }


def _run_items(session, tenant: str, entity: Entity, keys: set[str]) -> list:
    """(RunItem, SyncRun) pairs of these keys, oldest run first."""
    return session.exec(
        select(RunItem, SyncRun)
        .join(SyncRun, RunItem.run_id == SyncRun.id)
        .where(
            RunItem.tenant == tenant,
            SyncRun.tenant == tenant,
            RunItem.entity == entity,
            RunItem.key.in_(keys),
        )
        .order_by(SyncRun.started_at, RunItem.id)
    ).all()


def _dead_letters(session, tenant: str, entity: Entity, keys: set[str]) -> list[DeadLetter]:
    """The dead letters of these keys (of the letter entities that belong to `entity`)."""
    if not LETTER_ENTITIES.get(entity):
        return []
    return list(
        session.exec(
            select(DeadLetter)
            .where(
                DeadLetter.tenant == tenant,
                DeadLetter.entity.in_(LETTER_ENTITIES.get(entity, ())),
                DeadLetter.key.in_(keys),
            )
            .order_by(DeadLetter.first_seen)
        )
    )
