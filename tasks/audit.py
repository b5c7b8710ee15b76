"""Run audit (X1): counts and explained records, kept in the store and shown as Prefect artifacts.

Every flow opens one `RunAudit`, tells it what happened, and runs its body through `audited`,
which closes the run however it ends (completed, with issues, failed, skipped, cancelled), so no
run row stays `running`. The table artifact key is stable per tenant and flow (`<slug>-<flow>`),
so the Artifacts page keeps the history.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefect import get_run_logger
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.context import get_run_context
from prefect.exceptions import MissingContextError
from prefect.states import Cancelled, Completed, Failed, State

from store import dead_letters, runs
from tasks import alerts
from tasks.fencing import lease_ttl, when_store_answers
from tasks.store_calls import store_call

log = logging.getLogger("hgsync.audit")

COUNT_NAMES = ("read", "created", "updated", "disabled", "enabled", "deleted", "skipped", "failed")
ARTIFACT_ROW_LIMIT = 500  # the UI table stays readable; the store keeps every row
# Problems first, so the one-line summary names them ("12 created, 1 failed — order 77: ...").
PROBLEM_ORDER = {
    "failed": 0,
    "dead-lettered": 0,
    "waiting": 1,
    "skipped": 2,
    "unmatched": 3,
    "ambiguous": 4,
}
# X4: the state a run ends in when it left a record failed or held. A Completed state with its own
# name: the runs list shows it apart from "Completed", nothing downstream treats it as a crash,
# and Prefect emits `prefect.flow-run.Completed with issues` for automations.
ISSUES_STATE = "Completed with issues"
HELD_ACTIONS = ("dead-lettered", "waiting")  # kept until it goes through or an operator replays it
# Repairs of what should never have happened (O8: a second document for one order): healed, yet
# the run does not look clean.
REPAIR_ACTIONS = {"deleted duplicate": "deleted", "would delete duplicate": "to delete"}
# Flows whose own writes open and close order dead letters (replay only calls them as subflows).
WATCHES_HELD = ("orders", "deletions", "reconcile")


class RunSkipped(Exception):
    """The run did nothing for a reason outside it (the tenant's lease stayed taken): its row ends
    `skipped`, the flow run Cancelled with this message."""


class RunRefused(Exception):
    """The run stopped on purpose before its first write (a mass-disable guard): its row ends
    `failed`, the flow run Failed with this message (not raised)."""


class RunFailedExplained(Exception):
    """A failure the flow already put in its audit (audit.fail): the row ends `failed` without a
    second "run failed" note, and the exception is raised."""


async def audited(audit: RunAudit, body: Awaitable[State | str | None]) -> State | str:
    """Run one flow's body and close its audit row however it ends: what the body returns when
    it finished the audit itself (its own final state, or `audit.switched_off`'s summary), else
    `audit.conclude()` (completed, or completed with issues); RunSkipped -> `skipped` +
    Cancelled; RunRefused -> `failed` + Failed; any other exception -> `failed` with a "run
    failed" note, re-raised. The body starts the row itself (after its window is known); a run
    that ends before that still gets one."""
    try:
        final = await body
    except RunSkipped as exc:
        audit.note(str(exc))
        await audit.finish("skipped")
        return Cancelled(message=str(exc))
    except RunRefused as exc:
        await audit.finish("failed")
        return Failed(message=str(exc))
    except BaseException as exc:
        if not isinstance(exc, RunFailedExplained):
            audit.note(f"run failed: {type(exc).__name__}: {exc}")
        await audit.finish("failed")
        raise
    return final if final is not None else await audit.conclude()


def _flow_run_id() -> str | None:
    try:
        context = get_run_context()
    except Exception:  # noqa: BLE001 - outside a run (CLI, tests): no Prefect id to keep
        return None
    flow_run = getattr(context, "flow_run", None)
    return str(flow_run.id) if flow_run else None


def _run_logger() -> logging.Logger | logging.LoggerAdapter:
    """The run logger inside a flow run (Logs tab, worker output, `--watch`), else ours."""
    try:
        return get_run_logger()
    except MissingContextError:
        return log


def _open_letters(tenant: str) -> dict[tuple[str, str], str]:
    return {
        (letter.entity, letter.key): letter.reason for letter in dead_letters.open_letters(tenant)
    }


@dataclass
class RunAudit:
    tenant: str
    flow: str  # short flow name: catalog, customers, orders, deletions, activate, replay, reconcile
    dry_run: bool = False
    window_start: datetime | None = None
    window_end: datetime | None = None
    counts: Counter = field(default_factory=Counter)
    items: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    run_id: int | None = None
    _items_stored: bool = field(default=False, repr=False)
    held_before: dict[tuple[str, str], str] | None = None

    def start(self) -> RunAudit:
        if self.flow in WATCHES_HELD and not self.dry_run:
            self.held_before = _open_letters(self.tenant)
        self.run_id = runs.start(
            self.tenant,
            self.flow,
            flow_run_id=_flow_run_id(),
            window_start=self.window_start,
            window_end=self.window_end,
            dry_run=self.dry_run,
        )
        return self

    def count(self, name: str, amount: int = 1) -> None:
        self.counts[name] += amount

    def item(self, entity: str, key: object, action: str, reason: str = "", **extra: Any) -> None:
        """Explain one record (skipped, failed, dead-lettered, pushed with a folio...)."""
        self.items.append(
            {"entity": entity, "key": str(key), "action": action, "reason": reason, **extra}
        )

    def skip(self, entity: str, key: object, reason: str) -> None:
        self.count("skipped")
        self.item(entity, key, "skipped", reason)

    def fail(self, entity: str, key: object, reason: str) -> None:
        self.count("failed")
        self.item(entity, key, "failed", reason)

    async def switched_off(self, note: str) -> str:
        """A switch of the tenant says this flow has nothing to do: the row ends `skipped`."""
        self.note(note)
        return await self.finish("skipped")

    def note(self, text: str) -> None:
        """A run-level remark shown in the summary (e.g. 'sync_customers is off: nothing to do')."""
        self.notes.append(text)

    def _problems_first(self) -> None:
        self.items.sort(key=lambda item: PROBLEM_ORDER.get(item.get("action", ""), 9))
        standard = [name for name in COUNT_NAMES if name in self.counts]
        ordered = standard + [name for name in self.counts if name not in standard]
        self.counts = Counter({name: self.counts[name] for name in ordered})

    def summary(self) -> str:
        self._problems_first()
        shown = [f"{value} {name}" for name, value in self.counts.items() if value]
        reasons = [f"{i['entity']} {i['key']}: {i['reason']}" for i in self.items if i["reason"]][
            :3
        ]
        if shown:
            text = ", ".join(shown) + (" — " + "; ".join(reasons) if reasons else "")
            text += (". " + " ".join(self.notes)) if self.notes else ""
        else:
            text = " ".join(self.notes) if self.notes else "nothing to do"
        return ("[dry run] " if self.dry_run else "") + text

    def issues(self) -> str:
        """'3 orders held, 1 duplicate document deleted, 1 failed' — the records this run left
        failed or held, and the duplicates it healed; '' when none (X4)."""
        held = Counter(i["entity"] for i in self.items if i.get("action") in HELD_ACTIONS)
        failed = self.counts.get("failed", 0) - sum(
            1 for i in self.items if i.get("action") == "dead-lettered"
        )
        parts = [f"{n} {entity}{'s' if n != 1 else ''} held" for entity, n in held.items()]
        repaired = Counter(i["action"] for i in self.items if i.get("action") in REPAIR_ACTIONS)
        parts += [
            f"{n} duplicate document{'s' if n != 1 else ''} {REPAIR_ACTIONS[action]}"
            for action, n in repaired.items()
        ]
        if failed > 0:
            parts.append(f"{failed} failed")
        return ", ".join(parts)

    def status(self) -> str:
        return "completed_with_issues" if self.issues() else "completed"

    async def conclude(self, status: str | None = None) -> State:
        """Finish the run and return its final Prefect state: "Completed with issues" with the
        issues first in the message when it left a record failed or held, else Completed with the
        summary as message. The summary is the state's result (a subflow call returns it)."""
        summary = await self.finish(status)
        headline = self.issues()
        if not headline:
            return Completed(message=summary, data=summary)
        if not self.dry_run:
            alerts.run_issues(self.tenant, self.flow, headline, summary)
        return Completed(name=ISSUES_STATE, message=f"{headline} — {summary}"[:4000], data=summary)

    async def finish(self, status: str | None = None) -> str:
        """Store the run and its items, publish the artifacts, return the one-line summary.
        A store that does not answer (the very reason a run may be failing) is retried for up
        to a lease TTL, so the row does not stay `running`; past that the row is closed as
        `abandoned` by the next run that takes the tenant's lease."""
        status = status or self.status()
        summary = self.summary()
        stored = await when_store_answers(
            lambda: self._store(status, summary),
            until=time.monotonic() + lease_ttl().total_seconds(),
        )
        if stored is None:
            log.error(
                "%s %s: audit row not stored (store unreachable): %s",
                self.tenant,
                self.flow,
                summary,
            )
        await self._publish(status, summary)
        if stored is not None and self.held_before is not None:  # read only when the store answers
            self._announce_held(await store_call(_open_letters, self.tenant))
        _run_logger().info("%s %s (%s): %s", self.tenant, self.flow, status, summary)
        return summary

    def _store(self, status: str, summary: str) -> int:
        if self.run_id is None:
            self.start()
        if not self._items_stored:
            runs.add_items(self.tenant, self.run_id, self.items)
            self._items_stored = True
        runs.finish(
            self.tenant,
            self.run_id,
            counts=dict(self.counts),
            status=status,
            summary=summary,
            window_end=self.window_end,
        )
        return self.run_id

    def _announce_held(self, now: dict[tuple[str, str], str]) -> None:
        """X4: one event per order held for the first time and per held order that went through
        (`now`: the open dead letters after the run)."""
        if self.held_before is None:
            return
        for entity, key in sorted(now.keys() - self.held_before.keys()):
            alerts.order_held(self.tenant, entity, key, now[(entity, key)])
        for entity, key in sorted(self.held_before.keys() - now.keys()):
            alerts.order_resolved(self.tenant, entity, key)
        self.held_before = now

    async def _publish(self, status: str, summary: str) -> None:
        if _flow_run_id() is None:
            return
        rows = [
            {k: ("" if v is None else str(v)) for k, v in item.items()}
            for item in self.items[:ARTIFACT_ROW_LIMIT]
        ] or [{"entity": "-", "key": "-", "action": "-", "reason": "no record needed explaining"}]
        window = (
            f"{self.window_start:%Y-%m-%d %H:%M:%S} → {self.window_end:%Y-%m-%d %H:%M:%S} UTC"
            if self.window_start and self.window_end
            else "-"
        )
        counts = " | ".join(f"{name}: {self.counts.get(name, 0)}" for name in COUNT_NAMES)
        await acreate_table_artifact(
            key=f"{self.tenant}-{self.flow}",
            table=rows,
            description=f"{self.tenant} {self.flow} ({status}): {summary}"[:500],
        )
        more = (
            f"\n\n{len(self.items) - ARTIFACT_ROW_LIMIT} more rows in the store (`hgsync report`)."
            if len(self.items) > ARTIFACT_ROW_LIMIT
            else ""
        )
        await acreate_markdown_artifact(
            key=f"{self.tenant}-{self.flow}-summary",
            markdown=(
                f"### {self.tenant} · {self.flow} · {status}\n\n{summary}\n\n"
                f"- window: {window}\n- {counts}\n- store run id: {self.run_id}{more}"
            ),
            description=f"{self.tenant} {self.flow} summary",
        )
