"""O8 under crashes: a run that dies at any step boundary, then a rerun, leaves exactly one
Gestionix document per Handy order, with Gestionix's duplicate-reference check switched OFF
(so nothing relies on a 409)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clients.errors import Retryable
from clients.gestionix import GestionixClient
from clients.handy import HandyClient
from flows.orders import order_push
from store import binder, cursors, dead_letters
from tests.kit.sandbox_orders import activate, by_reference, customer, order, seed_catalog

pytestmark = pytest.mark.flow


class Crash(RuntimeError):
    """The process dies here (not an API error: nothing catches it)."""


def crash_once(monkeypatch, owner, name: str, *, after: bool, error: Exception | None = None):
    """Make owner.name fail once: before doing its work (after=False) or after it (after=True)."""
    original = getattr(owner, name)
    state = {"armed": True}

    def fire():
        if state["armed"]:
            state["armed"] = False
            raise error or Crash(f"crash at {name}")

    if not isinstance(owner, type):  # a module function (store.binder.set_status)

        def plain(*args, **kwargs):
            if not after:
                fire()
            result = original(*args, **kwargs)
            if after:
                fire()
            return result

        monkeypatch.setattr(owner, name, plain)
        return

    async def method(self, *args, **kwargs):
        if not after:
            fire()
        result = await original(self, *args, **kwargs)
        if after:
            fire()
        return result

    monkeypatch.setattr(owner, name, method)


BOUNDARIES = {
    # intent committed, the document not created yet
    "after_intent": (GestionixClient, "create_document", False),
    # document created in Gestionix, the binding still an intent
    "after_create": (GestionixClient, "create_document", True),
    # binding pushed, Handy externalId not written
    "after_bind": (HandyClient, "set_order_external_id", False),
    # externalId written, the binding does not know it yet
    "after_external_id": (binder, "set_status", False),
}


def make_orders(sb, count: int = 4) -> list[dict]:
    codes = seed_catalog(sb, 2)
    customer(sb, "C-1", "Depósito El Sol")
    new = {"code": "H-NEW-9", "description": "Tiendita Nueva"}
    placed = [order(sb, new, [(codes[0], 1)])]
    placed += [order(sb, "C-1", [(codes[n % 2], n + 1)]) for n in range(count - 1)]
    return placed


def assert_exactly_once(sb, slug: str, placed: list[dict]) -> None:
    refs = by_reference(sb)
    assert refs == {f"HANDY-{o['id']}": 1 for o in placed}
    for o in placed:
        binding = binder.get(slug, "order", str(o["id"]))
        assert binding.status == "pushed" and binding.data["external_id_written"] is True
        assert sb.handy.orders[o["id"]]["externalId"] == binding.gestionix_key.split(":")[1]


@pytest.mark.parametrize("boundary", list(BOUNDARIES))
async def test_o8_crash_at_each_step_then_rerun_leaves_one_document_per_order(
    sandbox, tenant, monkeypatch, boundary
):
    """O8: crash after intent / after create / after bind / after externalId, rerun: exactly one
    document per order, every externalId written, duplicate-reference rejection off."""
    sb = sandbox
    sb.set_gestionix_knobs(reject_duplicate_reference=False)
    placed = make_orders(sb)
    activate(tenant.slug)
    owner, name, after = BOUNDARIES[boundary]
    with monkeypatch.context() as patch:
        crash_once(patch, owner, name, after=after)
        with pytest.raises(Crash):
            await order_push(tenant)

    await order_push(tenant)

    assert_exactly_once(sb, tenant.slug, placed)
    assert sb.gestionix.stats.calls["POST /clients"] == 1  # the new customer created once


async def test_o8_timeout_on_create_holds_the_cursor_and_is_resolved_by_reference(
    sandbox, tenant, monkeypatch
):
    """O8/X2: Gestionix creates the document but the answer is lost (timeout after the budget):
    the run finishes, reports it, keeps the cursor before that order; the next run finds the
    document by its reference instead of creating a second one."""
    sb = sandbox
    sb.set_gestionix_knobs(reject_duplicate_reference=False)
    placed = make_orders(sb, 3)
    start = activate(tenant.slug)
    with monkeypatch.context() as patch:
        crash_once(
            patch,
            GestionixClient,
            "create_document",
            after=True,
            error=Retryable("timed out", system="gestionix", transport_error="ReadTimeout"),
        )
        summary = await order_push(tenant)
    assert "1 failed" in summary and "temporary" in summary
    held = cursors.get(tenant.slug, "orders")
    assert start <= held < max(datetime.fromisoformat(o["dateCreated"]) for o in placed)

    summary = await order_push(tenant)

    assert "1 recovered" in summary
    assert_exactly_once(sb, tenant.slug, placed)


async def test_o9_external_id_write_failure_is_retried_next_run_without_touching_gestionix(
    sandbox, tenant, monkeypatch
):
    """O9: Handy refuses the externalId write (after its retry budget): the document stays
    bound, the order is dead-lettered, and a later run (window moved on) writes only the
    externalId; Gestionix sees no second create."""
    sb = sandbox
    sb.set_gestionix_knobs(reject_duplicate_reference=False)
    placed = make_orders(sb, 2)
    activate(tenant.slug)
    with monkeypatch.context() as patch:
        crash_once(
            patch,
            HandyClient,
            "set_order_external_id",
            after=False,
            error=Retryable("Handy is down", system="handy", status=503),
        )
        summary = await order_push(tenant)
    assert "2 created" in summary and "externalId not written" in summary
    creates = sb.gestionix.stats.calls["POST /sales_orders"]
    cursors.set(tenant.slug, "orders", datetime.now(UTC) + timedelta(hours=1))

    await order_push(tenant)

    assert sb.gestionix.stats.calls["POST /sales_orders"] == creates == 2
    assert not dead_letters.open_letters(tenant.slug, "order")
    assert_exactly_once(sb, tenant.slug, placed)
