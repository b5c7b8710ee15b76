"""catalog_pull against the loopback sandbox (RULES P1-P8, I1-I3, X1-X3).

Expectations are computed here from the sandbox's Gestionix state with plain Decimal maths, not
with mappings/, so a bug shared by the mapping and the flow still shows."""

from __future__ import annotations

from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

import pytest

from clients.errors import ValidationFailed
from clients.handy import HandyClient
from clients.ratelimit import shared_limiter
from flows.catalog import catalog_pull
from mappings.names import normalize_name
from sandbox.server import run_sandbox
from store import binder, runs
from tests.kit.tenants import make_tenant

pytestmark = pytest.mark.flow

COMPANY, MATRIZ = 92, 310


# ----------------------------------------------------------------------------- helpers


def gx(sb):
    return sb.gestionix.companies[COMPANY]


def usable(key) -> bool:
    return isinstance(key, str) and key != "" and key == key.strip() and "/" not in key


def matriz_products(sb) -> list[dict]:
    company = gx(sb)
    return [p for pid, p in company.products.items() if MATRIZ in company.product_branches[pid]]


def for_sale(sb) -> dict[str, dict]:
    """clave -> Gestionix product, for every product catalog_pull should have in Handy."""
    return {p["key"]: p for p in matriz_products(sb) if p["for_sale"] and usable(p["key"])}


def _percentage_taxes(product: dict) -> list[dict]:
    return [t for t in product["taxes"] if t["type"] == "transferred" and t["factor"] == "rate"]


def _factor(product: dict) -> Decimal:
    """P6 as the law says: IEPS first, IVA on price + IEPS (written here, not imported)."""
    ieps = sum(Decimal(str(t["rate"])) for t in _percentage_taxes(product) if "IEPS" in t["name"])
    iva = sum(
        Decimal(str(t["rate"])) for t in _percentage_taxes(product) if "IEPS" not in t["name"]
    )
    return (1 + ieps) * (1 + iva)


def after_tax(product: dict) -> float:
    exact = Decimal(str(product["price"])) * _factor(product)
    return float(exact.quantize(Decimal("0.01"), ROUND_HALF_UP))


def handy_tax(product: dict) -> dict:
    """The Handy tax the catalog gives a product: the combined rate, IVA named first."""
    names = sorted((t["name"] for t in _percentage_taxes(product)), key=lambda n: "IEPS" in n)
    return {"name": " + ".join(names) or "Exento", "amount": float((_factor(product) - 1) * 100)}


def total_stock(product: dict) -> float:
    return sum(s["quantity"] for s in product["stock"] if s["branch_id"] == MATRIZ)


def route_stock(sb) -> Counter:
    loaded: Counter = Counter()
    for route_id, route in sb.handy.routes.items():
        if not route["closed"]:
            for code, quantity in sb.handy.route_inventory.get(route_id, {}).items():
                loaded[code] += quantity
    return loaded


def handy_view(sb) -> dict[str, tuple]:
    """What matters of Handy's catalog: code -> (description, family, price, enabled, quantity)."""
    return {
        code: (
            p["description"],
            p["family"]["description"],
            p["price"],
            p["enabled"],
            p["quantity"],
        )
        for code, p in sb.handy.products.items()
    }


def writes(sb) -> Counter:
    return Counter({k: v for k, v in sb.handy.stats.calls.items() if not k.startswith("GET ")})


def clean_product(sb, index: int = 0, **where) -> dict:
    """An active, for-sale Matriz product with a usable clave (and `where` field values)."""
    found = [
        p
        for p in for_sale(sb).values()
        if p["active"] and all(p.get(k) == v for k, v in where.items())
    ]
    return found[index]


def patch(sb, product: dict, **changes) -> None:
    sb.gestionix.upsert_product(gx(sb), changes, product_id=product["product_id"])


def last_run(slug: str):
    run = runs.recent(slug, flow="catalog", limit=1)[0]
    return run, runs.items(slug, run.id)


def set_route(sb, route_id: int, inventory: dict[str, float]) -> None:
    sb.handy.route_inventory[route_id] = dict(inventory)
    sb.handy.touch()


def open_route(sb) -> int:
    return next(rid for rid, r in sb.handy.routes.items() if not r["closed"])


FAST = 60_000  # requests/min: the tests check calls, not pacing (bench/catalog.py measures that)


async def synced(sb, tenant, **options) -> str:
    """One catalog_pull run. The sandbox's and the client's Handy rate limits are lifted: the
    client's limiter is per (tenant, system) and event loop, and the flow runs in this loop."""
    sb.set_handy_knobs(rate_limit_per_minute=0)
    shared_limiter(tenant.slug, "handy", FAST)
    return await catalog_pull(tenant, **options)


# ----------------------------------------------------------------------------- first run


async def test_p1_p2_p3_p4_p6_first_run_creates_every_valid_for_sale_product_once(sandbox, tenant):
    """P1 not-for-sale never copied; P2 clave = code; P3/P4 reported with their reason; P5 family
    = category; P6 price after tax; P7 inactive ones created disabled; I2 stock = total - route;
    each new product costs exactly one call (quantity in the create body); X1 audit."""
    sb = sandbox
    summary = await synced(sb, tenant)

    expected = for_sale(sb)
    assert set(sb.handy.products) == set(expected)  # P1, P2
    loaded = route_stock(sb)
    for code, product in expected.items():
        handy = sb.handy.products[code]
        assert handy["description"] == " ".join(product["name"].split())
        assert handy["family"]["description"] == (product["category"] or {}).get(
            "name", "Sin categoría"
        )
        assert handy["price"] == after_tax(product)  # P6
        assert handy["basePrice"] == product["price"]  # P6: Handy's own tax agrees with Gestionix
        assert handy["tax"]["amount"] == handy_tax(product)["amount"]
        assert handy["taxOptional"] is None
        assert handy["enabled"] is product["active"]  # P7
        assert handy["quantity"] == max(total_stock(product) - loaded[code], 0.0)  # I2
    assert writes(sb)["POST /product"] == len(expected)
    assert writes(sb)["PUT /product/{code}"] == 0

    run, items = last_run(tenant.slug)
    reasons = {i.key: i.reason for i in items if i.action == "skipped"}
    empty = [p for p in matriz_products(sb) if p["key"] == ""]
    slashed = [p for p in matriz_products(sb) if "/" in p["key"]]
    assert empty and slashed, "the demo world has both kinds"
    for p in empty:
        assert (
            reasons[f"id {p['product_id']}"].startswith("P3: ")
            and "empty clave" in reasons[f"id {p['product_id']}"]
        )
    for p in slashed:
        assert reasons[p["key"]].startswith("P4: ") and "'/'" in reasons[p["key"]]
    assert run.counts["created"] == len(expected)
    assert run.counts["read"] == len(matriz_products(sb))
    assert run.status == "completed" and "created" in summary
    # P6: a fixed-amount tax (cuota) is left out of the price, and each such product is
    # reported once in the run
    cuota = {
        code for code, p in expected.items() if any(t["factor"] == "fixed" for t in p["taxes"])
    }
    reported = [i.key for i in items if i.action == "reported" and "fixed-amount tax" in i.reason]
    assert cuota and sorted(reported) == sorted(cuota)


async def test_p5_families_created_first_once_each_and_existing_ones_reused(sandbox, tenant):
    """P5: Gestionix category -> Handy product family; a family already in Handy (other case,
    no accent) is reused; the missing ones are created before the products, once each."""
    sb = sandbox
    sb.handy.create_family("BEBIDAS")  # made by hand in Handy before the integration
    await synced(sb, tenant)

    categories = {
        normalize_name(p["category"]["name"]) for p in for_sale(sb).values() if p["category"]
    }
    descriptions = [f["description"] for f in sb.handy.families.values()]
    assert len(descriptions) == len({normalize_name(d) for d in descriptions})  # no duplicates
    assert {normalize_name(d) for d in descriptions} == categories
    assert writes(sb)["POST /productFamily"] == len(categories) - 1  # Bebidas reused
    bebidas = next(f for f in sb.handy.families.values() if f["description"] == "BEBIDAS")
    assert any(p["family"]["id"] == bebidas["id"] for p in sb.handy.products.values())
    bound = binder.records(tenant.slug, "family")
    assert {b.gestionix_key for b in bound} == categories

    # a new category later: that family first, then the product; bound families are not re-read
    sb.reset_stats()
    sb.gestionix.upsert_product(
        gx(sb),
        {
            "key": "NEW-FAM-1",
            "name": "Pila AA",
            "price": 10.0,
            "category": "Ferretería",
            "taxes": [1],
            "stock": {"Matriz": 5},
            "branches": ["Matriz"],
        },
    )
    await synced(sb, tenant)
    assert sb.handy.products["NEW-FAM-1"]["family"]["description"] == "Ferretería"
    assert writes(sb) == Counter({"POST /productFamily": 1, "POST /product": 1})


# ----------------------------------------------------------------------------- changes


async def test_p6_price_after_tax_in_handy_and_one_call_per_changed_product(sandbox, tenant):
    """P6: 10.345 before 16 % IVA is 12.00 in Handy (ROUND_HALF_UP); a price and a stock change of
    one product travel in one PUT (P8)."""
    sb = sandbox
    await synced(sb, tenant)
    product = clean_product(sb)
    sb.reset_stats()
    patch(sb, product, price=10.345, taxes=[1], stock={"Matriz": 999})
    await synced(sb, tenant)
    handy = sb.handy.products[product["key"]]
    assert handy["price"] == 12.00
    assert handy["quantity"] == 999 - route_stock(sb)[product["key"]]
    assert writes(sb) == Counter({"PUT /product/{code}": 1})

    sb.reset_stats()
    patch(sb, product, taxes=[1, 5])  # IVA 16 % + IEPS 26.5 %
    await synced(sb, tenant)
    handy = sb.handy.products[product["key"]]
    assert handy["price"] == 15.18  # 10.345 x 1.265 x 1.16 = 15.180253: IVA on price + IEPS
    assert handy["basePrice"] == 10.345  # Handy's basePrice = the Gestionix pre-tax price
    assert (handy["tax"]["amount"], handy["taxOptional"]) == (46.74, None)
    assert writes(sb) == Counter({"PUT /product/{code}": 1})


async def test_p7_deactivate_then_reactivate(sandbox, tenant):
    """P7: inactive in Gestionix -> disabled in Handy; active again -> enabled; one call each."""
    sb = sandbox
    await synced(sb, tenant)
    product = clean_product(sb)
    sb.reset_stats()
    patch(sb, product, active=False)
    await synced(sb, tenant)
    assert sb.handy.products[product["key"]]["enabled"] is False
    assert writes(sb) == Counter({"PUT /product/{code}": 1})
    assert binder.get(tenant.slug, "product", product["key"]).status == "disabled"

    sb.reset_stats()
    await synced(sb, tenant)
    assert writes(sb) == Counter()

    patch(sb, product, active=True)
    await synced(sb, tenant)
    assert sb.handy.products[product["key"]]["enabled"] is True
    assert writes(sb) == Counter({"PUT /product/{code}": 1})
    run, _ = last_run(tenant.slug)
    assert run.counts["enabled"] == 1


async def test_p7_bound_product_leaving_sale_or_branch_is_disabled_unbound_ones_left_alone(
    sandbox, tenant
):
    """P7: a bound product that stops being for sale, or leaves the sucursal, is disabled once;
    a Handy product the integration never created or bound is never touched."""
    sb = sandbox
    sb.handy.create_product(
        {
            "code": "HAND-MADE",
            "description": "Hecho a mano",
            "price": 1.0,
            "family": {"description": "Otros"},
        }
    )
    await synced(sb, tenant)
    not_for_sale, moved = clean_product(sb, 0), clean_product(sb, 1)
    sb.reset_stats()
    patch(sb, not_for_sale, for_sale=False)
    patch(sb, moved, branches=["Sucursal Norte"])
    await synced(sb, tenant)
    assert sb.handy.products[not_for_sale["key"]]["enabled"] is False
    assert sb.handy.products[moved["key"]]["enabled"] is False
    assert writes(sb) == Counter({"PUT /product/{code}": 2})
    assert sb.handy.products["HAND-MADE"]["enabled"] is True

    sb.reset_stats()
    await synced(sb, tenant, full=True)  # full mode leaves them alone too
    assert writes(sb) == Counter()
    assert sb.handy.products["HAND-MADE"]["enabled"] is True


async def test_p8_second_run_writes_nothing_and_reads_nothing_from_handy(sandbox, prefect_harness):
    """P8: steady state (inventory off) writes nothing and reads nothing from Handy."""
    sb = sandbox
    tenant = make_tenant(sb, sync_inventory=False)
    await synced(sb, tenant)
    sb.reset_stats()
    summary = await synced(sb, tenant)
    assert sb.handy.stats.writes == 0
    assert sb.handy.stats.reads == 0
    assert sum(sb.handy.stats.calls.values()) == 0
    assert "created" not in summary and "updated" not in summary


async def test_p8_i1_second_run_with_inventory_reads_only_the_open_routes(sandbox, tenant):
    """P8 + I1: with inventory on, the only Handy call of a steady-state run is the route read
    that I1 needs (route stock changes in Handy, not in Gestionix)."""
    sb = sandbox
    await synced(sb, tenant)
    sb.reset_stats()
    await synced(sb, tenant)
    assert sb.handy.stats.writes == 0
    assert dict(sb.handy.stats.calls) == {"GET /route": 1}


# ----------------------------------------------------------------------------- inventory


async def test_i2_route_stock_subtracted_and_negative_set_to_zero_and_reported(sandbox, tenant):
    """I1/I2: free-use = Gestionix total - stock on open routes; loading a route writes exactly
    that product's stock; more on routes than in the sucursal -> 0 and reported."""
    sb = sandbox
    a, b = clean_product(sb, 2), clean_product(sb, 3)
    patch(sb, a, stock={"Matriz": 50})
    patch(sb, b, stock={"Matriz": 4})
    await synced(sb, tenant)
    assert sb.handy.products[a["key"]]["quantity"] == 50 - route_stock(sb)[a["key"]]

    route = open_route(sb)
    loaded = dict(sb.handy.route_inventory.get(route, {}))
    set_route(sb, route, {**loaded, a["key"]: 12.0, b["key"]: 10.0})
    sb.reset_stats()
    await synced(sb, tenant)
    assert sb.handy.products[a["key"]]["quantity"] == 50 - route_stock(sb)[a["key"]]
    assert sb.handy.products[b["key"]]["quantity"] == 0.0
    assert writes(sb) == Counter({"PUT /product/{code}": 2})
    _, items = last_run(tenant.slug)
    reported = {i.key: i.reason for i in items if i.action == "reported"}
    assert reported[b["key"]].startswith("I2: ") and "negative" in reported[b["key"]]

    sb.reset_stats()
    await synced(sb, tenant)  # b stays at 0: nothing more to write
    assert writes(sb) == Counter()


async def test_i3_inventory_off_reads_and_writes_no_stock(sandbox, prefect_harness):
    """I3: with sync_inventory off no route is read and no quantity is sent, even when the
    Gestionix stock changes."""
    sb = sandbox
    tenant = make_tenant(sb, sync_inventory=False)
    await synced(sb, tenant)
    assert "GET /route" not in sb.handy.stats.calls
    assert all(p["quantity"] == 0.0 for p in sb.handy.products.values())  # Handy's default
    product = clean_product(sb)
    sb.reset_stats()
    patch(sb, product, stock={"Matriz": 77})
    await synced(sb, tenant)
    assert sum(sb.handy.stats.calls.values()) == 0


# ----------------------------------------------------------------------------- X3, full mode


async def test_x3_dry_run_writes_nothing(sandbox, tenant):
    """X3: a dry run reports what it would write (counts and items) and writes nothing: no
    Handy write, no binding; the real run afterwards does exactly that plan."""
    sb = sandbox
    summary = await synced(sb, tenant, dry_run=True)
    assert sb.handy.stats.writes == 0
    assert sb.handy.products == {} and sb.handy.families == {}
    assert not binder.records(tenant.slug, "product") and not binder.records(tenant.slug, "family")
    run, items = last_run(tenant.slug)
    expected = for_sale(sb)
    assert summary.startswith("[dry run]")
    assert run.counts["created"] == len(expected)
    assert {i.key for i in items if i.action == "would create" and i.entity == "product"} == set(
        expected
    )
    categories = {p["category"]["name"] for p in expected.values() if p["category"]}
    assert {i.key for i in items if i.entity == "family"} == categories

    await synced(sb, tenant)
    product = clean_product(sb)
    patch(sb, product, active=False)
    sb.reset_stats()
    await synced(sb, tenant, dry_run=True)
    assert sb.handy.stats.writes == 0
    assert sb.handy.products[product["key"]]["enabled"] is True
    _, items = last_run(tenant.slug)
    assert [(i.key, i.action) for i in items if i.action.startswith("would")] == [
        (product["key"], "would disable")
    ]


async def test_p7_p8_full_mode_adopts_existing_products_and_repairs_drift(sandbox, tenant):
    """Full mode: existing Handy products with the same code are adopted (bound, updated only
    where they differ), never duplicated; a change made by hand in Handy is invisible to the
    steady-state run (no reads) and repaired by the next full run."""
    sb = sandbox
    same, wrong = clean_product(sb, 0), clean_product(sb, 1)
    for product, price in ((same, after_tax(same)), (wrong, 1.0)):
        sb.handy.create_product(
            {
                "code": product["key"],
                "description": " ".join(product["name"].split()),
                "family": {"description": product["category"]["name"]},
                "price": price,
                "basePrice": product["price"],
                "tax": handy_tax(product),
                "quantity": max(total_stock(product) - route_stock(sb)[product["key"]], 0.0),
            }
        )
    await synced(sb, tenant, full=True)
    expected = for_sale(sb)
    assert set(sb.handy.products) == set(expected)
    assert writes(sb)["POST /product"] == len(expected) - 2
    assert writes(sb)["PUT /product/{code}"] == 1  # only the wrong price
    assert sb.handy.products[wrong["key"]]["price"] == after_tax(wrong)
    assert binder.get(tenant.slug, "product", same["key"]) is not None
    run, _ = last_run(tenant.slug)
    assert run.counts["adopted"] == 2

    sb.handy.update_product(wrong["key"], {"price": 2.0, "enabled": False})  # by hand in Handy
    sb.reset_stats()
    await synced(sb, tenant)
    assert writes(sb) == Counter()
    await synced(sb, tenant, full=True)
    assert sb.handy.products[wrong["key"]]["price"] == after_tax(wrong)
    assert sb.handy.products[wrong["key"]]["enabled"] is True
    assert writes(sb) == Counter({"PUT /product/{code}": 1})


async def test_p8_create_answered_code_exists_is_adopted_not_duplicated(sandbox, tenant):
    """A create answered 422 because the code exists (a product made in Handy between runs,
    or a create whose answer was lost) is read, compared, updated only if it differs, bound."""
    sb = sandbox
    product = clean_product(sb)
    sb.handy.create_product(
        {
            "code": product["key"],
            "description": "viejo",
            "price": 1.0,
            "family": {"description": "Otros"},
        }
    )
    await synced(sb, tenant)  # not full: the create finds the code taken
    handy = sb.handy.products[product["key"]]
    assert handy["price"] == after_tax(product) and handy["description"] != "viejo"
    assert binder.get(tenant.slug, "product", product["key"]).fingerprint
    sb.reset_stats()
    await synced(sb, tenant)
    assert writes(sb) == Counter()


async def test_p8_changed_product_deleted_by_hand_in_handy_is_created_again(sandbox, tenant):
    """A product deleted in Handy by hand is invisible to the steady-state run until it has
    something to write; then the update's 404 becomes a create (no failure, no full run needed)."""
    sb = sandbox
    await synced(sb, tenant)
    product = clean_product(sb)
    sb.handy.products.pop(product["key"])
    sb.handy.touch()
    patch(sb, product, price=20.0)
    sb.reset_stats()
    await synced(sb, tenant)
    assert sb.handy.products[product["key"]]["price"] == after_tax(
        gx(sb).products[product["product_id"]]
    )
    assert writes(sb) == Counter({"PUT /product/{code}": 1, "POST /product": 1})
    run, _ = last_run(tenant.slug)
    assert run.status == "completed" and run.counts["updated"] == 1


# ----------------------------------------------------------------------------- failures


async def test_x2_permanent_failure_is_reported_and_the_rest_continues(
    sandbox, tenant, monkeypatch
):
    """X2: a product Handy refuses (422) is reported as failed with the reason; the others are
    created; the next run tries it again."""
    sb = sandbox
    victim = clean_product(sb)
    original = HandyClient.create_product

    async def refusing(self, body):
        if body["code"] == victim["key"]:
            raise ValidationFailed(
                "La propiedad Precio debe ser un número válido",
                system="handy",
                status=422,
                field_errors=[{"field": "price", "message": "x"}],
            )
        return await original(self, body)

    monkeypatch.setattr(HandyClient, "create_product", refusing)
    await synced(sb, tenant)
    assert victim["key"] not in sb.handy.products
    assert set(sb.handy.products) == set(for_sale(sb)) - {victim["key"]}
    run, items = last_run(tenant.slug)
    failed = {i.key: i.reason for i in items if i.action == "failed"}
    assert "Precio" in failed[victim["key"]]
    assert run.status == "completed_with_issues" and run.counts["failed"] == 1

    monkeypatch.setattr(HandyClient, "create_product", original)
    sb.reset_stats()
    await synced(sb, tenant)
    assert victim["key"] in sb.handy.products
    assert writes(sb) == Counter({"POST /product": 1})


async def test_p8_run_killed_mid_write_then_rerun_ends_identical_without_duplicates(
    sandbox, tenant, monkeypatch
):
    """A run killed after the 20th create (the product exists in Handy, the process dies before
    binding it) and rerun ends identical to an uninterrupted run: no duplicate product or family,
    and the rerun redoes only what was not bound (the lost ones are adopted, not recreated)."""
    sb = sandbox
    original = HandyClient.create_product
    calls = {"n": 0}

    class Killed(RuntimeError):  # not an ApiError: never retried, the run dies
        pass

    async def dying(self, body):
        calls["n"] += 1
        mine = calls["n"]
        created = await original(self, body)
        if mine == 20:
            raise Killed("process killed")
        return created

    monkeypatch.setattr(HandyClient, "create_product", dying)
    with pytest.raises(Killed):
        await synced(sb, tenant)
    monkeypatch.setattr(HandyClient, "create_product", original)
    in_handy_after_crash = set(sb.handy.products)
    bound_after_crash = {b.handy_key for b in binder.records(tenant.slug, "product")}
    assert 20 <= len(in_handy_after_crash) < len(for_sale(sb))
    assert len(in_handy_after_crash - bound_after_crash) <= 32  # at most the writes in flight

    sb.reset_stats()
    await synced(sb, tenant)
    assert writes(sb)["POST /product"] == len(for_sale(sb)) - len(bound_after_crash)
    assert writes(sb)["POST /productFamily"] == 0

    with run_sandbox(seed=7, products=60, customers=30) as clean:
        await synced(clean, make_tenant(clean))
        assert handy_view(sb) == handy_view(clean)
        assert sorted(f["description"] for f in sb.handy.families.values()) == sorted(
            f["description"] for f in clean.handy.families.values()
        )
    sb.reset_stats()
    await synced(sb, tenant)
    assert writes(sb) == Counter()


# ----------------------------------------------------------------------------- deletion protection


def enabled_bound(slug: str) -> list[str]:
    return sorted(b.handy_key for b in binder.records(slug, "product") if b.status == "enabled")


def move_out_of_matriz(sb, codes) -> None:
    """The products leave the sucursal in Gestionix: absent from the branch read ("gone")."""
    by_key = for_sale(sb)
    for code in codes:
        patch(sb, by_key[code], branches=["Sucursal Norte"])


async def test_p7_capped_gestionix_pages_are_read_to_the_end_and_disable_nothing(sandbox, tenant):
    """P7, issue 15: a Gestionix that serves 7 products per page whatever page_size asks is read
    until an empty page: the first run creates every product, the next one disables nothing
    (the 175-products-disabled incident)."""
    sb = sandbox
    sb.set_gestionix_knobs(page_size_cap=7)
    await synced(sb, tenant)
    assert set(sb.handy.products) == set(for_sale(sb)) and len(for_sale(sb)) > 7 * 3
    sb.reset_stats()
    summary = await synced(sb, tenant)
    assert writes(sb) == Counter()
    assert all(p["enabled"] is for_sale(sb)[c]["active"] for c, p in sb.handy.products.items())
    run, _ = last_run(tenant.slug)
    assert run.status == "completed" and "disabled" not in run.counts and "disabled" not in summary
    assert run.counts["read"] == len(matriz_products(sb))
    assert sb.gestionix.stats.calls["GET /products"] > len(matriz_products(sb)) // 7  # every page


async def test_p7_mass_disable_stops_before_any_write_then_confirm_goes_on(sandbox, tenant):
    """P7 deletion protection: 30 % of the enabled bound products gone from the sucursal -> the
    run ends Failed before writing anything (not even a create or an update planned with it),
    naming the tenant, counts, share and threshold; the audit row is failed with the message and
    every withheld disable. confirm_mass_disable=True then disables them, noted in the audit."""
    sb = sandbox
    await synced(sb, tenant)
    bound = enabled_bound(tenant.slug)
    gone = bound[: round(len(bound) * 0.3)]
    move_out_of_matriz(sb, gone)
    changed = next(c for c in bound if c not in gone)
    patch(sb, for_sale(sb)[changed], price=99.0)
    sb.gestionix.upsert_product(
        gx(sb),
        {"key": "NEW-PROT-1", "name": "Nuevo", "price": 10.0, "taxes": [1], "branches": ["Matriz"]},
    )
    bindings_before = sorted(
        (b.handy_key, b.fingerprint, b.status) for b in binder.records(tenant.slug, "product")
    )
    sb.reset_stats()

    state = await synced(sb, tenant, return_state=True)

    assert state.is_failed()
    share = (
        f"{len(gone)} of {len(bound)} enabled bound products ({100 * len(gone) / len(bound):.1f} %"
    )
    assert f"tenant {tenant.slug}" in state.message and share in state.message
    assert f"{len(gone)} gone from the Gestionix read" in state.message
    assert "threshold 10 %" in state.message and "--confirm-mass-disable" in state.message
    assert sb.handy.stats.writes == 0 and writes(sb) == Counter()
    assert (
        all(sb.handy.products[c]["enabled"] for c in gone) and "NEW-PROT-1" not in sb.handy.products
    )
    after = sorted(
        (b.handy_key, b.fingerprint, b.status) for b in binder.records(tenant.slug, "product")
    )
    assert after == bindings_before
    run, items = last_run(tenant.slug)
    assert run.status == "failed" and "Mass disable stopped" in run.summary
    assert sorted(i.key for i in items if i.action == "disable withheld") == gone

    sb.reset_stats()
    summary = await synced(sb, tenant, confirm_mass_disable=True)
    assert all(sb.handy.products[c]["enabled"] is False for c in gone)
    assert "NEW-PROT-1" in sb.handy.products
    assert sb.handy.products[changed]["price"] == after_tax(for_sale(sb)[changed])
    run, _ = last_run(tenant.slug)
    assert run.status == "completed" and run.counts["disabled"] == len(gone)
    assert "Operator confirmed the mass disable" in summary
    assert set(enabled_bound(tenant.slug)).isdisjoint(gone)


async def test_p7_disables_under_the_threshold_are_written_as_usual(sandbox, tenant):
    """P7: 5 disables (the floor) of ~50 enabled bound products, under 10 %, of every kind — gone,
    not for sale, inactive — go through without confirmation."""
    sb = sandbox
    await synced(sb, tenant)
    bound = enabled_bound(tenant.slug)
    assert 5 / len(bound) < 0.10
    gone, not_for_sale, inactive = bound[:2], bound[2:3], bound[3:5]
    move_out_of_matriz(sb, gone)
    by_key = for_sale(sb)
    patch(sb, by_key[not_for_sale[0]], for_sale=False)
    for code in inactive:
        patch(sb, by_key[code], active=False)
    sb.reset_stats()
    state = await synced(sb, tenant, return_state=True)
    assert state.is_completed()
    assert all(sb.handy.products[c]["enabled"] is False for c in bound[:5])
    assert writes(sb) == Counter({"PUT /product/{code}": 5})
    run, _ = last_run(tenant.slug)
    assert run.counts["disabled"] == 5 and "confirmed" not in run.summary


async def test_x3_p7_dry_run_over_the_threshold_lists_the_disables_and_says_the_run_would_stop(
    sandbox, tenant
):
    """X3 + P7: a dry run writes nothing and completes; it lists every disable it would make and
    its summary says the real run would stop (and why)."""
    sb = sandbox
    await synced(sb, tenant)
    bound = enabled_bound(tenant.slug)
    gone = bound[:10]
    move_out_of_matriz(sb, gone)
    sb.reset_stats()
    state = await synced(sb, tenant, dry_run=True, return_state=True)
    assert state.is_completed() and sb.handy.stats.writes == 0
    summary = await state.result()
    assert summary.startswith("[dry run]") and "The real run would stop before writing" in summary
    assert "threshold 10 %" in summary
    run, items = last_run(tenant.slug)
    assert run.status == "completed" and run.dry_run
    assert sorted(i.key for i in items if i.action == "would disable") == gone
