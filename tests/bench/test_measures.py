"""The bench harness's own measures (bench/common.py, bench/orders.py): event-loop CPU split,
"changed" from two Handy states, the Handy-rate floor, VmHWM. No timing: CPU time is a fake
clock the test advances."""

from __future__ import annotations

import asyncio
import time

import pytest

from bench.common import LoopCpu, changed_products, peak_rss_mb
from bench.orders import handy_floor_s


@pytest.fixture
def fake_cpu(monkeypatch):
    """time.thread_time as a counter that only `burn` advances."""
    clock = {"now": 0.0}
    monkeypatch.setattr(time, "thread_time", lambda: clock["now"])

    def burn(seconds: float) -> None:
        clock["now"] += seconds

    meter = LoopCpu.install()
    yield meter, burn
    LoopCpu.uninstall()


def test_loop_cpu_splits_cpu_inside_and_outside_api_calls(fake_cpu):
    meter, burn = fake_cpu

    async def api_call() -> None:
        burn(0.5)  # flow code before the call: outside
        LoopCpu.enter_api()
        try:
            burn(1.0)  # building the request
            await asyncio.sleep(0)  # another task runs meanwhile
            burn(2.0)  # parsing the response
        finally:
            LoopCpu.leave_api()
        burn(0.25)  # flow code after the call: outside

    async def other() -> None:
        burn(4.0)
        await asyncio.sleep(0)
        burn(8.0)

    async def main() -> None:
        await asyncio.gather(api_call(), other(), api_call())

    asyncio.run(main())
    report = meter.report()
    assert report["loop_is_main_thread"]
    assert report["loop_cpu_in_api_calls_s"] == pytest.approx(6.0)
    assert report["loop_cpu_outside_api_s"] == pytest.approx(2 * 0.75 + 12.0)
    assert report["loop_cpu_s"] == pytest.approx(19.5)


def test_changed_products_counts_real_content_changes_only():
    before = {
        "A": {
            "code": "A",
            "description": "a",
            "price": 10.0,
            "quantity": 1.0,
            "enabled": True,
            "family": {"id": 1, "description": "F"},
            "lastUpdated": "t1",
        },
        "B": {
            "code": "B",
            "description": "b",
            "price": 5.0,
            "quantity": 0.0,
            "enabled": True,
            "family": {"id": 1, "description": "F"},
            "lastUpdated": "t1",
        },
    }
    rewritten_same = {**before["A"], "lastUpdated": "t2"}  # a write that changed nothing
    new_price = {**before["B"], "price": 5.5}
    created = {**before["B"], "code": "C"}
    after = {"A": rewritten_same, "B": new_price, "C": created}
    assert changed_products(before, after) == 2
    assert changed_products(before, before) == 0


def test_handy_rate_floor_is_one_put_per_order_plus_one_page_per_hundred():
    assert handy_floor_s(2000, 500) == pytest.approx(242.4)  # 2 020 calls at 500/min
    assert handy_floor_s(301, 500) == pytest.approx((301 + 4) * 0.12)


def test_peak_rss_is_this_process_high_water_mark():
    with open("/proc/self/status") as status:
        rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    assert peak_rss_mb() >= rss_kb / 1024 - 0.1


def test_store_calls_are_split_by_whether_an_event_loop_runs_on_their_thread():
    from sqlalchemy import create_engine, text

    from bench.common import StoreCalls

    calls = StoreCalls().install()
    engine = create_engine("sqlite://")

    def select_one() -> None:
        with engine.connect() as connection:
            connection.execute(text("select 1"))

    async def main() -> None:
        select_one()  # on the loop: blocks it
        await asyncio.to_thread(select_one)  # off it

    try:
        select_one()  # no loop at all
        asyncio.run(main())
    finally:
        calls.uninstall()
    assert calls.report() == {"store_statements_on_loop": 1, "store_statements_off_loop": 2}
