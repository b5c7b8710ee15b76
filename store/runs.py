"""Audit records of flow runs (X1): one SyncRun per run, one RunItem per explained record."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, update
from sqlmodel import select

from store.db import Store, session_scope
from store.models import RunItem, SyncRun, utcnow

RUN_STATUSES = ("running", "completed", "completed_with_issues", "failed", "skipped", "abandoned")
ABANDONED_NOTE = (
    "abandoned: the run stopped without finishing (process killed, or the store unreachable "
    "when it ended); its lease expired and the next run took over"
)


def start(
    tenant: str,
    flow: str,
    *,
    flow_run_id: str | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    dry_run: bool = False,
    store: Store | None = None,
) -> int:
    with session_scope(store) as session:
        run = SyncRun(
            tenant=tenant,
            flow=flow,
            flow_run_id=flow_run_id,
            window_start=window_start,
            window_end=window_end,
            dry_run=dry_run,
        )
        session.add(run)
        session.flush()
        return run.id  # type: ignore[return-value]


ITEM_FIELDS = ("entity", "key", "action", "reason")


ITEMS_PER_INSERT = 1000  # one executemany each: a dry run of a big catalog explains ~50 000 records


def add_items(
    tenant: str, run_id: int, items: Iterable[Mapping[str, Any]], *, store: Store | None = None
) -> int:
    """Record explained records: each item has entity, key, action and reason; any other keys
    (a Gestionix folio, the document, a note) are kept as text in `details`. Plain inserts in
    batches, no ORM objects (memory and time at tens of thousands of items)."""
    added = 0
    batch: list[dict[str, Any]] = []
    with session_scope(store) as session:
        for item in items:
            batch.append(
                {
                    "run_id": run_id,
                    "tenant": tenant,
                    "entity": str(item["entity"])[:32],
                    "key": str(item["key"])[:255],
                    "action": str(item["action"])[:32],
                    "reason": str(item.get("reason") or "")[:2000],
                    "details": {
                        k: str(v)[:500]
                        for k, v in item.items()
                        if k not in ITEM_FIELDS and v not in (None, "")
                    },
                }
            )
            if len(batch) >= ITEMS_PER_INSERT:
                session.execute(insert(RunItem), batch)
                added, batch = added + len(batch), []
        if batch:
            session.execute(insert(RunItem), batch)
            added += len(batch)
    return added


def finish(
    tenant: str,
    run_id: int,
    *,
    counts: Mapping[str, int],
    status: str,
    summary: str = "",
    window_end: datetime | None = None,
    store: Store | None = None,
) -> SyncRun:
    if status not in RUN_STATUSES:
        raise ValueError(f"run {run_id}: unknown status {status!r}")
    with session_scope(store) as session:
        run = session.exec(
            select(SyncRun).where(SyncRun.tenant == tenant, SyncRun.id == run_id)
        ).one()
        run.counts = {key: int(value) for key, value in counts.items()}
        run.status = status
        run.summary = summary[:4000]
        run.finished_at = utcnow()
        if window_end is not None:
            run.window_end = window_end
        session.add(run)
        return run


def abandon_running(tenant: str, flows: Iterable[str], *, store: Store | None = None) -> int:
    """Close the tenant's non-dry-run rows of `flows` still `running`: called by the new holder
    of those flows' lease, so their runs are certainly over. Returns rows closed."""
    with session_scope(store) as session:
        result = session.exec(
            update(SyncRun)
            .where(
                SyncRun.tenant == tenant,
                SyncRun.flow.in_(list(flows)),
                SyncRun.status == "running",
                SyncRun.dry_run.is_(False),
            )
            .values(status="abandoned", finished_at=utcnow(), summary=ABANDONED_NOTE)
        )
        return result.rowcount


def recent(
    tenant: str,
    *,
    since: datetime | None = None,
    flow: str | None = None,
    limit: int = 50,
    store: Store | None = None,
) -> list[SyncRun]:
    with session_scope(store) as session:
        query = select(SyncRun).where(SyncRun.tenant == tenant)
        if since is not None:
            query = query.where(SyncRun.started_at >= since)
        if flow is not None:
            query = query.where(SyncRun.flow == flow)
        return list(
            session.exec(query.order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(limit))
        )


def items(tenant: str, run_id: int, *, store: Store | None = None) -> list[RunItem]:
    with session_scope(store) as session:
        return list(
            session.exec(
                select(RunItem)
                .where(RunItem.tenant == tenant, RunItem.run_id == run_id)
                .order_by(RunItem.id)
            )
        )


def prune(tenant: str, older_than: datetime, *, store: Store | None = None) -> int:
    """Delete the tenant's runs (and their items) started before `older_than`; returns runs removed."""
    with session_scope(store) as session:
        ids = list(
            session.exec(
                select(SyncRun.id).where(SyncRun.tenant == tenant, SyncRun.started_at < older_than)
            )
        )
        if not ids:
            return 0
        session.exec(delete(RunItem).where(RunItem.tenant == tenant, RunItem.run_id.in_(ids)))
        session.exec(delete(SyncRun).where(SyncRun.tenant == tenant, SyncRun.id.in_(ids)))
        return len(ids)
