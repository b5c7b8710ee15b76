"""Forget a tenant: every row it owns, in every table (`hgsync tenant remove --purge-store`).
Without that flag a removed tenant keeps its history (RULES A7)."""

from __future__ import annotations

from sqlmodel import delete

from store.db import Store, session_scope
from store.models import Binding, Cursor, DeadLetter, Lease, RunItem, SyncRun

# Children before parents (run items reference runs).
TENANT_TABLES = (RunItem, SyncRun, DeadLetter, Binding, Cursor, Lease)


def purge_tenant(tenant: str, *, store: Store | None = None) -> dict[str, int]:
    """Delete the tenant's rows; returns how many per table."""
    removed = {}
    with session_scope(store) as session:
        for table in TENANT_TABLES:
            result = session.exec(delete(table).where(table.tenant == tenant))
            removed[table.__tablename__] = result.rowcount
    return removed
