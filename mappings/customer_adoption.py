"""C6 in full mode: unbound Handy customers adopted by a unique normalised name, pure.

A Gestionix client that is already in Handy (typed on a phone, or by an earlier integration)
is linked to it, never copied a second time; a name two customers or two clients share is
reported, never guessed. Adoption by code (the Handy code is the desired key) is plan_sync's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mappings.bindings import BindingRecord
from mappings.names import normalize_name

if TYPE_CHECKING:  # pandas is imported inside the function: order runs never load it
    import pandas as pd

AMBIGUOUS_COLUMNS = ["gestionix_key", "description", "handy_keys", "reason"]


@dataclass(frozen=True)
class CustomerAdoption:
    pairs: pd.DataFrame  # handy_key, gestionix_key: pass as plan_sync(adopt_pairs=...)
    ambiguous: pd.DataFrame  # AMBIGUOUS_COLUMNS


def match_existing_customers(
    desired: pd.DataFrame,
    handy_customers: pd.DataFrame,
    bindings: Sequence[BindingRecord] | None = None,
) -> CustomerAdoption:
    """Full mode (C6): pair unbound Handy customers with unbound desired ones whose normalised
    description is the same, when the name is unique on both sides; report the ties.

    `handy_customers`: key, description (handy_customers_frame). Handy customers whose code is a
    desired key are left to plan_sync (adoption by code)."""
    import pandas as pd

    bindings = bindings or []
    bound_g = {b.gestionix_key for b in bindings if b.gestionix_key is not None}
    bound_h = {b.handy_key for b in bindings}
    want = desired[
        ~desired["gestionix_key"].astype(str).isin(bound_g)
        & ~desired["key"].astype(str).isin(set(handy_customers["key"].dropna().astype(str)))
    ]
    have = handy_customers[
        ~handy_customers["key"].astype(str).isin(bound_h | set(desired["key"].astype(str)))
    ]
    want_names = want["description"].map(normalize_name)
    have_names = have["description"].map(normalize_name)
    handy_by_name = (
        have.groupby(have_names)["key"].agg(list) if not have.empty else pd.Series(dtype=object)
    )
    want_count = want_names.value_counts()
    pairs: list[dict[str, str]] = []
    ambiguous: list[dict[str, Any]] = []
    for (gkey, description), name in zip(
        want[["gestionix_key", "description"]].itertuples(index=False), want_names, strict=False
    ):
        if not name or name not in handy_by_name.index:
            continue
        handy_keys = [str(k) for k in handy_by_name[name]]
        if len(handy_keys) == 1 and want_count[name] == 1:
            pairs.append({"handy_key": handy_keys[0], "gestionix_key": str(gkey)})
            continue
        ambiguous.append(
            {
                "gestionix_key": str(gkey),
                "description": description,
                "handy_keys": handy_keys,
                "reason": f"client {gkey} ({description!r}): {len(handy_keys)} Handy customer(s) "
                f"{handy_keys} and {int(want_count[name])} Gestionix client(s) share that name; "
                "not adopted",
            }
        )
    return CustomerAdoption(
        pairs=pd.DataFrame(pairs, columns=["handy_key", "gestionix_key"]),
        ambiguous=pd.DataFrame(ambiguous, columns=AMBIGUOUS_COLUMNS),
    )
