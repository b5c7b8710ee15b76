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


def _key_text(value: object) -> str | None:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float):  # a key column that went through NaN becomes float
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else str(value)
    return str(value)


def as_key(series: pd.Series) -> pd.Series:
    """Keys as str objects (None stays None), so 1201, 1201.0 and "1201" meet."""
    return series.map(_key_text).astype(object)


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


def stack(parts: list[pd.DataFrame], payload: list[str]) -> pd.DataFrame:
    """The non-empty parts one after the other; an empty plan frame when there are none."""
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=PLAN_COLUMNS + payload, dtype=object)
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
