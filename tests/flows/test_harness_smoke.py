"""The flow-test fixtures work: blocks saved in the harness connect both clients to the sandbox (A1)."""

from __future__ import annotations

from tasks.connect import connect
from tests.kit.tenants import make_tenant


async def test_a1_connect_resolves_company_and_branch_by_name(prefect_harness, sandbox):
    """A1: the tenant's sucursal is found by name (case/accents ignored) and products are read
    from that sucursal only."""
    company = sandbox.gestionix.companies[sandbox.company_id]
    tenant = make_tenant(sandbox, gestionix_branch="  SUCURSAL norte ")
    async with connect(tenant) as connection:
        assert connection.company_id == sandbox.company_id
        assert connection.branch_name == "Sucursal Norte"
        products = await connection.gestionix.list_products(connection.branch_id)
    in_branch = {
        pid
        for pid, branches in company.product_branches.items()
        if connection.branch_id in branches
    }
    assert {p["product_id"] for p in products} == in_branch
    assert len(in_branch) < len(
        company.products
    )  # the other sucursal has products we must not read
