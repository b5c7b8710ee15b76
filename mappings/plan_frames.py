"""The plan's frames: keys as text, Handy's enabled state as a binding status, one plan frame.

Shared by the planner's phases (mappings.plan, mappings.plan_phases). Pure pandas, no I/O.
"""

from __future__ import annotations

import math

import pandas as pd

from mappings.bindings import BindingStatus

PLAN_COLUMNS = ["handy_key", "gestionix_key", "fingerprint", "status", "reason"]


def require(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks columns {missing}")


def as_key(series: pd.Series) -> pd.Series:
    """Keys of the frames the mappings build (desired rows, Handy's records, adoption pairs) as
    text, so a Gestionix id given as 1201 meets the stored "1201"; a missing key stays None.
    (The store's keys arrive as text in BindingRecords and need none of this.)"""
    return series.map(str).astype(object).where(series.notna(), None)


def enabled_or_unknown(value: object) -> bool:
    """Handy's `enabled`; a missing value counts as enabled (Handy's default)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return True
    return bool(value)


def status_of(enabled: pd.Series) -> pd.Series:
    return enabled.map({True: BindingStatus.ENABLED, False: BindingStatus.DISABLED}).astype(object)


def emit(
    rows: pd.DataFrame,
    payload: list[str],
    *,
    handy_key: pd.Series | str,
    fingerprint: pd.Series | str,
    status: pd.Series | str,
    reason: pd.Series | str,
) -> pd.DataFrame:
    """One plan frame: PLAN_COLUMNS, then the desired payload columns."""
    out = pd.DataFrame(index=rows.index)
    out["handy_key"] = handy_key
    out["gestionix_key"] = rows["gestionix_key"]
    out["fingerprint"] = fingerprint
    out["status"] = status
    out["reason"] = reason
    for column in payload:
        out[column] = rows[column] if column in rows.columns else None
    return out.astype(dict.fromkeys(PLAN_COLUMNS, object)).reset_index(drop=True)


def emit_desired(
    rows: pd.DataFrame,
    payload: list[str],
    reason: pd.Series | str,
    *,
    key: str = "key",
) -> pd.DataFrame:
    """The plan frame of desired rows: the Handy record in column `key`, their own fingerprint,
    and the status their `enabled` asks for."""
    return emit(
        rows,
        payload,
        handy_key=rows[key],
        fingerprint=rows["fingerprint"],
        status=status_of(rows["enabled"]),
        reason=reason,
    )


def stack(parts: list[pd.DataFrame], payload: list[str]) -> pd.DataFrame:
    """The non-empty parts one after the other; an empty plan frame when there are none."""
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=PLAN_COLUMNS + payload, dtype=object)
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
