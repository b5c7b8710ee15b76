"""P6 and O5, one tax function: Handy's after-tax price of a Gestionix product, then the line
pushed for it, then the total the sandbox's Gestionix computes for that line.

The Gestionix side is the sandbox's own line maths (sandbox.gestionix.line_amount_with_taxes,
written from the spec page: IEPS first, IVA on the amount plus IEPS), fed only with the JSON body
we send (floats, as sent) and the taxes its ids name. It never imports mappings.money.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings.money import UNIT_PRICE_MAX_DECIMALS, after_tax_price, product_taxes
from mappings.order_documents import build_document
from mappings.products import map_products
from sandbox.gestionix import line_amount_with_taxes

BRANCH = 310
IVA = {Decimal(0): 3, Decimal("0.08"): 2, Decimal("0.16"): 1}  # rate -> Gestionix tax id
IEPS_RATES = ["3", "6", "7", "8", "9", "25", "26.5", "30", "53", "160"]  # percent
CUOTA = {
    "tax_id": 90,
    "name": "IEPS cuota",
    "rate": 0.5944,
    "type": "transferred",
    "factor": "fixed",
}
ISR = {"tax_id": 91, "name": "ISR retenido", "rate": 0.10, "type": "withheld", "factor": "rate"}


def iva_tax(rate: Decimal) -> dict:
    return {
        "tax_id": IVA[rate],
        "name": f"IVA {rate * 100:g}%",
        "rate": float(rate),
        "type": "transferred",
        "factor": "rate",
    }


def ieps_tax(percent: str) -> dict:
    return {
        "tax_id": 100 + IEPS_RATES.index(percent),
        "name": f"IEPS {percent}%",
        "rate": float(Decimal(percent) / 100),
        "type": "transferred",
        "factor": "rate",
    }


def taxes_of(iva: Decimal | None, ieps: str | None, extras: tuple = ()) -> list[dict]:
    """IVA None and IEPS None: exempt (no percentage tax at all)."""
    taxes = [iva_tax(iva)] if iva is not None else []
    if ieps is not None:
        taxes.append(ieps_tax(ieps))
    return taxes + list(extras)


def gx_product(code: str, pre_tax: float, taxes: list[dict]) -> dict:
    return {
        "product_id": 7000,
        "key": code,
        "name": f"Producto {code}",
        "for_sale": True,
        "active": True,
        "price": pre_tax,
        "taxes": taxes,
        "category": {"name": "Botanas"},
        "stock": [],
    }


def handy_price(product: dict) -> float:
    """P6: the tax-included price the catalog writes to Handy for this product."""
    mapping = map_products([product], BRANCH)
    assert mapping.rejected.empty, mapping.rejected.to_dict("records")
    return float(mapping.desired.iloc[0]["price"])


def handy_line_price(price: float, discount: Decimal) -> float:
    """What Handy sends as the item `price`: tax included, after discount, in cents."""
    return float(
        (Decimal(repr(price)) * (1 - discount / 100)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    )


def push(product: dict, price: float, quantity: float) -> dict:
    order = {
        "id": 1,
        "dateCreated": "2026-11-27T15:04:05Z",
        "salesType": "Preventa",
        "items": [
            {
                "id": 1,
                "product": {"code": product["key"]},
                "quantity": quantity,
                "price": price,
                "total": price * quantity,
            }
        ],
    }
    document = build_document(
        order,
        doc_type="sales_order",
        branch_id=BRANCH,
        client_id=1,
        seller_id=None,
        products_by_key={product["key"]: product},
    )
    [line] = document.body["items"]
    return line


def gestionix_line_total(line: dict, product: dict) -> Decimal:
    """The sandbox Gestionix's line total from the body alone: the taxes its tax ids name."""
    by_id = {tax["tax_id"]: tax for tax in product["taxes"]}
    taxes = [by_id[ref["tax_id"]] for ref in line["taxes"]]
    amount = line["quantity"] * line["unit_price"] * (1 - line["discount"] / 100)
    return Decimal(repr(round(line_amount_with_taxes(amount, taxes), 2)))


# ------------------------------------------------------------------------------ worked examples

WORKED = [  # (IVA rate, IEPS %, pre-tax, after-tax)
    (None, None, "100", "100.00"),  # exempt: no transferred percentage tax
    (Decimal(0), None, "100", "100.00"),
    (Decimal("0.08"), None, "100", "108.00"),
    (Decimal("0.16"), None, "100", "116.00"),
    (Decimal("0.16"), "3", "100", "119.48"),  # 103 x 1.16
    (Decimal("0.16"), "6", "100", "122.96"),
    (Decimal("0.16"), "7", "100", "124.12"),
    (Decimal("0.16"), "8", "100", "125.28"),  # not 124.00: IVA is charged on 108
    (Decimal("0.16"), "9", "100", "126.44"),
    (Decimal("0.16"), "25", "100", "145.00"),
    (Decimal("0.16"), "26.5", "100", "146.74"),
    (Decimal("0.16"), "30", "100", "150.80"),
    (Decimal("0.16"), "53", "100", "177.48"),
    (Decimal("0.16"), "160", "100", "301.60"),  # tabacos labrados
    (Decimal("0.08"), "3", "100", "111.24"),
    (Decimal("0.08"), "6", "100", "114.48"),
    (Decimal("0.08"), "7", "100", "115.56"),
    (Decimal("0.08"), "8", "100", "116.64"),
    (Decimal("0.08"), "9", "100", "117.72"),
    (Decimal("0.08"), "25", "100", "135.00"),
    (Decimal("0.08"), "26.5", "100", "136.62"),
    (Decimal("0.08"), "30", "100", "140.40"),
    (Decimal("0.08"), "53", "100", "165.24"),
    (Decimal("0.08"), "160", "100", "280.80"),
    (Decimal(0), "3", "100", "103.00"),
    (Decimal(0), "8", "100", "108.00"),
    (Decimal(0), "26.5", "100", "126.50"),
    (Decimal(0), "160", "100", "260.00"),
    (None, "8", "100", "108.00"),  # IEPS alone
    (Decimal("0.16"), "8", "10.3448", "12.96"),  # 10.3448 x 1.08 x 1.16 = 12.9599...
    (Decimal("0.16"), "26.5", "10.3448", "15.18"),  # 15.17996
    (Decimal("0.16"), "8", "0.125", "0.16"),  # 0.1566 -> 0.16
    (Decimal("0.16"), "53", "19.99", "35.48"),  # 35.478...
]


@pytest.mark.parametrize(
    ("iva", "ieps", "pre_tax", "after_tax"),
    WORKED,
    ids=[f"iva{a}-ieps{b}-{c}" for a, b, c, _ in WORKED],
)
def test_p6_o5_worked_example_per_tax_case(iva, ieps, pre_tax, after_tax):
    """P6: after-tax = pre-tax x (1 + IEPS) x (1 + IVA), to cents; O5: one unit sold at that
    price is pushed so that Gestionix's line total is the same amount; Handy's own tax is the
    combined rate, so Handy's basePrice is the pre-tax price."""
    product = gx_product("P", float(pre_tax), taxes_of(iva, ieps, (ISR,)))
    assert after_tax_price(float(pre_tax), product["taxes"]) == Decimal(after_tax)
    price = handy_price(product)
    assert price == float(after_tax)
    row = map_products([product], BRANCH).desired.iloc[0]
    assert row["base_price"] == float(pre_tax)
    factor = (1 + Decimal(ieps or 0) / 100) * (1 + (iva or 0))
    assert Decimal(repr(float(row["tax_amount"]))) == ((factor - 1) * 100).normalize()
    line = push(product, price, 1.0)
    assert [t["tax_id"] for t in line["taxes"]] == [t["tax_id"] for t in taxes_of(iva, ieps)]
    assert gestionix_line_total(line, product) == Decimal(after_tax)


def test_p6_worked_example_labels_handys_tax():
    assert product_taxes(taxes_of(Decimal("0.16"), "8")).label == "IVA 16% + IEPS 8%"
    assert product_taxes(taxes_of(Decimal("0.16"), "26.5")).percent == Decimal("46.74")
    assert product_taxes(taxes_of(Decimal(0), None)).label == "IVA 0%"
    assert product_taxes([]).label == "Exento" and product_taxes([]).exempt
    only_cuota = product_taxes([CUOTA])
    assert only_cuota.exempt and only_cuota.fixed == ("IEPS cuota",)


# ------------------------------------------------------------------------------ properties

ivas = st.sampled_from([None, Decimal(0), Decimal("0.08"), Decimal("0.16")])
iepses = st.sampled_from([None, *IEPS_RATES])
extras = st.sampled_from([(), (ISR,), (CUOTA,), (CUOTA, ISR)])
pre_taxes = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(20000), places=4)
discounts = st.decimals(min_value=Decimal(0), max_value=Decimal(100), places=2)
quantities = (
    st.integers(min_value=1, max_value=10_000).map(float)
    | st.decimals(min_value=Decimal("0.001"), max_value=Decimal(10000), places=3).map(float)
    | st.sampled_from([0.5, 0.25, 1.5, 0.001, 9999.999])
)


@settings(max_examples=1500, deadline=None)
@given(pre_taxes, ivas, iepses, extras, discounts, quantities)
def test_p6_o5_handy_price_to_pushed_line_to_gestionix_total_within_a_cent(
    pre_tax, iva, ieps, extra, discount, quantity
):
    """P6 + O5 over IVA {none, 0, 8, 16} x IEPS {none, 3 .. 160 %} x cuotas/withheld x discounts
    x quantities: the line Gestionix totals equals Handy's line (price x quantity) within 0.01."""
    product = gx_product("P", float(pre_tax), taxes_of(iva, ieps, extra))
    price = handy_line_price(handy_price(product), discount)
    line = push(product, price, quantity)
    handy_total = Decimal(repr(price)) * Decimal(repr(quantity))
    assert abs(gestionix_line_total(line, product) - handy_total) <= Decimal("0.01")
    assert line["discount"] == 0
    assert -Decimal(repr(line["unit_price"])).as_tuple().exponent <= UNIT_PRICE_MAX_DECIMALS
    exempt = iva is None and ieps is None
    assert (line["taxes"] == []) is exempt  # O6: pushed without taxes, never held


@settings(max_examples=500, deadline=None)
@given(pre_taxes, ivas, iepses)
def test_p6_handy_base_price_is_the_gestionix_pre_tax_price(pre_tax, iva, ieps):
    """P6: Handy derives basePrice = price / (1 + tax%); with the combined rate as Handy's tax
    that is the pre-tax price up to the cent rounding of the price."""
    product = gx_product("P", float(pre_tax), taxes_of(iva, ieps))
    row = map_products([product], BRANCH).desired.iloc[0]
    derived = Decimal(repr(float(row["price"]))) / (
        1 + Decimal(repr(float(row["tax_amount"]))) / 100
    )
    assert abs(derived - pre_tax) <= Decimal("0.005")
    assert row["base_price"] == float(pre_tax)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(pre_taxes, ivas, iepses, quantities), min_size=1, max_size=12))
def test_o5_document_total_right_whether_gestionix_rounds_lines_or_the_sum(lines):
    """Per line the unrounded Gestionix amount is within 0.0001 of Handy's, so even a Gestionix
    that rounds only the document sum lands within 0.005 + n x 0.0001 of Handy's total."""
    products = {
        f"P{i}": gx_product(f"P{i}", float(p), taxes_of(iva, ieps))
        for i, (p, iva, ieps, _) in enumerate(lines)
    }
    items = []
    for i, (_, _, _, quantity) in enumerate(lines):
        price = handy_price(products[f"P{i}"])
        items.append({"id": i, "product": {"code": f"P{i}"}, "quantity": quantity, "price": price})
    order = {
        "id": 1,
        "dateCreated": "2026-11-27T15:04:05Z",
        "salesType": "Preventa",
        "items": items,
    }
    document = build_document(
        order,
        doc_type="sale",
        branch_id=BRANCH,
        client_id=1,
        seller_id=None,
        products_by_key=products,
    )
    handy_total = sum(Decimal(repr(i["price"])) * Decimal(repr(i["quantity"])) for i in items)
    unrounded = Decimal(0)
    for index, line in enumerate(document.body["items"]):
        product = products[f"P{index}"]
        by_id = {tax["tax_id"]: tax for tax in product["taxes"]}
        taxes = [by_id[ref["tax_id"]] for ref in line["taxes"]]
        unrounded += Decimal(
            repr(line_amount_with_taxes(line["quantity"] * line["unit_price"], taxes))
        )
    once = unrounded.quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert abs(once - handy_total) <= Decimal("0.005") + len(lines) * Decimal("0.0001") + Decimal(
        "1e-9"
    )
    assert abs(document.expected_gestionix_total - handy_total) <= len(lines) * Decimal("0.01")


@settings(max_examples=500, deadline=None)
@given(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100000), places=2),
    st.integers(min_value=1, max_value=100),
    ivas,
    st.sampled_from([None, *IEPS_RATES[:-1]]),
)
def test_o5_everyday_lines_need_at_most_six_decimals(price, quantity, iva, ieps):
    """Up to 100 units, up to IEPS 53 % + IVA 16 % (factor 1.77), the unit price fits the 6
    decimals a CFDI unit value allows (at IEPS 160 % a 7th decimal may be needed)."""
    product = gx_product("P", 1.0, taxes_of(iva, ieps))
    line = push(product, float(price), float(quantity))
    assert -Decimal(repr(line["unit_price"])).as_tuple().exponent <= 6


def test_o5_price_that_divides_evenly_is_sent_with_two_decimals():
    product = gx_product("P", 100.0, taxes_of(Decimal("0.16"), "8"))
    line = push(product, 125.28, 2.0)
    assert line["unit_price"] == 100.0 and line["quantity"] == 2
