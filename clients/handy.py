"""Async client of Handy's REST API v2 (see shared/spec/handy-api-v2.md).

Returns the API's JSON objects as plain dicts (timestamps stay strings; `parse_timestamp`
turns one into an aware UTC datetime, from mappings.windows). Raises only clients.errors exceptions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Unpack
from urllib.parse import parse_qs, quote, urlsplit
from zoneinfo import ZoneInfo

from clients._http import ApiClient, ClientOptions
from clients.errors import (
    CredentialsError,
    InvalidCode,
    PaginationError,
    Reauth,
    UnexpectedResponse,
)
from clients.handy_api import (
    CLOSED_PARAM,
    COMPLETE_READ_ATTEMPTS,
    CURRENT_PAGE_LINK_KEY,
    CUSTOMER_PATH,
    CUSTOMERS_KEY,
    CUSTOMERS_PATH,
    DESCRIPTION_FIELD,
    ENABLED_PARAM,
    EXTERNAL_ID_FIELD,
    FAMILIES_KEY,
    FAMILIES_PATH,
    INCLUDE_INVENTORY_PARAM,
    MAX_PAGE_SIZE,
    MAX_PAGES,
    PAGE_PARAM,
    PAGE_SIZE_PARAM,
    PAGINATION_KEY,
    PRODUCT_PATH,
    PRODUCTS_KEY,
    PRODUCTS_PATH,
    ROUTES_KEY,
    ROUTES_PATH,
    SALES_ORDER_PATH,
    SYSTEM,
    TOTAL_COUNT_KEY,
    TOTAL_PAGES_KEY,
    USERS_KEY,
    USERS_PATH,
    WINDOW_FORMAT,
    ZONES_KEY,
    ZONES_PATH,
    _as_int,
    _asked,
    _bool,
    _describe_call,
    _Page,
    _record_key,
)
from clients.handy_orders import SalesOrderWindows
from mappings.windows import parse_timestamp

__all__ = ["HandyClient", "format_window_time", "parse_timestamp", "quote_code"]

logger = logging.getLogger("clients.handy")


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
        raise InvalidCode(
            f"Handy {what} {text!r} is a path segment, not addressable", system=SYSTEM
        )
    return quote(text, safe="")


def format_window_time(moment: datetime, zone: ZoneInfo) -> str:
    """An aware datetime as Handy's query format, in the tenant's time zone."""
    if not isinstance(moment, datetime):
        raise TypeError(f"expected a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        raise ValueError(f"naive datetime {moment.isoformat()} given; pass an aware (UTC) datetime")
    return moment.astimezone(zone).strftime(WINDOW_FORMAT)


class HandyClient(SalesOrderWindows, ApiClient):
    """Handy v2 for one tenant. Use as `async with HandyClient(...) as handy:`."""

    SYSTEM = SYSTEM
    LOG = logger

    RATE_PER_MINUTE = 500
    MAX_CONCURRENCY = 16

    def __init__(
        self,
        base_url: str,
        token: Any,
        *,
        tenant: str,
        timezone: str = "America/Mexico_City",
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(base_url, tenant=tenant, **options)
        self.zone = ZoneInfo(timezone)
        self._token = self._usable_secret("the Handy API token (api_token)", token, header=True)

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
                method,
                template,
                path,
                params=params,
                json_body=json_body,
                headers=lambda: {"Authorization": f"Bearer {self._token}"},
            )
        except Reauth as exc:
            # Handy tokens never expire and there is no login to redo: a 401 is final.
            raise CredentialsError(
                f"Handy refused the API token of tenant {self.tenant!r} ({exc.message})",
                system=SYSTEM,
                status=exc.status,
                method=method,
                path=path,
            ) from None
        return data

    async def _page(self, template: str, key: str, query: Mapping[str, Any]) -> _Page:
        """One page with its paging envelope, proven well-formed: a list answer without
        `pagination`, or with missing or contradictory counts, cannot be proven complete."""
        asked = _asked(query)
        data = await self._call("GET", template, template, params=query)
        if not isinstance(data, Mapping) or not isinstance(data.get(key), list):
            raise UnexpectedResponse(
                f"expected an object with a {key!r} list{asked}",
                system=SYSTEM,
                method="GET",
                path=template,
            )
        pagination = data.get(PAGINATION_KEY)
        if not isinstance(pagination, Mapping):
            raise PaginationError(
                f"the answer has no {PAGINATION_KEY!r} object, so the list cannot be proven "
                f"complete{asked}",
                system=SYSTEM,
                method="GET",
                path=template,
            )
        counts = {}
        for field in (TOTAL_COUNT_KEY, TOTAL_PAGES_KEY):
            value = _as_int(pagination.get(field))
            if value is None or value < 0:
                raise PaginationError(
                    f"{PAGINATION_KEY}.{field} is {pagination.get(field)!r}, not a count{asked}",
                    system=SYSTEM,
                    method="GET",
                    path=template,
                )
            counts[field] = value
        total, pages = counts[TOTAL_COUNT_KEY], counts[TOTAL_PAGES_KEY]
        if (
            (total > 0 and pages == 0)
            or (total == 0 and pages > 1)
            or (total > 0 and pages > total)
        ):
            raise PaginationError(
                f"{PAGINATION_KEY} is contradictory ({TOTAL_COUNT_KEY}={total}, "
                f"{TOTAL_PAGES_KEY}={pages}){asked}",
                system=SYSTEM,
                method="GET",
                path=template,
            )
        self._check_page_link(
            pagination.get(CURRENT_PAGE_LINK_KEY), query.get(PAGE_PARAM), template
        )
        return _Page(items=data[key], total_count=total, total_pages=pages)

    async def _read_once(
        self, template: str, key: str, params: Mapping[str, Any], size: int
    ) -> tuple[list[dict], str | None]:
        """Every page of a list, rebuilding each URL from OUR parameters plus `page` (the
        server's links may drop filters); stops at the server's `totalPages` or an empty page,
        never at a short one. Returns the records (repeats dropped) and what disagrees with
        the server's own `totalCount`, if anything."""
        records: dict[Any, dict] = {}
        page_number, total, previous_first = 1, None, None
        while page_number <= MAX_PAGES:
            query = {**params, PAGE_PARAM: page_number, PAGE_SIZE_PARAM: size}
            page = await self._page(template, key, query)
            if total is None:
                total = page.total_count
            elif page.total_count != total:
                return list(records.values()), (
                    f"{TOTAL_COUNT_KEY} changed from {total} to {page.total_count} while paging"
                )
            items = page.items
            if items and previous_first is not None and items[0] == previous_first:
                raise PaginationError(
                    f"page {page_number} starts with the same record as page {page_number - 1}: "
                    "the server seems to ignore 'page'; the list cannot be read reliably"
                    f"{_asked(query)}",
                    system=SYSTEM,
                    method="GET",
                    path=template,
                )
            for item in items:
                records.setdefault(_record_key(item, len(records)), item)
            if not items or page_number >= page.total_pages:
                break
            previous_first, page_number = items[0], page_number + 1
        else:
            raise PaginationError(
                f"GET {template}: more than {MAX_PAGES} pages",
                system=SYSTEM,
                method="GET",
                path=template,
            )
        if len(records) != total:
            return list(records.values()), (
                f"read {len(records)} distinct records but the server reported "
                f"{TOTAL_COUNT_KEY}={total}"
            )
        return list(records.values()), None

    async def _read_list(
        self,
        template: str,
        key: str,
        params: Mapping[str, Any] | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> list[dict]:
        """A whole list, proven complete against the server's own count. A read that disagrees
        (records added or removed while paging, unstable order) is read again once; a second
        disagreement is a PaginationError naming the call: the caller must not act on half a list."""
        size = max(1, min(int(page_size), MAX_PAGE_SIZE))
        params = dict(params or {})
        problem = None
        for attempt in range(1, COMPLETE_READ_ATTEMPTS + 1):
            records, problem = await self._read_once(template, key, params, size)
            if problem is None:
                return records
            logger.warning(
                "%s: %s (read %d of %d); reading it again",
                _describe_call(template, params),
                problem,
                attempt,
                COMPLETE_READ_ATTEMPTS,
            )
        raise PaginationError(
            f"{problem}, {COMPLETE_READ_ATTEMPTS} reads in a row; the list cannot be proven "
            f"complete{_asked(params)}",
            system=SYSTEM,
            method="GET",
            path=template,
        )

    def _check_page_link(self, link: Any, page: Any, template: str) -> None:
        """Sanity only: the server's own link for this page should name the page we asked for."""
        if not isinstance(link, str):
            return
        pages = parse_qs(urlsplit(link).query).get(PAGE_PARAM)
        if pages and pages[0] != str(page):
            logger.warning(
                "GET %s: asked for page %s, server says currentPage=%s", template, page, pages[0]
            )

    # -- clock ----------------------------------------------------------------------------------
    async def measure_clock(self) -> float | None:
        """Seconds Handy's clock is ahead of ours (negative: behind), from the `Date` header of
        its answers; one small read when none was seen yet. None when Handy sends no Date."""
        core = self._ensure_core()
        if core.server_clock_offset is None:
            await self._call(
                "GET", USERS_PATH, USERS_PATH, params={PAGE_PARAM: 1, PAGE_SIZE_PARAM: 1}
            )
        return core.server_clock_offset

    # -- products -----------------------------------------------------------------------------
    async def list_products(
        self, enabled: bool | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> list[dict]:
        """Every product, proven complete. enabled=None sends no filter ([A] Handy then lists
        enabled ones)."""
        params = {} if enabled is None else {ENABLED_PARAM: _bool(enabled)}
        return await self._read_list(PRODUCTS_PATH, PRODUCTS_KEY, params, page_size)

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
        return await self._read_list(FAMILIES_PATH, FAMILIES_KEY)

    async def create_family(self, description: str) -> dict:
        return await self._call(
            "POST", FAMILIES_PATH, FAMILIES_PATH, json_body={DESCRIPTION_FIELD: description}
        )

    # -- customers and zones ------------------------------------------------------------------
    async def list_customers(self) -> list[dict]:
        return await self._read_list(CUSTOMERS_PATH, CUSTOMERS_KEY)

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
        return await self._read_list(ZONES_PATH, ZONES_KEY)

    async def create_zone(self, description: str) -> dict:
        return await self._call(
            "POST", ZONES_PATH, ZONES_PATH, json_body={DESCRIPTION_FIELD: description}
        )

    # -- users and routes ---------------------------------------------------------------------
    async def list_users(self) -> list[dict]:
        return await self._read_list(USERS_PATH, USERS_KEY)

    async def list_open_routes(self, include_inventory: bool = True) -> list[dict]:
        params = {CLOSED_PARAM: "false"}
        if include_inventory:
            params[INCLUDE_INVENTORY_PARAM] = "true"
        return await self._read_list(ROUTES_PATH, ROUTES_KEY, params)

    # -- sales orders (the window reading: clients/handy_orders.py) ---------------------------
    async def get_sales_order(self, order_id: int | str) -> dict:
        path = SALES_ORDER_PATH.format(order_id=quote_code(order_id, what="sales order id"))
        return await self._call("GET", SALES_ORDER_PATH, path)

    async def set_order_external_id(self, order_id: int | str, external_id: str) -> dict:
        """Write the Gestionix document id on the Handy order (RULES O9)."""
        path = SALES_ORDER_PATH.format(order_id=quote_code(order_id, what="sales order id"))
        body = {EXTERNAL_ID_FIELD: str(external_id)}
        return await self._call("PUT", SALES_ORDER_PATH, path, json_body=body) or {}
