"""Run audit (X1): counts and explained records, kept in the store and shown as Prefect artifacts.

Every flow opens one `RunAudit`, tells it what happened, and closes it. The table artifact key is
stable per tenant and flow (`<slug>-<flow>`), so the Artifacts page keeps the history.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.context import get_run_context

from store import runs
from tasks.fencing import lease_ttl, when_store_answers

log = logging.getLogger("hgsync.audit")

COUNT_NAMES = ("read", "created", "updated", "disabled", "enabled", "deleted", "skipped", "failed")
ARTIFACT_ROW_LIMIT = 500  # the UI table stays readable; the store keeps every row
# Problems first, so the one-line summary names them ("12 created, 1 failed — order 77: ...").
PROBLEM_ORDER = {"failed": 0, "dead-lettered": 0, "waiting": 1, "skipped": 2, "unmatched": 3, "ambiguous": 4}


def _flow_run_id() -> str | None:
    try:
        context = get_run_context()
    except Exception:  # noqa: BLE001 - outside a run (CLI, tests): no Prefect id to keep
        return None
    flow_run = getattr(context, "flow_run", None)
    return str(flow_run.id) if flow_run else None


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

    def start(self) -> RunAudit:
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
        self.items.append({"entity": entity, "key": str(key), "action": action, "reason": reason, **extra})

    def skip(self, entity: str, key: object, reason: str) -> None:
        self.count("skipped")
        self.item(entity, key, "skipped", reason)

    def fail(self, entity: str, key: object, reason: str) -> None:
        self.count("failed")
        self.item(entity, key, "failed", reason)

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
        reasons = [f"{i['entity']} {i['key']}: {i['reason']}" for i in self.items if i["reason"]][:3]
        if shown:
            text = ", ".join(shown) + (" — " + "; ".join(reasons) if reasons else "")
            text += (". " + " ".join(self.notes)) if self.notes else ""
        else:
            text = " ".join(self.notes) if self.notes else "nothing to do"
        return ("[dry run] " if self.dry_run else "") + text

    def status(self) -> str:
        return "completed_with_issues" if self.counts.get("failed") else "completed"

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
            log.error("%s %s: audit row not stored (store unreachable): %s", self.tenant, self.flow, summary)
        await self._publish(status, summary)
        log.info("%s %s: %s", self.tenant, self.flow, summary)
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

    async def _publish(self, status: str, summary: str) -> None:
        if _flow_run_id() is None:
            return
        rows = [
            {k: ("" if v is None else str(v)) for k, v in item.items()} for item in self.items[:ARTIFACT_ROW_LIMIT]
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
        more = f"\n\n{len(self.items) - ARTIFACT_ROW_LIMIT} more rows in the store (`hgsync report`)." if len(
            self.items
        ) > ARTIFACT_ROW_LIMIT else ""
        await acreate_markdown_artifact(
            key=f"{self.tenant}-{self.flow}-summary",
            markdown=(
                f"### {self.tenant} · {self.flow} · {status}\n\n{summary}\n\n"
                f"- window: {window}\n- {counts}\n- store run id: {self.run_id}{more}"
            ),
            description=f"{self.tenant} {self.flow} summary",
        )
