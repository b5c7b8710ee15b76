"""Reading a window of Handy sales orders, proven complete: keyset first pages,
then time slices that each fit in one page. A mixin of HandyClient (clients/handy.py), which
provides `_page`, `_read_once` and the tenant's `zone`."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from clients.errors import PaginationError
from clients.handy_api import (
    COMPLETE_READ_ATTEMPTS,
    DELETED_PARAM,
    END_PARAM,
    FILTER_WITH_DATE_PARAM,
    FILTER_WITH_DATE_VALUES,
    MAX_PAGE_SIZE,
    MAX_PAGES,
    ORDER_PARAM,
    PAGE_PARAM,
    PAGE_SIZE_PARAM,
    SALES_ORDERS_KEY,
    SALES_ORDERS_PATH,
    SALES_TYPE_PARAM,
    SALES_TYPE_VALUES,
    SLICE_HEADROOM,
    START_PARAM,
    SYSTEM,
    TOTAL_COUNT_KEY,
    WINDOW_FORMAT,
    _asked,
    _bool,
    _describe_call,
    _record_key,
)
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


class SalesOrderWindows:
    """`list_sales_orders` and the reads it is made of; mixed into HandyClient."""

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
        if unproven_from is not None:
            await self._read_slices(found, unproven_from, end, base, size)
        return sorted(
            found.values(), key=lambda o: (str(o.get(filter_with_date) or ""), _id_order(o))
        )

    async def _read_slices(
        self,
        found: dict[Any, dict],
        start: datetime,
        end: datetime,
        base: Mapping[str, Any],
        size: int,
    ) -> None:
        """Adds to `found` the orders of [start, end], read in time slices that each fit in one
        page (cut again when one does not)."""
        pending = [(start, end)]
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
