"""customer_sync tasks: Gestionix clients of the sucursal -> Handy customers (RULES C1-C6, X1, X3):
the reads and the plan. What follows the plan (bindings without a write, zone General, the
writes) is in tasks/customer_writes.py.

Bindings (Entity.CUSTOMER, shared with order_push): handy_key = Handy customer code,
gestionix_key = str(client_id), status "enabled" | "disabled" (what was last written),
fingerprint = mappings.customers.customer_fingerprint of the written content. Customers created
here get the code "GX-<client_id>"; order_push binds clients it created to the Handy customer's
own code with fingerprint None, so the planner sees "state unknown" and updates that customer in
place (C6) instead of creating "GX-<id>".

C8: no update sends an empty value. A customer bound by order_push keeps what was typed in Handy:
its binding's data[BASELINE] holds the Gestionix address, e-mail, phone, RFC and seller of the
moment the link was made, and an update sends those only when they changed in Gestionix since
(then the baseline moves on). A binding of order_push from before baselines existed (fingerprint
None, no baseline) takes today's Gestionix values as its baseline: none of them is written over
Handy's fields, later changes are.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from prefect import task

from mappings import handy_fields as H
from mappings.bindings import BindingRecord, Entity
from mappings.customer_adoption import match_existing_customers
from mappings.customers import BASELINE, baseline_of, handy_customers_frame, map_customers
from mappings.mass_disable import PlannedDisables, planned_disables
from mappings.plan import Plan, plan_sync
from mappings.sellers import match_sellers, sellers_in_use
from mappings.tenant import TenantConfig
from store import binder
from tasks.audit import RunAudit
from tasks.connect import Connection
from tasks.options import RETRY_ON_OUTAGE, RUN_ONCE
from tasks.store_calls import store_call

SELLER = "seller"
# ---------------------------------------------------------------------------------------------
# Reads
# ---------------------------------------------------------------------------------------------


@dataclass
class Sources:
    """What the run read: the sucursal's clients and sellers, Handy's users (and customers in
    full mode, None otherwise)."""

    clients: list[dict]
    sellers: list[dict]
    users: list[dict]
    handy_customers: list[dict] | None = None


@task(name="read-customer-sources", **RETRY_ON_OUTAGE)
async def read_sources(connection: Connection, full: bool) -> Sources:
    """C1/C5 reads, concurrently: Gestionix clients of the sucursal and sellers, Handy users;
    with `full`, Handy customers too (enabled and disabled)."""
    reads: list[Awaitable[Any]] = [
        connection.gestionix.list_clients(connection.branch_id),
        connection.gestionix.list_sellers(),
        connection.handy.list_users(),
    ]
    if full:
        reads.append(connection.handy.list_customers())
    results = await asyncio.gather(*reads)
    return Sources(
        clients=results[0],
        sellers=results[1],
        users=results[2],
        handy_customers=results[3] if full else None,
    )


# ---------------------------------------------------------------------------------------------
# Plan
# ---------------------------------------------------------------------------------------------


@dataclass
class CustomerPlan:
    plan: Plan
    disables: PlannedDisables  # every planned disable by kind (deletion protection)
    handy_by_code: dict[str, dict] = field(default_factory=dict)  # full mode: Handy's records
    # C8: Handy code -> Gestionix content at the last write, for customers from Handy orders
    baselines: dict[str, dict] = field(default_factory=dict)

    @property
    def needs_zone(self) -> bool:
        return bool(self.plan.create)


@task(name="plan-customers", **RUN_ONCE)
async def plan_customers(tenant: TenantConfig, sources: Sources, audit: RunAudit) -> CustomerPlan:
    """Map (C2-C5), report rejected clients and unmatched sellers (once per seller), and plan
    against the bindings (C3, C6); in full mode against Handy's records too, adopting unique
    name matches and reporting ambiguous ones."""
    audit.count("read", len(sources.clients))
    match = match_sellers(sellers_in_use(sources.clients, sources.sellers), sources.users)
    mapping = map_customers(sources.clients, match.user_by_seller)

    for row in mapping.rejected.to_dict("records"):
        audit.count("skipped")
        audit.item(
            Entity.CUSTOMER, row["gestionix_key"] or "-", "skipped", row["reason"], rule=row["rule"]
        )

    per_seller = Counter(mapping.desired["gestionix_seller_id"].dropna().astype(str))
    for row in match.unmatched.to_dict("records"):
        audit.count("unmatched sellers")
        customers = per_seller.get(str(row["seller_id"]), 0)
        audit.item(
            SELLER,
            row["seller_id"],
            "unmatched",
            f"{row['reason']}; its {customers} customer(s) are synced without a Handy seller (C5)",
        )

    bindings = await store_call(binder.records, tenant.slug, Entity.CUSTOMER)
    current = adopt_pairs = None
    handy_by_code: dict[str, dict] = {}
    if sources.handy_customers is not None:
        records = [
            r for r in sources.handy_customers if isinstance(r, dict) and r.get(H.CUSTOMER_CODE)
        ]
        handy_by_code = {str(r[H.CUSTOMER_CODE]): r for r in records}
        current = handy_customers_frame(records)
        adoption = match_existing_customers(mapping.desired, current, bindings)
        adopt_pairs = adoption.pairs
        for row in adoption.ambiguous.to_dict("records"):
            audit.item(
                Entity.CUSTOMER,
                row["gestionix_key"],
                "ambiguous",
                row["reason"] + "; created as a new customer",
            )

    plan = plan_sync(
        mapping.desired, bindings, current, hold=mapping.held_keys, adopt_pairs=adopt_pairs
    )
    for row in plan.skipped:
        audit.skip(Entity.CUSTOMER, row.handy_key or row.gestionix_key, row.reason)
    disables = planned_disables(plan, bindings, mapping.desired["gestionix_key"])
    return CustomerPlan(
        plan=plan,
        disables=disables,
        handy_by_code=handy_by_code,
        baselines=baselines(bindings, mapping.desired),
    )


def baselines(bindings: list[BindingRecord], desired: pd.DataFrame) -> dict[str, dict]:
    """C8: Handy code -> baseline of every customer that came from a Handy order: the one its
    binding keeps, else (a link made before baselines, fingerprint None) today's content."""
    found: dict[str, dict] = {}
    today = None
    for binding in bindings:
        data = binding.data if isinstance(binding.data, dict) else {}
        if isinstance(data.get(BASELINE), dict):
            found[binding.handy_key] = data[BASELINE]
        elif binding.fingerprint is None and binding.gestionix_key is not None:
            if today is None:
                today = {str(r["gestionix_key"]): r for r in desired.to_dict("records")}
            match = today.get(binding.gestionix_key)
            if match is not None:
                found[binding.handy_key] = baseline_of(match)
    return found
