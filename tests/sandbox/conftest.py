"""Sandbox test fixtures: a small seeded world on a frozen clock, clients over ASGI transports."""

from __future__ import annotations

import httpx
import pytest

from sandbox.common import Clock
from sandbox.server import build_sandbox
from tests.kit.sandbox_clock import FROZEN_AT


@pytest.fixture
def clock() -> Clock:
    return Clock(frozen_at=FROZEN_AT)


@pytest.fixture
def sb(clock):
    return build_sandbox(seed=7, products=120, customers=30, clock=clock)


@pytest.fixture
async def handy(sb):
    async with httpx.AsyncClient(
        transport=sb.handy_transport(),
        base_url=sb.handy_url,
        headers={"Authorization": f"Bearer {sb.handy_token}"},
    ) as client:
        yield client


@pytest.fixture
async def handy_ctl(sb):
    async with httpx.AsyncClient(
        transport=sb.handy_transport(), base_url="http://handy.sandbox/_sandbox"
    ) as c:
        yield c


@pytest.fixture
async def gx_ctl(sb):
    async with httpx.AsyncClient(
        transport=sb.gestionix_transport(), base_url="http://gestionix.sandbox/_sandbox"
    ) as c:
        yield c


@pytest.fixture
async def gx_anon(sb):
    async with httpx.AsyncClient(
        transport=sb.gestionix_transport(), base_url=sb.gestionix_url
    ) as client:
        yield client


@pytest.fixture
async def gx(sb, gx_anon):
    """A Gestionix client already logged in, with the Company header of company 92."""
    response = await gx_anon.post(
        "/users/authentication", json={"user": sb.gestionix_user, "password": sb.gestionix_password}
    )
    assert response.status_code == 200
    async with httpx.AsyncClient(
        transport=sb.gestionix_transport(),
        base_url=sb.gestionix_url,
        headers={
            "Authorization": f"Bearer {response.json()['access_token']}",
            "Company": str(sb.company_id),
        },
    ) as client:
        yield client


@pytest.fixture
async def handy_catalog(handy, sb):
    """A family and three products created in Handy the way the integration would."""
    codes = ("REF-600", "PAP-45", "AGU-1L")
    family = (await handy.post("/productFamily", json={"description": "Bebidas"})).json()
    prices = {"REF-600": (12.0, 16.0), "PAP-45": (18.5, 8.0), "AGU-1L": (10.0, 0.0)}
    for code in codes:
        price, tax = prices.get(code, (20.0, 16.0))
        response = await handy.post(
            "/product",
            json={
                "code": code,
                "description": f"Producto {code}",
                "family": {"id": family["id"]},
                "price": price,
                "tax": {"name": "IVA", "amount": tax},
                "quantity": 10,
            },
        )
        assert response.status_code == 201, response.text
    return codes
