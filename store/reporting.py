"""The operator's report (X1): recent runs with counts and status, and the open dead letters.

The JSON shape is stable (documented in the README); add keys, never rename them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from store import dead_letters, leases, runs

REPORT_VERSION = 1
RUN_FIELDS = [
    "id",
    "flow",
    "status",
    "started_at",
    "finished_at",
    "window_start",
    "window_end",
    "dry_run",
    "counts",
    "summary",
    "flow_run_id",
]
DEAD_LETTER_FIELDS = ["entity", "key", "reason", "attempts", "retry", "first_seen", "last_seen"]


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return value


def build_report(
    tenant: str, *, since: datetime | None = None, flow: str | None = None, limit: int = 50
) -> dict[str, Any]:
    run_rows = runs.recent(tenant, since=since, flow=flow, limit=limit)
    letters = dead_letters.open_letters(tenant)
    shown = [{name: _iso(getattr(run, name)) for name in RUN_FIELDS} for run in run_rows]
    _show_abandoned(tenant, shown)
    return {
        "version": REPORT_VERSION,
        "tenant": tenant,
        "generated_at": _iso(datetime.now(UTC)),
        "since": _iso(since),
        "flow": flow,
        "runs": shown,
        "dead_letters": [
            {name: _iso(getattr(letter, name)) for name in DEAD_LETTER_FIELDS} for letter in letters
        ],
    }


def _show_abandoned(tenant: str, shown: list[dict[str, Any]]) -> None:
    """A row still `running` under a lease nobody holds any more (its holder died, or could not
    reach the store to end it, and no run has taken the lease since) is shown as `abandoned`."""
    stale = [
        run
        for run in shown
        if run["status"] == "running"
        and not run["dry_run"]
        and run["flow"] in leases.ORDERS_LEASE_FLOWS
    ]
    if stale and not leases.live(tenant, leases.ORDERS_LEASE):
        for run in stale:
            run["status"], run["summary"] = "abandoned", runs.ABANDONED_NOTE


def report_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per run and per dead letter (CSV): `section` says which."""
    rows = []
    for run in report["runs"]:
        counts = run["counts"] or {}
        rows.append(
            {
                "section": "run",
                "tenant": report["tenant"],
                "id": run["id"],
                "flow": run["flow"],
                "status": run["status"],
                "started_at": run["started_at"],
                "finished_at": run["finished_at"],
                "read": counts.get("read", 0),
                "created": counts.get("created", 0),
                "updated": counts.get("updated", 0),
                "disabled": counts.get("disabled", 0),
                "deleted": counts.get("deleted", 0),
                "skipped": counts.get("skipped", 0),
                "failed": counts.get("failed", 0),
                "summary": run["summary"],
                "entity": "",
                "key": "",
                "reason": "",
                "attempts": "",
                "first_seen": "",
                "last_seen": "",
            }
        )
    for letter in report["dead_letters"]:
        rows.append(
            {
                "section": "dead_letter",
                "tenant": report["tenant"],
                "id": "",
                "flow": "",
                "status": "open",
                "started_at": "",
                "finished_at": "",
                "read": "",
                "created": "",
                "updated": "",
                "disabled": "",
                "deleted": "",
                "skipped": "",
                "failed": "",
                "summary": "",
                "entity": letter["entity"],
                "key": letter["key"],
                "reason": letter["reason"],
                "attempts": letter["attempts"],
                "first_seen": letter["first_seen"],
                "last_seen": letter["last_seen"],
            }
        )
    return rows
