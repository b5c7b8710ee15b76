"""HandyClient against pytest-httpx (strict: every mock must be used, every request mocked)."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import httpx
import pytest

from clients.errors import (
    CredentialsError,
    InvalidCode,
    PaginationError,
    Retryable,
    UnreadableBody,
    ValidationFailed,
)
from clients.handy import HandyClient
from clients.ratelimit import RetryPolicy
from tests.kit.mocked_apis import HANDY_TOKEN, HANDY_URL, assert_no_secrets


def page_body(
    key: str, items: list[dict], page: int, total_pages: int, total: int | None = None
) -> dict:
    link = f"{HANDY_URL}/x?page={{}}"  # the server's links drop our filters on purpose
    return {
        "pagination": {
            "totalCount": total if total is not None else len(items) * total_pages,
            "totalPages": total_pages,
            "currentPage": link.format(page),
            "nextPage": link.format(page + 1) if page < total_pages else None,
            "prevPage": link.format(page - 1) if page > 1 else None,
            "firstPage": link.format(1),
            "lastPage": link.format(total_pages),
        },
        key: items,
    }


# -- auth -----------------------------------------------------------------------------------------
async def test_given_a_token_when_getting_a_product_then_sends_it_as_bearer(handy, httpx_mock):
    httpx_mock.add_response(
        method="GET",
        url=f"{HANDY_URL}/product/REF-600",
        match_headers={"Authorization": f"Bearer {HANDY_TOKEN}"},
        json={"id": 1, "code": "REF-600"},
    )
    product = await handy.get_product("REF-600")
    assert product == {"id": 1, "code": "REF-600"}
    assert handy.calls == {"GET /product/{code}": 1}


async def test_given_a_rejected_token_when_calling_then_credentials_error_and_no_retry(
    handy, httpx_mock
):
    httpx_mock.add_response(status_code=401, text=f"<html>Unauthorized {HANDY_TOKEN}</html>")
    with pytest.raises(CredentialsError) as caught:
        await handy.list_users()
    assert caught.value.status == 401
    assert len(httpx_mock.get_requests()) == 1
    assert_no_secrets(caught.value, repr(caught.value))


# -- pagination -----------------------------------------------------------------------------------
async def test_given_three_pages_when_iterating_products_then_reads_to_the_last_page_with_our_filters(
    handy, httpx_mock
):
    for page in (1, 2, 3):
        httpx_mock.add_response(
            method="GET",
            url=f"{HANDY_URL}/product",
            match_params={"enabled": "true", "page": str(page), "max": "2"},
            json=page_body("products", [{"code": f"P{page}a"}, {"code": f"P{page}b"}], page, 3),
        )
    products = await handy.list_products(enabled=True, page_size=2)
    assert [p["code"] for p in products] == ["P1a", "P1b", "P2a", "P2b", "P3a", "P3b"]
    assert handy.calls["GET /product"] == 3


async def test_given_total_pages_one_when_listing_users_then_asks_a_single_page(handy, httpx_mock):
    httpx_mock.add_response(
        url=f"{HANDY_URL}/user?page=1&max=100", json=page_body("users", [{"id": 7}], 1, 1)
    )
    assert await handy.list_users() == [{"id": 7}]


async def test_given_no_results_when_listing_customers_then_empty_list(handy, httpx_mock):
    httpx_mock.add_response(json=page_body("customers", [], 1, 0, total=0))
    assert await handy.list_customers() == []


async def test_given_a_server_ignoring_page_when_iterating_then_pagination_error_not_duplicates(
    handy, httpx_mock
):
    same_page = page_body("products", [{"code": "A"}, {"code": "B"}], 1, 5)
    httpx_mock.add_response(
        match_params={"page": "1", "max": "2"}, url=f"{HANDY_URL}/product", json=same_page
    )
    httpx_mock.add_response(
        match_params={"page": "2", "max": "2"}, url=f"{HANDY_URL}/product", json=same_page
    )
    with pytest.raises(PaginationError, match="ignore 'page'"):
        await handy.list_products(page_size=2)


async def test_given_an_empty_page_before_total_pages_when_listing_then_reread_then_fails_naming_the_call(
    handy, httpx_mock
):
    """An empty page before totalPages with a count that disagrees: read again, then a clear error."""
    for _ in range(2):
        httpx_mock.add_response(
            match_params={"page": "1", "max": "100"},
            url=f"{HANDY_URL}/zone",
            json=page_body("zones", [{"id": 1}], 1, 3, total=250),
        )
        httpx_mock.add_response(
            match_params={"page": "2", "max": "100"},
            url=f"{HANDY_URL}/zone",
            json=page_body("zones", [], 2, 3, total=250),
        )
    with pytest.raises(
        PaginationError,
        match=r"GET /zone: read 1 distinct records.*totalCount=250, 2 reads in a row",
    ):
        await handy.list_zones()
    assert handy.calls["GET /zone"] == 4


async def test_given_open_routes_when_listing_then_asks_closed_false_with_inventory(
    handy, httpx_mock
):
    httpx_mock.add_response(
        url=f"{HANDY_URL}/route",
        match_params={"closed": "false", "includeInventory": "true", "page": "1", "max": "100"},
        json=page_body(
            "routes", [{"id": 3, "inventory": [{"product": "A", "quantity": 2.0}]}], 1, 1
        ),
    )
    routes = await handy.list_open_routes()
    assert routes[0]["inventory"][0]["quantity"] == 2.0


# -- time window ----------------------------------------------------------------------------------
async def test_given_a_utc_window_when_listing_orders_then_sends_local_mexico_city_time(
    handy, httpx_mock
):
    httpx_mock.add_response(
        url=f"{HANDY_URL}/salesOrder",
        match_params={
            "start": "15/01/2026 06:00:00",
            "end": "15/01/2026 12:10:00",
            "filterWithDate": "dateCreated",
            "deleted": "false",
            "order": "asc",
            "page": "1",
            "max": "100",
        },
        json=page_body(
            "salesOrders", [{"id": 29079293, "dateCreated": "2026-01-15T18:05:00Z"}], 1, 1
        ),
    )
    start = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    end = datetime(2026, 1, 15, 18, 10, tzinfo=UTC)
    orders = await handy.list_sales_orders(start, end)
    assert orders[0]["id"] == 29079293
    request = httpx_mock.get_request()
    assert "start=15%2F01%2F2026+06%3A00%3A00" in str(
        request.url
    ) or "start=15%2F01%2F2026%2006" in str(request.url)


async def test_given_another_tenant_zone_when_listing_deleted_orders_then_uses_that_zone(
    clock, httpx_mock
):
    httpx_mock.add_response(
        url=f"{HANDY_URL}/salesOrder",
        match_params={
            "start": "31/12/2025 19:00:00",
            "end": "31/12/2025 19:10:00",
            "filterWithDate": "dateDeleted",
            "deleted": "true",
            "salesType": "PRESALE",
            "order": "asc",
            "page": "1",
            "max": "50",
        },
        json=page_body("salesOrders", [], 1, 0, total=0),
    )
    async with HandyClient(
        HANDY_URL, HANDY_TOKEN, tenant="cancun", timezone="America/Cancun", clock=clock
    ) as h:
        start = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
        orders = await h.list_sales_orders(
            start,
            datetime(2026, 1, 1, 0, 10, tzinfo=UTC),
            filter_with_date="dateDeleted",
            deleted=True,
            sales_type="PRESALE",
            page_size=50,
        )
    assert orders == []


async def test_given_a_naive_datetime_when_listing_orders_then_refused_before_any_request(handy):
    with pytest.raises(ValueError, match="naive"):
        await handy.list_sales_orders(datetime(2026, 1, 1), datetime(2026, 1, 2, tzinfo=UTC))


# -- codes in paths -------------------------------------------------------------------------------
async def test_p4_given_a_code_with_slash_when_updating_then_invalid_code_before_any_request(handy):
    with pytest.raises(InvalidCode, match="contains '/'"):
        await handy.update_product("CAJA-1/2", {"quantity": 3})
    with pytest.raises(InvalidCode):
        await handy.get_customer("A/B")
    with pytest.raises(InvalidCode):
        await handy.create_product({"code": "X/Y", "description": "x"})
    assert handy.calls == {}


async def test_given_a_code_with_spaces_and_accents_when_getting_then_percent_encoded(
    handy, httpx_mock
):
    httpx_mock.add_response(
        url=f"{HANDY_URL}/customer/CL%C3%8D%20001%3F%23", json={"code": "CLÍ 001?#"}
    )
    assert (await handy.get_customer("CLÍ 001?#"))["code"] == "CLÍ 001?#"


async def test_given_an_order_when_setting_external_id_then_puts_it_as_a_string(handy, httpx_mock):
    httpx_mock.add_response(
        method="PUT",
        url=f"{HANDY_URL}/salesOrder/29079293",
        match_json={"externalId": "8891"},
        json={"id": 29079293, "externalId": "8891"},
    )
    assert (await handy.set_order_external_id(29079293, 8891))["externalId"] == "8891"


# -- errors ---------------------------------------------------------------------------------------
async def test_given_a_422_when_updating_a_product_then_validation_failed_with_field_errors(
    handy, httpx_mock
):
    httpx_mock.add_response(
        method="PUT",
        status_code=422,
        json={
            "errors": [
                {
                    "object": "com.locus.product.Product",
                    "field": "price",
                    "rejected-value": "$500.00",
                    "message": "La propiedad Precio debe ser un número válido",
                }
            ]
        },
    )
    with pytest.raises(ValidationFailed) as caught:
        await handy.update_product("REF-600", {"price": "$500.00"})
    error = caught.value
    assert error.status == 422 and error.system == "handy"
    assert error.field_errors == [
        {
            "field": "price",
            "message": "La propiedad Precio debe ser un número válido",
            "rejected_value": "$500.00",
            "object": "com.locus.product.Product",
        }
    ]
    assert "price: La propiedad Precio" in str(error)
    assert error.path == "/product/REF-600" and error.method == "PUT"
    assert len(httpx_mock.get_requests()) == 1  # X2: a validation error is not retried


async def test_given_a_429_when_updating_then_waits_until_reset_and_retries(
    handy, clock, httpx_mock
):
    reset_at = int(clock.time()) + 37
    httpx_mock.add_response(
        method="PUT",
        status_code=429,
        text="Too Many Requests",
        headers={
            "X-RateLimit-Limit": "500",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset_at),
        },
    )
    httpx_mock.add_response(method="PUT", json={"code": "REF-600", "quantity": 42})
    before = clock.time()
    assert (await handy.update_product("REF-600", {"quantity": 42}))["quantity"] == 42
    assert clock.time() >= reset_at
    assert clock.time() - before == pytest.approx(37, abs=0.01)
    assert handy.calls["PUT /product/{code}"] == 2


async def test_given_remaining_zero_on_a_success_when_next_call_then_waits_for_the_reset(
    handy, clock, httpx_mock
):
    reset_at = int(clock.time()) + 12
    httpx_mock.add_response(
        method="PUT",
        json={},
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset_at)},
    )
    httpx_mock.add_response(method="PUT", json={}, headers={"X-RateLimit-Remaining": "499"})
    await handy.update_product("A", {"quantity": 1})
    assert clock.slept == 0
    await handy.update_product("B", {"quantity": 1})
    assert clock.time() == pytest.approx(reset_at, abs=0.01)


async def test_given_a_503_then_success_when_listing_then_returns_after_a_backoff(
    handy, clock, httpx_mock
):
    httpx_mock.add_response(
        status_code=503, text="<html><body><h1>503 Service Unavailable</h1></body></html>"
    )
    httpx_mock.add_response(
        json=page_body("productFamilies", [{"id": 1, "description": "Bebidas"}], 1, 1)
    )
    assert await handy.list_families() == [{"id": 1, "description": "Bebidas"}]
    assert 0.5 <= clock.slept <= 0.5 + 1.0  # initial backoff plus at most the jitter


async def test_given_a_timeout_then_success_when_getting_then_returns(handy, clock, httpx_mock):
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"))
    httpx_mock.add_response(json={"id": 5})
    assert await handy.get_sales_order(5) == {"id": 5}
    assert clock.slept > 0


async def test_given_a_dropped_connection_then_success_when_getting_then_returns(handy, httpx_mock):
    httpx_mock.add_exception(
        httpx.RemoteProtocolError("Server disconnected without sending a response.")
    )
    httpx_mock.add_response(json={"id": 5})
    assert await handy.get_sales_order(5) == {"id": 5}


async def test_given_only_5xx_when_the_retry_budget_is_spent_then_retryable_is_surfaced(
    handy, clock, httpx_mock
):
    for _ in range(4):
        httpx_mock.add_response(status_code=502, text="<html>Bad gateway</html>")
    with pytest.raises(Retryable) as caught:
        await handy.get_product("REF-600")
    assert caught.value.status == 502
    assert caught.value.attempts == 4
    assert "Bad gateway" in str(caught.value) and "after 4 attempts" in str(caught.value)
    assert len(httpx_mock.get_requests()) == 4


async def test_given_a_small_time_budget_when_backoff_would_pass_it_then_stops_early(
    clock, httpx_mock
):
    httpx_mock.add_response(
        status_code=429, headers={"X-RateLimit-Reset": str(int(clock.time()) + 50)}
    )
    policy = RetryPolicy(max_attempts=10, max_total_seconds=30)
    async with HandyClient(
        HANDY_URL, HANDY_TOKEN, tenant="t", clock=clock, retry_policy=policy
    ) as h:
        with pytest.raises(Retryable) as caught:
            await h.get_product("A")
    assert caught.value.status == 429 and caught.value.retry_after == pytest.approx(50)
    assert len(httpx_mock.get_requests()) == 1


async def test_given_a_post_that_timed_out_when_creating_then_not_resent(handy, httpx_mock):
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"))
    with pytest.raises(Retryable) as caught:
        await handy.create_product({"code": "N1", "description": "Nuevo", "family": {"id": 1}})
    assert caught.value.transport_error == "ReadTimeout"
    assert len(httpx_mock.get_requests()) == 1


async def test_given_a_post_whose_connection_failed_when_creating_then_resent(handy, httpx_mock):
    httpx_mock.add_exception(httpx.ConnectError("connection refused"))
    httpx_mock.add_response(method="POST", status_code=201, json={"id": 99, "code": "N1"})
    assert (await handy.create_product({"code": "N1", "description": "Nuevo"}))["id"] == 99


async def test_given_errors_echoing_the_token_when_raised_then_no_secret_in_any_text(
    handy, httpx_mock
):
    httpx_mock.add_response(
        status_code=422,
        json={
            "errors": [
                {
                    "field": "auth",
                    "rejected-value": f"Bearer {HANDY_TOKEN}",
                    "message": f"bad header Authorization: Bearer {HANDY_TOKEN}",
                }
            ]
        },
    )
    httpx_mock.add_response(status_code=404, text=f"no such thing for {HANDY_TOKEN}")
    httpx_mock.add_exception(
        httpx.ConnectError(f"cannot connect, token={HANDY_TOKEN}"), is_reusable=True
    )
    errors = []
    for call in (
        lambda: handy.update_product("A", {}),
        lambda: handy.get_product("B"),
        lambda: handy.get_product("C"),
    ):
        with pytest.raises(Exception) as caught:
            await call()
        errors.append(caught.value)
    for error in errors:
        assert_no_secrets(
            str(error),
            repr(error),
            error.field_errors,
            error.details,
            error.body_snippet,
            pickle.loads(pickle.dumps(error)),
        )
        assert error.__cause__ is None


async def test_given_a_client_when_repr_then_no_token(handy):
    assert HANDY_TOKEN not in repr(handy)


async def test_given_an_html_200_then_json_when_getting_then_retried_and_returns(handy, httpx_mock):
    httpx_mock.add_response(
        text="<html><body>Maintenance window</body></html>", headers={"Content-Type": "text/html"}
    )
    httpx_mock.add_response(json={"code": "A"})
    assert await handy.get_product("A") == {"code": "A"}


async def test_given_only_truncated_json_when_getting_then_unreadable_body_with_a_snippet(
    handy, httpx_mock
):
    httpx_mock.add_response(text='{"code": "A", "descr', is_reusable=True)
    with pytest.raises(UnreadableBody, match='not JSON: {"code": "A", "descr') as caught:
        await handy.get_product("A")
    assert isinstance(caught.value, Retryable) and caught.value.attempts == 4


async def test_given_an_html_200_when_creating_then_not_resent(handy, httpx_mock):
    httpx_mock.add_response(method="POST", text="<html>Maintenance</html>")
    with pytest.raises(UnreadableBody):
        await handy.create_zone("General")
    assert len(httpx_mock.get_requests()) == 1


async def test_given_a_fake_clock_when_many_writes_then_paced_at_the_rate_limit(clock, httpx_mock):
    httpx_mock.add_response(method="PUT", json={}, is_reusable=True)
    async with HandyClient(
        HANDY_URL, HANDY_TOKEN, tenant="pace", rate_per_minute=60, clock=clock
    ) as h:
        for i in range(11):
            await h.update_product(f"P{i}", {"quantity": i})
    # burst of one second's worth (1 token), then one per second
    assert clock.monotonic() == pytest.approx(10, abs=0.01)
