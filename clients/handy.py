"""Async client of Handy's REST API v2 (see shared/spec/handy-api-v2.md).

Returns the API's JSON objects as plain dicts (timestamps stay strings; `parse_timestamp`
turns one into an aware UTC datetime, from mappings.windows). Raises only clients.errors exceptions.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
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
from mappings.windows import (
    SECOND,
    parse_timestamp,
    split_window,
    wall_time_not_after,
    wall_time_not_before,
    whole_seconds,
    widest_reading,
)

logger = logging.getLogger("clients.handy")

SYSTEM = "handy"

# ---------------------------------------------------------------------------------------------
# Paths, parameters and list keys of Handy API v2. [A] = assumed by the spec, not confirmed:
# correct them here (and in the sandbox) when the real API says otherwise. Record field names
# live in mappings/handy_fields.py; the two this client writes itself are repeated below.
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
TOTAL_COUNT_KEY = "totalCount"
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

DESCRIPTION_FIELD = "description"  # = handy_fields.FAMILY_DESCRIPTION, ZONE_DESCRIPTION
EXTERNAL_ID_FIELD = "externalId"  # = handy_fields.ORDER_EXTERNAL_ID

WINDOW_FORMAT = "%d/%m/%Y %H:%M:%S"  # dd/MM/yyyy HH:mm:ss, in the tenant's time zone
FILTER_WITH_DATE_VALUES = frozenset(
    {"dateCreated", "mobileDateCreated", "dateDeleted", "lastUpdated"}
)
SALES_TYPE_VALUES = frozenset({"PRESALE", "ROUTE"})
# ---------------------------------------------------------------------------------------------

# A list never has more pages than this; past it the server's paging is not to be trusted.
MAX_PAGES = 100_000
# A read whose count disagrees with the server's totalCount is read again, this many times in all.
COMPLETE_READ_ATTEMPTS = 2
# A window slice that does not fit in one page is cut so that each piece should fill at most
# 1/SLICE_HEADROOM of a page: orders are not spread evenly, and a piece that still overflows
# costs one more probe and a second cut.
SLICE_HEADROOM = 1.3


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
            base_url,
            tenant=tenant,
            rate_per_minute=rate_per_minute,
            max_concurrency=max_concurrency,
            transport=transport,
            timeout=timeout,
            clock=clock,
            retry_policy=retry_policy,
            limiter=limiter,
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

    # -- sales orders -------------------------------------------------------------------------
    async def list_sales_orders(
        self,
        start: datetime,
        end: datetime,
        *,
        filter_with_date: str = "dateCreated",
        deleted: bool = False,
        sales_type: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> list[dict]:
        """Every order whose `filter_with_date` falls in [start, end] (aware datetimes), each id
        once, oldest first; proven complete or PaginationError.

        Offset pages of a list that changes while it is paged (an order deleted, a late one
        inserted, same-second orders in unstable order) shift: a record at a page boundary is
        skipped or seen twice. So only first pages are read, each a consistent snapshot of its
        query. Keyset first (`_read_keyset`): each next query starts at the last second the
        previous page reached, and the two totalCounts prove that page held every order before
        that second. Where that proof fails (Handy not sorting by the date, the list changing
        between two queries, a DST-ambiguous bound), the rest of the window is read in time
        slices that each fit in ONE page: the first answer's totalCount says how many slices to
        cut; a slice that still does not fit is cut again. Only a single second holding more
        orders than a page is paged, and then two reads must agree. Queries share their boundary
        second (Handy's stamps are finer than its filters); ids are de-duplicated."""
        if filter_with_date not in FILTER_WITH_DATE_VALUES:
            raise ValueError(f"filter_with_date must be one of {sorted(FILTER_WITH_DATE_VALUES)}")
        if sales_type is not None and sales_type not in SALES_TYPE_VALUES:
            raise ValueError(f"sales_type must be one of {sorted(SALES_TYPE_VALUES)} or None")
        start, end = whole_seconds(start, end)
        size = max(1, min(int(page_size), MAX_PAGE_SIZE))
        base: dict[str, Any] = {
            FILTER_WITH_DATE_PARAM: filter_with_date,
            DELETED_PARAM: _bool(deleted),
        }
        if sales_type is not None:
            base[SALES_TYPE_PARAM] = sales_type
        base[ORDER_PARAM] = "asc"
        found, unproven_from = await self._read_keyset(start, end, base, size, filter_with_date)
        pending = [] if unproven_from is None else [(unproven_from, end)]
        calls = 0
        while pending:
            slice_start, slice_end = pending.pop()
            params = {**base, **self._window_params(slice_start, slice_end)}
            calls += 1
            if calls > MAX_PAGES:
                raise PaginationError(
                    f"more than {MAX_PAGES} slices{_asked(params)}",
                    system=SYSTEM,
                    method="GET",
                    path=SALES_ORDERS_PATH,
                )
            # A slice Handy may read much wider than it is (a bound in the hour DST repeats)
            # does not shrink by cutting: it is paged instead, until two reads agree.
            uncuttable = slice_end - slice_start <= SECOND or (
                widest_reading(slice_start, slice_end, self.zone) > 2 * (slice_end - slice_start)
            )
            records, parts = await self._read_slice(params, size, whole=uncuttable)
            if records is None:  # does not fit in one page: cut it, keep oldest first
                pending.extend(reversed(split_window(slice_start, slice_end, parts)))
                continue
            _merge(found, records)
        return sorted(
            found.values(), key=lambda o: (str(o.get(filter_with_date) or ""), _id_order(o))
        )

    async def _read_keyset(
        self, start: datetime, end: datetime, base: Mapping[str, Any], size: int, field: str
    ) -> tuple[dict[Any, dict], datetime | None]:
        """The orders of [start, end] read by keyset, first pages only: the query [low, end]
        answers totalCount A and a page whose latest order is in second `last`; the next query
        [last, end] answers B. Every order of [low, last) is then in that page exactly when the
        page holds A - B distinct orders before `last`, whatever order Handy sorts them in.
        A page all in its first second (more orders in one second than a page) reads that
        second whole, by pages, until two reads agree. Returns the orders proven so far and,
        when a proof failed, the start of the part left to read by slices (else None)."""
        found: dict[Any, dict] = {}
        low = start
        carried: tuple[int, dict[Any, dict], datetime] | None = None  # (A, before `low`, its low)
        for _ in range(MAX_PAGES):
            if widest_reading(low, end, self.zone) > end - low:  # a bound in the repeated hour
                return found, carried[2] if carried else low
            query = {**base, **self._window_params(low, end), PAGE_PARAM: 1, PAGE_SIZE_PARAM: size}
            page = await self._page(SALES_ORDERS_PATH, SALES_ORDERS_KEY, query)
            if carried is not None:
                total, before, since = carried
                if len(before) != total - page.total_count:
                    return found, since
                _merge(found, before.values())
                carried = None
            records = {_record_key(o, i): o for i, o in enumerate(page.items)}
            if len(records) == page.total_count:
                _merge(found, records.values())
                return found, None
            seconds = [_second_of(order, field) for order in records.values()]
            if not page.items or page.total_count < len(page.items) or None in seconds:
                return found, low  # an answer slices judge (and re-read) on their own
            last = max(seconds)
            if last > low:
                before = {
                    k: o
                    for (k, o), second in zip(records.items(), seconds, strict=True)
                    if second < last
                }
                carried, low = (page.total_count, before, low), last
                continue
            upper = min(low + SECOND, end)  # more orders in second `low` than a page holds
            dense = {**base, **self._window_params(low, upper)}
            _merge(found, await self._read_agreeing(dense, size))
            if upper >= end:
                return found, None
            low = upper
        raise PaginationError(
            f"more than {MAX_PAGES} keyset queries{_asked(base)}",
            system=SYSTEM,
            method="GET",
            path=SALES_ORDERS_PATH,
        )

    def _window_params(self, start: datetime, end: datetime) -> dict[str, str]:
        """Bounds in the tenant's wall time, each widened so that however Handy reads an
        ambiguous wall time (the hour DST repeats) the window is covered."""
        return {
            START_PARAM: wall_time_not_after(start, self.zone).strftime(WINDOW_FORMAT),
            END_PARAM: wall_time_not_before(end, self.zone).strftime(WINDOW_FORMAT),
        }

    async def _read_slice(
        self, params: Mapping[str, Any], size: int, *, whole: bool
    ) -> tuple[list[dict] | None, int]:
        """(the orders of one slice, 0) when one page holds them all; (None, n) when it must be
        cut in n slices that should each fit (with room for an uneven spread). A `whole` slice
        (one second, or one that cutting would not shrink) is paged until two reads agree."""
        query = {**params, PAGE_PARAM: 1, PAGE_SIZE_PARAM: size}
        for attempt in range(1, COMPLETE_READ_ATTEMPTS + 1):
            page = await self._page(SALES_ORDERS_PATH, SALES_ORDERS_KEY, query)
            records = {_record_key(o, i): o for i, o in enumerate(page.items)}
            if len(records) == page.total_count:
                return list(records.values()), 0
            if page.total_count > len(page.items) and page.items:
                if whole:
                    return await self._read_agreeing(params, size), 0
                # The page the server really serves may be smaller than asked (a cap).
                return None, math.ceil(page.total_count * SLICE_HEADROOM / len(page.items))
            logger.warning(
                "%s: page 1 holds %d distinct of %d orders (%d records) (read %d of %d); "
                "reading it again",
                _describe_call(SALES_ORDERS_PATH, query),
                len(records),
                page.total_count,
                len(page.items),
                attempt,
                COMPLETE_READ_ATTEMPTS,
            )
        raise PaginationError(
            f"{TOTAL_COUNT_KEY}={page.total_count} but the page holds {len(page.items)} records "
            f"({len(records)} distinct), {COMPLETE_READ_ATTEMPTS} reads in a row; the window "
            f"cannot be proven complete{_asked(query)}",
            system=SYSTEM,
            method="GET",
            path=SALES_ORDERS_PATH,
        )

    async def _read_agreeing(self, params: Mapping[str, Any], size: int) -> list[dict]:
        """All pages of a slice that cannot be cut, read until two complete reads list the same
        ids."""
        previous: set | None = None
        for _ in range(COMPLETE_READ_ATTEMPTS + 1):
            records, problem = await self._read_once(
                SALES_ORDERS_PATH, SALES_ORDERS_KEY, params, size
            )
            ids = {_record_key(o, i) for i, o in enumerate(records)}
            if problem is None and ids == previous:
                return records
            previous = ids if problem is None else None
        raise PaginationError(
            "more orders than a page holds in a slice that cannot be cut (a second, or a bound "
            "in the hour DST repeats), and two reads in a row never agreed; "
            f"the window cannot be proven complete{_asked(params)}",
            system=SYSTEM,
            method="GET",
            path=SALES_ORDERS_PATH,
        )

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


@dataclass(frozen=True)
class _Page:
    items: list[dict]
    total_count: int
    total_pages: int


def _record_key(record: Any, position: int) -> Any:
    """A record's identity for repeats: its id, or its position when it has none."""
    if isinstance(record, Mapping) and record.get("id") is not None:
        return ("id", str(record["id"]))
    return ("position", position)


def _merge(found: dict[Any, dict], records: Iterable[dict]) -> None:
    """Add what `found` does not hold yet (by id; an id-less record is always new)."""
    for record in records:
        found.setdefault(_record_key(record, len(found)), record)


def _second_of(record: Mapping[str, Any], field: str) -> datetime | None:
    """The whole second (UTC) of a record's `field` timestamp; None when it has none."""
    try:
        moment = parse_timestamp(record.get(field))
    except (TypeError, ValueError, AttributeError):
        return None
    return None if moment is None else moment.replace(microsecond=0)


def _id_order(record: Mapping[str, Any]) -> tuple[int, str]:
    text = str(record.get("id"))
    return (0, text.zfill(20)) if text.isdigit() else (1, text)


def _asked(params: Mapping[str, Any]) -> str:
    """ " (asked start=…&page=3)" for error messages: our own parameters, never a secret."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f" (asked {query})" if query else ""


def _describe_call(template: str, params: Mapping[str, Any]) -> str:
    """ "GET /salesOrder?start=…&page=3" for messages: our own parameters, never a secret."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"GET {template}" + (f"?{query}" if query else "")
