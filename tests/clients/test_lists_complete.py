"""Issue 15: a list is complete only when proven so (RULES O1, O8, P7, C3 rely on it).

The Handy client against the sandbox misbehaving on purpose (sandbox/README.md knobs): no paging
envelope, pages capped below the size asked, an order repeated across pages, orders deleted or
inserted while a window is paged, a DST-ambiguous bound read either way, a clock offset.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from clients.errors import PaginationError
from clients.gestionix import GestionixClient
from clients.handy import HandyClient, parse_timestamp
from mappings.company import choose_branch
from sandbox.common import Clock as SandboxClock
from sandbox.server import build_sandbox
from tests.kit.handy_seed import seed_handy_products
from tests.kit.sandbox_clock import LinkedClock

START = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


def make(zone: str = "America/Mexico_City", at: datetime = START, **knobs):
    sb = build_sandbox(
        seed=7,
        products=30,
        customers=10,
        clock=SandboxClock(frozen_at=at.timestamp()),
        handy_timezone=zone,
        **knobs,
    )
    return sb


def client(sb, zone: str = "America/Mexico_City") -> HandyClient:
    return HandyClient(
        sb.handy_url,
        sb.handy_token,
        tenant="t",
        transport=sb.handy_transport(),
        clock=LinkedClock(sb.clock),
        rate_per_minute=60000,
        timezone=zone,
    )


async def take_orders(sb, handy: HandyClient, count: int, every_seconds: float) -> list[int]:
    """`count` orders, one every `every_seconds` of the sandbox clock."""
    if not sb.handy.products:
        await seed_handy_products(handy, 3)
    ids = []
    for _ in range(count):
        ids.extend(o["id"] for o in sb.handy.create_random_orders(1))
        sb.clock.advance(every_seconds)
    return ids


def window_of(sb, seconds_back: int) -> tuple[datetime, datetime]:
    now = datetime.fromtimestamp(sb.clock.now(), UTC)
    return now - timedelta(seconds=seconds_back), now


async def test_o1_given_no_paging_envelope_when_listing_then_the_read_fails_naming_the_field():
    sb = make(handy_paging_envelope=False)
    async with client(sb) as handy:
        await take_orders(sb, handy, 3, 5)
        start, end = window_of(sb, 600)
        with pytest.raises(
            PaginationError, match="no 'pagination' object.*cannot be proven complete"
        ):
            await handy.list_sales_orders(start, end)
        with pytest.raises(PaginationError, match="GET /customer.*no 'pagination'"):
            await handy.list_customers()


async def test_o1_given_250_orders_and_pages_capped_at_7_when_reading_the_window_then_every_order_once():
    sb = make(handy_page_size_cap=7)
    async with client(sb) as handy:
        ids = await take_orders(sb, handy, 250, 2)
        start, end = window_of(sb, 3600)
        orders = await handy.list_sales_orders(start, end)
    assert [o["id"] for o in orders] == ids  # oldest first, each once
    assert len(await_products := sb.handy.products) == 3 and await_products


async def test_o8_given_an_order_repeated_across_pages_when_reading_then_each_order_exactly_once():
    """An unstable sort repeats the last record of a page at the top of the next (and loses the
    tail): the window is read in slices that each fit one page, so neither happens."""
    sb = make(handy_repeat_across_pages=True)
    async with client(sb) as handy:
        ids = await take_orders(sb, handy, 250, 2)
        start, end = window_of(sb, 3600)
        orders = await handy.list_sales_orders(start, end)
    assert [o["id"] for o in orders] == ids


@pytest.mark.parametrize("mutation", ["delete", "insert"])
async def test_o1_given_orders_deleted_or_inserted_while_a_long_window_is_paged_then_no_live_order_is_missed(
    mutation,
):
    sb = make(handy_mutate_while_paging=mutation)
    async with client(sb) as handy:
        await take_orders(sb, handy, 450, 2)
        start, end = window_of(sb, 3600)
        orders = await handy.list_sales_orders(start, end)
    live_now = {
        o["id"]
        for o in sb.handy.orders.values()
        if not o["deleted"] and start <= parse_timestamp(o["dateCreated"]) <= end
    }
    read = [o["id"] for o in orders]
    assert len(read) == len(set(read))
    # every order live before and after the read was read; a slice is one page, so the sandbox
    # found no second page to mutate the list under
    assert live_now <= set(read)
    assert sb.handy.paging_mutations == []


async def test_o1_given_more_orders_in_one_second_than_a_page_then_two_reads_must_agree_or_fail():
    sb = make()
    async with client(sb) as handy:
        await seed_handy_products(handy, 3)
        ids = [o["id"] for o in sb.handy.create_random_orders(150)]  # one frozen second
        start, end = window_of(sb, 60)
        orders = await handy.list_sales_orders(start, end)
        assert sorted(o["id"] for o in orders) == sorted(ids)
        sb.set_handy_knobs(mutate_while_paging="delete")
        with pytest.raises(PaginationError, match="two reads in a row never agreed"):
            await handy.list_sales_orders(start, end)


@pytest.mark.parametrize("reading", ["earlier", "later"])
@pytest.mark.parametrize("occurrence", [0, 1])
async def test_o1_given_a_window_in_the_repeated_dst_hour_when_handy_reads_it_either_way_then_every_order(
    reading,
    occurrence,
):
    """America/Tijuana falls back at 2026-11-01 09:00Z: 01:00-01:59 local happens twice. A bound
    in that hour is sent as a wall time that covers the window however Handy reads it."""
    zone = "America/Tijuana"
    sb = make(zone, at=datetime(2026, 11, 1, 7, 30, tzinfo=UTC), handy_ambiguous_local_time=reading)
    async with client(sb, zone) as handy:
        ids = await take_orders(sb, handy, 72 * 3, 50)  # 07:30Z .. 10:30Z, 72 an hour
        first_hour = datetime(2026, 11, 1, 8, 0, tzinfo=UTC) + timedelta(hours=occurrence)
        start, end = first_hour, first_hour + timedelta(minutes=59, seconds=59)
        orders = await handy.list_sales_orders(start, end)
    expected = {
        o["id"]
        for o in sb.handy.orders.values()
        if start <= parse_timestamp(o["dateCreated"]) <= end
    }
    assert len(expected) == 72 and expected <= {o["id"] for o in orders} <= set(ids)


async def test_o1_given_handy_clock_behind_by_20_minutes_then_measured_from_its_date_header():
    sb = build_sandbox(
        seed=7, products=10, customers=5, clock=SandboxClock(), handy_clock_offset_seconds=-1200
    )
    async with HandyClient(
        sb.handy_url, sb.handy_token, tenant="t", transport=sb.handy_transport()
    ) as handy:
        offset = await handy.measure_clock()
        assert offset == pytest.approx(-1200, abs=2)
        assert handy.calls["GET /user"] == 1
        await handy.measure_clock()  # already known from any answer: no second call
        assert handy.calls["GET /user"] == 1


async def test_p7_given_gestionix_pages_capped_below_the_size_asked_then_every_product_is_read():
    sb = build_sandbox(seed=7, products=60, customers=5, gestionix_page_size_cap=7)
    async with GestionixClient(
        sb.gestionix_url,
        sb.gestionix_user,
        sb.gestionix_password,
        tenant="t",
        company_id=sb.company_id,
        transport=sb.gestionix_transport(),
    ) as gx:
        branch = choose_branch(await gx.list_branches(), sb.branch_name, gx.company_id)
        products = await gx.list_products(branch["branch_id"])
    expected = [
        p
        for p in sb.gestionix.dump()["companies"][str(sb.company_id)]["products"]
        if branch["branch_id"] in p["branch_ids"]
    ]
    assert sorted(p["product_id"] for p in products) == sorted(p["product_id"] for p in expected)
    assert len(products) > 7


# -- keyset reading (issue 20): one query per page, proven by the two totalCounts ------------------


class _Rewriting(httpx.AsyncBaseTransport):
    """The sandbox behind a hook: `before(request)` may change the query or the world, e.g. make
    Handy sort newest first whatever we ask, or delete an order between two queries."""

    def __init__(self, sb, before) -> None:
        self.inner, self.before = sb.handy_transport(), before

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(self.before(request))


def _order_queries(sb) -> int:
    return sb.handy.stats.calls["GET /salesOrder"]


async def test_o1_given_450_orders_spread_over_15_minutes_when_reading_then_one_query_per_page_each_once():
    sb = make()
    async with client(sb) as handy:
        ids = await take_orders(sb, handy, 450, 2)
        start, end = window_of(sb, 3600)
        sb.handy.stats.reset()
        orders = await handy.list_sales_orders(start, end)
    assert [o["id"] for o in orders] == ids
    assert _order_queries(sb) <= 6  # 5 pages of 100 (each next query repeats a boundary second)


async def test_o1_given_handy_sorting_newest_first_when_reading_then_keyset_is_not_trusted_and_every_order_once():
    """A page that is not the oldest orders proves nothing by keyset (the counts disagree): the
    window is then read in slices that each fit one page, in whatever order Handy lists them."""
    sb = make()

    def newest_first(request: httpx.Request) -> httpx.Request:
        if request.url.path.endswith("/salesOrder"):
            request.url = request.url.copy_set_param("order", "desc")
        return request

    async with client(sb) as handy:
        ids = await take_orders(sb, handy, 450, 2)
        start, end = window_of(sb, 3600)
        handy_unsorted = HandyClient(
            sb.handy_url,
            sb.handy_token,
            tenant="t",
            transport=_Rewriting(sb, newest_first),
            clock=LinkedClock(sb.clock),
            rate_per_minute=60000,
            timezone="America/Mexico_City",
        )
        async with handy_unsorted:
            orders = await handy_unsorted.list_sales_orders(start, end)
    assert [o["id"] for o in orders] == ids


async def test_o1_given_an_order_deleted_between_two_keyset_queries_then_the_rest_is_sliced_and_no_live_order_missed():
    """The deletion lowers the second totalCount: the counts no longer prove the first page, so
    that part is read again by slices."""
    sb = make()
    queries: list[str] = []

    def delete_after_first(request: httpx.Request) -> httpx.Request:
        if request.url.path.endswith("/salesOrder"):
            queries.append(str(request.url))
            if len(queries) == 2:
                sb.handy.delete_order(ids[-1])
        return request

    async with client(sb) as handy:
        ids = await take_orders(sb, handy, 250, 2)
        start, end = window_of(sb, 3600)
        reader = HandyClient(
            sb.handy_url,
            sb.handy_token,
            tenant="t",
            transport=_Rewriting(sb, delete_after_first),
            clock=LinkedClock(sb.clock),
            rate_per_minute=60000,
            timezone="America/Mexico_City",
        )
        async with reader:
            orders = await reader.list_sales_orders(start, end)
    read = [o["id"] for o in orders]
    assert read == ids[:-1]
    assert len(queries) > 4  # 3 keyset queries would have done without the deletion
