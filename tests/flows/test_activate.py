"""activate and `hgsync tenant check` (A4): each failed check is clear and actionable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clients.credentials import GestionixCredentials, HandyCredentials
from flows.activate import ActivationFailed, activate
from store import binder, cursors
from tasks.activation import check_tenant
from tests.kit.tenants import make_tenant

pytestmark = pytest.mark.flow


async def test_a4_activation_checks_then_full_sync_then_cursors_now(sandbox, tenant):
    """A4: checks pass, the first full catalog and customer sync run, and the order/deletion
    cursors start now, so orders taken before activation are not pushed."""
    before = datetime.now(UTC)
    summary = await activate(tenant)

    assert "catalog:" in summary and "customers:" in summary
    assert binder.all_for(tenant.slug, "product") and binder.all_for(tenant.slug, "customer")
    assert len(sandbox.handy.products) == len(binder.all_for(tenant.slug, "product"))
    for stream in ("orders", "deletions"):
        assert before <= cursors.get(tenant.slug, stream) <= datetime.now(UTC)


async def test_a4_backfill_from_sets_the_cursors_back(sandbox):
    tenant = make_tenant(sandbox, sync_customers=False)
    since = datetime.now(UTC) - timedelta(days=3)
    summary = await activate(tenant, backfill_from=since)
    assert cursors.get(tenant.slug, "orders") == since
    assert "sync_customers is off" in summary and not binder.all_for(tenant.slug, "customer")


async def test_a4_missing_sucursal_lists_the_existing_ones_and_nothing_is_written(sandbox):
    tenant = make_tenant(sandbox, gestionix_branch="Sucursal Sur")
    report = await check_tenant(tenant)
    assert not report.ok
    assert "'Sucursal Sur' not found" in report.failure() and "'Matriz'" in report.failure()
    with pytest.raises(ActivationFailed, match="Sucursal Norte"):
        await activate(tenant)
    assert not sandbox.handy.products and cursors.get(tenant.slug, "orders") is None


async def test_a4_bad_credentials_are_named_without_the_secret(sandbox):
    tenant = make_tenant(sandbox)
    await HandyCredentials(base_url=sandbox.handy_url, api_token="wrong-token-123").asave(
        tenant.handy_credentials, overwrite=True
    )
    await GestionixCredentials(
        base_url=sandbox.gestionix_url, user=sandbox.gestionix_user, password="wrong-password-456"
    ).asave(tenant.gestionix_credentials, overwrite=True)
    report = await check_tenant(tenant)
    text = "\n".join(report.lines())
    assert "Handy rejected the API token" in text and "Gestionix rejected the user/password" in text
    assert "wrong-token-123" not in text and "wrong-password-456" not in text


async def test_a4_missing_block_and_branch_without_products_for_sale(sandbox):
    missing = make_tenant(sandbox).model_copy(update={"handy_credentials": "no-such-block"})
    report = await check_tenant(missing)
    assert not report.ok and "hgsync tenant add" in report.failure()

    company = sandbox.gestionix.companies[sandbox.company_id]
    for product in company.products.values():
        product["for_sale"] = False
    sandbox.gestionix.touch()
    report = await check_tenant(make_tenant(sandbox))
    assert not report.ok and "no product for sale" in report.failure()


async def test_a4_gestionix_credential_lost_while_reading_products_is_a_failed_check(
    sandbox, monkeypatch
):
    """A4/A2: the password is rotated between the login check and the product listing: the
    check reports a FAIL line naming the block (never the secret) instead of raising."""
    from clients.gestionix import GestionixClient

    tenant = make_tenant(sandbox)
    listing = GestionixClient.list_products

    async def rotated_first(self, *args, **kwargs):
        sandbox.gestionix.users[sandbox.gestionix_user.strip().lower()]["password"] = "rotated-9z"
        sandbox.gestionix.expire_tokens()
        return await listing(self, *args, **kwargs)

    monkeypatch.setattr(GestionixClient, "list_products", rotated_first)
    report = await check_tenant(tenant)
    text = "\n".join(report.lines())
    assert not report.ok
    assert "FAIL products for sale: Gestionix refused the credentials of block" in text
    assert tenant.gestionix_credentials in text and "rotated-9z" not in text
    assert sandbox.gestionix_password not in text
