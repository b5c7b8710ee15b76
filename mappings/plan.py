"""The one planner: desired Handy records vs bindings (and, in full mode, Handy's records).

Used for products and customers alike (RULES P7, P8, C3, C6). Pure pandas, no I/O.

Inputs
- desired: one row per record the integration wants in Handy. Required columns: key (the
  Handy code a new record gets), gestionix_key, fingerprint (content written, see
  mappings.fingerprint), enabled (bool); any other columns are payload and are carried along.
- bindings: the store's bindings of the entity: handy_key, gestionix_key, fingerprint, status.
  Status "enabled"/"disabled" is what the integration last wrote. Any other status (for example
  a customer bound by order_push) counts as "state unknown": matched and updated (C6), never
  disabled because it is absent from the desired set.
- current (optional, full mode): Handy's records, enabled AND disabled, with key, fingerprint
  (computed like the desired one), enabled. Then Handy, not the binding, is the state compared
  against (drift repair), and unbound Handy records with a desired key are adopted.
- hold: gestionix keys rejected this run (bad data): their bound records are left alone.
- adopt_pairs (optional): extra handy_key <-> gestionix_key adoptions decided elsewhere (e.g.
  customers matched by normalised name, mappings.customer_adoption.match_existing_customers).

Output (Plan): data frames with PLAN_COLUMNS + the desired payload columns. handy_key is the
Handy record to write; (handy_key, gestionix_key, fingerprint, status) is the binding to store
once that one action succeeded. Sets are disjoint except `adopt`, whose rows may also appear in
update/enable/disable: store the adopt binding first (with Handy's current state), then write.
- create: desired and unbound. Inactive ones are created disabled, so Handy mirrors the
  Gestionix catalog and a reactivation is one enable (create_inactive=False skips them instead).
- update: the content fingerprint differs (the body carries `enabled` too, one call).
- enable / disable: only the enabled state differs (P7, C3); disable also covers bound records
  no longer desired (not for sale, gone from the branch), once: not when already disabled.
- adopt: bind an existing Handy record instead of creating a duplicate.
- rebind: no write needed, but the stored binding is stale (e.g. drift fixed by hand).
- unchanged: nothing to do (steady state: everything lands here, P8).
- skipped: not planned, with the reason (duplicates, code taken by another binding, ...).
Handy records the integration never bound (and does not adopt) are never touched.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields

import pandas as pd

from mappings.bindings import BindingStatus

PLAN_COLUMNS = ["handy_key", "gestionix_key", "fingerprint", "status", "reason"]
DESIRED_REQUIRED = ["key", "gestionix_key", "fingerprint", "enabled"]
BINDING_REQUIRED = ["handy_key", "gestionix_key", "fingerprint", "status"]
CURRENT_REQUIRED = ["key", "fingerprint", "enabled"]
WRITE_SETS = ("create", "update", "enable", "disable", "adopt", "rebind")


@dataclass(frozen=True)
class Plan:
    create: pd.DataFrame
    update: pd.DataFrame
    enable: pd.DataFrame
    disable: pd.DataFrame
    adopt: pd.DataFrame
    rebind: pd.DataFrame
    unchanged: pd.DataFrame
    skipped: pd.DataFrame

    def counts(self) -> dict[str, int]:
        return {f.name: len(getattr(self, f.name)) for f in fields(self)}

    @property
    def is_noop(self) -> bool:
        """True when the plan writes nothing to Handy and nothing to the bindings."""
        return all(getattr(self, name).empty for name in WRITE_SETS)


def _require(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks columns {missing}")


def _key_text(value: object) -> str | None:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float):  # a key column that went through NaN becomes float
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else str(value)
    return str(value)


def _as_key(series: pd.Series) -> pd.Series:
    """Keys as str objects (None stays None), so 1201, 1201.0 and "1201" meet."""
    return series.map(_key_text).astype(object)


def _enabled_or_unknown(value: object) -> bool:
    """Handy's `enabled`; a missing value counts as enabled (Handy's default)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return True
    return bool(value)


def _status_of(enabled: pd.Series) -> pd.Series:
    return enabled.map({True: BindingStatus.ENABLED, False: BindingStatus.DISABLED}).astype(object)


def _emit(
    rows: pd.DataFrame,
    payload: list[str],
    *,
    handy_key: pd.Series | str,
    fingerprint: pd.Series | str,
    status: pd.Series | str,
    reason: pd.Series | str,
) -> pd.DataFrame:
    out = pd.DataFrame(index=rows.index)
    out["handy_key"] = handy_key
    out["gestionix_key"] = rows["gestionix_key"]
    out["fingerprint"] = fingerprint
    out["status"] = status
    out["reason"] = reason
    for column in payload:
        out[column] = rows[column] if column in rows.columns else None
    return out.astype(dict.fromkeys(PLAN_COLUMNS, object)).reset_index(drop=True)


def plan_sync(
    desired: pd.DataFrame,
    bindings: pd.DataFrame,
    current: pd.DataFrame | None = None,
    *,
    hold: Iterable[str] = (),
    adopt_pairs: pd.DataFrame | None = None,
    create_inactive: bool = True,
) -> Plan:
    """Create / update / enable / disable / adopt / rebind / unchanged / skipped (module doc)."""
    _require(desired, DESIRED_REQUIRED, "desired")
    _require(bindings, BINDING_REQUIRED, "bindings")
    payload = [c for c in desired.columns if c not in ("gestionix_key", "fingerprint")]
    payload = ["key", *[c for c in payload if c != "key"]]

    d = desired.copy()
    d["key"] = _as_key(d["key"])
    d["gestionix_key"] = _as_key(d["gestionix_key"])
    d["enabled"] = d["enabled"].astype(bool)
    all_desired_gkeys = set(d["gestionix_key"].dropna())
    skipped: list[pd.DataFrame] = []

    duplicated = d["gestionix_key"].duplicated(keep=False) | d["key"].duplicated(keep=False)
    duplicated |= d["gestionix_key"].isna() | d["key"].isna()
    if duplicated.any():
        rows = d[duplicated]
        skipped.append(
            _emit(
                rows,
                payload,
                handy_key=rows["key"],
                fingerprint=rows["fingerprint"],
                status=_status_of(rows["enabled"]),
                reason="missing or duplicated key/gestionix_key in the desired set",
            )
        )
        d = d[~duplicated]

    b = bindings.loc[:, BINDING_REQUIRED].copy()
    b["handy_key"] = _as_key(b["handy_key"])
    b["gestionix_key"] = _as_key(b["gestionix_key"])
    bound_handy_keys = set(b["handy_key"].dropna())
    by_gkey = (
        b.dropna(subset=["gestionix_key"])
        .drop_duplicates("gestionix_key")
        .set_index("gestionix_key")
    )

    cur_fp = cur_enabled = None
    if current is not None:
        _require(current, CURRENT_REQUIRED, "current")
        cur = current.loc[:, CURRENT_REQUIRED].copy()
        cur["key"] = _as_key(cur["key"])
        cur = cur.dropna(subset=["key"]).drop_duplicates("key").set_index("key")
        cur_fp = cur["fingerprint"]
        cur_enabled = cur["enabled"].map(_enabled_or_unknown)

    d["_bound_handy"] = d["gestionix_key"].map(by_gkey["handy_key"])
    d["_bound_fp"] = d["gestionix_key"].map(by_gkey["fingerprint"])
    d["_bound_status"] = d["gestionix_key"].map(by_gkey["status"])
    is_bound = d["_bound_handy"].notna()

    # ---- unbound desired rows: adopt, create, or skip
    unbound = d[~is_bound].copy()
    unbound["_adopt"] = None
    if adopt_pairs is not None and not adopt_pairs.empty:
        pairs = pd.DataFrame(
            {
                "handy_key": _as_key(adopt_pairs["handy_key"]),
                "gestionix_key": _as_key(adopt_pairs["gestionix_key"]),
            }
        )
        pairs = pairs[~pairs["handy_key"].isin(bound_handy_keys)].drop_duplicates("gestionix_key")
        unbound["_adopt"] = unbound["gestionix_key"].map(
            pairs.set_index("gestionix_key")["handy_key"]
        )
    if cur_fp is not None:
        by_code = (
            unbound["_adopt"].isna()
            & unbound["key"].isin(cur_fp.index)
            & ~unbound["key"].isin(bound_handy_keys)
        )
        unbound.loc[by_code, "_adopt"] = unbound.loc[by_code, "key"]
    adopting = unbound["_adopt"].notna()
    taken = ~adopting & unbound["key"].isin(bound_handy_keys)
    if taken.any():
        rows = unbound[taken]
        skipped.append(
            _emit(
                rows,
                payload,
                handy_key=rows["key"],
                fingerprint=rows["fingerprint"],
                status=_status_of(rows["enabled"]),
                reason="Handy code "
                + rows["key"]
                + " is already bound to another Gestionix record",
            )
        )
    fresh = unbound[~adopting & ~taken]
    if not create_inactive:
        inactive = fresh[~fresh["enabled"]]
        if not inactive.empty:
            skipped.append(
                _emit(
                    inactive,
                    payload,
                    handy_key=inactive["key"],
                    fingerprint=inactive["fingerprint"],
                    status=BindingStatus.DISABLED,
                    reason="inactive in Gestionix and never synced: not created",
                )
            )
        fresh = fresh[fresh["enabled"]]
    create_parts = [
        _emit(
            fresh,
            payload,
            handy_key=fresh["key"],
            fingerprint=fresh["fingerprint"],
            status=_status_of(fresh["enabled"]),
            reason="new",
        )
    ]

    adopted = unbound[adopting].copy()
    adopted["_handy"] = adopted["_adopt"]
    if cur_fp is not None:
        adopted["_state_fp"] = adopted["_handy"].map(cur_fp)
        adopted["_state_enabled"] = adopted["_handy"].map(cur_enabled)
    else:
        adopted["_state_fp"] = None
        adopted["_state_enabled"] = None
    adopted["_drift"] = False
    adopt_frame = _emit(
        adopted,
        payload,
        handy_key=adopted["_handy"],
        fingerprint=adopted["_state_fp"],
        status=adopted["_state_enabled"]
        .map({True: BindingStatus.ENABLED, False: BindingStatus.DISABLED})
        .fillna(BindingStatus.ENABLED),
        reason="existing Handy record adopted",
    )

    # ---- bound desired rows: compare with Handy (full mode) or with the binding
    bound = d[is_bound].copy()
    bound["_handy"] = bound["_bound_handy"]
    if cur_fp is not None:
        in_handy = bound["_handy"].isin(cur_fp.index)
        missing = bound[~in_handy]
        recreate = missing[missing["enabled"]]
        create_parts.append(
            _emit(
                recreate,
                payload,
                handy_key=recreate["_handy"],
                fingerprint=recreate["fingerprint"],
                status=BindingStatus.ENABLED,
                reason="bound but missing in Handy: created again",
            )
        )
        gone_inactive = missing[~missing["enabled"]]
        if not gone_inactive.empty:
            skipped.append(
                _emit(
                    gone_inactive,
                    payload,
                    handy_key=gone_inactive["_handy"],
                    fingerprint=gone_inactive["_bound_fp"],
                    status=BindingStatus.DISABLED,
                    reason="inactive in Gestionix and missing in Handy: nothing to disable",
                )
            )
        bound = bound[in_handy].copy()
        bound["_state_fp"] = bound["_handy"].map(cur_fp)
        bound["_state_enabled"] = bound["_handy"].map(cur_enabled)
        bound["_drift"] = True
    else:
        bound["_state_fp"] = bound["_bound_fp"]
        bound["_state_enabled"] = bound["_bound_status"] != BindingStatus.DISABLED
        bound["_drift"] = False

    stateful = pd.concat([bound, adopted], ignore_index=True) if not adopted.empty else bound
    if stateful.empty:
        stateful = bound
    state_fp = stateful["_state_fp"].astype(object)
    changed = state_fp.isna() | (state_fp != stateful["fingerprint"])
    state_enabled = stateful["_state_enabled"].astype(object)
    toggled = ~changed & (state_enabled.isna() | (state_enabled != stateful["enabled"]))
    is_adopted = stateful["_bound_handy"].isna()

    def reason_for(rows: pd.DataFrame, base: str) -> pd.Series:
        why = pd.Series(base, index=rows.index, dtype=object)
        why[rows["_drift"].astype(bool)] = base + " (Handy differs)"
        why[rows["_bound_handy"].isna()] = base + " (adopted record differs)"
        return why

    upd = stateful[changed]
    update_frame = _emit(
        upd,
        payload,
        handy_key=upd["_handy"],
        fingerprint=upd["fingerprint"],
        status=_status_of(upd["enabled"]),
        reason=reason_for(upd, "changed"),
    )
    en = stateful[toggled & stateful["enabled"]]
    enable_frame = _emit(
        en,
        payload,
        handy_key=en["_handy"],
        fingerprint=en["fingerprint"],
        status=BindingStatus.ENABLED,
        reason=reason_for(en, "active again"),
    )
    dis = stateful[toggled & ~stateful["enabled"]]
    disable_parts = [
        _emit(
            dis,
            payload,
            handy_key=dis["_handy"],
            fingerprint=dis["fingerprint"],
            status=BindingStatus.DISABLED,
            reason=reason_for(dis, "inactive"),
        )
    ]
    same = stateful[~changed & ~toggled & ~is_adopted]
    desired_status = _status_of(same["enabled"])
    stale = (same["_bound_fp"] != same["fingerprint"]) | (same["_bound_status"] != desired_status)
    rebind_frame = _emit(
        same[stale],
        payload,
        handy_key=same.loc[stale, "_handy"],
        fingerprint=same.loc[stale, "fingerprint"],
        status=desired_status[stale],
        reason="binding refreshed (Handy already up to date)",
    )
    unchanged_frame = _emit(
        same[~stale],
        payload,
        handy_key=same.loc[~stale, "_handy"],
        fingerprint=same.loc[~stale, "fingerprint"],
        status=desired_status[~stale],
        reason="unchanged",
    )

    # ---- bound records no longer desired: disable once (never the unbound ones)
    held = {str(k) for k in hold}
    gone = b[
        b["gestionix_key"].notna()
        & ~b["gestionix_key"].isin(all_desired_gkeys)
        & ~b["gestionix_key"].isin(held)
        & b["status"].isin([BindingStatus.ENABLED, BindingStatus.DISABLED])
    ].copy()
    if cur_enabled is not None:
        gone = gone[gone["handy_key"].map(cur_enabled).eq(True)]
    else:
        gone = gone[gone["status"] == BindingStatus.ENABLED]
    gone["enabled"] = False
    gone["key"] = gone["handy_key"]
    disable_parts.append(
        _emit(
            gone,
            payload,
            handy_key=gone["handy_key"],
            fingerprint=gone["fingerprint"],
            status=BindingStatus.DISABLED,
            reason="no longer desired (not for sale or gone from Gestionix)",
        )
    )

    def stack(parts: list[pd.DataFrame]) -> pd.DataFrame:
        parts = [p for p in parts if not p.empty]
        if not parts:
            return pd.DataFrame(columns=PLAN_COLUMNS + payload, dtype=object)
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

    return Plan(
        create=stack(create_parts),
        update=update_frame,
        enable=enable_frame,
        disable=stack(disable_parts),
        adopt=adopt_frame,
        rebind=rebind_frame,
        unchanged=unchanged_frame,
        skipped=stack(skipped),
    )
