"""X5: every record can be explained — `hgsync explain` and the explain flow, for orders pushed,
held, deleted, tombstoned and edited, products synced, disabled and left out for each reason, and a
customer created from an order. The demo tenant of prefect.yaml, against a fresh sandbox."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from cli import app
from flows.catalog import catalog_pull
from flows.deletions import deletion_sync
from flows.explain import explain
from flows.orders import order_push
from mappings.explain import verdict
from ops import deployments
from store import left_out
from store.history import record_story
from tests.kit.sandbox_orders import (
    activate,
    company,
    customer,
    delete,
    edit,
    handy_product,
    order,
    seed_catalog,
)
from tests.kit.tenants import save_tenant_blocks

pytestmark = pytest.mark.flow


@pytest.fixture
def demo(prefect_harness, sandbox):
    save_tenant_blocks(sandbox, "demo")
    return deployments.tenant("demo")


async def cli_explain(*args: str) -> str:
    """`hgsync explain --tenant demo ...` in a thread (--live runs its own event loop)."""
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["explain", "--tenant", "demo", *args]
    )
    assert result.exit_code == 0, result.output
    return result.output


def said(entity: str, key, live: dict | None = None) -> str:
    return verdict(record_story("demo", entity, str(key)), live)


async def test_x5_explain_orders_pushed_held_deleted_tombstoned_edited_and_a_customer_from_an_order(
    sandbox, demo
):
    """X5: each order's verdict says where it is and why; the CLI prints the verdict first, then
    every run that named it with its reason and the dead letter with its attempts."""
    sb = sandbox
    codes = seed_catalog(sb, 2)
    handy_product(sb, "REF-9", 20.0)  # not in Gestionix: its order is held
    customer(sb, "NUEVO-1", "Abarrotes Nuevos")  # only in Handy: the order creates the client
    pushed, to_delete, to_edit = (order(sb, "NUEVO-1", [(codes[0], n)]) for n in (1, 2, 3))
    held = order(sb, "NUEVO-1", [("REF-9", 1)])
    activate("demo")
    await order_push(demo)
    never_pushed = order(sb, "NUEVO-1", [(codes[1], 1)])
    delete(sb, never_pushed["id"])
    delete(sb, to_delete["id"])
    edit(sb, to_edit["id"], items=[{"product": codes[1], "quantity": 4}])
    await deletion_sync(demo)

    assert said("order", pushed["id"]).startswith("in Gestionix as sales_order:")
    assert "pushed by the run of" in said("order", pushed["id"])
    assert said("order", held["id"]).startswith("not in Gestionix: held since")
    assert "product REF-9 not in Gestionix" in said("order", held["id"])
    assert said("order", to_delete["id"]).startswith(
        "deleted in Handy: its Gestionix document sales_order:"
    )
    assert said("order", to_edit["id"]).startswith(
        "deleted in Handy (old version of an edited order)"
    )
    assert said("order", never_pushed["id"]).startswith(
        "deleted in Handy before it was pushed: never sent"
    )
    assert said("customer", "NUEVO-1").startswith("created in Gestionix as client ")
    assert "from a Handy order by the orders run of" in said("customer", "NUEVO-1")
    assert said("order", "999999999").startswith("never seen by a run")

    output = await cli_explain("order", str(held["id"]))
    assert output.startswith(f"order {held['id']}: not in Gestionix: held since")
    assert "orders (store run" in output and "dead-lettered — " in output
    assert "attempts 1" in output and "open, retried each run" in output
    live = await cli_explain("order", str(pushed["id"]), "--live")
    assert f"- handy: order {pushed['id']}" in live and "- gestionix: sales_order:" in live


async def test_x5_explain_products_synced_disabled_and_left_out_for_each_reason(sandbox, demo):
    """X5 and the seed's FAQ: a product synced, one disabled when it left the sucursal, and one
    left out for each reason (not for sale, inactive, refused clave, another sucursal); a second
    catalog run with nothing changed writes no left-out row."""
    sb = sandbox
    gx = company(sb)

    def product(key: str, **fields):
        sb.gestionix.upsert_product(
            gx,
            {
                "key": key,
                "name": f"Producto {key}",
                "price": 10.0,
                "taxes": [1],
                "branches": ["Matriz"],
                **fields,
            },
        )

    product("SYNC-1")
    product("MOVED-1")
    product("NFS-1", for_sale=False)
    product("INA-1", active=False)
    product("BAD/1")
    product("NORTE-1", branches=["Sucursal Norte"])
    await catalog_pull(demo)
    product("MOVED-1", branches=["Sucursal Norte"])
    await catalog_pull(demo)
    rows_before = {
        k: left_out.get("demo", "product", k).since_run_id for k in ("NFS-1", "INA-1", "BAD/1")
    }

    await catalog_pull(demo)  # nothing changed: nothing written

    assert {k: left_out.get("demo", "product", k).since_run_id for k in rows_before} == rows_before
    assert said("product", "SYNC-1").startswith(
        "in Handy and enabled, as last written by the run of"
    )
    assert said("product", "NFS-1").startswith(
        "not in Handy: not for sale in Gestionix since the run of"
    )
    assert said("product", "INA-1").startswith(
        "in Handy but disabled: inactive in Gestionix since the run of"
    )
    assert said("product", "BAD/1").startswith(
        "not in Handy: its Gestionix data cannot be synced since"
    )
    assert "P4" in said("product", "BAD/1")
    assert said("product", "MOVED-1").startswith(
        "disabled in Handy: no longer in the sucursal's Gestionix catalog since the run of"
    )
    assert "another sucursal or is not in Gestionix" in said("product", "NORTE-1")

    output = await cli_explain("product", "NORTE-1", "--live")
    assert output.startswith(
        "product NORTE-1: not in Handy: in Gestionix it belongs to sucursal Sucursal Norte"
    )
    faq = await cli_explain("product", "NFS-1")
    assert "#### Left out of Handy" in faq and "P1: not for sale in Gestionix" in faq


async def test_x5_explain_flow_writes_the_story_as_a_markdown_artifact(sandbox, demo):
    """X5 in the UI: the explain flow's message is the verdict; the story is the demo-explain
    artifact."""
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    sb = sandbox
    sb.gestionix.upsert_product(
        company(sb),
        {
            "key": "NFS-2",
            "name": "Insumo",
            "price": 1.0,
            "taxes": [1],
            "branches": ["Matriz"],
            "for_sale": False,
        },
    )
    await catalog_pull(demo)

    state = await explain(demo, "product", "NFS-2", return_state=True)

    assert state.is_completed() and state.message.startswith(
        "product NFS-2: not in Handy: not for sale"
    )
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["demo-explain"]))
        )
    assert any("not for sale in Gestionix" in (a.data or "") for a in artifacts)
