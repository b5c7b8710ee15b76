"""The credential blocks build their clients (get_client()): the saved URL and secret reach the
right header or login body, the caller's options reach the client, and the secret shows in no
rendering of the client (A2)."""

from __future__ import annotations

from clients.credentials import GestionixCredentials, HandyCredentials
from clients.gestionix import GestionixClient
from clients.handy import HandyClient
from clients.ratelimit import RetryPolicy
from tests.kit.mocked_apis import (
    GESTIONIX_URL,
    GX_PASSWORD,
    GX_TOKEN,
    GX_USER,
    HANDY_TOKEN,
    HANDY_URL,
    assert_no_secrets,
)

ONE_TRY = RetryPolicy(max_attempts=1)


async def test_a2_handy_block_builds_a_client_sending_its_token(httpx_mock):
    block = HandyCredentials(base_url=HANDY_URL + "/", api_token=HANDY_TOKEN)
    httpx_mock.add_response(
        url=f"{HANDY_URL}/product/REF-1",
        match_headers={"Authorization": f"Bearer {HANDY_TOKEN}"},
        json={"id": 1, "code": "REF-1"},
    )
    client = block.get_client(tenant="acme", timezone="America/Tijuana", retry_policy=ONE_TRY)
    async with client as handy:
        assert isinstance(handy, HandyClient)
        assert (await handy.get_product("REF-1"))["code"] == "REF-1"
    assert handy.tenant == "acme" and str(handy.zone) == "America/Tijuana"
    assert handy.base_url == HANDY_URL  # the block normalised it
    assert_no_secrets(repr(handy), str(handy))


async def test_a2_gestionix_block_builds_a_client_logging_in_with_its_user(httpx_mock):
    block = GestionixCredentials(base_url=GESTIONIX_URL, user=GX_USER, password=GX_PASSWORD)
    httpx_mock.add_response(
        method="POST",
        url=f"{GESTIONIX_URL}/users/authentication",
        match_json={"user": GX_USER, "password": GX_PASSWORD},
        json={"access_token": GX_TOKEN, "token_type": "Bearer", "expires_in": 40000},
    )
    httpx_mock.add_response(
        url=f"{GESTIONIX_URL}/users/companies",
        match_headers={"Authorization": f"Bearer {GX_TOKEN}"},
        json=[{"company_id": 92, "name": "ACME"}],
    )
    async with block.get_client(tenant="acme", retry_policy=ONE_TRY) as gestionix:
        assert isinstance(gestionix, GestionixClient)
        assert await gestionix.list_companies() == [{"company_id": 92, "name": "ACME"}]
    assert gestionix.tenant == "acme" and gestionix.logins == 1
    assert_no_secrets(repr(gestionix), str(gestionix))
