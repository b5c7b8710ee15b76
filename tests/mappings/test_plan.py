"""The generic planner (RULES P7, P8, C3, C6): desired vs bindings vs (full mode) Handy."""

from __future__ import annotations

import pandas as pd
import pytest

from mappings.bindings import BindingRecord
from mappings.plan import PlanRow, plan_sync
from mappings.products import map_products


def desired(*rows):
    """rows: (key, fingerprint, enabled[, gestionix_key]) -> desired frame with a payload column."""
    records = []
    for row in rows:
        key, fp, enabled, *gkey = row
        records.append(
            {
                "key": key,
                "gestionix_key": gkey[0] if gkey else key,
                "fingerprint": fp,
                "enabled": enabled,
                "description": f"desc {key}",
            }
        )
    return pd.DataFrame(
        records, columns=["key", "gestionix_key", "fingerprint", "enabled", "description"]
    )


def bindings(*rows):
    """rows: (handy_key, gestionix_key, fingerprint, status)."""
    return [BindingRecord(*row) for row in rows]


def current(*rows):
    """rows: (key, fingerprint, enabled) of Handy records."""
    return pd.DataFrame(list(rows), columns=["key", "fingerprint", "enabled"])


NO_BINDINGS = bindings()


def keys(rows):
    return sorted(row.handy_key for row in rows)


def as_bindings(*sets):
    """What the flow stores after doing every action of the given plan sets."""
    stored = {row.handy_key: BindingRecord(**row.binding) for rows in sets for row in rows}
    return list(stored.values())


def only(plan, name):
    """The plan's non-empty write sets are exactly `name` (a str or a set of names)."""
    names = {name} if isinstance(name, str) else set(name)
    non_empty = {k for k, v in plan.counts().items() if v and k not in ("unchanged", "skipped")}
    assert non_empty == names, plan.counts()


def test_first_run_creates_everything_desired():
    plan = plan_sync(desired(("A", "fa", True), ("B", "fb", True)), NO_BINDINGS)
    only(plan, "create")
    assert keys(plan.create) == ["A", "B"]
    assert all(isinstance(row, PlanRow) for row in plan.create)
    assert {row.status for row in plan.create} == {"enabled"}
    assert [row.payload["description"] for row in plan.create] == ["desc A", "desc B"]  # payload
    assert plan.create[0].binding == {
        "handy_key": "A",
        "gestionix_key": "A",
        "fingerprint": "fa",
        "status": "enabled",
    }


def test_p7_inactive_never_synced_is_created_disabled_or_skipped_on_request():
    plan = plan_sync(desired(("A", "fa", False)), NO_BINDINGS)
    assert plan.create[0].status == "disabled" and not plan.create[0].payload["enabled"]
    plan = plan_sync(desired(("A", "fa", False)), NO_BINDINGS, create_inactive=False)
    assert not plan.create and "never synced" in plan.skipped[0].reason


def test_p8_steady_state_is_all_unchanged_and_writes_nothing():
    wanted = desired(("A", "fa", True), ("B", "fb", False))
    first = plan_sync(wanted, NO_BINDINGS)
    second = plan_sync(wanted, as_bindings(first.create))
    assert second.is_noop
    assert keys(second.unchanged) == ["A", "B"]
    assert second.counts()["unchanged"] == 2


def test_p8_unchanged_fingerprint_means_no_write_and_changed_means_one_update():
    plan = plan_sync(
        desired(("A", "fa", True), ("B", "fb2", True)),
        bindings(("A", "A", "fa", "enabled"), ("B", "B", "fb", "enabled")),
    )
    only(plan, "update")
    assert keys(plan.update) == ["B"]
    assert plan.update[0].fingerprint == "fb2"
    assert keys(plan.unchanged) == ["A"]


def test_p7_inactive_product_is_disabled_and_enabled_again_when_active():
    plan = plan_sync(desired(("A", "fa", False)), bindings(("A", "A", "fa", "enabled")))
    only(plan, "disable")
    assert plan.disable[0].status == "disabled"
    plan = plan_sync(desired(("A", "fa", True)), bindings(("A", "A", "fa", "disabled")))
    only(plan, "enable")
    assert plan.enable[0].status == "enabled"


def test_p7_content_change_and_deactivation_are_one_update():
    plan = plan_sync(desired(("A", "fa2", False)), bindings(("A", "A", "fa", "enabled")))
    only(plan, "update")
    assert plan.update[0].status == "disabled"


def test_p7_bound_product_no_longer_desired_is_disabled_once():
    gone = bindings(("A", "A", "fa", "enabled"), ("B", "B", "fb", "enabled"))
    plan = plan_sync(desired(("A", "fa", True)), gone)
    only(plan, "disable")
    assert keys(plan.disable) == ["B"]
    assert "no longer desired" in plan.disable[0].reason
    after = bindings(("A", "A", "fa", "enabled"), ("B", "B", "fb", "disabled"))
    assert plan_sync(desired(("A", "fa", True)), after).is_noop


def test_p1_not_for_sale_bound_product_is_disabled():
    catalog = [
        {"product_id": 1, "key": "A", "name": "a", "for_sale": True, "active": True, "price": 1.0},
        {"product_id": 2, "key": "B", "name": "b", "for_sale": True, "active": True, "price": 1.0},
    ]
    first = plan_sync(map_products(catalog, 310).desired, NO_BINDINGS)
    catalog[1]["for_sale"] = False
    mapped = map_products(catalog, 310)
    plan = plan_sync(mapped.desired, as_bindings(first.create), hold=mapped.held_keys)
    only(plan, "disable")
    assert keys(plan.disable) == ["B"]


def test_p7_handy_records_never_bound_are_never_disabled():
    plan = plan_sync(
        desired(("A", "fa", True)),
        bindings(("A", "A", "fa", "enabled")),
        current(("A", "fa", True), ("MANUAL", "fx", True)),
    )
    assert plan.is_noop
    assert "MANUAL" not in keys(plan.unchanged)


def test_p7_rejected_bound_record_is_held_not_disabled():
    plan = plan_sync(
        desired(("A", "fa", True)),
        bindings(("A", "A", "fa", "enabled"), ("B", "B", "fb", "enabled")),
        hold=["B"],
    )
    assert plan.is_noop


def test_p8_full_mode_repairs_drift_made_by_hand_in_handy():
    plan = plan_sync(
        desired(("A", "fa", True), ("B", "fb", True)),
        bindings(("A", "A", "fa", "enabled"), ("B", "B", "fb", "enabled")),
        current(("A", "edited", True), ("B", "fb", False)),
    )
    assert keys(plan.update) == ["A"] and "Handy differs" in plan.update[0].reason
    assert keys(plan.enable) == ["B"]


def test_p7_full_mode_disables_again_a_record_enabled_by_hand():
    plan = plan_sync(desired(), bindings(("B", "B", "fb", "disabled")), current(("B", "fb", True)))
    only(plan, "disable")


def test_full_mode_adopts_existing_unbound_handy_record_with_the_same_code():
    plan = plan_sync(
        desired(("A", "fa", True), ("B", "fb", True)),
        NO_BINDINGS,
        current(("A", "fa", True), ("B", "old", True)),
    )
    assert not plan.create
    assert keys(plan.adopt) == ["A", "B"]
    adopted_b = next(row for row in plan.adopt if row.handy_key == "B")
    assert adopted_b.fingerprint == "old"  # bind Handy's state first ...
    assert keys(plan.update) == ["B"]  # ... then write the difference
    assert "adopted" in plan.update[0].reason


def test_full_mode_recreates_a_bound_record_deleted_in_handy():
    plan = plan_sync(desired(("A", "fa", True)), bindings(("A", "A", "fa", "enabled")), current())
    only(plan, "create")
    assert "missing in Handy" in plan.create[0].reason


def test_full_mode_refreshes_a_stale_binding_without_writing():
    plan = plan_sync(
        desired(("A", "fa", True)),
        bindings(("A", "A", "stale", "enabled")),
        current(("A", "fa", True)),
    )
    only(plan, "rebind")
    assert plan.rebind[0].fingerprint == "fa"


def test_c6_bound_customer_is_updated_at_its_handy_code_not_created():
    # order_push created Handy customer C-77 in Gestionix as client 1201 and bound them.
    wanted = desired(("GX-1201", "f1", True, "1201"))
    plan = plan_sync(wanted, bindings(("C-77", "1201", None, "linked")))
    only(plan, "update")
    assert plan.update[0].handy_key == "C-77"
    assert plan.update[0].payload["key"] == "GX-1201"


def test_c6_bound_by_order_push_but_not_desired_is_left_alone():
    plan = plan_sync(desired(), bindings(("C-77", "1201", None, "linked")))
    assert plan.is_noop


def test_c6_gestionix_keys_of_different_types_meet():
    plan = plan_sync(
        desired(("GX-1201", "f1", True, 1201)), bindings(("GX-1201", "1201", "f1", "enabled"))
    )
    assert plan.is_noop


def test_c3_inactive_customer_is_disabled_and_enabled_when_active_again():
    plan = plan_sync(desired(("GX-1", "f", False, "1")), bindings(("GX-1", "1", "f", "enabled")))
    assert keys(plan.disable) == ["GX-1"]
    plan = plan_sync(desired(("GX-1", "f", True, "1")), bindings(("GX-1", "1", "f", "disabled")))
    assert keys(plan.enable) == ["GX-1"]


def test_c6_adopt_pairs_bind_existing_customers_matched_elsewhere():
    pairs = pd.DataFrame([{"handy_key": "TIENDA-1", "gestionix_key": "1201"}])
    plan = plan_sync(
        desired(("GX-1201", "f1", True, "1201")),
        NO_BINDINGS,
        current(("TIENDA-1", "f1", True)),
        adopt_pairs=pairs,
    )
    only(plan, "adopt")
    assert plan.adopt[0].handy_key == "TIENDA-1"


def test_adopt_pairs_without_current_adopt_then_update():
    pairs = pd.DataFrame([{"handy_key": "TIENDA-1", "gestionix_key": "1201"}])
    plan = plan_sync(desired(("GX-1201", "f1", True, "1201")), NO_BINDINGS, adopt_pairs=pairs)
    only(plan, {"adopt", "update"})


def test_code_already_bound_to_another_record_is_skipped_not_duplicated():
    plan = plan_sync(desired(("GX-5", "f", True, "5")), bindings(("GX-5", "9", "f", "enabled")))
    assert not plan.create
    assert "already bound" in plan.skipped[0].reason


def test_duplicated_desired_keys_are_skipped():
    plan = plan_sync(desired(("A", "f1", True, "1"), ("A", "f2", True, "2")), NO_BINDINGS)
    assert not plan.create and len(plan.skipped) == 2


def test_missing_columns_are_a_programming_error():
    with pytest.raises(ValueError, match="desired frame lacks"):
        plan_sync(pd.DataFrame({"key": []}), NO_BINDINGS)


def test_p8_steady_state_on_a_large_catalog_is_a_noop():
    n = 20_000
    wanted = desired(*[(f"P{i}", f"f{i}", i % 3 != 0) for i in range(n)])
    first = plan_sync(wanted, NO_BINDINGS)
    assert len(first.create) == n
    second = plan_sync(wanted, as_bindings(first.create))
    assert second.is_noop and len(second.unchanged) == n
