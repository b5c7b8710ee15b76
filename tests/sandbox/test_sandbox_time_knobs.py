"""Issue 15 knobs about time: the `Date` header, a Handy clock offset from the sandbox clock, the
Handy account zone, and how a start/end bound with two readings (DST) is read."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
import typer
from typer.testing import CliRunner

from ops import sandbox_command as sandbox_cli
from sandbox.common import Clock, http_date, iso_z
from sandbox.server import build_sandbox, run_sandbox
from tests.kit.sandbox_clock import FROZEN_AT


def _utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def _handy_client(sb) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=sb.handy_transport(),
        base_url=sb.handy_url,
        headers={"Authorization": f"Bearer {sb.handy_token}"},
    )


async def test_every_handy_api_response_carries_a_date_from_the_sandbox_clock(sb, handy, gx):
    expected = "Fri, 27 Nov 2026 18:00:30 GMT"
    assert http_date(FROZEN_AT) == expected
    assert (await handy.get("/user")).headers.get_list("date") == [expected]
    async with httpx.AsyncClient(transport=sb.handy_transport(), base_url=sb.handy_url) as anon:
        assert (await anon.get("/user")).headers["date"] == expected  # 401
    sb.set_handy_knobs(fail_rate=1.0)
    failed = await handy.get("/user")
    assert failed.status_code >= 500 and failed.headers.get_list("date") == [expected]
    sb.set_handy_knobs(fail_rate=0.0, rate_limit_per_minute=1)
    await handy.get("/user")
    limited = await handy.get("/user")
    assert limited.status_code == 429 and limited.headers.get_list("date") == [expected]
    assert (await gx.get("/branch_offices/")).headers.get_list("date") == [expected]
    sb.clock.advance(61)
    assert (await gx.get("/branch_offices/")).headers["date"] == "Fri, 27 Nov 2026 18:01:31 GMT"


async def test_clock_offset_moves_every_handy_stamp_and_the_date_header(
    sb, handy, handy_ctl, gx, handy_catalog
):
    assert (await handy_ctl.put("/knobs", json={"clock_offset_seconds": -600})).status_code == 200
    behind = FROZEN_AT - 600
    response = await handy.post(
        "/product",
        json={
            "code": "LATE-1",
            "description": "Chicle",
            "family": {"description": "Dulces"},
            "price": 2.0,
        },
    )
    assert response.headers["date"] == http_date(behind) == "Fri, 27 Nov 2026 17:50:30 GMT"
    assert response.json()["dateCreated"] == response.json()["lastUpdated"] == iso_z(behind)
    customer = (
        await handy.post("/customer", json={"code": "C-LATE", "description": "Abarrotes"})
    ).json()
    assert customer["dateCreated"] == iso_z(behind)
    [order_id] = (await handy_ctl.post("/orders/random", json={"count": 1})).json()
    order = sb.handy.orders[order_id]
    assert order["dateCreated"] == order["lastUpdated"] == iso_z(behind)
    deleted = (await handy_ctl.delete(f"/orders/{order_id}")).json()
    assert deleted["dateDeleted"] == iso_z(behind)
    assert (await gx.get("/branch_offices/")).headers["date"] == http_date(
        FROZEN_AT
    )  # Gestionix: no offset
    # windows are compared against Handy's stamps: 17:50:30Z is 11:50:30 in Mexico City
    for start, found in (("27/11/2026 11:50:30", 1), ("27/11/2026 11:55:00", 0)):
        body = (
            await handy.get(
                "/salesOrder",
                params={
                    "deleted": "true",
                    "filterWithDate": "dateDeleted",
                    "start": start,
                    "end": "27/11/2026 12:10:00",
                },
            )
        ).json()
        assert body["pagination"]["totalCount"] == found, start


async def test_clock_offset_at_start_applies_to_the_generated_world():
    sb = build_sandbox(
        products=5, customers=2, clock=Clock(frozen_at=FROZEN_AT), handy_clock_offset_seconds=90
    )
    async with _handy_client(sb) as handy:
        response = await handy.get("/route")
    assert response.headers["date"] == http_date(FROZEN_AT + 90)
    assert response.json()["routes"][0]["dateCreated"] == iso_z(FROZEN_AT + 90 - 6 * 3600)


def test_loopback_responses_carry_exactly_one_date_header_from_the_app():
    with (
        run_sandbox(
            products=5,
            customers=2,
            clock=Clock(frozen_at=FROZEN_AT),
            handy_clock_offset_seconds=-3600,
        ) as sb,
        httpx.Client(timeout=5) as client,
    ):
        users = client.get(
            f"{sb.handy_url}/user", headers={"Authorization": f"Bearer {sb.handy_token}"}
        )
        assert users.headers.get_list("date") == [
            http_date(FROZEN_AT - 3600)
        ]  # uvicorn's own is off
        login = client.post(
            f"{sb.gestionix_url}/users/authentication",
            json={"user": sb.gestionix_user, "password": sb.gestionix_password},
        )
        assert login.headers.get_list("date") == [http_date(FROZEN_AT)]


async def _orders_at(sb, handy_ctl_client, *instants: float) -> list[int]:
    ids = []
    for instant in instants:
        sb.clock.freeze(instant)
        ids += (await handy_ctl_client.post("/orders/random", json={"count": 1})).json()
    return ids


@pytest.fixture
async def tijuana():
    """A Handy account in America/Tijuana (DST: 1 Nov 2026 02:00 PDT -> 01:00 PST; 8 Mar 2026
    02:00 PST -> 03:00 PDT), with a product so that orders can be taken."""
    sb = build_sandbox(
        products=5,
        customers=2,
        clock=Clock(frozen_at=_utc(2026, 3, 1)),
        handy_timezone="America/Tijuana",
    )
    async with (
        _handy_client(sb) as handy,
        httpx.AsyncClient(
            transport=sb.handy_transport(), base_url="http://handy.sandbox/_sandbox"
        ) as ctl,
    ):
        created = await handy.post(
            "/product",
            json={
                "code": "AGU-1L",
                "description": "Agua",
                "family": {"description": "Bebidas"},
                "price": 10.0,
            },
        )
        assert created.status_code == 201
        yield sb, handy, ctl


async def _window_ids(handy, start: str, end: str) -> list[int]:
    body = (
        await handy.get("/salesOrder", params={"start": start, "end": end, "order": "asc"})
    ).json()
    return [o["id"] for o in body["salesOrders"]]


async def test_ambiguous_local_time_reads_the_repeated_hour_as_asked(tijuana):
    sb, handy, ctl = tijuana
    assert sb.handy.zone.key == "America/Tijuana"
    first_reading, second_reading = await _orders_at(
        sb, ctl, _utc(2026, 11, 1, 8, 10), _utc(2026, 11, 1, 9, 10)
    )
    window = ("01/11/2026 01:00:00", "01/11/2026 01:20:00")  # both bounds in the repeated hour
    assert sb.handy.knobs.ambiguous_local_time == "earlier"  # default: fold=0, 01:00 PDT = 08:00Z
    assert await _window_ids(handy, *window) == [first_reading]
    assert (await ctl.put("/knobs", json={"ambiguous_local_time": "later"})).status_code == 200
    assert await _window_ids(handy, *window) == [second_reading]  # fold=1, 01:00 PST = 09:00Z
    assert sb.handy.parse_query_date("start", "01/11/2026 00:59:00") == _utc(
        2026, 11, 1, 7, 59
    )  # one reading


async def test_ambiguous_local_time_reads_a_skipped_time_the_same_way(tijuana):
    sb, handy, ctl = tijuana
    [order_id] = await _orders_at(
        sb, ctl, _utc(2026, 3, 8, 9, 45)
    )  # 01:45 PST, just before the jump
    window = ("08/03/2026 01:40:00", "08/03/2026 02:30:00")  # 02:30 does not exist that day
    assert sb.handy.parse_query_date("end", window[1]) == _utc(
        2026, 3, 8, 9, 30
    )  # earlier: PDT offset
    assert await _window_ids(handy, *window) == []
    sb.set_handy_knobs(ambiguous_local_time="later")
    assert sb.handy.parse_query_date("end", window[1]) == _utc(
        2026, 3, 8, 10, 30
    )  # later: PST offset
    assert await _window_ids(handy, *window) == [order_id]


async def test_ambiguous_local_time_refuses_other_values_and_zone_survives_reset(tijuana):
    sb, _handy, ctl = tijuana
    bad = await ctl.put("/knobs", json={"ambiguous_local_time": "both"})
    assert bad.status_code == 400 and "ambiguous_local_time" in bad.json()["message"]
    await ctl.post("/reset")
    assert sb.handy.zone.key == "America/Tijuana"


def test_default_handy_zone_is_mexico_city(sb):
    assert sb.handy.zone.key == "America/Mexico_City"


def test_cli_passes_the_handy_timezone_through(monkeypatch):
    seen = {}
    monkeypatch.setattr(sandbox_cli, "serve", lambda **kwargs: seen.update(kwargs))
    app = typer.Typer()
    app.command()(sandbox_cli.sandbox_command)
    result = CliRunner().invoke(app, ["--handy-timezone", "America/Tijuana"])
    assert result.exit_code == 0, result.output
    assert seen["handy_timezone"] == "America/Tijuana"
