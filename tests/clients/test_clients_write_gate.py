"""O8: the client asks its write gate (the run's lease) right before a write leaves, after the
rate limiter's wait, and never for a read: a run that lost its lease sends nothing more."""

from __future__ import annotations

import pytest

from clients.gestionix import GestionixClient
from store.leases import LeaseLost
from tests.kit.mocked_apis import GESTIONIX_URL, GX_PASSWORD, GX_USER


class Gate:
    def __init__(self) -> None:
        self.open, self.asked = True, 0

    def __call__(self) -> None:
        self.asked += 1
        if not self.open:
            raise LeaseLost("tenant acme: lease 'orders' lost")


async def test_o8_write_gate_stops_a_create_before_it_is_sent_and_leaves_reads_alone(
    clock, retry_policy, httpx_mock
):
    httpx_mock.add_response(
        method="POST", url=f"{GESTIONIX_URL}/users/authentication", json={"access_token": "tok-1"}
    )
    httpx_mock.add_response(method="GET", json=[])
    gate = Gate()
    async with GestionixClient(
        GESTIONIX_URL,
        GX_USER,
        GX_PASSWORD,
        tenant="acme",
        company_id=92,
        clock=clock,
        retry_policy=retry_policy,
    ) as gestionix:
        gestionix.write_gate = gate
        assert await gestionix.list_documents("sales_order") == []
        reads_asked = gate.asked
        gate.open = False
        with pytest.raises(LeaseLost):
            await gestionix.create_document("sales_order", {"reference": "HANDY-1"})
    assert reads_asked == 1  # the login POST asked; the GET did not
    sent = [(r.method, r.url.path) for r in httpx_mock.get_requests()]
    assert ("POST", "/api/v3/sales_orders") not in sent and ("GET", "/api/v3/sales_orders") in sent
