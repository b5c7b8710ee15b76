"""Deletion protection, the pure decision (RULES P7, C3): planned disables by kind, their share of
the enabled bound records, the threshold with its floor, and the operator's message."""

from __future__ import annotations

import pandas as pd
import pytest

from mappings.bindings import BindingRecord
from mappings.mass_disable import (
    GONE,
    INACTIVE,
    MASS_DISABLE_FLOOR,
    NOT_FOR_SALE,
    check_mass_disable,
    planned_disables,
)
from mappings.plan import plan_sync


def desired(rows):
    """rows: (key, fingerprint, enabled)."""
    return pd.DataFrame(
        [
            {"key": k, "gestionix_key": k, "fingerprint": fp, "enabled": on, "description": k}
            for k, fp, on in rows
        ],
        columns=["key", "gestionix_key", "fingerprint", "enabled", "description"],
    )


def bound(keys, status="enabled"):
    return [BindingRecord(k, k, f"fp-{k}", status) for k in keys]


def world(n):
    """n bound, enabled, unchanged records A000..: the desired rows and the bindings."""
    keys = [f"A{i:03d}" for i in range(n)]
    return keys, [(k, f"fp-{k}", True) for k in keys], bound(keys)


def check(planned, threshold=10.0):
    return check_mass_disable(
        planned, threshold_percent=threshold, tenant="lupita", entity="products", run_name="catalog"
    )


def test_p7_c3_planned_disables_counted_by_kind_against_enabled_bound_records():
    """P7/C3: gone (absent from the read), not for sale (still read, dropped by P1), inactive
    (toggle, or update whose content changed too) are each counted; already disabled bindings
    are neither disabled again nor part of the base."""
    _, rows, bindings = world(20)
    bindings = [*bindings, *bound(["OLD1", "OLD2"], "disabled")]
    rows = [r for r in rows if r[0] not in ("A000", "A001", "A002")]  # A000-A002 gone
    rows = [r for r in rows if r[0] != "A003"]  # A003 not for sale
    rows = [(k, fp, False) if k in ("A004", "A005") else (k, fp, on) for k, fp, on in rows]
    rows = [(k, "changed", False) if k == "A006" else (k, fp, on) for k, fp, on in rows]
    plan = plan_sync(desired(rows), bindings)

    planned = planned_disables(plan, bindings, [r[0] for r in rows], not_for_sale_keys=["A003"])

    assert planned.counts() == {GONE: 3, NOT_FOR_SALE: 1, INACTIVE: 3}
    assert planned.total == 7 and planned.enabled_bound == 20
    assert planned.percent == pytest.approx(35.0)
    assert planned.examples(4) == ["A000", "A001", "A002", "A003"]  # gone first, then by key
    assert "A006" in set(planned.disables["handy_key"])  # the update that also disables


def test_p7_over_threshold_trips_and_message_names_tenant_counts_share_threshold_and_the_way_on():
    keys, rows, bindings = world(50)
    gone = keys[:8]
    plan = plan_sync(desired(rows[8:]), bindings)
    planned = planned_disables(plan, bindings, keys[8:])

    decision = check(planned)

    assert decision.tripped
    message = decision.message
    assert "tenant lupita" in message
    assert "8 of 50 enabled bound products (16.0 %" in message
    assert (
        "8 gone from the Gestionix read, 0 no longer for sale, 0 inactive in Gestionix" in message
    )
    assert "threshold 10 %" in message
    assert "e.g. A000, A001, A002, A003, A004 and 3 more" in message
    assert "Nothing was written" in message
    assert "confirm_mass_disable=True" in message
    assert "hgsync run catalog --tenant lupita --confirm-mass-disable" in message
    assert "mass_disable_threshold_percent" in message
    assert not any(key in message for key in gone[5:])  # a few examples, not the whole list


def test_p7_c3_at_or_under_threshold_does_not_trip():
    keys, rows, bindings = world(50)
    plan = plan_sync(desired(rows[5:]), bindings)  # exactly 10 %: not *more* than the threshold
    planned = planned_disables(plan, bindings, keys[5:])
    assert planned.percent == pytest.approx(10.0)
    assert not check(planned).tripped
    assert check(planned, threshold=9.9).tripped


def test_c3_floor_small_tenant_is_not_stopped_by_a_few_disables():
    """A tenant with 8 customers disabling 4 (50 %) is under the floor: it goes on."""
    keys, rows, bindings = world(8)
    rows = [(k, fp, k not in keys[: MASS_DISABLE_FLOOR - 1]) for k, fp, _ in rows]
    plan = plan_sync(desired(rows), bindings)
    planned = planned_disables(plan, bindings, keys)
    assert planned.total == MASS_DISABLE_FLOOR - 1 and planned.percent == pytest.approx(50.0)
    assert not check(planned).tripped

    rows = [(k, fp, k not in keys[:MASS_DISABLE_FLOOR]) for k, fp, _ in rows]
    plan = plan_sync(desired(rows), bindings)
    assert check(planned_disables(plan, bindings, keys)).tripped  # at the floor it counts


def test_p7_no_bindings_no_disables_never_trips():
    plan = plan_sync(desired([("A", "fp", True)]), bound([]))
    planned = planned_disables(plan, bound([]), ["A"])
    assert planned.total == 0 and planned.percent == 0.0 and not check(planned).tripped


def test_p7_threshold_100_never_trips_even_when_everything_goes():
    """The share is of enabled bound records, so it never exceeds 100 %: 100 turns it off."""
    _, _, bindings = world(30)
    plan = plan_sync(desired([]), bindings)
    planned = planned_disables(plan, bindings, [])
    assert planned.percent == pytest.approx(100.0)
    assert check(planned).tripped and not check(planned, threshold=100).tripped


def test_p7_drifted_record_disabled_in_full_mode_is_counted_in_the_base_too():
    """Full mode: a binding says disabled but Handy has it enabled; the plan disables it again.
    It counts as a disable and in the base, so the share stays a share."""
    keys, rows, bindings = world(10)
    bindings = [b._replace(status="disabled") if b.handy_key == "A000" else b for b in bindings]
    rows = [(k, fp, k != "A000") for k, fp, _ in rows]
    current = pd.DataFrame(
        [(k, f"fp-{k}", True) for k in keys], columns=["key", "fingerprint", "enabled"]
    )
    plan = plan_sync(desired(rows), bindings, current)
    planned = planned_disables(plan, bindings, keys)
    assert list(planned.disables["handy_key"]) == ["A000"]
    assert planned.enabled_bound == 10 and planned.percent == pytest.approx(10.0)


@pytest.mark.parametrize("bad", [0, -5, 100.5])
def test_threshold_outside_0_100_is_refused(bad):
    keys, rows, bindings = world(3)
    planned = planned_disables(plan_sync(desired(rows), bindings), bindings, keys)
    with pytest.raises(ValueError, match="threshold_percent"):
        check(planned, threshold=bad)
