"""The fleet sandbox (bench.fleet): N tenants' own Handy and Gestionix worlds behind one server each,
routed by the `/<slug>` prefix, isolated from one another."""

from __future__ import annotations

import httpx

from sandbox.fleet import build_fleet
from sandbox.handy import DEMO_TOKEN

AUTH = {"Authorization": f"Bearer {DEMO_TOKEN}"}


async def test_each_tenant_has_its_own_handy_account_and_page_links_keep_its_prefix():
    fleet, handy_app, _ = build_fleet(["uno", "dos"], products=5, customers=2)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=handy_app), base_url="http://fleet"
    ) as client:
        created = await client.post(
            "/uno/api/v2/product",
            headers=AUTH,
            json={
                "code": "P-1",
                "description": "Solo de uno",
                "family": {"description": "F"},
                "price": 10,
            },
        )
        assert created.status_code in (200, 201), created.text
        uno = (await client.get("/uno/api/v2/product", headers=AUTH, params={"max": 1})).json()
        dos = (await client.get("/dos/api/v2/product", headers=AUTH, params={"max": 1})).json()
        assert [p["code"] for p in uno["products"]] == ["P-1"] and dos["products"] == []
        assert uno["pagination"]["firstPage"].startswith("http://fleet/uno/api/v2/product?")
        assert (await client.get("/tres/api/v2/product", headers=AUTH)).status_code == 404
    assert set(fleet.worlds) == {"uno", "dos"}
    assert fleet.worlds["uno"].handy is not fleet.worlds["dos"].handy


async def test_each_tenant_has_its_own_gestionix_and_counters():
    fleet, _, gestionix_app = build_fleet(["uno", "dos"], products=5, customers=2)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gestionix_app), base_url="http://fleet"
    ) as client:
        stats = await client.get("/dos/_sandbox/stats")
        assert stats.status_code == 200
    assert fleet.worlds["uno"].gestionix is not fleet.worlds["dos"].gestionix
