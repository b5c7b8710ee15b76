"""Issue 15 knobs that make list answers differ from the spec's happy path, checked on the raw
HTTP API: no paging envelope, capped pages, a record repeated across pages, orders deleted or
inserted while a listing is paged, and Gestionix's capped pages."""

from __future__ import annotations

import math
from urllib.parse import parse_qs, urlparse

import pytest

from sandbox.common import iso_z
from sandbox.server import build_sandbox

ORDERS = 25


@pytest.fixture
async def order_ids(handy_ctl, handy_catalog, sb) -> list[int]:
    """ORDERS orders one minute apart (ascending dateCreated = ascending id)."""
    ids = []
    for _ in range(ORDERS):
        created = await handy_ctl.post("/orders/random", json={"count": 1})
        ids += created.json()
        sb.clock.advance(60)
    assert len(ids) == ORDERS
    return ids


async def _order_page(handy, page: int, size: int = 10, **params) -> dict:
    response = await handy.get(
        "/salesOrder", params={"page": page, "max": size, "order": "asc", **params}
    )
    assert response.status_code == 200, response.text
    return response.json()


def _ids(body: dict) -> list[int]:
    return [o["id"] for o in body["salesOrders"]]


def _query(link: str) -> dict[str, list[str]]:
    return parse_qs(urlparse(link).query)


async def test_paging_envelope_off_answers_only_the_collection_still_paged(handy, sb, order_ids):
    sb.set_handy_knobs(paging_envelope=False)
    body = await _order_page(handy, 2)
    assert set(body) == {"salesOrders"} and _ids(body) == order_ids[10:20]
    users = (await handy.get("/user", params={"max": 3, "page": 3})).json()
    assert set(users) == {"users"} and len(users["users"]) == 1  # 7 users: page 3 of 3 holds one
    sb.set_handy_knobs(paging_envelope=True)
    assert "pagination" in await _order_page(handy, 2)


async def test_page_size_cap_caps_records_and_the_envelope_tells_the_capped_size(handy, handy_ctl):
    assert (await handy_ctl.put("/knobs", json={"page_size_cap": 4})).json()["page_size_cap"] == 4
    first = (await handy.get("/user", params={"max": 10})).json()
    pagination = first["pagination"]
    assert len(first["users"]) == 4
    assert pagination["totalCount"] == 7 and pagination["totalPages"] == math.ceil(7 / 4)
    assert _query(pagination["nextPage"]) == {"page": ["2"], "max": ["4"]}
    assert _query(pagination["lastPage"]) == {"page": ["2"], "max": ["4"]}
    second = (await handy.get("/user", params={"max": 10, "page": 2})).json()
    assert len(second["users"]) == 3 and second["pagination"]["nextPage"] is None
    assert {u["id"] for u in first["users"]}.isdisjoint(u["id"] for u in second["users"])
    small = (await handy.get("/user", params={"max": 2})).json()  # a max under the cap is kept
    assert len(small["users"]) == 2 and small["pagination"]["totalPages"] == 4
    assert (await handy_ctl.put("/knobs", json={"page_size_cap": -1})).status_code == 400


async def test_page_size_cap_without_envelope_is_a_short_page_and_nothing_else(
    handy, sb, order_ids
):
    sb.set_handy_knobs(page_size_cap=7, paging_envelope=False)
    body = await _order_page(handy, 1, size=10)
    assert set(body) == {"salesOrders"} and _ids(body) == order_ids[:7]
    assert _ids(await _order_page(handy, 2, size=10)) == order_ids[7:14]


async def test_repeat_across_pages_starts_each_page_with_the_previous_last_record(
    handy, handy_ctl, sb, order_ids
):
    extra = []
    for _ in range(30 - ORDERS):  # 30 orders: 3 full pages of 10 asked
        extra += (await handy_ctl.post("/orders/random", json={"count": 1})).json()
        sb.clock.advance(60)
    ids = order_ids + extra
    sb.set_handy_knobs(repeat_across_pages=True)
    pages = [await _order_page(handy, n) for n in (1, 2, 3, 4)]
    assert _ids(pages[0]) == ids[0:10]
    assert _ids(pages[1]) == ids[9:19] and _ids(pages[1])[0] == _ids(pages[0])[-1]
    assert _ids(pages[2]) == ids[18:28] and _ids(pages[2])[0] == _ids(pages[1])[-1]
    for body in pages[:3]:
        assert body["pagination"]["totalCount"] == 30 and body["pagination"]["totalPages"] == 3
    seen = [i for body in pages[:3] for i in _ids(body)]
    assert len(seen) == 30 and len(set(seen)) == 28  # two repeats...
    assert set(ids) - set(seen) == {
        ids[28],
        ids[29],
    }  # ...and the last two never appear up to totalPages
    assert _ids(pages[3]) == ids[27:30]  # past totalPages the shifted slice goes on
    # other lists are not affected
    users = [
        (await handy.get("/user", params={"max": 3, "page": n})).json()["users"] for n in (1, 2, 3)
    ]
    assert len({u["id"] for page in users for u in page}) == 7


async def test_mutate_while_paging_delete_soft_deletes_the_oldest_and_shifts_later_pages(
    handy, handy_ctl, sb, order_ids
):
    sb.set_handy_knobs(mutate_while_paging="delete")
    first = await _order_page(handy, 1)
    assert (
        _ids(first) == order_ids[0:10] and sb.handy.paging_mutations == []
    )  # page 1 mutates nothing
    second = await _order_page(handy, 2)
    assert sb.handy.paging_mutations == [{"kind": "delete", "order_id": order_ids[0], "page": 2}]
    assert _ids(second) == order_ids[11:21]  # order_ids[10] slid onto the page already read
    assert second["pagination"]["totalCount"] == ORDERS - 1
    deleted = sb.handy.orders[order_ids[0]]
    assert deleted["deleted"] is True and deleted["deletedBy"] == deleted["createdBy"]
    assert deleted["dateDeleted"] == iso_z(sb.clock.now())
    third = await _order_page(handy, 3)
    assert (
        _ids(third) == order_ids[22:25]
    )  # order_ids[1] deleted before page 3: order_ids[21] missed too
    assert [m["order_id"] for m in sb.handy.paging_mutations] == order_ids[:2]
    state = (await handy_ctl.get("/state", params={"only": "pagingMutations"})).json()
    assert state == {"pagingMutations": sb.handy.paging_mutations}
    # a deleted=true listing is never mutated
    await _order_page(handy, 2, size=1, deleted="true")
    assert len(sb.handy.paging_mutations) == 2


async def test_mutate_while_paging_insert_lands_a_late_order_on_an_already_read_page(
    handy, sb, order_ids
):
    sb.set_handy_knobs(mutate_while_paging="insert")
    assert _ids(await _order_page(handy, 1)) == order_ids[0:10]
    second = await _order_page(handy, 2)
    [mutation] = sb.handy.paging_mutations
    new_id = mutation["order_id"]
    assert mutation["kind"] == "insert" and mutation["page"] == 2 and new_id not in order_ids
    oldest, late = sb.handy.orders[order_ids[0]], sb.handy.orders[new_id]
    assert late["dateCreated"] == oldest["dateCreated"] and late["salesType"] == oldest["salesType"]
    assert late["deleted"] is False
    assert _ids(second) == order_ids[9:19]  # order_ids[9] read twice, the late order never
    assert second["pagination"]["totalCount"] == ORDERS + 1
    everything = _ids(await _order_page(handy, 1, size=100))  # also a page 1: no mutation
    assert everything[:2] == [order_ids[0], new_id] and len(sb.handy.paging_mutations) == 1


async def test_mutate_while_paging_refuses_an_unknown_mode_naming_the_knob(handy_ctl, sb):
    bad = await handy_ctl.put("/knobs", json={"mutate_while_paging": "sometimes", "latency_ms": 5})
    assert bad.status_code == 400 and "mutate_while_paging" in bad.json()["message"]
    knobs = (await handy_ctl.get("/knobs")).json()
    assert knobs["mutate_while_paging"] == "none" and knobs["latency_ms"] == 0  # nothing applied
    with pytest.raises(ValueError, match="mutate_while_paging"):
        build_sandbox(products=5, customers=2, handy_mutate_while_paging="always")
    built = build_sandbox(
        products=5, customers=2, handy_mutate_while_paging="DELETE", handy_page_size_cap=3
    )
    assert (
        built.handy.knobs.mutate_while_paging == "delete" and built.handy.knobs.page_size_cap == 3
    )


async def test_gestionix_page_size_cap_gives_short_bare_pages(gx, gx_ctl, sb):
    everything = (await gx.get("/products", params={"page_size": 500})).json()
    assert isinstance(everything, list) and len(everything) > 100
    assert (await gx_ctl.put("/knobs", json={"page_size_cap": 50})).status_code == 200
    pages = [
        (await gx.get("/products", params={"page_size": 500, "page": n})).json() for n in (1, 2, 3)
    ]
    assert [len(p) for p in pages] == [50, 50, len(everything) - 100]
    assert [p["product_id"] for page in pages for p in page] == [
        p["product_id"] for p in everything
    ]
    assert (
        len((await gx.get("/clients", params={"page_size": 20})).json()) == 20
    )  # under the cap: as asked
    sb.set_knobs(page_size_cap=0)  # bare name: both servers
    assert sb.gestionix.knobs.page_size_cap == 0 and sb.handy.knobs.page_size_cap == 0
