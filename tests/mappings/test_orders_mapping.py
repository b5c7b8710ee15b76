"""mappings/orders.py, order_lines.py, order_documents.py: Handy order -> Gestionix document (RULES O2-O7, O9-O11), table-driven."""

from __future__ import annotations

import copy
import math
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings.order_customers import GENERIC_RFC, match_client, match_seller, new_client_body
from mappings.order_documents import OrderDocument, build_document
from mappings.orders import (
    OBSERVATIONS_MAX_LENGTH,
    OrderNotPushable,
    OrderRejected,
    OrderSkipped,
    document_type,
    edited_from_id,
    observations,
    reference,
)

BRANCH_ID = 310
IVA16 = {"tax_id": 1, "name": "IVA", "rate": 0.16, "type": "transferred", "factor": "rate"}
IVA8 = {"tax_id": 2, "name": "IVA frontera", "rate": 0.08, "type": "transferred", "factor": "rate"}
IVA0 = {"tax_id": 3, "name": "IVA 0", "rate": 0.0, "type": "transferred", "factor": "rate"}
IEPS8 = {"tax_id": 4, "name": "IEPS", "rate": 0.08, "type": "transferred", "factor": "rate"}
ISR_WITHHELD = {"tax_id": 9, "name": "ISR ret", "rate": 0.10, "type": "withheld", "factor": "rate"}
IEPS_FIXED = {
    "tax_id": 7,
    "name": "IEPS cuota",
    "rate": 0.35,
    "type": "transferred",
    "factor": "fixed",
}


def gx_product(product_id: int, key: str, taxes: list[dict], price: float = 10.0) -> dict:
    return {
        "product_id": product_id,
        "key": key,
        "name": key.title(),
        "for_sale": True,
        "active": True,
        "price": price,
        "taxes": taxes,
        "stock": [{"branch_id": BRANCH_ID, "quantity": 24.0}],
    }


PRODUCTS = {
    "REF-600": gx_product(5012, "REF-600", [IVA16]),
    "PAN-1": gx_product(5013, "PAN-1", [IVA0]),
    "BOTANA": gx_product(5014, "BOTANA", [IVA16, IEPS8, ISR_WITHHELD]),
    "NO-TAX": gx_product(5015, "NO-TAX", []),
    "ONLY-WITHHELD": gx_product(5016, "ONLY-WITHHELD", [ISR_WITHHELD]),
    "ONLY-FIXED": gx_product(5017, "ONLY-FIXED", [IEPS_FIXED]),
    "PERCENT-RATE": gx_product(5018, "PERCENT-RATE", [{**IVA16, "rate": 16}]),
    "ODD-TAX": gx_product(5019, "ODD-TAX", [{**IVA16, "tax_id": 11, "name": "ISH"}]),
    "NO-FACTOR": gx_product(5020, "NO-FACTOR", [{k: v for k, v in IVA16.items() if k != "factor"}]),
    "NO-ID": {"key": "NO-ID", "taxes": [IVA16]},
}


def item(code: str | None = "REF-600", quantity=3, price=12.0, **extra) -> dict:
    product = {"code": code, "description": f"Producto {code}"} if code is not None else {}
    return {
        "id": 900,
        "product": product,
        "quantity": quantity,
        "price": price,
        "total": price * quantity
        if isinstance(price, float | int) and isinstance(quantity, float | int)
        else None,
        "isReturn": False,
        "isReward": False,
        "priceType": "REGULAR",
        **extra,
    }


def order(items: list | None = None, **extra) -> dict:
    body = {
        "id": 29079293,
        "dateCreated": "2023-02-26T07:14:32Z",
        "mobileDateCreated": "2023-02-26T01:10:00Z",
        "salesType": "Preventa",
        "customer": {"id": 77, "code": "C-77", "description": "Tienda Lucía", "businessName": None},
        "createdBy": {"id": 5, "name": "Ana Pérez", "username": "ana@example.com"},
        "items": [item()] if items is None else items,
        "totalSales": 36.0,
        "sellerComment": None,
        "editedFrom": None,
    }
    body.update(extra)
    return body


def build(o: dict, products: dict | None = None, **overrides) -> OrderDocument:
    kwargs = {
        "doc_type": "sales_order",
        "branch_id": BRANCH_ID,
        "client_id": 1201,
        "seller_id": 12,
        "products_by_key": PRODUCTS if products is None else products,
        "branch_name": "Matriz",
    }
    kwargs.update(overrides)
    return build_document(o, **kwargs)


# ---------------------------------------------------------------------------------- O2


@pytest.mark.parametrize(
    ("treat_all", "sales_type", "expected"),
    [
        (True, "Preventa", "sales_order"),
        (True, "Venta en ruta", "sales_order"),
        (True, "ROUTE", "sales_order"),
        (True, "something new", "sales_order"),
        (True, None, "sales_order"),
        (False, "Preventa", "sales_order"),
        (False, "PRESALE", "sales_order"),
        (False, "presale", "sales_order"),
        (False, "Venta en ruta", "sale"),
        (False, "VENTA EN RUTA", "sale"),
        (False, " venta  en ruta ", "sale"),
        (False, "ROUTE", "sale"),
        (False, "route", "sale"),
    ],
)
def test_o2_document_type(treat_all, sales_type, expected):
    assert document_type(order(salesType=sales_type), treat_all) == expected


@pytest.mark.parametrize("sales_type", ["Consignación", "", None, 5, ["ROUTE"], {"x": 1}])
def test_o2_unknown_sales_type_with_switch_off_is_rejected_not_guessed(sales_type):
    with pytest.raises(OrderRejected) as caught:
        document_type(order(salesType=sales_type), False)
    assert caught.value.order_id == 29079293
    assert "salesType" in caught.value.reason and repr(sales_type) in caught.value.reason


def test_o2_document_type_of_a_non_object_is_a_rejection():
    with pytest.raises(OrderRejected):
        document_type("garbage", False)
    assert document_type("garbage", True) == "sales_order"


def test_o2_build_document_refuses_unknown_doc_type():
    with pytest.raises(OrderRejected, match="document type"):
        build(order(), doc_type="invoice")


# ---------------------------------------------------------------------------------- O9


@pytest.mark.parametrize(
    ("order_id", "expected"), [(29079293, "HANDY-29079293"), ("29079293", "HANDY-29079293")]
)
def test_o9_reference_is_handy_prefix_plus_id(order_id, expected):
    assert reference(order_id) == expected


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"salesType": "Preventa"}, "Pedido Handy 29079293"),
        ({"salesType": "PRESALE"}, "Pedido Handy 29079293"),
        ({"salesType": "Venta en ruta"}, "Venta Handy 29079293"),
        ({"salesType": "ROUTE"}, "Venta Handy 29079293"),
        ({"salesType": None}, "Pedido Handy 29079293"),
        (
            {"sellerComment": "  entregar\nen la tarde "},
            "Pedido Handy 29079293 - entregar en la tarde",
        ),
        ({"sellerComment": ""}, "Pedido Handy 29079293"),
        ({"editedFrom": {"id": 29079000}}, "Pedido Handy 29079293 (edita 29079000)"),
    ],
)
def test_o9_observations_carry_the_handy_folio(extra, expected):
    assert observations(order(**extra)) == expected


def test_o9_observations_are_bounded_and_keep_the_folio():
    text = observations(order(sellerComment="x" * 5000))
    assert len(text) == OBSERVATIONS_MAX_LENGTH
    assert text.startswith("Pedido Handy 29079293 - xxx") and text.endswith("…")


def test_o9_document_body_has_reference_and_observations():
    doc = build(order(salesType="Venta en ruta"), doc_type="sale")
    assert doc.reference == doc.body["reference"] == "HANDY-29079293"
    assert doc.body["observations"] == "Venta Handy 29079293"
    assert doc.doc_type == "sale"


# ---------------------------------------------------------------------------------- O5


def test_o5_body_is_exactly_the_gestionix_document():
    doc = build(order())
    assert doc.body == {
        "branch_id": 310,
        "client_id": 1201,
        "date": "2023-02-26T07:14:32Z",
        "seller_id": 12,
        "reference": "HANDY-29079293",
        "observations": "Pedido Handy 29079293",
        "items": [
            {
                "product_id": 5012,
                "quantity": 3,
                "unit_price": 10.3448,  # the spec's own example: 3 x 12.00 with IVA 16 %
                "discount": 0.0,
                "taxes": [{"tax_id": 1}],
            }
        ],
    }
    assert doc.handy_total == Decimal("36.0")
    assert doc.expected_gestionix_total == Decimal("36.00")
    assert doc.handy_total_sales == Decimal("36.0")
    assert doc.excluded_returns == ()


@pytest.mark.parametrize(
    ("code", "price", "quantity", "tax_ids", "unit_price"),
    [
        ("REF-600", 11.60, 1, [1], 10.0),
        ("REF-600", 12.0, 3, [1], 10.3448),
        ("PAN-1", 25.5, 2, [3], 25.5),
        ("BOTANA", 12.53, 10, [1, 4], 10.0016),  # IEPS 8 % then IVA on it; withheld ISR left out
        ("REF-600", 37.90, 0.5, [1], 32.6724),  # 0.5 kg
    ],
)
def test_o5_lines_use_gestionix_product_taxes_and_pre_tax_price(
    code, price, quantity, tax_ids, unit_price
):
    doc = build(order([item(code, quantity=quantity, price=price)]))
    [line] = doc.body["items"]
    assert line["product_id"] == PRODUCTS[code]["product_id"]
    assert [t["tax_id"] for t in line["taxes"]] == tax_ids
    assert line["unit_price"] == unit_price
    assert abs(
        doc.expected_gestionix_total - Decimal(repr(price)) * Decimal(repr(quantity))
    ) <= Decimal("0.01")


def test_o5_discount_is_sent_as_zero_with_handys_discounted_price():
    discounted = item(
        "REF-600", quantity=2, price=18.56, originalPrice=23.20, discountPercentage=20.0
    )
    doc = build(order([discounted]))
    [line] = doc.body["items"]
    assert line["discount"] == 0.0
    assert line["unit_price"] == 16.0  # 18.56 / 1.16, not 23.20 / 1.16
    assert doc.expected_gestionix_total == Decimal("37.12")


@pytest.mark.parametrize(
    ("reward_flags", "price", "unit_price"),
    [
        ({"isReward": True, "priceType": "REWARD"}, 0, 0.0),
        ({"isReward": True}, 0.0, 0.0),
        ({"priceType": "REWARD"}, 5.80, 5.0),
    ],
)
def test_o5_reward_lines_are_pushed_at_their_price(reward_flags, price, unit_price):
    doc = build(
        order(
            [
                item("REF-600", quantity=2, price=12.0),
                item("REF-600", quantity=1, price=price, **reward_flags),
            ]
        )
    )
    assert len(doc.body["items"]) == 2
    assert doc.body["items"][1]["unit_price"] == unit_price
    assert doc.lines[1].is_reward and not doc.lines[0].is_reward


@pytest.mark.parametrize(
    ("date_created", "expected"),
    [
        ("2023-02-26T07:14:32Z", "2023-02-26T07:14:32Z"),
        ("2023-02-26T01:14:32-06:00", "2023-02-26T07:14:32Z"),
        ("2023-02-26T07:14:32.512Z", "2023-02-26T07:14:32Z"),
        ("2023-02-26T07:14:32", "2023-02-26T07:14:32Z"),
    ],
)
def test_o5_document_date_is_handys_receipt_time_in_utc(date_created, expected):
    assert build(order(dateCreated=date_created)).body["date"] == expected


def test_o5_seller_may_be_null():
    assert build(order(), seller_id=None).body["seller_id"] is None


def test_o5_build_does_not_mutate_its_inputs():
    o, products = order(), copy.deepcopy(PRODUCTS)
    before = (copy.deepcopy(o), copy.deepcopy(products))
    build(o, products)
    assert (o, products) == before


# ---------------------------------------------------------------------------------- O6


@pytest.mark.parametrize(
    ("case", "bad_order", "reason_part"),
    [
        ("unknown product", order([item("REF-9")]), "product REF-9 not in Gestionix branch Matriz"),
        ("rate given as percent", order([item("PERCENT-RATE")]), "rate 16"),
        ("tax neither IVA nor IEPS", order([item("ODD-TAX")]), "neither IVA nor IEPS"),
        ("tax without factor", order([item("NO-FACTOR")]), "factor None"),
        ("product without product_id", order([item("NO-ID")]), "NO-ID has no product_id"),
        ("no items", order([]), "no items"),
        ("items missing", {**order(), "items": None}, "no items list"),
        ("items not a list", order(items="REF-600"), "no items list"),
        ("zero quantity", order([item(quantity=0)]), "quantity 0 is not positive"),
        ("negative quantity", order([item(quantity=-2)]), "quantity -2 is not positive"),
        ("tiny quantity", order([item(quantity=1e-12)]), "implausibly small"),
        ("huge quantity", order([item(quantity=1e15)]), "implausibly large"),
        ("NaN quantity", order([item(quantity=math.nan)]), "quantity nan is not a number"),
        ("quantity as bool", order([item(quantity=True)]), "quantity True is not a number"),
        ("quantity as text", order([item(quantity="tres")]), "quantity 'tres' is not a number"),
        ("missing price", order([item(price=None)]), "price None is not a number"),
        ("NaN price", order([item(price=math.nan)]), "price nan is not a number"),
        ("infinite price", order([item(price=math.inf)]), "price inf is not a number"),
        ("currency text price", order([item(price="$500.00")]), "price '$500.00' is not a number"),
        ("negative price", order([item(price=-1.0)]), "price -1.0 is negative"),
        ("missing product code", order([item(code=None)]), "missing product code"),
        ("blank product code", order([item(code="  ")]), "missing product code"),
        (
            "product not an object",
            order([{**item(), "product": "REF-600"}]),
            "missing product code",
        ),
        ("line not an object", order([item(), "REF-600"]), "line 2 is not an object"),
        ("missing dateCreated", order(dateCreated=None), "missing dateCreated"),
        (
            "unreadable dateCreated",
            order(dateCreated="26/02/2023 07:14:32"),
            "unreadable dateCreated",
        ),
        ("missing id", order(id=None), "no usable id"),
    ],
    ids=lambda value: value if isinstance(value, str) and " " in value else "",
)
def test_o6_bad_orders_are_rejected_with_a_clear_reason(case, bad_order, reason_part):
    with pytest.raises(OrderRejected) as caught:
        build(bad_order)
    assert reason_part in caught.value.reason, case
    assert caught.value.order_id == bad_order.get("id")
    assert str(caught.value).startswith(f"Handy order {bad_order.get('id')}:")


def test_o6_rejection_names_the_branch_generically_when_unknown():
    with pytest.raises(OrderRejected, match="product REF-9 not in the Gestionix branch"):
        build(order([item("REF-9")]), branch_name=None)


def test_o6_every_bad_line_is_listed_in_one_rejection():
    with pytest.raises(OrderRejected) as caught:
        build(order([item("REF-600"), item("REF-9"), item("ODD-TAX"), item("PAN-1", quantity=0)]))
    reasons = caught.value.reasons
    assert len(reasons) == 3
    assert any("REF-9" in r for r in reasons) and any("ODD-TAX" in r for r in reasons)
    assert any("line 4" in r and "quantity 0" in r for r in reasons)


@pytest.mark.parametrize("code", ["NO-TAX", "ONLY-WITHHELD", "ONLY-FIXED"])
def test_o6_product_without_percentage_taxes_is_pushed_without_taxes(code):
    """O6: no transferred percentage tax (none, only withheld, only a fixed cuota) does not hold
    the order: the line goes with "taxes": [] at Handy's price, and the document names it."""
    doc = build(
        order([item(code, quantity=2, price=15.5), item("REF-600", quantity=1, price=11.6)])
    )
    untaxed, taxed = doc.body["items"]
    assert untaxed["taxes"] == [] and untaxed["unit_price"] == 15.5 and untaxed["quantity"] == 2
    assert taxed["taxes"] == [{"tax_id": 1}]
    assert doc.untaxed_products == (code,)
    assert doc.lines[0].untaxed and doc.lines[0].gestionix_line_total == Decimal("31.00")
    assert doc.lines[0].fixed_taxes == (("IEPS cuota",) if code == "ONLY-FIXED" else ())


@pytest.mark.parametrize("not_an_order", [None, "29079293", 42, [], [order()]])
def test_o6_non_object_order_is_rejected(not_an_order):
    with pytest.raises(OrderRejected, match="not an object"):
        build(not_an_order)


def test_o6_customer_with_no_name_is_a_rejection_not_a_crash():
    with pytest.raises(OrderRejected) as caught:
        new_client_body(
            {"code": "C-9", "description": " ", "businessName": None},
            branch_id=BRANCH_ID,
            with_address=True,
            order_id=29079293,
        )
    assert caught.value.order_id == 29079293
    assert "customer C-9 has no name" in caught.value.reason


# ---------------------------------------------------------------------------------- O7


def test_o7_return_lines_are_excluded_and_reported():
    returned = item("PAN-1", quantity=2, price=25.5, isReturn=True)
    doc = build(order([item("REF-600"), returned]))
    assert [line["product_id"] for line in doc.body["items"]] == [5012]
    [excluded] = doc.excluded_returns
    assert (excluded.position, excluded.product_code, excluded.quantity) == (2, "PAN-1", 2)
    assert "return" in excluded.reason
    assert doc.handy_total == Decimal("36.0")


def test_o7_return_line_of_an_unknown_or_untaxed_product_does_not_block_the_order():
    doc = build(
        order([item("REF-600"), item("REF-9", isReturn=True), item("NO-TAX", isReturn=True)])
    )
    assert len(doc.body["items"]) == 1 and len(doc.excluded_returns) == 2


def test_o7_order_with_only_returns_is_skipped_not_pushed_nor_dead_lettered():
    with pytest.raises(OrderSkipped) as caught:
        build(order([item("REF-600", isReturn=True), item("REF-9", isReturn=True)]))
    skipped = caught.value
    assert not isinstance(skipped, OrderRejected)
    assert skipped.order_id == 29079293 and "only return lines (2)" in skipped.reason
    assert [line.product_code for line in skipped.excluded] == ["REF-600", "REF-9"]


# ---------------------------------------------------------------------------------- O3


CLIENTS = [
    {"client_id": 1305, "commercial_name": "TIENDA LUCIA", "business_name": None, "active": True},
    {
        "client_id": 1201,
        "commercial_name": "Tienda Lucía",
        "business_name": "ABARROTES LUCIA SA DE CV",
        "active": True,
    },
    {"client_id": 1100, "commercial_name": "tienda  lucía ", "business_name": "", "active": False},
    {
        "client_id": 1400,
        "commercial_name": "Miscelánea Peña",
        "business_name": "PENA HERMANOS SA",
        "active": True,
    },
    {"client_id": 1500, "commercial_name": "Farmacia Sol", "business_name": None, "active": True},
]


@pytest.mark.parametrize(
    ("customer", "clients", "expected_id", "ambiguous"),
    [
        ({"description": "tienda lucia"}, CLIENTS[1:2], 1201, False),
        ({"description": "TIENDA  LUCÍA"}, CLIENTS[1:2], 1201, False),
        ({"description": "Otra", "businessName": "abarrotes lucía sa de cv"}, CLIENTS, 1201, False),
        ({"description": "PENA HERMANOS SA"}, CLIENTS, 1400, False),  # trade name vs razón social
        ({"businessName": "miscelanea pena"}, CLIENTS, 1400, False),  # ñ folds to n
        ({"description": "Tienda Lucía"}, CLIENTS, 1201, True),  # oldest active of 3
        ({"description": "Tienda Lucía"}, [CLIENTS[2]], 1100, False),  # only an inactive one
        ({"description": "Farmacia Luna"}, CLIENTS, None, False),
        ({"description": "Tienda"}, CLIENTS, None, False),  # whole names only
        ({"description": "", "businessName": None}, CLIENTS, None, False),
        (None, CLIENTS, None, False),
        (
            {"description": "Farmacia Sol"},
            [None, "x", {"commercial_name": "Farmacia Sol"}],
            None,
            False,
        ),
        ({"description": "Farmacia Sol"}, None, None, False),
    ],
)
def test_o3_client_matched_by_normalised_trade_or_legal_name(
    customer, clients, expected_id, ambiguous
):
    client, note = match_client(customer, clients)
    assert (client or {}).get("client_id") == expected_id
    assert (note is not None) == ambiguous


def test_o3_ambiguity_note_lists_every_candidate_and_the_choice():
    _, note = match_client({"description": "tienda lucia"}, CLIENTS)
    for client_id in ("1305", "1201", "1100"):
        assert client_id in note
    assert "(inactive)" in note and note.endswith("using the oldest, 1201")


def test_o3_oldest_is_by_numeric_client_id():
    clients = [
        {"client_id": 99, "commercial_name": "A"},
        {"client_id": 100, "commercial_name": "a"},
        {"client_id": 1000, "commercial_name": "A"},
    ]
    client, _ = match_client({"description": "a"}, list(reversed(clients)))
    assert client["client_id"] == 99


# ---------------------------------------------------------------------------------- O4


HANDY_CUSTOMER = {
    "id": 77,
    "code": "C-77",
    "description": "Tienda Lucía",
    "businessName": "Abarrotes Lucía SA de CV",
    "address": "Av. Juárez 12",
    "neighborhood": "Centro",
    "city": "Puebla",
    "postalCode": "72000",
    "rfc": "AEL010101AB1",
}


def test_o4_new_client_with_address():
    assert new_client_body(HANDY_CUSTOMER, branch_id=BRANCH_ID, with_address=True) == {
        "branch_id": 310,
        "commercial_name": "Tienda Lucía",
        "business_name": "Abarrotes Lucía SA de CV",
        "tax_id": "AEL010101AB1",
        "address": {
            "street": "Av. Juárez 12",
            "suburb": "Centro",
            "city": "Puebla",
            "zip_code": "72000",
        },
    }


def test_o4_new_client_without_address_when_switch_off():
    body = new_client_body(HANDY_CUSTOMER, branch_id=BRANCH_ID, with_address=False)
    assert "address" not in body and body["commercial_name"] == "Tienda Lucía"


@pytest.mark.parametrize(
    ("rfc", "tax_id"),
    [
        ("AEL010101AB1", "AEL010101AB1"),  # moral person, 12
        ("peja800101xy3", "PEJA800101XY3"),  # physical person, 13, lower case
        ("PEJA-800101-XY3", "PEJA800101XY3"),
        (None, GENERIC_RFC),
        ("", GENERIC_RFC),
        ("N/A", GENERIC_RFC),
        ("12345", GENERIC_RFC),
        (12345, GENERIC_RFC),
    ],
)
def test_o4_generic_rfc_when_the_customer_has_no_valid_one(rfc, tax_id):
    body = new_client_body({**HANDY_CUSTOMER, "rfc": rfc}, branch_id=BRANCH_ID, with_address=False)
    assert body["tax_id"] == tax_id


@pytest.mark.parametrize(
    ("names", "commercial", "business"),
    [
        ({"description": "Tienda Lucía", "businessName": None}, "Tienda Lucía", "Tienda Lucía"),
        ({"description": None, "businessName": "ABARROTES SA"}, "ABARROTES SA", "ABARROTES SA"),
        ({"description": "  Tienda   Lucía "}, "Tienda Lucía", "Tienda Lucía"),
    ],
)
def test_o4_names_fall_back_on_each_other(names, commercial, business):
    body = new_client_body({"code": "C-1", **names}, branch_id=BRANCH_ID, with_address=True)
    assert (body["commercial_name"], body["business_name"]) == (commercial, business)
    assert "address" not in body  # nothing to send
    assert "client_id" not in body


def test_o4_partial_address_sends_only_known_parts():
    customer = {"description": "X", "address": "Calle 1", "city": None, "postalCode": ""}
    body = new_client_body(customer, branch_id=BRANCH_ID, with_address=True)
    assert body["address"] == {"street": "Calle 1"}


@pytest.mark.parametrize(
    "customer",
    [None, {}, {"description": ""}, {"description": None, "businessName": "  "}, "Lucía"],
)
def test_o4_customer_with_no_name_is_rejected(customer):
    with pytest.raises(OrderRejected, match="has no name"):
        new_client_body(customer, branch_id=BRANCH_ID, with_address=True, order_id=1)


# ---------------------------------------------------------------------------------- seller


SELLERS = [
    {"seller_id": 12, "name": "Ana Pérez", "email": "ANA@example.com", "active": True},
    {"seller_id": 13, "name": "Luis Gómez", "email": "luis@example.com", "active": True},
    {"seller_id": 14, "name": "Ana Perez", "email": None, "active": True},
    {"seller_id": 11, "name": "Luis Gomez", "email": "luis.old@example.com", "active": False},
]


@pytest.mark.parametrize(
    ("created_by", "expected"),
    [
        ({"name": "Someone", "username": "ana@example.com"}, 12),  # e-mail first, any case
        ({"name": "Someone", "email": "luis@example.com"}, 13),
        ({"name": "Ana Perez", "username": "ana.new@example.com"}, 12),  # name, oldest of 12/14
        ({"name": "luis gómez", "username": "lgomez"}, 13),  # active before the older inactive 11
        ({"name": "Nadie", "username": "nadie@example.com"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_seller_matched_by_email_then_normalised_name(created_by, expected):
    assert match_seller(created_by, SELLERS) == expected


def test_seller_unmatched_with_no_sellers():
    assert match_seller({"name": "Ana Pérez"}, []) is None


# ---------------------------------------------------------------------------------- O10


@pytest.mark.parametrize(
    ("the_order", "expected"),
    [
        (order(editedFrom={"id": 29079000, "deleted": True, "isEdited": True}), 29079000),
        (order(editedFrom=29079000), 29079000),
        (order(editedFrom="29079000"), "29079000"),
        (order(editedFrom=None), None),
        (order(editedFrom={}), None),
        (order(editedFrom=""), None),
        ({"id": 1}, None),
        (None, None),
    ],
)
def test_o10_edited_from_id(the_order, expected):
    assert edited_from_id(the_order) == expected


def test_o10_edited_order_is_pushed_as_a_new_document_naming_the_old_one():
    doc = build(order(id=29079300, editedFrom={"id": 29079293}))
    assert doc.reference == "HANDY-29079300"
    assert "(edita 29079293)" in doc.body["observations"]


# ---------------------------------------------------------------------------------- O11


INVOICING_WORDS = ("invoice", "stamp", "cfdi", "factura", "timbr", "uuid")


def _all_keys(value) -> list[str]:
    if isinstance(value, dict):
        return [k for k, v in value.items() for k in [k, *_all_keys(v)]]
    if isinstance(value, list):
        return [k for v in value for k in _all_keys(v)]
    return []


@pytest.mark.parametrize("doc_type", ["sales_order", "sale"])
def test_o11_document_never_asks_for_invoicing(doc_type):
    doc = build(
        order([item("REF-600"), item("BOTANA", price=12.4)], billable=True), doc_type=doc_type
    )
    assert set(doc.body) == {
        "branch_id",
        "client_id",
        "date",
        "seller_id",
        "reference",
        "observations",
        "items",
    }
    keys = [key.lower() for key in _all_keys(doc.body)]
    assert not [key for key in keys if any(word in key for word in INVOICING_WORDS)]


def test_o11_new_client_body_has_no_invoicing_keys():
    keys = [
        key.lower()
        for key in _all_keys(new_client_body(HANDY_CUSTOMER, branch_id=1, with_address=True))
    ]
    assert not [key for key in keys if any(word in key for word in INVOICING_WORDS)]


# ---------------------------------------------------------------------------------- robustness

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)
field_values = {
    "id": st.integers(1, 10**9) | json_values,
    "dateCreated": st.just("2023-02-26T07:14:32Z") | json_values,
    "salesType": st.sampled_from(["Preventa", "ROUTE", "x"]) | json_values,
    "sellerComment": json_values,
    "editedFrom": json_values,
    "totalSales": json_values,
    "items": st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "product": st.fixed_dictionaries(
                    {"code": st.sampled_from(list(PRODUCTS)) | json_values}
                )
                | json_values,
                "quantity": st.integers(-3, 5) | st.floats() | json_values,
                "price": st.floats() | json_values,
                "isReturn": st.booleans() | json_values,
                "isReward": json_values,
                "priceType": st.sampled_from(["REWARD", "REGULAR"]) | json_values,
            },
        )
        | json_values,
        max_size=4,
    )
    | json_values,
}


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.fixed_dictionaries({}, optional=field_values) | json_values,
    st.booleans(),
)
def test_o6_any_input_ends_in_a_document_or_a_clear_rejection(the_order, treat_all):
    """Bad data of any shape -> OrderRejected/OrderSkipped with a reason, never another exception."""
    try:
        doc_type = document_type(the_order, treat_all)
        doc = build(the_order, doc_type=doc_type)
    except OrderNotPushable as refused:
        assert refused.reason
        return
    assert doc.body["items"]
    observations(the_order), edited_from_id(the_order), match_client(the_order, CLIENTS)
    match_seller(the_order, SELLERS)


def test_o6_clave_is_an_exact_key_not_a_normalised_name():
    """P2: clave = code; only surrounding blanks are ignored, inner spacing and case count."""
    products = {"REF 600": gx_product(1, "REF 600", [IVA16])}
    assert build(order([item(" REF 600 ")]), products).body["items"][0]["product_id"] == 1
    for other in ("REF  600", "ref 600"):
        with pytest.raises(OrderRejected, match=f"product {other} not in"):
            build(order([item(other)]), products)
