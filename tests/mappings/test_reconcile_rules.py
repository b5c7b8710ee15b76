"""Pure reconciliation of one day (X1): ok, explained, missing, extra, total_mismatch."""

from __future__ import annotations

from datetime import UTC, date, datetime

from mappings.reconcile import document_in_day, problems, reconcile_day
from mappings.windows import day_bounds


def _order(order_id, total, *, returns=False):
    return {"id": order_id, "totalSales": total, "items": [{"isReturn": returns}]}


def _doc(order_id, total, lines=1, doc_id=1):
    return {"id": doc_id, "reference": f"HANDY-{order_id}", "total": total, "items": [{}] * lines}


def test_x1_outcomes_of_a_day():
    live = [
        _order(1, 100.0),
        _order(2, 50.0),
        _order(3, 10.0),
        _order(4, 0.0, returns=True),
        _order(5, 20.0),
    ]
    docs = [
        ("sales_order", _doc(1, 100.01)),
        ("sale", _doc(2, 50.5, doc_id=2)),
        ("sales_order", _doc(9, 5.0, doc_id=3)),
        ("sales_order", _doc(8, 7.0, doc_id=4)),
    ]
    rows = reconcile_day(
        live,
        docs,
        reasons={"5": "push dead-lettered: product X not in Gestionix"},
        deleted_ids=["9"],
        document_in_day={"9": True, "8": False},
    )
    outcome = {row.order_id: row.outcome for row in rows}
    assert outcome == {
        "1": "ok",
        "2": "total_mismatch",
        "3": "missing",
        "4": "explained",
        "5": "explained",
        "9": "extra",
    }
    assert "8" not in outcome  # another day's document is that day's business
    assert {row.order_id for row in problems(rows)} == {"2", "3", "9"}
    extra = next(row for row in rows if row.order_id == "9")
    assert "deleted" in extra.reason


def test_x1_two_documents_for_one_order_is_extra_and_bad_totals_mismatch():
    rows = reconcile_day(
        [_order(1, "abc")],
        [("sales_order", _doc(1, 1.0)), ("sale", _doc(1, 1.0, doc_id=2))],
        reasons={},
    )
    assert [row.outcome for row in rows] == ["extra", "total_mismatch"]


def test_x1_tolerance_grows_with_lines():
    rows = reconcile_day(
        [_order(1, 100.0)], [("sales_order", _doc(1, 100.03, lines=3))], reasons={}
    )
    assert rows[0].outcome == "ok"


def test_x1_the_day_is_the_tenants_local_calendar_day():
    """X1: a day of Mexico City (UTC-6) runs from 06:00 UTC to 06:00 UTC the next day."""
    start, end = day_bounds(date(2026, 11, 27), "America/Mexico_City")
    assert start.astimezone(UTC) == datetime(2026, 11, 27, 6, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 11, 28, 6, tzinfo=UTC)


def test_x1_a_document_is_in_the_day_when_one_of_its_copies_is_dated_in_it():
    """X1: the documents are listed a day wider; only those dated in [start, end) belong to the
    day; a second copy of a reference dated in the day is enough; an unreadable date is outside."""
    start, end = day_bounds(date(2026, 11, 27), "America/Mexico_City")
    docs = [
        (
            "sales_order",
            {"reference": "HANDY-1", "date": "2026-11-27T06:00:00Z"},
        ),  # the first second
        ("sales_order", {"reference": "HANDY-2", "date": "2026-11-28T06:00:00Z"}),  # the next day
        ("sale", {"reference": "HANDY-3", "date": "2026-11-26T23:00:00Z"}),
        ("sale", {"reference": "HANDY-3", "date": "2026-11-27T12:00:00Z"}),
        ("sale", {"reference": "HANDY-4", "date": "not a date"}),
        ("sale", {"reference": "OTRO-5", "date": "2026-11-27T12:00:00Z"}),
    ]
    assert document_in_day(docs, start, end) == {"1": True, "2": False, "3": True, "4": False}
