"""Bad data never stops a run and never disappears silently (X1, P3, P4, P6, C2, O6, O7): each bad
record ends as a reported reject with a clear reason in the run audit (store run items) or a dead
letter, and the rest of the batch goes through. Bad values are written straight into the
sandbox's state, so the APIs answer them exactly as stored (missing fields, wrong types)."""

from __future__ import annotations

import math

import pytest

from flows.catalog import catalog_pull
from flows.customers import customer_sync
from flows.orders import order_push
from store import binder, dead_letters, runs
from tests.kit.fast_clients import fast_clients
from tests.kit.sandbox_orders import (
    MATRIZ,
    activate,
    company,
    customer,
    documents,
    order,
    pushable_products,
    seed_catalog,
)

pytestmark = [pytest.mark.flow, pytest.mark.faults]


def last_items(slug: str, flow: str) -> dict[str, list]:
    run = runs.recent(slug, flow=flow, limit=1)[0]
    found: dict[str, list] = {}
    for item in runs.items(slug, run.id):
        found.setdefault(item.key, []).append(item)
    return found


def reason_for(items: dict[str, list], key_part: str) -> str:
    """The reasons of the explained records whose key contains key_part (keys may be labels)."""
    reasons = [
        i.reason
        for key, rows in items.items()
        if key_part in key
        for i in rows
        if i.action in ("skipped", "failed", "rejected", "dead-lettered")
    ]
    return " | ".join(reasons)


def add_product(sb, key, template, **fields) -> dict:
    """A clean for-sale product of Matriz, then its fields overwritten raw (no validation)."""
    gx = company(sb)
    product = sb.gestionix.upsert_product(
        gx,
        {
            "key": f"TMP-{len(gx.products)}",
            "name": "Producto de prueba",
            "price": 10.0,
            "category": "Bebidas",
            "taxes": [t["tax_id"] for t in template["taxes"]],
            "stock": {"Matriz": 5},
            "branches": ["Matriz"],
        },
    )
    product.update({"key": key, **fields})
    gx.products[product["product_id"]] = product
    sb.gestionix.touch()
    return product


HUGE = "X" * 5000
BAD_PRODUCTS = {
    # id: (key, fields, expected: "rejected" with words in the reason, or "pushed")
    "empty_clave": ("", {}, ("rejected", "empty")),
    "slash_clave": ("AB/12", {}, ("rejected", "/")),
    "spaces_clave": ("  SP-1 ", {}, ("rejected", "space")),
    "huge_clave": (HUGE, {}, ("rejected", "")),
    "non_ascii_clave": ("CAFÉ-Ñ-1", {}, ("pushed", None)),
    "nan_price": ("BAD-NAN", {"price": math.nan}, ("rejected", "price")),
    "negative_price": ("BAD-NEG", {"price": -3.5}, ("rejected", "negative")),
    "string_price": ("BAD-STR", {"price": "doce pesos"}, ("rejected", "price")),
    "empty_name": ("BAD-NONAME", {"name": ""}, ("rejected", "name")),
    "emoji_name": ("OK-EMOJI", {"name": "Refresco 🥤 de cola 😀"}, ("pushed", None)),
    "long_name": ("OK-LONG", {"name": "N" * 300}, ("pushed", None)),
    "taxes_not_a_list": ("BAD-TAX", {"taxes": "IVA"}, ("rejected", "tax")),
    "missing_active": ("BAD-ACT", {"active": None}, ("rejected", "active")),
    "category_wrong_type": ("BAD-CAT", {"category": 17}, ("rejected", "category")),
}


async def test_p3_p4_p6_bad_products_are_reported_and_the_rest_goes_through(
    prefect_harness, sandbox, tenant
):
    """P3 (empty clave), P4 ('/'), spaces, a 5000-char clave, NaN/negative/text prices, empty
    names, wrong types: each a reported reject with its reason; emoji, non-ASCII claves and
    300-char names are pushed (a long name cut to Handy's limit); every clean product arrives."""
    sb = sandbox
    sb.set_handy_knobs(rate_limit_per_minute=0)
    fast_clients(tenant.slug)
    template = pushable_products(sb, 1)[0]
    for key, fields, _ in BAD_PRODUCTS.values():
        add_product(sb, key, template, **fields)
    gx = company(sb)
    record_without_key = add_product(sb, "WILL-LOSE-KEY", template)
    del record_without_key["key"]

    summary = await catalog_pull(tenant)

    items = last_items(tenant.slug, "catalog")
    for case, (key, _, (outcome, words)) in BAD_PRODUCTS.items():
        if outcome == "pushed":
            assert key in sb.handy.products, f"{case}: {key!r} not pushed ({summary})"
            continue
        assert key not in sb.handy.products, case
        probe = (
            key
            if key.strip()
            else str(next(p["product_id"] for p in gx.products.values() if p.get("key") == key))
        )
        reason = reason_for(items, probe[:50])
        assert reason, f"{case}: no reported reason for {key[:20]!r}; items: {list(items)[:40]}"
        assert words.lower() in reason.lower(), f"{case}: {reason}"
    assert reason_for(items, str(record_without_key["product_id"])), "record without a key field"
    clean = {
        p["key"]
        for p in gx.products.values()
        if p.get("for_sale") is True
        and p.get("active") is True
        and isinstance(p.get("key"), str)
        and p["key"]
        and p["key"] == p["key"].strip()
        and "/" not in p["key"]
        and MATRIZ in gx.product_branches[p["product_id"]]
        and not p["key"].startswith("BAD-")
        and p["key"] != HUGE
        and isinstance(p.get("price"), float)
        and p["price"] >= 0
        and isinstance(p.get("taxes"), list)
        and p.get("name")
    }
    missing = clean - set(sb.handy.products)
    assert not missing, f"clean products not pushed: {sorted(missing)[:10]}"
    long = sb.handy.products["OK-LONG"]["description"]
    assert long and set(long) == {"N"}


async def test_c2_customers_with_bad_names_are_reported_and_the_rest_goes_through(
    prefect_harness, sandbox, tenant
):
    """C2: neither name -> reported with the reason; emoji and 300-char names are copied; a
    name of the wrong type is reported; every other client of the branch arrives."""
    sb = sandbox
    sb.set_handy_knobs(rate_limit_per_minute=0)
    fast_clients(tenant.slug)
    gx = company(sb)
    made = {}
    for label, names in {
        "no_name": {"commercial_name": "", "business_name": "  "},
        "emoji": {"commercial_name": "Abarrotes 🛒 Doña Flor", "business_name": "FLOR SA"},
        "long": {"commercial_name": "L" * 300, "business_name": ""},
        "wrong_type": {"commercial_name": 42, "business_name": None},
    }.items():
        client = sb.gestionix.create_client(
            gx, {"commercial_name": "temp", "tax_id": "XAXX010101000", "branch_id": MATRIZ}
        )
        client.update(names)
        made[label] = client["client_id"]

    await customer_sync(tenant)

    items = last_items(tenant.slug, "customers")
    bound = {b.gestionix_key for b in binder.all_for(tenant.slug, "customer")}
    for label in ("no_name", "wrong_type"):
        reason = reason_for(items, str(made[label]))
        assert reason and ("name" in reason.lower() or "nombre" in reason), (
            label,
            reason,
            list(items)[:20],
        )
        assert str(made[label]) not in bound
    for label in ("emoji", "long"):
        assert str(made[label]) in bound, label
    descriptions = {c["description"] for c in sb.handy.customers.values()}
    assert "Abarrotes 🛒 Doña Flor" in descriptions
    named = [
        c
        for c in gx.clients.values()
        if c.get("branch_id") == MATRIZ
        and any(
            isinstance(n, str) and n.strip()
            for n in (c.get("commercial_name"), c.get("business_name"))
        )
    ]
    assert len(named) <= len(sb.handy.customers)


def bad_order(sb, codes, mutate) -> dict:
    placed = order(sb, "C-1", [(codes[0], 1)])
    mutate(sb.handy.orders[placed["id"]])
    return placed


def set_items(items):
    return lambda o: o.update(items=items)


def line(code, quantity, **extra):
    return {
        "product": {"code": code, "description": code},
        "quantity": quantity,
        "price": 10.0,
        "originalPrice": 10.0,
        "total": 10.0 * quantity if isinstance(quantity, (int, float)) else 0,
        "discountPercentage": 0,
        "isReturn": False,
        "isReward": False,
        "tax": {"name": "IVA", "amount": 16.0},
        **extra,
    }


async def test_o6_o7_bad_orders_are_dead_lettered_or_skipped_with_reasons_and_the_rest_pushed(
    prefect_harness, sandbox, tenant
):
    """O6/O7: orders with no items, only returns, zero or negative quantities, text quantities,
    unknown products, no customer, a customer of the wrong type, lines without a product code: each dead-lettered (O6) or skipped (O7) with a reason; the good
    orders of the same window are pushed once."""
    sb = sandbox
    sb.set_handy_knobs(rate_limit_per_minute=0)
    fast_clients(tenant.slug)
    codes = seed_catalog(sb, 3)
    customer(sb, "C-1", "Depósito El Sol")
    sb.handy.create_product(
        {
            "code": "NO-EN-GX",
            "description": "Solo en Handy",
            "family": {"description": "X"},
            "price": 5.0,
        }
    )
    activate(tenant.slug)
    good = [order(sb, "C-1", [(codes[0], 2)]), order(sb, "C-1", [(codes[1], 1), (codes[2], 3)])]
    cases = {
        "no_items": set_items([]),
        "items_not_a_list": set_items("nada"),
        "only_returns": set_items([line(codes[0], 2, isReturn=True)]),
        "zero_quantity": set_items([line(codes[0], 0)]),
        "negative_quantity": set_items([line(codes[0], -2)]),
        "text_quantity": set_items([line(codes[0], "dos")]),
        "unknown_product": set_items([line("NO-EN-GX", 1)]),
        "line_without_product": set_items([{"quantity": 1, "price": 10.0}]),
        "no_customer": lambda o: o.update(customer=None),
        "customer_wrong_type": lambda o: o.update(customer="C-1"),
        "customer_without_names": lambda o: o.update(customer={"code": "C-X", "description": ""}),
    }
    bad = {label: bad_order(sb, codes, mutate) for label, mutate in cases.items()}

    summary = await order_push(tenant)

    refs = {d["reference"] for d in documents(sb)}
    for placed in good:
        assert f"HANDY-{placed['id']}" in refs, summary
    items = last_items(tenant.slug, "orders")
    letters = {x.key: x for x in dead_letters.open_letters(tenant.slug, "order")}
    for label, placed in bad.items():
        key = str(placed["id"])
        assert f"HANDY-{key}" not in refs, f"{label} was pushed"
        reason = reason_for(items, key)
        assert reason, f"{label}: no reason reported ({summary})"
        binding = binder.get(tenant.slug, "order", key)
        skipped = binding is not None and binding.status == "skipped"
        assert skipped or key in letters, f"{label}: neither skipped nor dead-lettered"
        if key in letters:
            assert letters[key].reason.strip()
    assert binder.get(tenant.slug, "order", str(bad["only_returns"]["id"])).status == "skipped"
    assert str(bad["unknown_product"]["id"]) in letters
    assert "NO-EN-GX" in letters[str(bad["unknown_product"]["id"])].reason

    await order_push(tenant)  # O6: retried, still kept, nothing pushed twice
    assert sorted(d["reference"] for d in documents(sb)) == sorted(refs)


TAX_SHAPES = {
    # key: (Gestionix tax ids or a raw tax list, pre-tax price, expected Handy price or a
    # rejection's words); sandbox taxes: 1 IVA 16 %, 3 IVA 0 %, 4 IEPS 8 %, 5 IEPS 26.5 %,
    # 6 IEPS cuota (fixed), 7 IVA retenido (withheld)
    "TX-EXENTO": ([], 24.5, 24.50),  # exempt: keeps its pre-tax price, pushed without taxes
    "TX-IVA0": ([3], 30.0, 30.00),  # 0 %: a tax, at 0
    "TX-IEPS8": ([1, 4], 100.0, 125.28),  # IVA on price + IEPS
    "TX-IEPS265": ([1, 5], 100.0, 146.74),
    "TX-CUOTA": ([1, 6], 100.0, 116.00),  # the cuota left out, reported
    "TX-RETENIDO": ([1, 7], 100.0, 116.00),  # withheld: not part of the price
    "TX-PORCIENTO": (
        [{"tax_id": 1, "name": "IVA 16%", "rate": 16, "type": "transferred", "factor": "rate"}],
        100.0,
        "fraction",
    ),
    "TX-RARO": (
        [{"tax_id": 1, "name": "ISH 3%", "rate": 0.03, "type": "transferred", "factor": "rate"}],
        100.0,
        "neither IVA nor IEPS",
    ),
}


async def test_p6_o5_o6_exempt_zero_ieps_and_cuota_products_in_catalog_and_orders(
    prefect_harness, sandbox, tenant
):
    """P6/O5/O6 with real Mexican tax shapes: exempt and 0 % products keep their pre-tax price,
    IEPS products are priced IVA-on-IEPS, a cuota is left out and reported once, unreadable taxes
    are rejected with the reason; then one order of every synced product is pushed, the exempt
    line without taxes (reported, not held), and Gestionix's total equals Handy's."""
    sb = sandbox
    sb.set_handy_knobs(rate_limit_per_minute=0)
    fast_clients(tenant.slug)
    gx = company(sb)
    for key, (taxes, price, _) in TAX_SHAPES.items():
        product = sb.gestionix.upsert_product(
            gx,
            {
                "key": key,
                "name": f"Producto {key}",
                "price": price,
                "category": "Abarrotes",
                "taxes": [] if taxes and isinstance(taxes[0], dict) else taxes,
                "stock": {"Matriz": 50},
                "branches": ["Matriz"],
            },
        )
        if taxes and isinstance(taxes[0], dict):
            product["taxes"] = taxes  # raw, as a broken API would send it
            gx.products[product["product_id"]] = product
    sb.gestionix.touch()

    await catalog_pull(tenant)

    items = last_items(tenant.slug, "catalog")
    synced = []
    for key, (_, pre_tax, expected) in TAX_SHAPES.items():
        if isinstance(expected, str):
            assert key not in sb.handy.products
            assert expected in reason_for(items, key), key
            continue
        handy = sb.handy.products[key]
        assert (handy["price"], handy["basePrice"]) == (expected, pre_tax), key
        assert abs(handy["price"] / (1 + handy["tax"]["amount"] / 100) - pre_tax) < 0.005, key
        synced.append(key)
    cuota = [i for i in items.get("TX-CUOTA", []) if i.action == "reported"]
    assert len(cuota) == 1 and "IEPS cuota" in cuota[0].reason

    customer(sb, "C-1", "Depósito El Sol")
    activate(tenant.slug)
    placed = order(sb, "C-1", [(key, 3) for key in synced])

    await order_push(tenant)

    [doc] = documents(sb)
    lines = {line["key"]: line for line in doc["items"]}
    assert set(lines) == set(synced)
    assert lines["TX-EXENTO"]["taxes"] == [] and lines["TX-EXENTO"]["tax"] == 0
    assert [t["tax_id"] for t in lines["TX-IVA0"]["taxes"]] == [3]
    assert {t["tax_id"] for t in lines["TX-IEPS8"]["taxes"]} == {1, 4}
    assert [t["tax_id"] for t in lines["TX-CUOTA"]["taxes"]] == [1]  # only the percentage tax
    assert abs(doc["total"] - sb.handy.orders[placed["id"]]["totalSales"]) <= 0.01 * len(synced)
    reported = [
        i.reason
        for i in last_items(tenant.slug, "orders").get(str(placed["id"]), [])
        if i.action == "reported"
    ]
    assert any("TX-EXENTO" in reason and "without taxes" in reason for reason in reported)
    assert dead_letters.get(tenant.slug, "order", str(placed["id"])) is None
