"""The one planner: desired Handy records vs bindings (and, in full mode, Handy's records).

Used for products and customers alike (RULES P7, P8, C3, C6). Pure pandas, no I/O.

Inputs
- desired: one row per record the integration wants in Handy. Required columns: key (the
  Handy code a new record gets), gestionix_key, fingerprint (content written, see
  mappings.fingerprint), enabled (bool); any other columns are payload and are carried along.
- bindings: the store's bindings of the entity (mappings.bindings.BindingRecord: handy_key,
  gestionix_key, fingerprint, status; records, not a frame: the store returns records).
  Status "enabled"/"disabled" is what the integration last wrote. Any other status (for example
  a customer bound by order_push) counts as "state unknown": matched and updated (C6), never
  disabled because it is absent from the desired set.
- current (optional, full mode): Handy's records, enabled AND disabled, with key, fingerprint
  (computed like the desired one), enabled. Then Handy, not the binding, is the state compared
  against (drift repair), and unbound Handy records with a desired key are adopted.
- hold: gestionix keys rejected this run (bad data): their bound records are left alone.
- adopt_pairs (optional): extra handy_key <-> gestionix_key adoptions decided elsewhere (e.g.
  customers matched by normalised name, mappings.customer_adoption.match_existing_customers).

Output (Plan): lists of PlanRow. handy_key is the Handy record to write; PlanRow.binding
(handy_key, gestionix_key, fingerprint, status) is the binding to store once that one action
succeeded; payload holds the desired row's other columns (key, enabled, the content). Sets are disjoint except `adopt`, whose rows may also appear in
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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mappings.bindings import BindingRecord
from mappings.plan_frames import PLAN_COLUMNS, stack
from mappings.plan_phases import check_inputs, classify_unbound, compare_bound, disable_gone

__all__ = ["WRITE_SETS", "Plan", "PlanRow", "plan_sync"]

WRITE_SETS = ("create", "update", "enable", "disable", "adopt", "rebind")


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One planned record. payload: the desired row's columns other than gestionix_key and
    fingerprint (key, enabled, the content); for a bound record no longer desired every one is
    None but key (= handy_key) and enabled (False)."""

    handy_key: str | None  # None only in `skipped` (a desired row without a key)
    gestionix_key: str | None
    fingerprint: str | None
    status: str  # BindingStatus: what the binding says once the write succeeded
    reason: str
    payload: Mapping[str, Any]

    @property
    def binding(self) -> dict[str, Any]:
        """The binding to store once this row's write succeeded (binder.bind_many row)."""
        return {
            "handy_key": self.handy_key,
            "gestionix_key": self.gestionix_key,
            "fingerprint": self.fingerprint,
            "status": self.status,
        }


class _PlanSet:
    """One set of a Plan: its frame made into PlanRows the first time it is read, then kept."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, plan: Plan | None, owner: type | None = None) -> list[PlanRow]:
        if plan is None:  # read on the class: the descriptor itself
            return self  # type: ignore[return-value]
        rows = _rows(plan._frames[self.name], plan._payload)
        plan.__dict__[self.name] = rows  # an instance attribute hides this descriptor from now on
        return rows


class Plan:
    """The plan's sets (create ... skipped), each a list of PlanRow. They are made from the planner's frames when
    first read: a steady state (everything unchanged, P8) is counted, never turned into 50 000
    rows nobody reads."""

    create = _PlanSet()
    update = _PlanSet()
    enable = _PlanSet()
    disable = _PlanSet()
    adopt = _PlanSet()
    rebind = _PlanSet()
    unchanged = _PlanSet()
    skipped = _PlanSet()

    def __init__(self, frames: Mapping[str, pd.DataFrame], payload: list[str]) -> None:
        self._frames = dict(frames)
        self._payload = payload

    def counts(self) -> dict[str, int]:
        return {name: len(frame) for name, frame in self._frames.items()}

    @property
    def is_noop(self) -> bool:
        """True when the plan writes nothing to Handy and nothing to the bindings."""
        return all(self._frames[name].empty for name in WRITE_SETS)


def _rows(frame: pd.DataFrame, payload: list[str]) -> list[PlanRow]:
    """A plan frame as PlanRows, the boundary where pandas ends: gaps pandas filled with NaN
    (a map() that found nothing, a concat of frames) become None, numpy scalars Python ones."""
    if frame.empty:
        return []
    frame = frame.astype(object)
    frame = frame.where(frame.notna(), None)
    heads = zip(*(frame[column].tolist() for column in PLAN_COLUMNS), strict=True)
    bodies = zip(*(frame[column].tolist() for column in payload), strict=True)
    return [
        PlanRow(handy_key, gestionix_key, fp, status, reason, dict(zip(payload, body, strict=True)))
        for (handy_key, gestionix_key, fp, status, reason), body in zip(heads, bodies, strict=True)
    ]


def plan_sync(
    desired: pd.DataFrame,
    bindings: Iterable[BindingRecord],
    current: pd.DataFrame | None = None,
    *,
    hold: Iterable[str] = (),
    adopt_pairs: pd.DataFrame | None = None,
    create_inactive: bool = True,
) -> Plan:
    """Create / update / enable / disable / adopt / rebind / unchanged / skipped (module doc),
    in four phases (mappings.plan_phases): check the inputs, classify the unbound rows, compare
    the bound ones, disable the bound records no longer desired."""
    inputs = check_inputs(desired, bindings, current)
    rows = inputs.desired
    is_bound = rows["_bound_handy"].notna()
    unbound = classify_unbound(rows[~is_bound].copy(), inputs, adopt_pairs, create_inactive)
    bound = compare_bound(rows[is_bound].copy(), unbound.adopted, inputs)
    gone = disable_gone(inputs, hold)
    payload = inputs.payload
    frames = {
        "create": stack([unbound.create, *bound.recreate], payload),
        "update": bound.update,
        "enable": bound.enable,
        "disable": stack([bound.disable, gone], payload),
        "adopt": unbound.adopt,
        "rebind": bound.rebind,
        "unchanged": bound.unchanged,
        "skipped": stack([*inputs.skipped, *unbound.skipped, *bound.skipped], payload),
    }
    return Plan(frames, payload)
