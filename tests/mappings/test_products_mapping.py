"""Gestionix branch products -> desired Handy products (RULES P1-P7), bodies and families."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings.handy_products import (
    enabled_body,
    handy_products_frame,
    plan_families,
    product_create_body,
    product_update_body,
)
from mappings.products import (
    DEFAULT_FAMILY,
    DESIRED_COLUMNS,
    MAX_CODE_LENGTH,
    MAX_DESCRIPTION_LENGTH,
    REJECTED_COLUMNS,
    ProductMapper,
    after_tax_price,
    map_products,
)

BRANCH = 310
IVA16 = {"tax_id": 1, "name": "IVA", "rate": 0.16, "type": "transferred", "factor": "rate"}
IVA8 = {"tax_id": 2, "name": "IVA frontera", "rate": 0.08, "type": "transferred", "factor": "rate"}
IEPS8 = {"tax_id": 3, "name": "IEPS", "rate": 0.08, "type": "transferred", "factor": "rate"}
IVA0 = {"tax_id": 4, "name": "IVA 0", "rate": 0.0, "type": "transferred", "factor": "rate"}
ISR_WITHHELD = {"tax_id": 5, "name": "ISR ret", "rate": 0.10, "type": "withheld", "factor": "rate"}
FIXED_IEPS = {
    "tax_id": 6,
    "name": "IEPS cuota",
    "rate": 0.5,
    "type": "transferred",
    "factor": "fixed",
}


def product(**overrides):
    base = {
        "product_id": 5012,
        "key": "REF-600",
        "name": "Refresco 600 ml",
        "category": {"category_id": 7, "name": "Bebidas"},
        "for_sale": True,
        "active": True,
        "unit": "PZA",
        "price": 10.34,
        "taxes": [IVA16],
        "stock": [{"branch_id": BRANCH, "quantity": 24.0}, {"branch_id": 1, "quantity": 99.0}],
    }
    base.update(overrides)
    return base


def one(**overrides):
    """The single desired row of a one-product catalog (fails when it was rejected)."""
    result = map_products([product(**overrides)], BRANCH)
    assert result.rejected.empty, result.rejected.to_dict("records")
    assert len(result.desired) == 1
    return result.desired.iloc[0]


def rejection(**overrides):
    result = map_products([product(**overrides)], BRANCH)
    assert result.desired.empty
    assert len(result.rejected) == 1
    return result.rejected.iloc[0]


def test_happy_path_columns_and_values():
    result = map_products([product()], BRANCH)
    assert list(result.desired.columns) == DESIRED_COLUMNS
    assert list(result.rejected.columns) == REJECTED_COLUMNS
    row = result.desired.iloc[0]
    assert (row.key, row.gestionix_key, row.code, row.gestionix_id) == (
        "REF-600",
        "REF-600",
        "REF-600",
        5012,
    )
    assert (row.description, row.family, row.price, row.enabled, row.stock) == (
        "Refresco 600 ml",
        "Bebidas",
        11.99,
        True,
        24.0,
    )


# --- P1 for sale -----------------------------------------------------------------------


def test_p1_not_for_sale_is_dropped_silently_but_counted():
    result = map_products(
        [product(), product(product_id=2, key="HARINA", for_sale=False, price=None)], BRANCH
    )
    assert list(result.desired["key"]) == ["REF-600"]
    assert result.rejected.empty
    assert result.not_for_sale.to_dict("records") == [
        {"gestionix_id": 2, "gestionix_key": "HARINA", "code": "HARINA"}
    ]


@pytest.mark.parametrize("for_sale", [None, "true", 1])
def test_p1_missing_or_non_boolean_for_sale_is_rejected(for_sale):
    row = rejection(for_sale=for_sale)
    assert row.rule == "P1" and "for_sale" in row.reason


def test_p1_missing_for_sale_key_is_rejected():
    record = product()
    del record["for_sale"]
    assert map_products([record], BRANCH).rejected.iloc[0].rule == "P1"


# --- P2/P3/P4 clave --------------------------------------------------------------------


def test_p2_clave_is_the_handy_code_and_the_join_key():
    row = one(key="ABC-1")
    assert row.key == row.code == row.gestionix_key == "ABC-1"


@pytest.mark.parametrize("clave", ["", "   ", None])
def test_p3_empty_clave_is_rejected_and_reported(clave):
    row = rejection(key=clave)
    assert row.rule == "P3"
    assert "empty clave" in row.reason and "5012" in row.reason


@pytest.mark.parametrize("clave", ["A/B", "/", "REF/600/1"])
def test_p4_clave_with_slash_is_rejected_with_that_reason(clave):
    row = rejection(key=clave)
    assert row.rule == "P4"
    assert "'/'" in row.reason and repr(clave) in row.reason


@pytest.mark.parametrize(
    ("clave", "words"),
    [
        (600, "not text"),
        (12.5, "not text"),
        (["A"], "not text"),
        (True, "not text"),
        (" REF-600", "leading or trailing spaces"),
        ("REF-600 ", "leading or trailing spaces"),
        ("REF\t600", "control"),
        ("REF\u200b600", "control"),
        ("X" * (MAX_CODE_LENGTH + 1), f"longer than {MAX_CODE_LENGTH}"),
    ],
)
def test_p2_unusable_claves_are_rejected_with_reason(clave, words):
    row = rejection(key=clave)
    assert row.rule == "P2"
    assert words in row.reason
    assert "product 5012" in row.reason


@pytest.mark.parametrize("clave", ["X" * MAX_CODE_LENGTH, "REF 600", "ÑOÑO-1", "A?B#C%", "a.b_c-d"])
def test_p2_unusual_but_usable_claves_are_kept(clave):
    assert one(key=clave).code == clave


def test_p2_duplicated_clave_rejects_every_copy_and_holds_it():
    result = map_products(
        [product(product_id=1), product(product_id=2), product(product_id=3, key="OK")], BRANCH
    )
    assert list(result.desired["key"]) == ["OK"]
    assert sorted(result.rejected["gestionix_id"]) == [1, 2]
    assert all("shared by products 1, 2" in reason for reason in result.rejected["reason"])
    assert result.held_keys == ["REF-600"]


def test_p2_mapped_page_by_page_equals_the_whole_catalog_at_once():
    """catalog_pull maps each page as it arrives: duplicates across pages, record positions of
    broken records and every frame must be what one call over the whole catalog gives."""
    catalog = [
        product(product_id=1, key="A"),
        product(product_id=2, key="DUP"),
        product(product_id=3, key="B/C"),
        product(product_id=4, key="DUP"),  # the same clave on the next page
        "not a record",
        product(product_id=5, key="N", for_sale=False),
        product(product_id=6, key="F", taxes=[IVA16, FIXED_IEPS]),
        product(product_id=7, key="Z", active=False),
    ]
    whole = map_products(catalog, BRANCH)
    mapper = ProductMapper(BRANCH)
    for start in range(0, len(catalog), 3):
        mapper.add(catalog[start : start + 3])
    paged = mapper.result()
    for name in ("desired", "rejected", "not_for_sale", "tax_notes"):
        pd.testing.assert_frame_equal(getattr(paged, name), getattr(whole, name))
    assert paged.held_keys == whole.held_keys == ["DUP"]
    assert "record #4 is not an object" in paged.rejected["reason"].tolist()[1]
    assert sorted(paged.rejected["gestionix_id"].dropna()) == [2, 3, 4]


# --- names -------------------------------------------------------------------------------


def test_name_is_stripped_and_inner_whitespace_collapsed():
    assert one(name="  Refresco \t 600\nml  ").description == "Refresco 600 ml"


def test_300_character_name_is_truncated_to_the_handy_limit():
    row = one(name="A" * 300)
    assert len(row.description) == MAX_DESCRIPTION_LENGTH == 255


@pytest.mark.parametrize("name", ["", "   ", None, 42, ["Refresco"]])
def test_empty_or_non_text_name_is_rejected(name):
    row = rejection(name=name)
    assert row.rule == "NAME" and "name is empty or not text" in row.reason


# --- P5 family ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "family"),
    [
        ({"category_id": 7, "name": "Bebidas"}, "Bebidas"),
        ({"category_id": 7, "name": "  Botanas   saladas "}, "Botanas saladas"),
        (None, DEFAULT_FAMILY),
        ({"category_id": 7, "name": None}, DEFAULT_FAMILY),
        ({"category_id": 7, "name": "  "}, DEFAULT_FAMILY),
        ({"category_id": 7}, DEFAULT_FAMILY),
        ("Lácteos", "Lácteos"),
    ],
)
def test_p5_family_is_the_gestionix_category_name(category, family):
    assert one(category=category).family == family


def test_p5_missing_category_key_gets_the_default_family():
    record = product()
    del record["category"]
    assert (
        map_products([record], BRANCH).desired.iloc[0].family == DEFAULT_FAMILY == "Sin categoría"
    )


@pytest.mark.parametrize("category", [7, ["Bebidas"], {"name": 7}])
def test_p5_category_of_wrong_type_is_rejected(category):
    assert rejection(category=category).rule == "P5"


def test_p5_families_matched_by_normalised_name_and_missing_ones_listed_once():
    plan = plan_families(
        ["Bebidas", "Lácteos", "lacteos ", "Sin categoría", "Botanas"],
        [{"id": 1, "description": "BEBIDAS"}, {"id": 2, "description": "Sin Categoria"}],
    )
    assert plan.ids == {"Bebidas": 1, "Sin categoría": 2}
    assert plan.missing == ["Lácteos", "Botanas"]


# --- P6 after-tax price ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "taxes", "expected"),
    [
        (10.345, [IVA16], "12.00"),  # 12.0002
        (10.34, [IVA16], "11.99"),  # 11.9944
        (100, [IVA8], "108.00"),  # border IVA
        (9.99, [IVA8], "10.79"),  # 10.7892
        (10, [IVA0], "10.00"),
        (10, [], "10.00"),
        (10, None, "10.00"),
        (0.125, [], "0.13"),  # ROUND_HALF_UP, not banker's rounding
        (0.625, [], "0.63"),
        (10, [IVA16, IEPS8], "12.53"),  # IVA on price + IEPS: 10 x 1.08 x 1.16 = 12.528
        (100, [IEPS8, IVA16], "125.28"),  # the order of the list does not matter
        (10, [IEPS8], "10.80"),  # IEPS alone
        (10, [IVA16, ISR_WITHHELD], "11.60"),  # withheld taxes ignored
        (10, [IVA16, FIXED_IEPS], "11.60"),  # fixed-amount taxes are not percentages
        (10, [FIXED_IEPS], "10.00"),  # only a cuota: exempt of percentage taxes
        (10, [ISR_WITHHELD], "10.00"),
        (0, [IVA16], "0.00"),
        (Decimal("1.005"), [], "1.01"),
    ],
)
def test_p6_after_tax_price(price, taxes, expected):
    assert after_tax_price(price, taxes) == Decimal(expected)
    assert one(price=price, taxes=taxes).price == float(expected)


def test_p6_10_345_at_16_percent_is_12_00():
    assert one(price=10.345, taxes=[IVA16]).price == 12.00


@pytest.mark.parametrize(
    ("price", "words"),
    [
        (float("nan"), "not a finite number"),
        (float("inf"), "not a finite number"),
        (-1, "negative"),
        (-0.01, "negative"),
        ("10.50", "not a number"),
        (None, "not a number"),
        (True, "not a number"),
        ([10], "not a number"),
    ],
)
def test_p6_bad_price_is_rejected_with_reason(price, words):
    row = rejection(price=price)
    assert row.rule == "P6" and words in row.reason and "REF-600" in row.reason


@pytest.mark.parametrize(
    ("taxes", "words"),
    [
        ("IVA", "taxes is not a list"),
        ([42], "not an object"),
        ([{**IVA16, "rate": 16}], "expected a fraction"),
        ([{**IVA16, "rate": -0.16}], "expected a fraction"),
        ([{**IVA16, "rate": "0.16"}], "not a number"),
        ([{**IVA16, "rate": None}], "not a number"),
        ([{**IVA16, "rate": 1}], "expected a fraction"),  # IVA 100 %: a percentage misread
        ([{**IEPS8, "rate": 8}], "expected a fraction"),
        ([{**IVA16, "name": "ISH"}], "neither IVA nor IEPS"),
        ([{**IVA16, "factor": None}], "factor None"),
        ([{**IVA16, "type": None}], "type None"),
    ],
)
def test_p6_bad_taxes_are_rejected_with_reason(taxes, words):
    row = rejection(taxes=taxes)
    assert row.rule == "P6" and words in row.reason


rates = st.sampled_from([[], [IVA0], [IVA8], [IVA16], [IVA16, IEPS8], [IVA16, ISR_WITHHELD]])


def _factor(taxes):
    """(1 + IEPS) x (1 + IVA), from the test's own tax constants."""
    ieps = sum((Decimal(str(t["rate"])) for t in taxes if t is IEPS8), Decimal(0))
    iva = sum((Decimal(str(t["rate"])) for t in taxes if t in (IVA0, IVA8, IVA16)), Decimal(0))
    return (1 + ieps) * (1 + iva)


@given(st.integers(min_value=0, max_value=10**9), rates)
def test_p6_property_price_is_exact_half_up_rounding_of_cents(cents, taxes):
    pre_tax = Decimal(cents) / 100
    exact = pre_tax * _factor(taxes)
    result = after_tax_price(float(pre_tax), taxes)
    assert result == exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert result.as_tuple().exponent == -2
    assert abs(result - exact) <= Decimal("0.005")


@given(
    st.floats(min_value=0, max_value=1e7, allow_nan=False),
    st.floats(min_value=0, max_value=1e7, allow_nan=False),
    rates,
)
def test_p6_property_price_is_monotonic(a, b, taxes):
    low, high = sorted((a, b))
    assert after_tax_price(low, taxes) <= after_tax_price(high, taxes)


# --- P7 enabled ----------------------------------------------------------------------------


@pytest.mark.parametrize("active", [True, False])
def test_p7_enabled_follows_active(active):
    assert bool(one(active=active).enabled) is active


@pytest.mark.parametrize("active", [None, "yes", 0])
def test_p7_missing_or_non_boolean_active_is_rejected(active):
    assert rejection(active=active).rule == "P7"


# --- stock of the branch (feeds I1) --------------------------------------------------------


@pytest.mark.parametrize(
    ("stock", "expected"),
    [
        ([{"branch_id": BRANCH, "quantity": 24.0}, {"branch_id": 1, "quantity": 99.0}], 24.0),
        ([{"branch_id": str(BRANCH), "quantity": 5}], 5.0),
        ([{"branch_id": 1, "quantity": 99.0}], 0.0),
        ([], 0.0),
        (None, 0.0),
        ([{"branch_id": BRANCH, "quantity": "many"}], math.nan),
        ("24", math.nan),
    ],
)
def test_i1_branch_stock_is_the_entry_of_the_branch(stock, expected):
    value = one(stock=stock).stock
    assert (math.isnan(value) and math.isnan(expected)) or value == expected


# --- P8 fingerprint ------------------------------------------------------------------------


def test_p8_fingerprint_changes_with_written_fields_only():
    base = one().fingerprint
    assert one(price=10.35).fingerprint != base
    assert one(name="Refresco 600ml").fingerprint != base
    assert one(category={"name": "Refrescos"}).fingerprint != base
    assert one(category={"name": "BEBIDAS"}).fingerprint == base  # families compare normalised
    assert one(stock=[]).fingerprint == base  # stock is the inventory split's business
    assert one(active=False).fingerprint == base  # enabled is tracked by the binding status
    assert one(product_id=999).fingerprint == base
    assert one(price=10.3402).fingerprint != base  # same after-tax 11.99, new basePrice (P6)
    assert one(taxes=[IVA16, IEPS8]).fingerprint != base  # Handy's own tax changes
    assert one(taxes=[IVA16, ISR_WITHHELD]).fingerprint == base  # withheld taxes are not written


def test_p8_handy_record_with_the_same_content_has_the_same_fingerprint():
    row = one()
    handy = {
        "id": 1,
        "code": "REF-600",
        "description": "Refresco 600 ml",
        "price": 11.99,
        "basePrice": 10.34,
        "tax": {"id": 8, "name": "IVA 16%", "amount": 16.0, "enabled": True},
        "taxOptional": None,
        "family": {"id": 3, "description": "bebidas", "enabled": True},
        "enabled": True,
        "quantity": 24.0,
    }
    frame = handy_products_frame(
        [
            handy,
            {**handy, "code": "X", "price": 12.0, "enabled": False},
            {**handy, "code": "Y", "tax": {"name": "IVA", "amount": 16.0}},  # Handy's default tax
            {**handy, "code": "Z", "taxOptional": {"name": "IEPS", "amount": 8.0}},
        ]
    )
    assert frame.iloc[0].fingerprint == row.fingerprint
    assert (frame.iloc[1:].fingerprint != row.fingerprint).all()
    assert list(frame["enabled"]) == [True, False, True, True]


# --- bad input never stops the batch -------------------------------------------------------


def test_bad_records_end_as_rejected_rows_and_the_rest_goes_on():
    records = [
        product(product_id=1, key="A/B"),
        "not a product",
        None,
        product(product_id=2, key="OK-1"),
        product(product_id=3, key="OK-2", price=float("nan")),
        {"product_id": 4},  # nearly everything missing
        product(product_id=5, key="OK-3", category=None, name="N" * 300),
    ]
    result = map_products(records, BRANCH)
    assert list(result.desired["key"]) == ["OK-1", "OK-3"]
    assert len(result.rejected) == 5
    assert result.rejected["reason"].map(bool).all()
    assert set(result.rejected["rule"]) == {"P4", "DATA", "P6", "P1"}
    assert result.held_keys == ["OK-2"]  # usable clave, bad data: its bound product is left alone


def test_empty_catalog_gives_empty_frames_with_columns():
    result = map_products([], BRANCH)
    assert result.desired.empty and list(result.desired.columns) == DESIRED_COLUMNS
    assert result.rejected.empty and result.not_for_sale.empty


# --- Handy bodies --------------------------------------------------------------------------


def test_create_body_has_code_description_family_price_enabled():
    row = one()
    assert product_create_body(row) == {
        "code": "REF-600",
        "description": "Refresco 600 ml",
        "family": {"description": "Bebidas"},
        "price": 11.99,
        "basePrice": 10.34,
        "tax": {"name": "IVA 16%", "amount": 16.0},
        "enabled": True,
    }
    assert product_create_body(row, family_id=3, quantity=5)["family"] == {"id": 3}
    assert product_create_body(row, family_id=3, quantity=5)["quantity"] == 5.0


def test_update_body_without_current_sends_every_writable_field_but_not_the_code():
    body = product_update_body(one(active=False), family_id=3)
    assert body == {
        "description": "Refresco 600 ml",
        "family": {"id": 3},
        "price": 11.99,
        "basePrice": 10.34,
        "tax": {"name": "IVA 16%", "amount": 16.0},
        "taxOptional": None,
        "enabled": False,
    }


def test_p8_update_body_with_current_sends_only_changed_fields():
    row = one(price=10.35)
    current = {
        "code": "REF-600",
        "description": "Refresco 600 ml",
        "price": 11.99,
        "basePrice": 10.34,
        "tax": {"id": 8, "name": "IVA 16%", "amount": 16.0},
        "enabled": True,
        "family": {"id": 3, "description": "BEBIDAS"},
        "quantity": 24.0,
    }
    iva16 = {"name": "IVA 16%", "amount": 16.0}
    assert product_update_body(row, current=current) == {
        "price": 12.01,
        "basePrice": 10.35,
        "tax": iva16,
    }
    ieps = {"name": "IVA 16% + IEPS 8%", "amount": 25.28}
    assert product_update_body(one(taxes=[IVA16, IEPS8]), current=current) == {
        "price": 12.95,
        "basePrice": 10.34,
        "tax": ieps,
    }
    assert product_update_body(one(), current={**current, "taxOptional": {"amount": 8.0}}) == {
        "taxOptional": None
    }
    assert product_update_body(one(), current=current) == {}
    assert product_update_body(one(active=False), current=current) == {"enabled": False}
    assert product_update_body(one(), current=current, quantity=20) == {"quantity": 20.0}
    assert product_update_body(one(category={"name": "Jugos"}), current=current, family_id=9) == {
        "family": {"id": 9}
    }


def test_p7_enabled_body():
    assert enabled_body(False) == {"enabled": False}
    assert enabled_body(True) == {"enabled": True}
