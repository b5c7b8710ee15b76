"""hgsync report / prune (X1): runs with counts and open dead letters, as table, JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from cli import app
from store import dead_letters, runs


def _seed_store():
    run_id = runs.start("acme", "orders")
    runs.add_items(
        "acme",
        run_id,
        [
            {
                "entity": "order",
                "key": "77",
                "action": "failed",
                "reason": "product REF-9 not in Gestionix branch Matriz",
            }
        ],
    )
    runs.finish(
        "acme",
        run_id,
        counts={"read": 13, "created": 12, "failed": 1},
        status="completed_with_issues",
        summary="12 created, 1 failed — order 77: product REF-9 not in Gestionix branch Matriz",
    )
    dead_letters.put("acme", "order", "77", "product REF-9 not in Gestionix branch Matriz")
    other = runs.start("zeta", "orders")
    runs.finish("zeta", other, counts={"read": 1}, status="completed")
    return run_id


def test_x1_report_json_is_stable_and_tenant_scoped():
    """X1: the report answers 'did every order reach Gestionix, and if not why' for one tenant."""
    run_id = _seed_store()
    result = CliRunner().invoke(app, ["report", "--tenant", "acme", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {
        "version",
        "tenant",
        "generated_at",
        "since",
        "flow",
        "runs",
        "dead_letters",
    }
    assert data["version"] == 1 and data["tenant"] == "acme"
    [run] = data["runs"]
    assert run["id"] == run_id and run["counts"] == {"read": 13, "created": 12, "failed": 1}
    assert run["status"] == "completed_with_issues" and run["started_at"].endswith("Z")
    [letter] = data["dead_letters"]
    assert letter["key"] == "77" and "REF-9" in letter["reason"] and letter["attempts"] == 1


def test_report_csv_and_table_and_flow_filter():
    _seed_store()
    result = CliRunner().invoke(app, ["report", "--tenant", "acme", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["section"] for r in rows] == ["run", "dead_letter"]
    assert rows[0]["created"] == "12" and rows[1]["key"] == "77"
    table = CliRunner().invoke(app, ["report", "--tenant", "acme"])
    assert table.exit_code == 0 and "REF-9" in table.output
    filtered = CliRunner().invoke(
        app, ["report", "--tenant", "acme", "--flow", "catalog", "--format", "json"]
    )
    assert json.loads(filtered.output)["runs"] == []
    bad = CliRunner().invoke(app, ["report", "--tenant", "acme", "--format", "xml"])
    assert bad.exit_code != 0


def test_prune_counts_without_yes_and_deletes_with_it():
    _seed_store()
    dry = CliRunner().invoke(app, ["prune", "--tenant", "acme", "--older-than-days", "1"])
    assert "0 runs" in dry.output
    old = runs.start("acme", "catalog")
    runs.finish("acme", old, counts={}, status="completed")
    from store.db import session_scope
    from store.models import SyncRun

    with session_scope() as session:
        row = session.get(SyncRun, old)
        row.started_at = datetime.now(UTC) - timedelta(days=500)
        session.add(row)
    assert "1 runs" in CliRunner().invoke(app, ["prune", "--tenant", "acme"]).output
    done = CliRunner().invoke(app, ["prune", "--tenant", "acme", "--yes"])
    assert "deleted 1 runs" in done.output
    assert len(runs.recent("acme")) == 1 and len(runs.recent("zeta")) == 1
