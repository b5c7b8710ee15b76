"""The catalog run's record of products left out of Handy with their reason (X5)."""

from __future__ import annotations

from prefect import get_run_logger, task

from mappings.bindings import Entity
from mappings.left_out import left_out_products
from mappings.products import ProductMapping
from store import left_out
from tasks.audit import RunAudit
from tasks.options import RUN_ONCE
from tasks.store_calls import store_call


@task(name="record-left-out", **RUN_ONCE)
async def record_left_out(
    slug: str, mapping: ProductMapping, bound_keys: list[str], branch_name: str, audit: RunAudit
) -> None:
    """Store what changed in the left-out set since the last run (nothing when nothing changed)."""
    if audit.dry_run:
        return

    def record() -> tuple[int, dict[str, int]]:  # in a worker thread: the flow plans meanwhile
        current = left_out_products(
            mapping.desired, mapping.rejected, mapping.not_for_sale, bound_keys, branch_name
        )
        return len(current), left_out.record(slug, Entity.PRODUCT, current, audit.run_id)

    left_out_count, changed = await store_call(record)
    get_run_logger().info(
        "%s products left out of Handy (%s newly, %s back in); `hgsync explain product CODE` says why",
        left_out_count,
        changed["started"],
        changed["ended"],
    )
