"""The inventory split (RULES I1-I3)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings.bindings import BindingRecord
from mappings.inventory import (
    known_stock,
    last_written_stock,
    plan_stock,
    route_stock,
    split_stock,
    stock_body,
    stock_changes,
)


def products(**stock):
    return pd.DataFrame({"key": list(stock), "stock": list(stock.values())})


def route(id_, *entries, closed=False):
    return {
        "id": id_,
        "closed": closed,
        "user": {"id": 9, "name": "Ana"},
        "inventory": [{"product": code, "quantity": qty} for code, qty in entries],
    }


def test_i1_route_stock_is_the_sum_over_open_routes():
    loaded = route_stock(
        [route(1, ("A", 3.0), ("B", 1)), route(2, ("A", 2.5)), route(3, ("A", 100), closed=True)]
    )
    assert dict(zip(loaded.per_code["code"], loaded.per_code["route_quantity"], strict=False)) == {
        "A": 5.5,
        "B": 1.0,
    }
    assert loaded.problems.empty


def test_i1_unreadable_route_entries_are_reported_not_fatal():
    routes = [route(1, ("A", "x"), (None, 1), ("B", 2)), {"id": 2, "inventory": "oops"}, "junk"]
    loaded = route_stock(routes)
    assert dict(zip(loaded.per_code["code"], loaded.per_code["route_quantity"], strict=False)) == {
        "B": 2.0
    }
    assert len(loaded.problems) == 3
    assert all("route" in reason for reason in loaded.problems["reason"])


def test_i1_free_use_is_total_minus_route():
    split = split_stock(
        products(A=10.0, B=4.0, C=7.0),
        pd.DataFrame({"code": ["A", "B", "Z"], "route_quantity": [3.3, 4.0, 1.0]}),
    )
    got = dict(zip(split.free_use["key"], split.free_use["quantity"], strict=False))
    assert got == {"A": 6.7, "B": 0.0, "C": 7.0}
    assert split.reported.empty


def test_i2_negative_free_use_is_set_to_zero_and_reported():
    split = split_stock(products(A=2.0), pd.DataFrame({"code": ["A"], "route_quantity": [5.0]}))
    assert split.free_use.iloc[0]["quantity"] == 0.0
    report = split.reported.iloc[0]
    assert report["rule"] == "I2" and report["key"] == "A"
    assert "negative" in report["reason"] and "product A" in report["reason"]


def test_i2_unreadable_gestionix_total_is_reported_and_not_written():
    split = split_stock(
        products(A=math.nan, B=1.0), pd.DataFrame({"code": [], "route_quantity": []})
    )
    assert list(split.free_use["key"]) == ["B"]
    assert (
        split.reported.iloc[0]["key"] == "A" and "not a number" in split.reported.iloc[0]["reason"]
    )


@settings(deadline=None)  # no timed assertion: pandas on a loaded machine is slow at times
@given(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
)
def test_i2_property_free_use_is_never_negative_and_reported_when_clipped(total, loaded):
    split = split_stock(
        products(A=total), pd.DataFrame({"code": ["A"], "route_quantity": [loaded]})
    )
    quantity = split.free_use.iloc[0]["quantity"]
    assert quantity >= 0
    assert quantity == pytest.approx(max(round(total - loaded, 4), 0.0))
    assert (len(split.reported) == 1) == (round(total - loaded, 4) < 0)


def test_i1_only_changed_quantities_are_written():
    free_use = pd.DataFrame({"key": ["A", "B", "C"], "quantity": [6.7, 0.0, 7.0]})
    last = pd.DataFrame({"key": ["A", "B"], "quantity": [10.0 - 3.3, 1.0]})  # 6.699999999999999
    writes = stock_changes(free_use, last)
    assert writes.to_dict("records")[0] == {"key": "B", "quantity": 0.0, "previous": 1.0}
    assert list(writes["key"]) == ["B", "C"]
    assert math.isnan(writes.iloc[1]["previous"])


def test_i1_nothing_written_before_means_everything_is_written():
    free_use = pd.DataFrame({"key": ["A"], "quantity": [1.0]})
    assert list(stock_changes(free_use, None)["key"]) == ["A"]


def test_i1_last_written_quantity_comes_from_the_binding_data():
    bindings = [
        BindingRecord("A", "A", data={"quantity": 5.0}),
        BindingRecord("B", "B", data={}),
        BindingRecord("C", "C"),
    ]
    assert last_written_stock(bindings).to_dict("records") == [{"key": "A", "quantity": 5.0}]


def test_i2_full_mode_what_handy_holds_wins_over_the_last_written_stock():
    """I2 in full mode: a quantity changed by hand in Handy (drift) is what a write compares with;
    a code Handy holds no number for keeps the last written one; incremental mode reads bindings."""
    bindings = [
        BindingRecord("A", "A", data={"quantity": 5.0}),
        BindingRecord("B", "B", data={"quantity": 7.0}),
    ]
    handy = {"A": {"quantity": 9}, "B": {"quantity": None}, "C": {"quantity": 2.5}, "D": {}}
    known = known_stock(bindings, handy).sort_values("key").to_dict("records")
    assert known == [
        {"key": "A", "quantity": 9},
        {"key": "B", "quantity": 7.0},
        {"key": "C", "quantity": 2.5},
    ]
    assert known_stock(bindings, None).to_dict("records") == last_written_stock(bindings).to_dict(
        "records"
    )


def test_i1_i2_plan_stock_end_to_end_and_steady_state():
    catalog = products(A=10.0, B=2.0)
    routes = [route(1, ("A", 4), ("B", 3))]
    first = plan_stock(catalog, routes, None, sync_inventory=True)
    assert first.writes[["key", "quantity"]].to_dict("records") == [
        {"key": "A", "quantity": 6.0},
        {"key": "B", "quantity": 0.0},
    ]
    assert list(first.reported["key"]) == ["B"]
    written = first.writes[["key", "quantity"]]
    again = plan_stock(catalog, routes, written, sync_inventory=True)
    assert again.writes.empty


def test_i3_inventory_off_plans_nothing_and_reads_nothing():
    class Untouchable:
        def __iter__(self):
            raise AssertionError("routes must not be read with sync_inventory off")

    plan = plan_stock(products(A=10.0), Untouchable(), None, sync_inventory=False)
    assert plan.writes.empty and plan.reported.empty and plan.route_problems.empty


def test_stock_body_is_handy_quantity():
    assert stock_body(6) == {"quantity": 6.0}
