"""Issue 21 (item 7): no store transaction runs on the event loop of a flow. The order, deletion
and reconcile paths run 16 orders at once on one loop; a session opened on that loop's thread
stalls all of them (and both API pacers) for the length of a commit, worse on PostgreSQL. Store
calls from async code go through tasks.store_calls.store_call; this guard sees any that does not.
"""

from __future__ import annotations

import asyncio
import traceback
from pathlib import Path

import pytest

import store.db
from flows.deletions import deletion_sync
from flows.orders import order_push
from flows.reconcile import reconcile
from mappings.bindings import BindingStatus, Entity
from mappings.tenant import TenantConfig
from store import binder, dead_letters, runs
from tests.kit.sandbox_orders import (
    activate,
    company,
    customer,
    delete,
    document_of,
    handy_product,
    local_day,
    order,
    seed_catalog,
)

ROOT = Path(__file__).resolve().parents[2]


class OnLoopSessions:
    """Replaces store.db.Session (the one factory of store sessions, store.db.session_scope):
    every session that flows/ or tasks/ code opens on a thread running an event loop is
    recorded with that code (a test's own setup calls are not the flows' business). Recorded,
    not raised: a flow's own error handling must not hide it."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.opened = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> OnLoopSessions:
        real = store.db.Session
        guard = self

        class GuardedSession(real):  # type: ignore[misc, valid-type]
            def __init__(self, *args, **kwargs) -> None:
                guard.opened += 1
                caller = _our_caller()
                if ("flows/" in caller or "tasks/" in caller) and _on_a_loop():
                    guard.seen.append(caller)
                super().__init__(*args, **kwargs)

        monkeypatch.setattr(store.db, "Session", GuardedSession)
        return self


def _on_a_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _our_caller() -> str:
    ours = [
        frame
        for frame in traceback.extract_stack()[:-2]
        if frame.filename.startswith(str(ROOT)) and "/tests/" not in frame.filename
    ]
    return " <- ".join(
        f"{Path(frame.filename).relative_to(ROOT)}:{frame.lineno} {frame.name}"
        for frame in reversed(ours[-5:])
    )


@pytest.fixture
def on_loop_sessions(monkeypatch) -> OnLoopSessions:
    return OnLoopSessions().install(monkeypatch)


async def test_the_guard_sees_a_store_call_made_on_the_event_loop(on_loop_sessions):
    """The guard can fail: a task's store read made straight from a coroutine is recorded, the
    same read through store_call is not."""
    from tasks.replay import _outcomes
    from tasks.store_calls import store_call

    tenant = TenantConfig(
        slug="acme",
        gestionix_branch="Matriz",
        gestionix_company="1",
        handy_credentials="acme-handy",
        gestionix_credentials="acme-gestionix",
    )
    selected = [{"entity": Entity.ORDER, "key": "1", "reason": "r"}]
    await store_call(_outcomes, tenant, selected)
    assert on_loop_sessions.seen == [] and on_loop_sessions.opened == 1
    _outcomes(tenant, selected)  # on the loop: blocks it
    assert len(on_loop_sessions.seen) == 1 and "tasks/replay.py" in on_loop_sessions.seen[0]


async def test_o8_s3_order_deletion_and_reconcile_runs_make_no_store_call_on_the_event_loop(
    sandbox, tenant, on_loop_sessions
):
    """order_push (pushed, dead-lettered), deletion_sync (deleted, tombstoned), then reconcile
    (a lost document looked for, a deleted order's document deleted, recorded reasons read):
    every store session of those runs is opened off the event loop."""
    sb = sandbox
    codes = seed_catalog(sb, 2)
    customer(sb, "C-1", "Depósito El Sol")
    handy_product(sb, "REF-9", 20.0)  # not in Gestionix: its order is dead-lettered
    pushed_then_deleted = order(sb, "C-1", [(codes[0], 1)])
    lost = order(sb, "C-1", [(codes[0], 2)])
    deleted_unseen = order(sb, "C-1", [(codes[1], 3)])
    blocked = order(sb, "C-1", [("REF-9", 1)])
    activate(tenant.slug)
    await order_push(tenant)
    never_pushed = order(sb, "C-1", [(codes[1], 1)])
    delete(sb, pushed_then_deleted["id"])
    delete(sb, never_pushed["id"])
    await deletion_sync(tenant)
    gone = document_of(sb, lost["id"])
    sb.gestionix.delete_document(company(sb), "sales_order", gone["sales_order_id"], force=True)
    delete(sb, deleted_unseen["id"])  # deletion_sync does not run again: reconcile repairs it

    await reconcile(tenant, day=local_day(tenant, lost), return_state=True)

    assert on_loop_sessions.seen == [], "store sessions opened on the event loop:\n" + "\n".join(
        sorted(set(on_loop_sessions.seen))
    )
    # the paths above really ran (the guard watched something)
    status = {
        key: binder.get(tenant.slug, Entity.ORDER, str(placed["id"])).status
        for key, placed in {
            "deleted": pushed_then_deleted,
            "tombstoned": never_pushed,
            "repaired": deleted_unseen,
        }.items()
    }
    assert status == {
        "deleted": BindingStatus.DELETED,
        "tombstoned": BindingStatus.TOMBSTONED,
        "repaired": BindingStatus.DELETED,
    }
    assert dead_letters.get(tenant.slug, Entity.ORDER, str(blocked["id"])) is not None
    flows = {run.flow for run in runs.recent(tenant.slug)}
    assert flows == {"orders", "deletions", "reconcile"}
    assert on_loop_sessions.opened > 20
