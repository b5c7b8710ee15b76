"""Deletion protection (RULES P7, C3): how many bound records a plan disables, and whether that is
so many that the run must stop before writing and ask an operator first.

Trusted sync tools do the same (rclone `--max-delete`, Azure AD Connect's export deletion
threshold): a source that suddenly looks much smaller is more often a bad read, a wrong sucursal
or a mistake in the ERP than a real mass change, and disabling products or customers in Handy
takes them off every seller's phone at once.

A planned disable is one of:
- gone: bound, but absent from the Gestionix read (left the sucursal, deleted, clave renamed);
- not for sale: bound, still in the read, no longer for sale (catalog only, P1);
- inactive: inactive in Gestionix (P7, C3), as an enable/disable toggle or as an update that
  also changes the content.

The base is the tenant's bound, currently-enabled records of that entity: bindings with status
enabled, plus any record the plan disables that its binding did not show as enabled (full mode:
Handy drifted, or an adopted record), so the share never exceeds 100 %.

Pure: the plan and the binding records in, numbers and a message out (no Prefect, no I/O).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from mappings.bindings import BindingRecord, BindingStatus
from mappings.plan import Plan

# Fewer planned disables than this never trip the threshold: on a tenant with 20 customers one
# disable is already 5 %, and stopping for it would only teach operators to always confirm.
MASS_DISABLE_FLOOR = 5
EXAMPLE_KEYS = 5  # keys named in the message; the audit lists every one

GONE, NOT_FOR_SALE, INACTIVE = "gone", "not for sale", "inactive"
KINDS = (GONE, NOT_FOR_SALE, INACTIVE)
KIND_TEXT = {
    GONE: "gone from the Gestionix read",
    NOT_FOR_SALE: "no longer for sale",
    INACTIVE: "inactive in Gestionix",
}
DISABLE_COLUMNS = ["handy_key", "gestionix_key", "kind"]


@dataclass(frozen=True, eq=False)
class PlannedDisables:
    """Every disable a plan would write, by kind, against the enabled bound records."""

    disables: pd.DataFrame  # DISABLE_COLUMNS, gone first, then not for sale, then inactive
    enabled_bound: int

    @property
    def total(self) -> int:
        return len(self.disables)

    @property
    def percent(self) -> float:
        return 100.0 * self.total / self.enabled_bound if self.enabled_bound else 0.0

    def counts(self) -> dict[str, int]:
        found = self.disables["kind"].value_counts()
        return {kind: int(found.get(kind, 0)) for kind in KINDS}

    def examples(self, limit: int = EXAMPLE_KEYS) -> list[str]:
        return [str(key) for key in self.disables["handy_key"].head(limit)]


def _kind(gestionix_key: str | None, desired: set[str], not_for_sale: set[str]) -> str:
    if gestionix_key in desired:
        return INACTIVE
    return NOT_FOR_SALE if gestionix_key in not_for_sale else GONE


def _keys(values: Iterable[object]) -> set[str]:
    return {str(value) for value in values if value is not None}


def planned_disables(
    plan: Plan,
    bindings: Iterable[BindingRecord],
    desired_keys: Iterable[object],
    *,
    not_for_sale_keys: Iterable[object] = (),
) -> PlannedDisables:
    """The plan's disables by kind. desired_keys: gestionix keys of every desired row (a bound
    key absent from them is gone or not for sale); not_for_sale_keys: gestionix keys dropped by P1
    (catalog only)."""
    desired = _keys(desired_keys)
    not_for_sale = _keys(not_for_sale_keys)
    enabled_bound = {b.handy_key for b in bindings if b.status == BindingStatus.ENABLED}
    rows = [
        (row.handy_key, row.gestionix_key, _kind(row.gestionix_key, desired, not_for_sale))
        for row in plan.disable
    ]
    # an update that also disables (content changed too): only when the record is enabled now
    rows += [
        (row.handy_key, row.gestionix_key, INACTIVE)
        for row in plan.update
        if row.status == BindingStatus.DISABLED and row.handy_key in enabled_bound
    ]
    rows.sort(key=lambda row: (KINDS.index(row[2]), row[0]))
    base = enabled_bound | {handy_key for handy_key, _, _ in rows}
    frame = pd.DataFrame(rows, columns=DISABLE_COLUMNS, dtype=object)
    return PlannedDisables(disables=frame, enabled_bound=len(base))


@dataclass(frozen=True)
class MassDisableCheck:
    """The decision for one run: `tripped` means stop before writing unless confirmed."""

    tripped: bool
    summary: str  # counts, share and threshold in one sentence
    message: str  # what an operator reads: summary, examples, what was done, how to go on


def check_mass_disable(
    planned: PlannedDisables,
    *,
    threshold_percent: float,
    tenant: str,
    entity: str,
    run_name: str,
) -> MassDisableCheck:
    """Trips when the plan disables at least MASS_DISABLE_FLOOR records AND more than
    threshold_percent of the enabled bound ones. entity: plural noun ("products"); run_name: the
    `hgsync run` flow name ("catalog") for the how-to-go-on hint."""
    if not 0 < threshold_percent <= 100:
        raise ValueError(f"threshold_percent must be > 0 and <= 100, got {threshold_percent!r}")
    tripped = planned.total >= MASS_DISABLE_FLOOR and planned.percent > threshold_percent
    by_kind = ", ".join(f"{n} {KIND_TEXT[kind]}" for kind, n in planned.counts().items())
    summary = (
        f"tenant {tenant}: {run_name} would disable {planned.total} of {planned.enabled_bound} "
        f"enabled bound {entity} ({planned.percent:.1f} %; {by_kind}); mass-disable threshold "
        f"{threshold_percent:g} % (never under {MASS_DISABLE_FLOOR} disables)"
    )
    if not tripped:
        return MassDisableCheck(tripped=False, summary=summary, message=summary)
    examples = ", ".join(planned.examples())
    more = f" and {planned.total - EXAMPLE_KEYS} more" if planned.total > EXAMPLE_KEYS else ""
    message = (
        f"Mass disable stopped: {summary} — over the threshold. e.g. {examples}{more}. Nothing "
        f"was written to Handy. Check Gestionix first (a sucursal emptied or renamed by mistake, "
        f"a short read); if these disables are right, run once with confirm_mass_disable=True "
        f"(hgsync run {run_name} --tenant {tenant} --confirm-mass-disable), or raise the "
        f"tenant's mass_disable_threshold_percent."
    )
    return MassDisableCheck(tripped=True, summary=summary, message=message)
