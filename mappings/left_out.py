"""Which Gestionix products a catalog run leaves out of Handy, and why (X5), pure.

Reason codes, in the words `hgsync explain` uses:
  not_for_sale   P1: not marked for sale in Gestionix (raw material, supply): never in Handy
  inactive       P7: inactive in Gestionix: in Handy but disabled
  rejected       its Gestionix data cannot be synced (bad clave, price, name...): the rule and why
  not_in_branch  bound before, no longer in the sucursal's catalog (deleted, or moved to another
                 sucursal): disabled in Handy
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

NOT_FOR_SALE = "not_for_sale"
INACTIVE = "inactive"
REJECTED = "rejected"
NOT_IN_BRANCH = "not_in_branch"


def _present(value: Any) -> bool:
    return (
        value is not None and not (isinstance(value, float) and pd.isna(value)) and str(value) != ""
    )


def record_key(clave: Any, gestionix_id: Any) -> str:
    """The clave when there is one; a product without a usable clave is known by its Gestionix id."""
    return str(clave) if _present(clave) else f"id {gestionix_id}"


def _gid(value: Any) -> str | None:
    return str(value) if _present(value) else None


def left_out_products(
    desired: pd.DataFrame,
    rejected: pd.DataFrame,
    not_for_sale: pd.DataFrame,
    bound_keys: Iterable[str],
    branch_name: str,
) -> dict[str, tuple[str, str, str | None]]:
    """{key: (reason code, reason, Gestionix id)} for every product of this catalog read that is
    not in Handy as an enabled product, plus bound products the read no longer lists."""
    out: dict[str, tuple[str, str, str | None]] = {}
    for row in not_for_sale.itertuples(index=False):
        out[record_key(row.code, row.gestionix_id)] = (
            NOT_FOR_SALE,
            "P1: not for sale in Gestionix (raw material or supply)",
            _gid(row.gestionix_id),
        )
    for row in rejected.itertuples(index=False):
        out[record_key(row.code, row.gestionix_id)] = (
            REJECTED,
            f"{row.rule}: {row.reason}",
            _gid(row.gestionix_id),
        )
    for row in desired[~desired["enabled"].astype(bool)].itertuples(index=False):
        out[record_key(row.key, row.gestionix_id)] = (
            INACTIVE,
            "P7: inactive in Gestionix: in Handy but disabled",
            _gid(row.gestionix_id),
        )
    listed = set(out) | {str(key) for key in desired["key"]}
    for key in bound_keys:
        if _present(key) and str(key) not in listed:
            reason = (
                f"no longer in the catalog of sucursal {branch_name} (deleted in Gestionix or moved "
                "to another sucursal): disabled in Handy"
            )
            out[str(key)] = (NOT_IN_BRANCH, reason, None)
    return out
