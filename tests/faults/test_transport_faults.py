"""X2 under transport faults, for every flow: 429 storms (with and without rate-limit headers),
20 % 5xx, timeouts, dropped connections, Gestionix token expiry mid-run, HTML error pages and
truncated JSON. Each run ends correct after retries, or fails with a clear message and leaves
state resumable: a rerun with the faults off ends exactly where a clean run on a fresh sandbox
of the same seed ends (no duplicate product, family, customer, zone or document).

Client waits run on a clock that also moves the sandbox's clock, so a 429 "wait until reset" is
honoured in sandbox time without real sleeping; Prefect task retries have no delay."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx
import pytest

from clients._http import HttpCore
from flows.catalog import catalog_pull
from flows.customers import customer_sync
from flows.deletions import deletion_sync
from flows.orders import order_push
from sandbox.server import Sandbox, run_sandbox
from tests.kit.client_options import build_clients_with
from tests.kit.fast_clients import FAST
from tests.kit.sandbox_orders import (
    activate,
    company,
    customer,
    delete,
    documents,
    edit,
    order,
    seed_catalog,
)
from tests.kit.tenants import make_tenant

pytestmark = pytest.mark.flow  # `faults` (CI) or `campaign` per case, see MATRIX


class SandboxClock:
    """The clients' clock (clients/clock.py protocol) tied to the sandbox's: a client wait
    advances the sandbox's time at once, so its rate-limit windows and token lifetimes pass."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.slept = 0.0

    def monotonic(self) -> float:
        return self.sb.clock.now()

    def time(self) -> float:
        return self.sb.clock.now()

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.slept += seconds
        self.sb.clock.advance(seconds)
        await asyncio.sleep(0)


def tie_clients_to(sb: Sandbox, slug: str) -> SandboxClock:
    from clients.ratelimit import shared_limiter

    clock = SandboxClock(sb)
    shared_limiter(slug, "handy", FAST, clock=clock)
    shared_limiter(slug, "gestionix", FAST, clock=clock)
    return clock


# ---------------------------------------------------------------------------------- the flows


async def setup_orders(sb: Sandbox, slug: str) -> list[dict]:
    codes = seed_catalog(sb, 4)
    customer(sb, "C-1", "Depósito El Sol")
    placed = [
        order(sb, "C-1", [(codes[0], 2), (codes[1], 1)]),
        order(
            sb,
            {"code": "H-NEW-1", "description": "Tiendita Nueva"},
            [(codes[2], 1)],
            salesType="PRESALE",
        ),
        order(sb, "C-1", [(codes[3], 5)], offlineMinutes=120),
    ]
    placed += [order(sb, "C-1", [(codes[n % 4], n + 1)]) for n in range(3)]
    activate(slug)
    return placed


async def prepare(flow_name: str, sb: Sandbox, tenant) -> None:
    """What exists before the faulty run."""
    if flow_name in ("orders", "deletions"):
        placed = await setup_orders(sb, tenant.slug)
        if flow_name == "deletions":
            await order_push(tenant)  # clean
            delete(sb, placed[0]["id"])
            delete(sb, placed[1]["id"])
            edit(
                sb,
                placed[2]["id"],
                items=[{"product": placed[3]["items"][0]["product"]["code"], "quantity": 9}],
            )


FLOWS = {
    "catalog": catalog_pull,
    "customers": customer_sync,
    "orders": order_push,
    "deletions": deletion_sync,
}


def view(flow_name: str, sb: Sandbox) -> dict:
    """What the flow is responsible for, without ids and timestamps."""
    handy = sb.handy
    if flow_name == "catalog":
        return {
            "products": {
                code: (
                    p["description"],
                    p["family"]["description"],
                    p["price"],
                    p["enabled"],
                    p["quantity"],
                )
                for code, p in handy.products.items()
            },
            "families": Counter(f["description"] for f in handy.families.values()),
        }
    if flow_name == "customers":
        return {
            "customers": {
                code: (c["description"], c.get("enabled")) for code, c in handy.customers.items()
            },
            "zones": Counter(z["description"] for z in handy.zones.values()),
        }
    docs = Counter(d["reference"] for d in documents(sb))
    totals = {d["reference"]: d["total"] for d in documents(sb)}
    external = {
        oid: o["externalId"] is not None for oid, o in handy.orders.items() if not o["deleted"]
    }
    clients = Counter(c["commercial_name"] for c in company(sb).clients.values())
    return {"documents": docs, "totals": totals, "external_ids": external, "clients": clients}


async def clean_view(flow_name: str) -> dict:
    """The same flow on a fresh sandbox of the same seed, without faults."""
    with run_sandbox(seed=7, products=60, customers=30) as sb:
        sb.set_handy_knobs(rate_limit_per_minute=0)
        tenant = make_tenant(sb)
        tie_clients_to(sb, tenant.slug)
        await prepare(flow_name, sb, tenant)
        await FLOWS[flow_name](tenant)
        return view(flow_name, sb)


_BASELINES: dict[str, dict] = {}


async def baseline(flow_name: str) -> dict:
    if flow_name not in _BASELINES:
        _BASELINES[flow_name] = await clean_view(flow_name)
    return _BASELINES[flow_name]


# ---------------------------------------------------------------------------------- the faults


class BareTooManyRequests(httpx.AsyncBaseTransport):
    """A 429 storm without any rate-limit header: a random share of requests answered 429 with
    an empty body before they reach the server (so even a POST was certainly not processed)."""

    def __init__(self, rate: float, seed: int = 1) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.rate, self.rng = rate, random.Random(seed)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.rng.random() < self.rate:
            return httpx.Response(429, request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def expire_tokens_after(monkeypatch, sb: Sandbox, gestionix_calls: int) -> dict:
    """Every Gestionix token expires once the run has made `gestionix_calls` Gestionix calls."""
    original = HttpCore._send_once
    seen = {"gestionix": 0, "expired": 0}

    async def send_once(core, *args, **kwargs):
        if core.system == "gestionix":
            seen["gestionix"] += 1
            if seen["gestionix"] == gestionix_calls:
                seen["expired"] += sb.gestionix.expire_tokens() or 1
        return await original(core, *args, **kwargs)

    monkeypatch.setattr(HttpCore, "_send_once", send_once)
    return seen


FAULTS = {
    "429_with_headers": {"handy_rate_limit_per_minute": 3, "gestionix_rate_limit_per_minute": 3},
    "429_without_headers": "bare429",
    "5xx_20_percent": {"fail_rate": 0.2},
    "timeouts": {"timeout_rate": 0.15, "timeout_seconds": 2.0},
    "connection_resets": {"drop_rate": 0.2},
    "token_expiry": "expire",
    "html_error_pages": {"html_error_rate": 0.2},
    "truncated_json": {"truncated_json_rate": 0.2},
}


# The CI subset: every fault for order_push (O8 is what a fault can break worst), three each for
# the other flows; the whole matrix runs with `-m campaign`.
CI_MATRIX = {
    "orders": set(FAULTS),
    "deletions": {"5xx_20_percent", "token_expiry", "connection_resets"},
    "catalog": {"429_with_headers", "5xx_20_percent", "truncated_json"},
    "customers": {"429_without_headers", "html_error_pages", "connection_resets"},
}
MATRIX = [
    pytest.param(
        flow_name,
        fault,
        id=f"{flow_name}-{fault}",
        marks=pytest.mark.faults if fault in CI_MATRIX[flow_name] else pytest.mark.campaign,
    )
    for flow_name in FLOWS
    for fault in FAULTS
]


@pytest.mark.parametrize(("flow_name", "fault"), MATRIX)
async def test_x2_flow_under_fault_ends_correct_or_resumable(
    prefect_harness, monkeypatch, no_task_retry_delay, short_client_timeouts, flow_name, fault
):
    """X2: temporary failures are retried (429 honours the headers, else backoff); what the
    budget cannot absorb fails clearly and a clean rerun converges to the clean result (O8: no
    second document; P8/C6: no second product, family, customer or zone)."""
    expected = await baseline(flow_name)
    with run_sandbox(seed=7, products=60, customers=30) as sb:
        sb.set_handy_knobs(rate_limit_per_minute=0)
        sb.set_gestionix_knobs(reject_duplicate_reference=False)
        tenant = make_tenant(sb)
        clock = tie_clients_to(sb, tenant.slug)
        await prepare(flow_name, sb, tenant)
        spec = FAULTS[fault]
        with monkeypatch.context() as patch:
            if spec == "bare429":
                build_clients_with(
                    patch,
                    handy={"transport": BareTooManyRequests(0.3)},
                    gestionix={"transport": BareTooManyRequests(0.3)},
                )
            elif spec == "expire":
                seen = expire_tokens_after(patch, sb, 2)
            else:
                sb.set_knobs(**spec)
            outcome = "completed"
            try:
                summary = await FLOWS[flow_name](tenant)
            except Exception as exc:  # noqa: BLE001 - the message is what we check
                outcome, summary = "failed", str(exc)
        sb.set_knobs(
            fail_rate=0,
            timeout_rate=0,
            drop_rate=0,
            html_error_rate=0,
            truncated_json_rate=0,
            handy_rate_limit_per_minute=0,
            gestionix_rate_limit_per_minute=0,
        )
        assert summary, "a run must say what happened"
        if outcome == "failed":
            assert len(summary) < 2000 and (
                "answered" in summary or "failed" in summary or "not JSON" in summary
            ), summary
        if fault == "token_expiry":
            assert seen["expired"] and outcome == "completed", summary  # one re-login absorbs it
        if fault == "429_with_headers":
            assert clock.slept > 0  # waited for the reset in sandbox time, no real sleeping

        await FLOWS[flow_name](tenant)  # faults off: resume

        assert view(flow_name, sb) == expected
