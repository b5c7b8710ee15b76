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

from collections.abc import Iterable
from dataclasses import dataclass, fields

import pandas as pd

from mappings.plan_frames import PLAN_COLUMNS, stack
from mappings.plan_phases import check_inputs, classify_unbound, compare_bound, disable_gone

__all__ = ["PLAN_COLUMNS", "WRITE_SETS", "Plan", "plan_sync"]

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


def plan_sync(
    desired: pd.DataFrame,
    bindings: pd.DataFrame,
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
    return Plan(
        create=stack([unbound.create, *bound.recreate], payload),
        update=bound.update,
        enable=bound.enable,
        disable=stack([bound.disable, gone], payload),
        adopt=unbound.adopt,
        rebind=bound.rebind,
        unchanged=bound.unchanged,
        skipped=stack([*inputs.skipped, *unbound.skipped, *bound.skipped], payload),
    )
