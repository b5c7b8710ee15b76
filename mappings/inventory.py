"""The inventory split (RULES I1-I3): Handy free-use stock = Gestionix branch total - route stock.

- Route stock of a code = the sum of `quantity` over the open routes' inventory (I1).
- Free-use = max(total - route, 0); a negative result is written as 0 and reported (I2).
- Only quantities that differ from the last written one are written (compared at
  QUANTITY_PLACES decimals, so float noise never causes a write).
- With sync_inventory off nothing is computed, read or written (I3): plan_stock returns an
  empty plan without looking at its other arguments.
The last written quantity lives in the product binding's `data["quantity"]` (see
last_written_stock); the flow stores it there after each successful stock write.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mappings import handy_fields as H
from mappings.bindings import BindingRecord

QUANTITY_PLACES = 4
ROUTE_COLUMNS = ["code", "route_quantity"]
ROUTE_PROBLEM_COLUMNS = ["route_id", "code", "reason"]
SPLIT_COLUMNS = ["key", "total", "route", "quantity"]
REPORT_COLUMNS = ["key", "total", "route", "quantity", "rule", "reason"]
WRITE_COLUMNS = ["key", "quantity", "previous"]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class RouteStock:
    per_code: pd.DataFrame  # ROUTE_COLUMNS
    problems: pd.DataFrame  # ROUTE_PROBLEM_COLUMNS


def route_stock(routes: Iterable[Mapping[str, Any]]) -> RouteStock:
    """I1: stock loaded on open routes, summed per product code. Closed routes are ignored;
    unreadable entries are reported (and count as 0) instead of stopping the run."""
    totals: dict[str, float] = {}
    problems: list[dict[str, Any]] = []
    for route in routes:
        if not isinstance(route, Mapping) or route.get(H.ROUTE_CLOSED) is True:
            continue
        route_id = route.get(H.ID)
        inventory = route.get(H.ROUTE_INVENTORY) or []
        if not isinstance(inventory, list):
            problems.append(
                {
                    "route_id": route_id,
                    "code": None,
                    "reason": f"route {route_id!r}: inventory is not a list",
                }
            )
            continue
        for entry in inventory:
            code = entry.get(H.INVENTORY_PRODUCT) if isinstance(entry, Mapping) else None
            if isinstance(code, Mapping):  # tolerate an embedded product
                code = code.get(H.PRODUCT_CODE)
            quantity = (
                _number(entry.get(H.INVENTORY_QUANTITY)) if isinstance(entry, Mapping) else None
            )
            if not isinstance(code, str) or quantity is None:
                problems.append(
                    {
                        "route_id": route_id,
                        "code": code if isinstance(code, str) else None,
                        "reason": f"route {route_id!r}: unreadable inventory entry {entry!r}",
                    }
                )
                continue
            totals[code] = totals.get(code, 0.0) + quantity
    return RouteStock(
        per_code=pd.DataFrame(
            {"code": list(totals), "route_quantity": list(totals.values())}, columns=ROUTE_COLUMNS
        ),
        problems=pd.DataFrame(problems, columns=ROUTE_PROBLEM_COLUMNS),
    )


@dataclass(frozen=True)
class StockSplit:
    free_use: pd.DataFrame  # SPLIT_COLUMNS: the quantity Handy should hold, per product key
    reported: pd.DataFrame  # REPORT_COLUMNS: negatives set to 0 (I2) and unreadable totals


def split_stock(products: pd.DataFrame, route: pd.DataFrame) -> StockSplit:
    """I1/I2: free-use = max(total - route, 0) per product (`products`: key, stock = branch total;
    `route`: code, route_quantity). Negative results are set to 0 and reported."""
    totals = products.loc[:, ["key", "stock"]].rename(columns={"stock": "total"})
    totals["total"] = pd.to_numeric(totals["total"], errors="coerce")
    route_by_code = (
        route.groupby("code")["route_quantity"].sum() if not route.empty else pd.Series(dtype=float)
    )
    totals["route"] = totals["key"].map(route_by_code).fillna(0.0).astype(float)
    unreadable = totals["total"].isna()
    raw = (totals["total"] - totals["route"]).round(QUANTITY_PLACES)
    totals["quantity"] = raw.clip(lower=0.0)
    negative = ~unreadable & (raw < 0)

    neg = totals[negative].copy()
    neg["rule"] = "I2"
    neg["reason"] = (
        "product "
        + neg["key"].astype(str)
        + ": Gestionix total "
        + neg["total"].astype(str)
        + " minus route stock "
        + neg["route"].astype(str)
        + " is negative; free-use stock set to 0"
    )
    bad = totals[unreadable].copy()
    bad["rule"] = "I1"
    bad["reason"] = "product " + bad["key"].astype(str) + ": Gestionix branch stock is not a number"
    reported = (
        pd.concat([p for p in (neg, bad) if not p.empty], ignore_index=True)
        if (negative.any() or unreadable.any())
        else pd.DataFrame(columns=REPORT_COLUMNS)
    )
    return StockSplit(
        free_use=totals.loc[~unreadable, SPLIT_COLUMNS].reset_index(drop=True),
        reported=reported.loc[:, REPORT_COLUMNS],
    )


def last_written_stock(bindings: Iterable[BindingRecord]) -> pd.DataFrame:
    """key, quantity from the product bindings' data["quantity"] (rows without one are left out)."""
    rows = [
        (binding.handy_key, quantity)
        for binding in bindings
        if isinstance(binding.data, Mapping)
        and (quantity := _number(binding.data.get("quantity"))) is not None
    ]
    return pd.DataFrame(rows, columns=["key", "quantity"])


def known_stock(
    bindings: Iterable[BindingRecord], handy_products: Mapping[str, Mapping] | None
) -> pd.DataFrame:
    """key, quantity: the stock a write is compared with. The quantity last written (binding
    data) unless `handy_products` (code -> Handy record, full mode) holds a number for the code:
    then what Handy holds wins over what we remember, so a hand edit (drift) is written over."""
    last = last_written_stock(bindings)
    if handy_products is None:
        return last
    held = [
        {"key": code, "quantity": record.get(H.PRODUCT_QUANTITY)}
        for code, record in handy_products.items()
        if isinstance(record.get(H.PRODUCT_QUANTITY), (int, float))
    ]
    held_frame = pd.DataFrame(held, columns=["key", "quantity"])
    return pd.concat([last[~last["key"].isin(held_frame["key"])], held_frame], ignore_index=True)


def stock_changes(free_use: pd.DataFrame, last_written: pd.DataFrame | None) -> pd.DataFrame:
    """Rows of `free_use` whose quantity differs from the last written one (or was never written):
    WRITE_COLUMNS (previous is NaN when never written)."""
    wanted = free_use.loc[:, ["key", "quantity"]].copy()
    if last_written is None or last_written.empty:
        wanted["previous"] = math.nan
        return wanted.loc[:, WRITE_COLUMNS].reset_index(drop=True)
    previous = last_written.drop_duplicates("key", keep="last").set_index("key")["quantity"]
    wanted["previous"] = pd.to_numeric(wanted["key"].map(previous), errors="coerce")
    differs = wanted["previous"].isna() | (
        wanted["quantity"].round(QUANTITY_PLACES) != wanted["previous"].round(QUANTITY_PLACES)
    )
    return wanted.loc[differs, WRITE_COLUMNS].reset_index(drop=True)


@dataclass(frozen=True)
class StockPlan:
    writes: pd.DataFrame  # WRITE_COLUMNS: PUT /product/{key} {"quantity": quantity}
    reported: pd.DataFrame  # REPORT_COLUMNS
    route_problems: pd.DataFrame  # ROUTE_PROBLEM_COLUMNS


def plan_stock(
    products: pd.DataFrame,
    routes: Iterable[Mapping[str, Any]] | None,
    last_written: pd.DataFrame | None,
    *,
    sync_inventory: bool,
) -> StockPlan:
    """I1-I3 in one call: route stock, split, only the changes. Off -> empty plan (I3)."""
    if not sync_inventory:
        return StockPlan(
            writes=pd.DataFrame(columns=WRITE_COLUMNS),
            reported=pd.DataFrame(columns=REPORT_COLUMNS),
            route_problems=pd.DataFrame(columns=ROUTE_PROBLEM_COLUMNS),
        )
    loaded = route_stock(routes or [])
    split = split_stock(products, loaded.per_code)
    return StockPlan(
        writes=stock_changes(split.free_use, last_written),
        reported=split.reported,
        route_problems=loaded.problems,
    )


def stock_body(quantity: float) -> dict[str, Any]:
    """PUT /product/{code} body of a stock write (free-use stock, Handy's `quantity`)."""
    return {H.PRODUCT_QUANTITY: float(quantity)}
