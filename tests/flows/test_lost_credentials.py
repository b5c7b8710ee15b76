"""A credential lost in the middle of a run stops the run (RULES X2): it is not one record's
fault, so no record is dead-lettered or failed for it and the run ends `failed` with the reason.

Each test revokes the credential right before the first per-record call of its flow, through
the sandbox's own state (as an operator rotating the secret would), and lets the client meet
the 401 for real.
"""

from __future__ import annotations

import pytest

from clients.errors import Conflict, CredentialsError
from clients.gestionix import GestionixClient
from clients.handy import HandyClient
from flows.catalog import catalog_pull
from flows.customers import customer_sync
from flows.orders import order_push
from sandbox.server import Sandbox
from store import dead_letters, runs
from tests.kit.sandbox_orders import activate, customer, order, seed_catalog

pytestmark = pytest.mark.flow


def revoke_gestionix(sb: Sandbox) -> None:
    """The Gestionix password changed and every token expired: the re-login is refused."""
    sb.gestionix.users[sb.gestionix_user.strip().lower()]["password"] = "rotated-by-the-operator"
    sb.gestionix.expire_tokens()


def revoke_handy(sb: Sandbox) -> None:
    sb.handy.token = "rotated-by-the-operator"


def last_run(slug: str, flow: str):
    run = runs.recent(slug, flow=flow, limit=1)[0]
    return run, runs.items(slug, run.id)


async def test_x2_orders_credential_lost_during_the_reference_lookup_stops_the_run(
    sandbox, tenant, monkeypatch
):
    """X2/O8: Gestionix answers a create with 409 (the reference exists) and the credential is
    lost before the lookup by reference: the run fails with the credential's reason; the order
    is NOT dead-lettered (it was never the order's fault) and its intent stays for the next run."""
    sb = sandbox
    codes = seed_catalog(sb, 1)
    customer(sb, "C-1", "Abarrotes El Güero")
    placed = order(sb, "C-1", [(codes[0], 2)])
    activate(tenant.slug)

    async def conflict_then_revoked(self, doc_type, body):
        revoke_gestionix(sb)
        raise Conflict(
            f"La referencia {body['reference']} ya existe", system="gestionix", status=409
        )

    monkeypatch.setattr(GestionixClient, "create_document", conflict_then_revoked)
    with pytest.raises(CredentialsError, match="refused the login"):
        await order_push(tenant)

    assert dead_letters.get(tenant.slug, "order", str(placed["id"])) is None
    run, items = last_run(tenant.slug, "orders")
    assert run.status == "failed" and "refused the login" in run.summary
    assert not [i for i in items if i.action == "failed"]


async def test_x2_catalog_credential_lost_mid_write_stops_the_run(sandbox, tenant, monkeypatch):
    """X2: the Handy token is revoked after the catalog's writes began: the run fails with the
    reason instead of reporting every later product as failed."""
    sb = sandbox
    original = HandyClient.create_product
    calls = {"n": 0}

    async def revoked_after_three(self, body):
        calls["n"] += 1
        if calls["n"] == 3:
            revoke_handy(sb)
        return await original(self, body)

    monkeypatch.setattr(HandyClient, "create_product", revoked_after_three)
    sb.set_handy_knobs(rate_limit_per_minute=0)
    with pytest.raises(CredentialsError, match="Handy refused the API token"):
        await catalog_pull(tenant)

    run, items = last_run(tenant.slug, "catalog")
    assert run.status == "failed" and "Handy refused the API token" in run.summary
    assert not [i for i in items if i.action == "failed"]
    assert not dead_letters.open_letters(tenant.slug, "product")


async def test_x2_customers_credential_lost_mid_write_stops_the_run(sandbox, tenant, monkeypatch):
    """X2: the Handy token is revoked after the customers' writes began: the run fails with the
    reason; no customer is reported failed for it."""
    sb = sandbox
    original = HandyClient.create_customer
    calls = {"n": 0}

    async def revoked_after_two(self, body):
        calls["n"] += 1
        if calls["n"] == 2:
            revoke_handy(sb)
        return await original(self, body)

    monkeypatch.setattr(HandyClient, "create_customer", revoked_after_two)
    with pytest.raises(CredentialsError, match="Handy refused the API token"):
        await customer_sync(tenant)

    run, items = last_run(tenant.slug, "customers")
    assert run.status == "failed" and "Handy refused the API token" in run.summary
    assert not [i for i in items if i.action == "failed"]
    assert not dead_letters.open_letters(tenant.slug, "customer")
