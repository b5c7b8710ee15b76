"""Async client of Handy's REST API v2 (see shared/spec/handy-api-v2.md).

Returns the API's JSON objects as plain dicts (timestamps stay strings; `parse_timestamp`
turns one into an aware UTC datetime). Raises only clients.errors exceptions.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit
from zoneinfo import ZoneInfo

from clients._http import ApiClient
from clients.clock import SYSTEM_CLOCK, Clock
from clients.credentials import UnusableSecret, check_secret
from clients.errors import (
    CredentialsError,
    InvalidCode,
    PaginationError,
    Reauth,
    UnexpectedResponse,
)
from clients.ratelimit import RateLimiter, RetryPolicy

logger = logging.getLogger("clients.handy")

SYSTEM = "handy"

# ---------------------------------------------------------------------------------------------
# Paths, parameters and field names of Handy API v2. [A] = assumed by the spec, not confirmed:
# correct them here (and in the sandbox) when the real API says otherwise.
# ---------------------------------------------------------------------------------------------
PRODUCTS_PATH = "/product"
PRODUCT_PATH = "/product/{code}"
FAMILIES_PATH = "/productFamily"  # [A]
CUSTOMERS_PATH = "/customer"
CUSTOMER_PATH = "/customer/{code}"  # [A] for PUT; GET confirmed
ZONES_PATH = "/zone"  # [A]
USERS_PATH = "/user"
ROUTES_PATH = "/route"
SALES_ORDERS_PATH = "/salesOrder"
SALES_ORDER_PATH = "/salesOrder/{order_id}"

PRODUCTS_KEY = "products"
FAMILIES_KEY = "productFamilies"  # [A]
CUSTOMERS_KEY = "customers"
ZONES_KEY = "zones"  # [A]
USERS_KEY = "users"
ROUTES_KEY = "routes"
SALES_ORDERS_KEY = "salesOrders"
PAGINATION_KEY = "pagination"
TOTAL_PAGES_KEY = "totalPages"
CURRENT_PAGE_LINK_KEY = "currentPage"

PAGE_PARAM = "page"
PAGE_SIZE_PARAM = "max"
MAX_PAGE_SIZE = 100  # [A]
ENABLED_PARAM = "enabled"
START_PARAM = "start"
END_PARAM = "end"
FILTER_WITH_DATE_PARAM = "filterWithDate"
DELETED_PARAM = "deleted"
SALES_TYPE_PARAM = "salesType"
ORDER_PARAM = "order"
CLOSED_PARAM = "closed"
INCLUDE_INVENTORY_PARAM = "includeInventory"  # [A]

DESCRIPTION_FIELD = "description"
EXTERNAL_ID_FIELD = "externalId"

WINDOW_FORMAT = "%d/%m/%Y %H:%M:%S"  # dd/MM/yyyy HH:mm:ss, in the tenant's time zone
FILTER_WITH_DATE_VALUES = frozenset({"dateCreated", "mobileDateCreated", "dateDeleted", "lastUpdated"})
SALES_TYPE_VALUES = frozenset({"PRESALE", "ROUTE"})
# ---------------------------------------------------------------------------------------------

# A list never has more pages than this; past it the server's paging is not to be trusted.
MAX_PAGES = 100_000


def quote_code(code: object, *, what: str = "code") -> str:
    """A product/customer code ready for a URL path; InvalidCode when it cannot be addressed
    (RULES P4: Handy puts codes in paths, so a '/' can never reach the right record)."""
    text = "" if code is None else str(code)
    if not text.strip():
        raise InvalidCode(f"Handy {what} is empty", system=SYSTEM)
    if "/" in text:
        raise InvalidCode(
            f"Handy {what} {text!r} contains '/', which Handy's API cannot address in a URL",
            system=SYSTEM,
        )
    if text in (".", ".."):
        raise InvalidCode(f"Handy {what} {text!r} is a path segment, not addressable", system=SYSTEM)
    return quote(text, safe="")


def parse_timestamp(value: str | None) -> datetime | None:
    """A Handy response timestamp ('2023-02-26T07:14:32Z') as an aware UTC datetime."""
    if value is None or value == "":
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:  # Handy documents UTC; a zone-less value is read as UTC too
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_window_time(moment: datetime, zone: ZoneInfo) -> str:
    """An aware datetime as Handy's query format, in the tenant's time zone."""
    if not isinstance(moment, datetime):
        raise TypeError(f"expected a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        raise ValueError(f"naive datetime {moment.isoformat()} given; pass an aware (UTC) datetime")
    return moment.astimezone(zone).strftime(WINDOW_FORMAT)


class HandyClient(ApiClient):
    """Handy v2 for one tenant. Use as `async with HandyClient(...) as handy:`."""

    SYSTEM = SYSTEM
    LOG = logger

    def __init__(
        self,
        base_url: str,
        token: Any,
        *,
        tenant: str,
        timezone: str = "America/Mexico_City",
        rate_per_minute: float = 500,
        max_concurrency: int = 16,
        transport: Any = None,
        timeout: float = 30.0,
        clock: Clock = SYSTEM_CLOCK,
        retry_policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(
            base_url, tenant=tenant, rate_per_minute=rate_per_minute, max_concurrency=max_concurrency,
            transport=transport, timeout=timeout, clock=clock, retry_policy=retry_policy, limiter=limiter,
        )
        self.zone = ZoneInfo(timezone)
        try:  # checked when loaded too: a block saved before the check must not reach a header
            self._token = check_secret("the Handy API token (api_token)", token, header=True)
        except UnusableSecret as exc:
            raise CredentialsError(f"tenant {tenant!r}: {exc}", system=SYSTEM) from None

    def _secrets(self) -> tuple[str, ...]:
        return (self._token,)

    # -- plumbing ---------------------------------------------------------------------------
    async def _call(
        self,
        method: str,
        template: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> Any:
        core = self._ensure_core()
        try:
            _, data = await core.request(
                method, template, path, params=params, json_body=json_body,
                headers=lambda: {"Authorization": f"Bearer {self._token}"},
            )
        except Reauth as exc:
            # Handy tokens never expire and there is no login to redo: a 401 is final.
            raise CredentialsError(
                f"Handy refused the API token of tenant {self.tenant!r} ({exc.message})",
                system=SYSTEM, status=exc.status, method=method, path=path,
            ) from None
        return data

    async def _iter_pages(
        self, template: str, key: str, params: Mapping[str, Any], page_size: int
    ) -> AsyncIterator[list[dict]]:
        """Every page of a list, rebuilding each URL from OUR parameters plus `page`
        (the server's links may drop filters) and stopping at `totalPages`."""
        size = max(1, min(int(page_size), MAX_PAGE_SIZE))
        page, previous_first = 1, None
        while page <= MAX_PAGES:
            query = {**params, PAGE_PARAM: page, PAGE_SIZE_PARAM: size}
            data = await self._call("GET", template, template, params=query)
            if not isinstance(data, Mapping) or not isinstance(data.get(key), list):
                raise UnexpectedResponse(
                    f"expected an object with a {key!r} list", system=SYSTEM, method="GET", path=template
                )
            items: list[dict] = data[key]
            pagination = data.get(PAGINATION_KEY) or {}
            total_pages = _as_int(pagination.get(TOTAL_PAGES_KEY))
            self._check_page_link(pagination.get(CURRENT_PAGE_LINK_KEY), page, template)
            if items and previous_first is not None and items[0] == previous_first:
                raise PaginationError(
                    f"page {page} starts with the same record as page {page - 1}: "
                    "the server seems to ignore 'page'; the list cannot be read reliably",
                    system=SYSTEM, method="GET", path=template,
                )
            if items:
                yield items
            if total_pages is None or page >= total_pages:
                return
            if not items:
                logger.warning(
                    "GET %s: page %d of %d is empty; stopping (records changed while paging?)",
                    template, page, total_pages,
                )
                return
            previous_first, page = items[0], page + 1
        raise PaginationError(f"more than {MAX_PAGES} pages", system=SYSTEM, method="GET", path=template)

    def _check_page_link(self, link: Any, page: int, template: str) -> None:
        """Sanity only: the server's own link for this page should name the page we asked for."""
        if not isinstance(link, str):
            return
        pages = parse_qs(urlsplit(link).query).get(PAGE_PARAM)
        if pages and pages[0] != str(page):
            logger.warning("GET %s: asked for page %d, server says currentPage=%s", template, page, pages[0])

    async def _list(self, template: str, key: str, params: Mapping[str, Any] | None = None) -> list[dict]:
        out: list[dict] = []
        async for items in self._iter_pages(template, key, params or {}, MAX_PAGE_SIZE):
            out.extend(items)
        return out

    # -- products -----------------------------------------------------------------------------
    def iter_products(
        self, enabled: bool | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> AsyncIterator[list[dict]]:
        """Pages of products. enabled=None sends no filter ([A] Handy then lists enabled ones)."""
        params = {} if enabled is None else {ENABLED_PARAM: _bool(enabled)}
        return self._iter_pages(PRODUCTS_PATH, PRODUCTS_KEY, params, page_size)

    async def list_products(self, enabled: bool | None = None) -> list[dict]:
        out: list[dict] = []
        async for items in self.iter_products(enabled=enabled):
            out.extend(items)
        return out

    async def get_product(self, code: str) -> dict:
        path = PRODUCT_PATH.format(code=quote_code(code, what="product code"))
        return await self._call("GET", PRODUCT_PATH, path)

    async def create_product(self, body: Mapping[str, Any]) -> dict:
        quote_code(body.get("code"), what="product code")  # refuse what could never be updated
        return await self._call("POST", PRODUCTS_PATH, PRODUCTS_PATH, json_body=dict(body))

    async def update_product(self, code: str, body: Mapping[str, Any]) -> dict:
        path = PRODUCT_PATH.format(code=quote_code(code, what="product code"))
        return await self._call("PUT", PRODUCT_PATH, path, json_body=dict(body)) or {}

    # -- families -----------------------------------------------------------------------------
    async def list_families(self) -> list[dict]:
        return await self._list(FAMILIES_PATH, FAMILIES_KEY)

    async def create_family(self, description: str) -> dict:
        return await self._call(
            "POST", FAMILIES_PATH, FAMILIES_PATH, json_body={DESCRIPTION_FIELD: description}
        )

    # -- customers and zones ------------------------------------------------------------------
    async def list_customers(self) -> list[dict]:
        return await self._list(CUSTOMERS_PATH, CUSTOMERS_KEY)

    async def get_customer(self, code: str) -> dict:
        path = CUSTOMER_PATH.format(code=quote_code(code, what="customer code"))
        return await self._call("GET", CUSTOMER_PATH, path)

    async def create_customer(self, body: Mapping[str, Any]) -> dict:
        quote_code(body.get("code"), what="customer code")
        return await self._call("POST", CUSTOMERS_PATH, CUSTOMERS_PATH, json_body=dict(body))

    async def update_customer(self, code: str, body: Mapping[str, Any]) -> dict:
        path = CUSTOMER_PATH.format(code=quote_code(code, what="customer code"))
        return await self._call("PUT", CUSTOMER_PATH, path, json_body=dict(body)) or {}

    async def list_zones(self) -> list[dict]:
        return await self._list(ZONES_PATH, ZONES_KEY)

    async def create_zone(self, description: str) -> dict:
        return await self._call("POST", ZONES_PATH, ZONES_PATH, json_body={DESCRIPTION_FIELD: description})

    # -- users and routes ---------------------------------------------------------------------
    async def list_users(self) -> list[dict]:
        return await self._list(USERS_PATH, USERS_KEY)

    async def list_open_routes(self, include_inventory: bool = True) -> list[dict]:
        params = {CLOSED_PARAM: "false"}
        if include_inventory:
            params[INCLUDE_INVENTORY_PARAM] = "true"
        return await self._list(ROUTES_PATH, ROUTES_KEY, params)

    # -- sales orders -------------------------------------------------------------------------
    def iter_sales_orders(
        self,
        start: datetime,
        end: datetime,
        *,
        filter_with_date: str = "dateCreated",
        deleted: bool = False,
        sales_type: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[list[dict]]:
        """Pages of orders whose `filter_with_date` falls in [start, end], oldest first.
        start/end must be aware datetimes; they are sent in the tenant's time zone."""
        if filter_with_date not in FILTER_WITH_DATE_VALUES:
            raise ValueError(f"filter_with_date must be one of {sorted(FILTER_WITH_DATE_VALUES)}")
        if sales_type is not None and sales_type not in SALES_TYPE_VALUES:
            raise ValueError(f"sales_type must be one of {sorted(SALES_TYPE_VALUES)} or None")
        params: dict[str, Any] = {
            START_PARAM: format_window_time(start, self.zone),
            END_PARAM: format_window_time(end, self.zone),
        }
        if end < start:
            raise ValueError(f"window end {end.isoformat()} is before its start {start.isoformat()}")
        params[FILTER_WITH_DATE_PARAM] = filter_with_date
        params[DELETED_PARAM] = _bool(deleted)
        if sales_type is not None:
            params[SALES_TYPE_PARAM] = sales_type
        params[ORDER_PARAM] = "asc"
        return self._iter_pages(SALES_ORDERS_PATH, SALES_ORDERS_KEY, params, page_size)

    async def get_sales_order(self, order_id: int | str) -> dict:
        path = SALES_ORDER_PATH.format(order_id=quote_code(order_id, what="sales order id"))
        return await self._call("GET", SALES_ORDER_PATH, path)

    async def set_order_external_id(self, order_id: int | str, external_id: str) -> dict:
        """Write the Gestionix document id on the Handy order (RULES O9)."""
        path = SALES_ORDER_PATH.format(order_id=quote_code(order_id, what="sales order id"))
        body = {EXTERNAL_ID_FIELD: str(external_id)}
        return await self._call("PUT", SALES_ORDER_PATH, path, json_body=body) or {}


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
