"""O5 money property: the pre-tax unit price we send makes Gestionix's line total equal Handy's.

The Gestionix side is recomputed here from the JSON body alone (floats, as sent), with the spec's
formula round(quantity x unit_price x (1 - discount/100) x (1 + sum of rates), 2), independent of
mappings.orders' own helper.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from mappings.orders import UNIT_PRICE_MAX_DECIMALS, build_document

TAX_IDS = {Decimal(0): 3, Decimal("0.08"): 2, Decimal("0.16"): 1}
RATE_SETS = [
    (Decimal(0),),
    (Decimal("0.08"),),
    (Decimal("0.16"),),
    (Decimal("0.16"), Decimal("0.08")),
]


def _product(code: str, rates: tuple[Decimal, ...]) -> dict:
    taxes = [
        {
            "tax_id": TAX_IDS[rate] + 10 * i,
            "name": f"T{i}",
            "rate": float(rate),
            "type": "transferred",
            "factor": "rate",
        }
        for i, rate in enumerate(rates)
    ]
    return {"product_id": 7000, "key": code, "for_sale": True, "active": True, "taxes": taxes}


def _order(lines: list[tuple[float, float]]) -> dict:
    return {
        "id": 1,
        "dateCreated": "2024-05-01T10:00:00Z",
        "salesType": "Preventa",
        "items": [
            {
                "id": i,
                "product": {"code": f"P{i}"},
                "quantity": quantity,
                "price": price,
                "total": price * quantity,
            }
            for i, (price, quantity) in enumerate(lines)
        ],
    }


def _gestionix_line(line: dict, rates: tuple[Decimal, ...], rounding=ROUND_HALF_UP) -> Decimal:
    unrounded = (
        Decimal(repr(line["quantity"]))
        * Decimal(repr(line["unit_price"]))
        * (1 - Decimal(repr(line["discount"])) / 100)
        * (1 + sum(rates))
    )
    return unrounded.quantize(Decimal("0.01"), rounding=rounding)


def _handy_price(original: Decimal, discount: Decimal) -> float:
    """What Handy sends as `price`: the tax-included unit price after discount, in cents."""
    return float(
        (original * (1 - discount / 100)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    )


prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100000), places=2)
discounts = st.decimals(min_value=Decimal(0), max_value=Decimal(100), places=2)
whole_quantities = st.integers(min_value=1, max_value=10_000).map(float)
fractional_quantities = st.decimals(
    min_value=Decimal("0.001"), max_value=Decimal(10000), places=3
).map(float)
quantities = (
    whole_quantities | fractional_quantities | st.sampled_from([0.5, 0.25, 1.5, 0.001, 9999.999])
)
rate_sets = st.sampled_from(RATE_SETS)


@settings(max_examples=1500, deadline=None)
@given(prices, discounts, quantities, rate_sets)
def test_o5_gestionix_line_total_equals_handy_line_total_within_a_cent(
    original, discount, quantity, rates
):
    price = _handy_price(original, discount)
    doc = build_document(
        _order([(price, quantity)]),
        doc_type="sales_order",
        branch_id=310,
        client_id=1,
        seller_id=None,
        products_by_key={"P0": _product("P0", rates)},
    )
    [line] = doc.body["items"]
    handy_line_total = Decimal(repr(price)) * Decimal(repr(quantity))
    assert line["discount"] == 0
    for rounding in (ROUND_HALF_UP, ROUND_HALF_EVEN):  # whichever way Gestionix rounds cents
        assert abs(_gestionix_line(line, rates, rounding) - handy_line_total) <= Decimal("0.01")
    assert -Decimal(repr(line["unit_price"])).as_tuple().exponent <= UNIT_PRICE_MAX_DECIMALS
    assert doc.expected_gestionix_total == _gestionix_line(line, rates)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(prices, quantities, rate_sets), min_size=1, max_size=12))
def test_o5_document_total_right_whether_gestionix_rounds_lines_or_the_sum(lines):
    """Per line the unrounded Gestionix amount is within 0.0001 of Handy's, so even a Gestionix
    that rounds only the document sum lands within 0.005 + n x 0.0001 of Handy's total."""
    handy_lines = [(float(price), quantity) for price, quantity, _ in lines]
    products = {f"P{i}": _product(f"P{i}", rates) for i, (_, _, rates) in enumerate(lines)}
    doc = build_document(
        _order(handy_lines),
        doc_type="sale",
        branch_id=310,
        client_id=1,
        seller_id=None,
        products_by_key=products,
    )
    handy_total = sum(Decimal(repr(p)) * Decimal(repr(q)) for p, q in handy_lines)
    unrounded_sum = sum(
        Decimal(repr(line["quantity"])) * Decimal(repr(line["unit_price"])) * (1 + sum(rates))
        for line, (_, _, rates) in zip(doc.body["items"], lines)
    )
    sum_rounded_once = unrounded_sum.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert abs(sum_rounded_once - handy_total) <= Decimal("0.005") + len(lines) * Decimal("0.0001")
    assert abs(doc.expected_gestionix_total - handy_total) <= len(lines) * Decimal("0.01")
    assert doc.handy_total == handy_total


@settings(max_examples=500, deadline=None)
@given(prices, st.integers(min_value=1, max_value=100), rate_sets)
def test_o5_everyday_lines_need_at_most_six_decimals(price, quantity, rates):
    """Up to 100 units the unit price fits the 6 decimals a CFDI unit value allows."""
    doc = build_document(
        _order([(float(price), float(quantity))]),
        doc_type="sales_order",
        branch_id=310,
        client_id=1,
        seller_id=None,
        products_by_key={"P0": _product("P0", rates)},
    )
    [line] = doc.body["items"]
    assert -Decimal(repr(line["unit_price"])).as_tuple().exponent <= 6


def test_o5_price_that_divides_evenly_is_sent_with_two_decimals():
    doc = build_document(
        _order([(116.0, 2.0)]),
        doc_type="sales_order",
        branch_id=310,
        client_id=1,
        seller_id=None,
        products_by_key={"P0": _product("P0", (Decimal("0.16"),))},
    )
    assert doc.body["items"][0]["unit_price"] == 100.0
    assert doc.body["items"][0]["quantity"] == 2
