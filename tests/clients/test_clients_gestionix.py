"""GestionixClient against pytest-httpx (strict: every mock must be used, every request mocked)."""

from __future__ import annotations

import asyncio
import pickle

import httpx
import pytest

from clients.errors import (
    Conflict,
    CredentialsError,
    PaginationError,
    Retryable,
    ValidationFailed,
)
from clients.gestionix import GestionixClient
from tests.kit.mocked_apis import (
    GESTIONIX_URL,
    GX_PASSWORD,
    GX_TOKEN,
    GX_TOKEN_2,
    GX_USER,
    assert_no_secrets,
)

COMPANIES = [
    {
        "company_id": 92,
        "emitter": {
            "business_name": "DISTRIBUIDORA LUCÍA SA DE CV",
            "commercial_name": "Lucía Distribuciones",
            "tax_id": None,
        },
    },
    {
        "company_id": 93,
        "emitter": {"business_name": "OTRA EMPRESA SA", "commercial_name": "", "tax_id": None},
    },
]


def expect_login(httpx_mock, token: str = GX_TOKEN) -> None:
    httpx_mock.add_response(
        method="POST",
        url=f"{GESTIONIX_URL}/users/authentication",
        match_json={"user": GX_USER, "password": GX_PASSWORD},
        json={"access_token": token, "user_id": 93, "token_type": "Bearer", "expires_in": 40000},
    )


def expect_companies(httpx_mock, companies=COMPANIES, token: str = GX_TOKEN) -> None:
    httpx_mock.add_response(
        method="GET",
        url=f"{GESTIONIX_URL}/users/companies",
        match_headers={"Authorization": f"Bearer {token}"},
        json=companies,
    )


def expect_end(httpx_mock, path: str, page: int = 2, page_size: int = 500, **params) -> None:
    """The empty page that ends a bare-array list (a short page proves nothing)."""
    httpx_mock.add_response(
        url=company_url(path, **params, page=page, page_size=page_size), json=[]
    )


def company_url(path: str, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in {**params}.items())
    return f"{GESTIONIX_URL}{path}" + (f"?{query}" if query else "")


# -- login, Company header, 401 -------------------------------------------------------------------
async def test_given_credentials_when_first_call_then_logs_in_and_sends_bearer_and_company(
    gestionix, httpx_mock
):
    expect_login(httpx_mock)
    httpx_mock.add_response(
        url=company_url("/taxes", page=1, page_size=500),
        match_headers={"Authorization": f"Bearer {GX_TOKEN}", "Company": "92"},
        json=[{"tax_id": 1, "name": "IVA", "rate": 0.16, "type": "transferred", "factor": "rate"}],
    )
    expect_end(httpx_mock, "/taxes")
    taxes = await gestionix.list_taxes()
    assert taxes[0]["tax_id"] == 1
    assert gestionix.logins == 1
    login_request = httpx_mock.get_requests(url=f"{GESTIONIX_URL}/users/authentication")[0]
    assert "Company" not in login_request.headers and "Authorization" not in login_request.headers
    assert gestionix.calls == {"POST /users/authentication": 1, "GET /taxes": 2}


async def test_a1_the_users_companies_are_listed_without_a_company_and_nothing_else_is(
    clock, httpx_mock
):
    """A1: the client lists the user's companies (no `Company` header: none is chosen yet) and
    leaves the choice to mappings.company; a company-scoped call before it is refused unsent."""
    expect_login(httpx_mock)
    expect_companies(httpx_mock)
    async with GestionixClient(GESTIONIX_URL, GX_USER, GX_PASSWORD, tenant="t", clock=clock) as gx:
        assert await gx.list_companies() == COMPANIES
        with pytest.raises(RuntimeError, match="needs the Gestionix company"):
            await gx.list_branches()
    companies_request = httpx_mock.get_requests(url=f"{GESTIONIX_URL}/users/companies")[0]
    assert "Company" not in companies_request.headers
    assert companies_request.headers["Authorization"] == f"Bearer {GX_TOKEN}"


async def test_given_an_expired_token_when_calling_then_logs_in_again_once_and_repeats(
    gestionix, httpx_mock
):
    expect_login(httpx_mock)
    httpx_mock.add_response(
        url=company_url("/sellers", page=1, page_size=500),
        match_headers={"Authorization": f"Bearer {GX_TOKEN}"},
        status_code=401,
        json={"message": "Token expired"},
    )
    expect_login(httpx_mock, token=GX_TOKEN_2)
    httpx_mock.add_response(
        url=company_url("/sellers", page=1, page_size=500),
        match_headers={"Authorization": f"Bearer {GX_TOKEN_2}", "Company": "92"},
        json=[{"seller_id": 12, "name": "Ana Pérez"}],
    )
    expect_end(httpx_mock, "/sellers")
    assert await gestionix.list_sellers() == [{"seller_id": 12, "name": "Ana Pérez"}]
    assert gestionix.logins == 2


async def test_given_401_after_a_fresh_login_when_calling_then_credentials_error(
    gestionix, httpx_mock
):
    expect_login(httpx_mock)
    httpx_mock.add_response(
        url=company_url("/sellers", page=1, page_size=500),
        status_code=401,
        match_headers={"Authorization": f"Bearer {GX_TOKEN}"},
    )
    expect_login(httpx_mock, token=GX_TOKEN_2)
    httpx_mock.add_response(
        url=company_url("/sellers", page=1, page_size=500),
        status_code=401,
        match_headers={"Authorization": f"Bearer {GX_TOKEN_2}"},
        json={"message": f"token {GX_TOKEN_2} revoked"},
    )
    with pytest.raises(CredentialsError, match="401 again right after a fresh login") as caught:
        await gestionix.list_sellers()
    assert gestionix.logins == 2
    assert_no_secrets(caught.value, repr(caught.value))


async def test_given_many_calls_hitting_401_together_then_a_single_relogin(gestionix, httpx_mock):
    expect_login(httpx_mock)
    httpx_mock.add_response(
        method="DELETE",
        match_headers={"Authorization": f"Bearer {GX_TOKEN}"},
        status_code=401,
        is_reusable=True,
    )
    expect_login(httpx_mock, token=GX_TOKEN_2)
    httpx_mock.add_response(
        method="DELETE",
        match_headers={"Authorization": f"Bearer {GX_TOKEN_2}"},
        status_code=204,
        is_reusable=True,
    )
    results = await asyncio.gather(*(gestionix.delete_document("sales_order", i) for i in range(5)))
    assert results == ["deleted"] * 5
    assert gestionix.logins == 2


async def test_given_a_wrong_password_when_logging_in_then_credentials_error_without_secrets(
    gestionix, httpx_mock
):
    httpx_mock.add_response(
        method="POST",
        url=f"{GESTIONIX_URL}/users/authentication",
        status_code=401,
        json={
            "message": "Usuario o contraseña incorrectos",
            "password": GX_PASSWORD,
            "user": GX_USER,
        },
    )
    with pytest.raises(CredentialsError, match="refused the login") as caught:
        await gestionix.list_companies()
    error = caught.value
    assert "Usuario o contraseña incorrectos" in error.message
    assert_no_secrets(
        error, repr(error), error.details, error.body_snippet, pickle.loads(pickle.dumps(error))
    )
    assert len(httpx_mock.get_requests()) == 1


# -- paging -----------------------------------------------------------------------------------------
async def test_p7_given_a_server_capping_pages_below_the_size_asked_when_listing_then_reads_to_an_empty_page(
    clock, httpx_mock
):
    """P7 relies on a complete read: pages shorter than asked (a server cap) are not the end;
    only an empty page is, so no product is taken for gone."""
    expect_login(httpx_mock)
    for page, keys in ((1, ["A", "B"]), (2, ["C", "D"]), (3, ["E"]), (4, [])):
        httpx_mock.add_response(
            url=company_url("/products", branch_id=310, page=page, page_size=5),
            json=[{"product_id": i, "key": k} for i, k in enumerate(keys, start=page * 10)],
        )
    async with GestionixClient(
        GESTIONIX_URL, GX_USER, GX_PASSWORD, tenant="t", company_id=92, clock=clock, page_size=5
    ) as gx:
        products = await gx.list_products(310)
    assert [p["key"] for p in products] == ["A", "B", "C", "D", "E"]


async def test_given_an_exactly_full_last_page_when_listing_then_one_more_empty_page_ends_it(
    clock, httpx_mock
):
    expect_login(httpx_mock)
    httpx_mock.add_response(
        url=company_url("/clients", branch_id=310, page=1, page_size=2),
        json=[{"client_id": 1}, {"client_id": 2}],
    )
    httpx_mock.add_response(
        url=company_url("/clients", branch_id=310, page=2, page_size=2), json=[]
    )
    async with GestionixClient(
        GESTIONIX_URL, GX_USER, GX_PASSWORD, tenant="t", company_id=92, clock=clock, page_size=2
    ) as gx:
        assert [c["client_id"] for c in await gx.list_clients(310)] == [1, 2]


async def test_given_a_server_ignoring_page_when_listing_then_pagination_error_not_an_endless_loop(
    clock, httpx_mock
):
    expect_login(httpx_mock)
    httpx_mock.add_response(
        url=company_url("/products", branch_id=310, page=1, page_size=2),
        json=[{"product_id": 1}, {"product_id": 2}],
    )
    httpx_mock.add_response(
        url=company_url("/products", branch_id=310, page=2, page_size=2),
        json=[{"product_id": 1}, {"product_id": 2}],
    )
    async with GestionixClient(
        GESTIONIX_URL, GX_USER, GX_PASSWORD, tenant="t", company_id=92, clock=clock, page_size=2
    ) as gx:
        with pytest.raises(PaginationError, match="ignore 'page'"):
            await gx.list_products(310)


# -- documents --------------------------------------------------------------------------------------
ORDER_BODY = {
    "branch_id": 310,
    "client_id": 1201,
    "date": "2026-11-27T15:04:05Z",
    "seller_id": None,
    "reference": "HANDY-29079293",
    "observations": "Pedido Handy 29079293",
    "items": [
        {
            "product_id": 5012,
            "quantity": 3,
            "unit_price": 10.3448,
            "discount": 0.0,
            "taxes": [{"tax_id": 1}],
        }
    ],
}


@pytest.mark.parametrize(
    ("doc_type", "path", "id_field"),
    [("sales_order", "/sales_orders", "sales_order_id"), ("sale", "/sales", "sale_id")],
)
async def test_given_a_document_when_creating_then_the_answer_plus_id(
    gestionix, httpx_mock, doc_type, path, id_field
):
    expect_login(httpx_mock)
    httpx_mock.add_response(
        method="POST",
        url=company_url(path),
        match_json=ORDER_BODY,
        status_code=201,
        json={
            id_field: 8891,
            "serie": "P",
            "folio": 1042,
            "total": 36.0,
            "reference": "HANDY-29079293",
        },
    )
    document = await gestionix.create_document(doc_type, ORDER_BODY)
    assert document["id"] == 8891 and document[id_field] == 8891 and document["folio"] == 1042


async def test_given_a_used_reference_when_creating_then_conflict_with_the_existing_id(
    gestionix, httpx_mock
):
    expect_login(httpx_mock)
    httpx_mock.add_response(
        method="POST",
        status_code=409,
        json={"message": "La referencia ya existe", "existing_id": 8891},
    )
    with pytest.raises(Conflict, match="La referencia ya existe") as caught:
        await gestionix.create_document("sales_order", ORDER_BODY)
    assert caught.value.details["existing_id"] == 8891


async def test_given_a_timeout_when_creating_a_document_then_not_resent(gestionix, httpx_mock):
    expect_login(httpx_mock)
    httpx_mock.add_exception(
        httpx.ReadTimeout("timed out"), method="POST", url=company_url("/sales_orders")
    )
    with pytest.raises(Retryable):
        await gestionix.create_document("sales_order", ORDER_BODY)
    assert gestionix.calls["POST /sales_orders"] == 1


async def test_given_a_422_when_creating_a_client_then_validation_failed_with_field_errors(
    gestionix, httpx_mock
):
    expect_login(httpx_mock)
    httpx_mock.add_response(
        method="POST",
        url=company_url("/clients"),
        status_code=422,
        json={
            "message": "Datos inválidos",
            "errors": [{"field": "tax_id", "message": "RFC inválido"}],
        },
    )
    with pytest.raises(ValidationFailed) as caught:
        await gestionix.create_client({"commercial_name": "Tienda", "tax_id": "XYZ"})
    assert caught.value.message == "Datos inválidos"
    assert caught.value.field_errors == [{"field": "tax_id", "message": "RFC inválido"}]
    assert "tax_id: RFC inválido" in str(caught.value)


async def test_given_a_429_with_retry_after_when_listing_then_waits_that_long_and_retries(
    gestionix, clock, httpx_mock
):
    expect_login(httpx_mock)
    httpx_mock.add_response(
        url=company_url("/sellers", page=1, page_size=500),
        status_code=429,
        headers={"Retry-After": "7"},
        text="slow down",
    )
    httpx_mock.add_response(url=company_url("/sellers", page=1, page_size=500), json=[])
    before = clock.monotonic()
    assert await gestionix.list_sellers() == []
    assert clock.monotonic() - before == pytest.approx(7, abs=0.01)


async def test_given_a_reference_when_finding_then_the_matching_document_or_none(
    gestionix, httpx_mock
):
    expect_login(httpx_mock)
    httpx_mock.add_response(
        url=company_url("/sales", reference="HANDY-1", page=1, page_size=500),
        json=[{"sale_id": 5, "reference": "HANDY-1"}],
    )
    expect_end(httpx_mock, "/sales", reference="HANDY-1")
    httpx_mock.add_response(
        url=company_url("/sales_orders", reference="HANDY-2", page=1, page_size=500),
        json=[{"sales_order_id": 6, "reference": "HANDY-22"}],
    )  # server ignored the filter
    expect_end(httpx_mock, "/sales_orders", reference="HANDY-2")
    assert await gestionix.find_document_by_reference("sale", "HANDY-1") == {
        "sale_id": 5,
        "reference": "HANDY-1",
        "id": 5,
    }
    assert await gestionix.find_document_by_reference("sales_order", "HANDY-2") is None


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [(204, None, "deleted"), (404, {"message": "No existe"}, "gone")],
)
async def test_d3_given_a_delete_answer_when_deleting_then_deleted_or_gone(
    gestionix, httpx_mock, status, body, expected
):
    expect_login(httpx_mock)
    httpx_mock.add_response(
        method="DELETE", url=company_url("/sales_orders/8891"), status_code=status, json=body
    )
    assert await gestionix.delete_document("sales_order", 8891) == expected


async def test_d3_given_an_invoiced_document_when_deleting_then_conflict_with_the_reason(
    gestionix, httpx_mock
):
    expect_login(httpx_mock)
    httpx_mock.add_response(
        method="DELETE",
        url=company_url("/sales/77"),
        status_code=409,
        json={"message": "La venta está facturada"},
    )
    with pytest.raises(Conflict, match="La venta está facturada"):
        await gestionix.delete_document("sale", 77)
    assert len(httpx_mock.get_requests(method="DELETE")) == 1


async def test_given_an_html_500_then_success_when_deleting_then_deleted(gestionix, httpx_mock):
    expect_login(httpx_mock)
    httpx_mock.add_response(
        method="DELETE", status_code=500, text="<!DOCTYPE html><html><body><h1>Error"
    )
    httpx_mock.add_response(method="DELETE", status_code=204)
    assert await gestionix.delete_document("sales_order", 1) == "deleted"


async def test_given_an_unknown_doc_type_when_creating_then_value_error_before_any_request(
    gestionix,
):
    with pytest.raises(ValueError, match="doc_type"):
        await gestionix.create_document("invoice", {})  # type: ignore[arg-type]


async def test_given_a_client_when_repr_then_no_password(gestionix):
    assert GX_PASSWORD not in repr(gestionix) and GX_USER not in repr(gestionix)


async def test_a2_given_debug_logging_when_logging_in_again_and_failing_then_no_secret_in_logs(
    gestionix, httpx_mock, caplog
):
    caplog.set_level("DEBUG")
    expect_login(httpx_mock)
    httpx_mock.add_response(url=company_url("/taxes", page=1, page_size=500), status_code=401)
    expect_login(httpx_mock, token=GX_TOKEN_2)
    httpx_mock.add_response(
        url=company_url("/taxes", page=1, page_size=500),
        status_code=503,
        text=f"upstream said Bearer {GX_TOKEN_2}",
        is_reusable=True,
    )
    with pytest.raises(Retryable) as caught:
        await gestionix.list_taxes()
    assert "clients.gestionix" in {r.name for r in caplog.records}
    assert_no_secrets(caplog.text, caught.value, repr(caught.value))
