"""Records left out of Handy with their reason (X5), kept as changes only."""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import select

from mappings.bindings import Entity
from store.db import Store, session_scope
from store.models import LeftOut, utcnow


def record(
    tenant: str,
    entity: Entity,
    current: Mapping[str, tuple[str, str, str | None]],
    run_id: int | None,
    *,
    store: Store | None = None,
) -> dict[str, int]:
    """Make the store say what `current` says ({key: (reason_code, reason, gestionix_id)}): new or
    changed rows start at this run, rows no longer left out end at it, the rest are not written.
    Returns how many rows started and ended."""
    started = ended = 0
    now = utcnow()
    with session_scope(store) as session:
        rows = {
            row.key: row
            for row in session.exec(
                select(LeftOut).where(LeftOut.tenant == tenant, LeftOut.entity == entity)
            )
        }
        for key, (code, reason, gestionix_id) in current.items():
            row = rows.get(key)
            if (
                row is not None
                and row.ended_at is None
                and row.reason_code == code
                and row.reason == reason
            ):
                continue
            row = row or LeftOut(tenant=tenant, entity=entity, key=key, reason_code=code)
            row.reason_code, row.reason, row.gestionix_id = code, reason[:2000], gestionix_id
            row.since, row.since_run_id, row.ended_at, row.ended_run_id = now, run_id, None, None
            session.add(row)
            started += 1
        for key, row in rows.items():
            if row.ended_at is None and key not in current:
                row.ended_at, row.ended_run_id = now, run_id
                session.add(row)
                ended += 1
    return {"started": started, "ended": ended}


def get(tenant: str, entity: Entity, key: str, *, store: Store | None = None) -> LeftOut | None:
    with session_scope(store) as session:
        return session.exec(
            select(LeftOut).where(
                LeftOut.tenant == tenant, LeftOut.entity == entity, LeftOut.key == str(key)
            )
        ).first()
