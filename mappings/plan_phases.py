"""The planner's phases, composed by mappings.plan.plan_sync (the rules are in its docstring).

check_inputs → classify_unbound (adopt, create or skip) → compare_bound (update, enable,
disable, rebind, unchanged) → disable_gone (bound records no longer desired). Pure pandas.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from mappings.bindings import BindingRecord, BindingStatus
from mappings.plan_frames import (
    as_key,
    emit,
    emit_desired,
    enabled_or_unknown,
    require,
    status_of,
)

DESIRED_REQUIRED = ["key", "gestionix_key", "fingerprint", "enabled"]
BINDING_REQUIRED = ["handy_key", "gestionix_key", "fingerprint", "status"]
CURRENT_REQUIRED = ["key", "fingerprint", "enabled"]


@dataclass(frozen=True)
class PlanInputs:
    """The inputs checked, keys as text. `desired` holds the plannable rows, each with its
    binding (_bound_handy, _bound_fp, _bound_status; NaN when unbound)."""

    desired: pd.DataFrame
    bindings: pd.DataFrame
    payload: list[str]
    desired_gkeys: set[str]  # every desired gestionix key, skipped rows' too: never "gone"
    bound_handy_keys: set[str]
    current_fp: pd.Series | None  # full mode: Handy's fingerprint and enabled state by key
    current_enabled: pd.Series | None
    skipped: list[pd.DataFrame]  # desired rows with a missing or duplicated key


@dataclass(frozen=True)
class UnboundPlan:
    create: pd.DataFrame
    adopt: pd.DataFrame
    adopted: pd.DataFrame  # the adopted rows with Handy's state, compared like bound rows
    skipped: list[pd.DataFrame]


@dataclass(frozen=True)
class BoundPlan:
    recreate: list[pd.DataFrame]
    update: pd.DataFrame
    enable: pd.DataFrame
    disable: pd.DataFrame
    rebind: pd.DataFrame
    unchanged: pd.DataFrame
    skipped: list[pd.DataFrame]


def check_inputs(
    desired: pd.DataFrame, bindings: Iterable[BindingRecord], current: pd.DataFrame | None
) -> PlanInputs:
    require(desired, DESIRED_REQUIRED, "desired")
    payload = [c for c in desired.columns if c not in ("gestionix_key", "fingerprint")]
    payload = ["key", *[c for c in payload if c != "key"]]

    d = desired.copy()
    d["key"] = as_key(d["key"])
    d["gestionix_key"] = as_key(d["gestionix_key"])
    d["enabled"] = d["enabled"].astype(bool)
    desired_gkeys = set(d["gestionix_key"].dropna())
    skipped: list[pd.DataFrame] = []
    duplicated = d["gestionix_key"].duplicated(keep=False) | d["key"].duplicated(keep=False)
    duplicated |= d["gestionix_key"].isna() | d["key"].isna()
    if duplicated.any():
        reason = "missing or duplicated key/gestionix_key in the desired set"
        skipped.append(emit_desired(d[duplicated], payload, reason))
        d = d[~duplicated]

    # the store's keys are text already (BindingRecord): no as_key here
    b = pd.DataFrame(list(bindings), columns=BindingRecord._fields, dtype=object)
    b = b.loc[:, BINDING_REQUIRED]
    by_gkey = (
        b.dropna(subset=["gestionix_key"])
        .drop_duplicates("gestionix_key")
        .set_index("gestionix_key")
    )
    d["_bound_handy"] = d["gestionix_key"].map(by_gkey["handy_key"])
    d["_bound_fp"] = d["gestionix_key"].map(by_gkey["fingerprint"])
    d["_bound_status"] = d["gestionix_key"].map(by_gkey["status"])

    current_fp, current_enabled = _handy_state(current)
    return PlanInputs(
        desired=d,
        bindings=b,
        payload=payload,
        desired_gkeys=desired_gkeys,
        bound_handy_keys=set(b["handy_key"].dropna()),
        current_fp=current_fp,
        current_enabled=current_enabled,
        skipped=skipped,
    )


def _handy_state(current: pd.DataFrame | None) -> tuple[pd.Series | None, pd.Series | None]:
    """Full mode: Handy's fingerprint and enabled state by key (None, None otherwise)."""
    if current is None:
        return None, None
    require(current, CURRENT_REQUIRED, "current")
    cur = current.loc[:, CURRENT_REQUIRED].copy()
    cur["key"] = as_key(cur["key"])
    cur = cur.dropna(subset=["key"]).drop_duplicates("key").set_index("key")
    return cur["fingerprint"], cur["enabled"].map(enabled_or_unknown)


def _mark_adoptions(
    unbound: pd.DataFrame, inputs: PlanInputs, adopt_pairs: pd.DataFrame | None
) -> None:
    """Set `_adopt`, the Handy record each unbound row adopts: a pair decided elsewhere, else
    (full mode) a free Handy record with the desired code."""
    unbound["_adopt"] = None
    if adopt_pairs is not None and not adopt_pairs.empty:
        pairs = pd.DataFrame(
            {
                "handy_key": as_key(adopt_pairs["handy_key"]),
                "gestionix_key": as_key(adopt_pairs["gestionix_key"]),
            }
        )
        pairs = pairs[~pairs["handy_key"].isin(inputs.bound_handy_keys)]
        pairs = pairs.drop_duplicates("gestionix_key")
        unbound["_adopt"] = unbound["gestionix_key"].map(
            pairs.set_index("gestionix_key")["handy_key"]
        )
    if inputs.current_fp is not None:
        by_code = (
            unbound["_adopt"].isna()
            & unbound["key"].isin(inputs.current_fp.index)
            & ~unbound["key"].isin(inputs.bound_handy_keys)
        )
        unbound.loc[by_code, "_adopt"] = unbound.loc[by_code, "key"]


def _adopt(adopted: pd.DataFrame, inputs: PlanInputs) -> pd.DataFrame:
    """The adopt frame; `adopted` gains Handy's state (_state_*) to be compared like a bound row."""
    adopted["_handy"] = adopted["_adopt"]
    if inputs.current_fp is not None:
        adopted["_state_fp"] = adopted["_handy"].map(inputs.current_fp)
        adopted["_state_enabled"] = adopted["_handy"].map(inputs.current_enabled)
    else:
        adopted["_state_fp"] = None
        adopted["_state_enabled"] = None
    adopted["_drift"] = False
    return emit(
        adopted,
        inputs.payload,
        handy_key=adopted["_handy"],
        fingerprint=adopted["_state_fp"],
        status=adopted["_state_enabled"]
        .map({True: BindingStatus.ENABLED, False: BindingStatus.DISABLED})
        .fillna(BindingStatus.ENABLED),
        reason="existing Handy record adopted",
    )


def classify_unbound(
    unbound: pd.DataFrame,
    inputs: PlanInputs,
    adopt_pairs: pd.DataFrame | None,
    create_inactive: bool,
) -> UnboundPlan:
    """Unbound desired rows: adopt an existing Handy record, create one, or skip."""
    payload = inputs.payload
    _mark_adoptions(unbound, inputs, adopt_pairs)
    adopting = unbound["_adopt"].notna()
    taken = ~adopting & unbound["key"].isin(inputs.bound_handy_keys)
    skipped: list[pd.DataFrame] = []
    if taken.any():
        rows = unbound[taken]
        reason = "Handy code " + rows["key"] + " is already bound to another Gestionix record"
        skipped.append(emit_desired(rows, payload, reason))
    fresh = unbound[~adopting & ~taken]
    if not create_inactive:
        inactive = fresh[~fresh["enabled"]]
        if not inactive.empty:
            reason = "inactive in Gestionix and never synced: not created"
            skipped.append(emit_desired(inactive, payload, reason))
        fresh = fresh[fresh["enabled"]]
    create = emit_desired(fresh, payload, "new")
    adopted = unbound[adopting].copy()
    return UnboundPlan(create, _adopt(adopted, inputs), adopted, skipped)


def _bound_state(
    bound: pd.DataFrame, inputs: PlanInputs
) -> tuple[pd.DataFrame, list[pd.DataFrame], list[pd.DataFrame]]:
    """Bound rows with the state to compare (_state_*): Handy's in full mode, else the
    binding's. Full mode also yields the bound rows missing in Handy: recreated, or skipped."""
    payload = inputs.payload
    bound["_handy"] = bound["_bound_handy"]
    if inputs.current_fp is None:
        bound["_state_fp"] = bound["_bound_fp"]
        bound["_state_enabled"] = bound["_bound_status"] != BindingStatus.DISABLED
        bound["_drift"] = False
        return bound, [], []
    in_handy = bound["_handy"].isin(inputs.current_fp.index)
    missing = bound[~in_handy]
    recreated = emit_desired(
        missing[missing["enabled"]],
        payload,
        "bound but missing in Handy: created again",
        key="_handy",
    )
    skipped: list[pd.DataFrame] = []
    gone_inactive = missing[~missing["enabled"]]
    if not gone_inactive.empty:
        skipped.append(
            emit(
                gone_inactive,
                payload,
                handy_key=gone_inactive["_handy"],
                fingerprint=gone_inactive["_bound_fp"],
                status=BindingStatus.DISABLED,
                reason="inactive in Gestionix and missing in Handy: nothing to disable",
            )
        )
    bound = bound[in_handy].copy()
    bound["_state_fp"] = bound["_handy"].map(inputs.current_fp)
    bound["_state_enabled"] = bound["_handy"].map(inputs.current_enabled)
    bound["_drift"] = True
    return bound, [recreated], skipped


def _reason(rows: pd.DataFrame, base: str) -> pd.Series:
    why = pd.Series(base, index=rows.index, dtype=object)
    why[rows["_drift"].astype(bool)] = base + " (Handy differs)"
    why[rows["_bound_handy"].isna()] = base + " (adopted record differs)"
    return why


def _write(rows: pd.DataFrame, payload: list[str], base: str) -> pd.DataFrame:
    return emit_desired(rows, payload, _reason(rows, base), key="_handy")


def compare_bound(bound: pd.DataFrame, adopted: pd.DataFrame, inputs: PlanInputs) -> BoundPlan:
    """Bound and adopted rows against their state: update, enable, disable, rebind, unchanged."""
    payload = inputs.payload
    bound, recreate, skipped = _bound_state(bound, inputs)
    stateful = pd.concat([bound, adopted], ignore_index=True) if not adopted.empty else bound
    if stateful.empty:
        stateful = bound
    state_fp = stateful["_state_fp"].astype(object)
    changed = state_fp.isna() | (state_fp != stateful["fingerprint"])
    state_enabled = stateful["_state_enabled"].astype(object)
    toggled = ~changed & (state_enabled.isna() | (state_enabled != stateful["enabled"]))
    is_adopted = stateful["_bound_handy"].isna()

    upd = stateful[changed]
    en = stateful[toggled & stateful["enabled"]]
    dis = stateful[toggled & ~stateful["enabled"]]
    same = stateful[~changed & ~toggled & ~is_adopted]
    stale = (same["_bound_fp"] != same["fingerprint"]) | (
        same["_bound_status"] != status_of(same["enabled"])
    )
    refreshed = "binding refreshed (Handy already up to date)"
    return BoundPlan(
        recreate=recreate,
        update=_write(upd, payload, "changed"),
        enable=_write(en, payload, "active again"),
        disable=_write(dis, payload, "inactive"),
        rebind=emit_desired(same[stale], payload, refreshed, key="_handy"),
        unchanged=emit_desired(same[~stale], payload, "unchanged", key="_handy"),
        skipped=skipped,
    )


def disable_gone(inputs: PlanInputs, hold: Iterable[str]) -> pd.DataFrame:
    """Bound records no longer desired: disabled once (not when already disabled, not the held
    ones, not those whose state is unknown; never the unbound ones)."""
    b = inputs.bindings
    held = {str(k) for k in hold}
    gone = b[
        b["gestionix_key"].notna()
        & ~b["gestionix_key"].isin(inputs.desired_gkeys)
        & ~b["gestionix_key"].isin(held)
        & b["status"].isin([BindingStatus.ENABLED, BindingStatus.DISABLED])
    ].copy()
    if inputs.current_enabled is not None:
        gone = gone[gone["handy_key"].map(inputs.current_enabled).eq(True)]
    else:
        gone = gone[gone["status"] == BindingStatus.ENABLED]
    gone["enabled"] = False
    gone["key"] = gone["handy_key"]
    reason = "no longer desired (not for sale or gone from Gestionix)"
    return emit_desired(gone, inputs.payload, reason, key="handy_key")
