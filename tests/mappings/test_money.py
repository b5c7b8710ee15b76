"""mappings/money.py: the one Decimal parser and the one reader of a product's taxes (P6, O5)."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from mappings.money import EXEMPT, after_tax, pre_tax, product_taxes, require_decimal, to_decimal


def tax(tax_id, name, rate, *, kind="transferred", factor="rate", **extra):
    return {"tax_id": tax_id, "name": name, "rate": rate, "type": kind, "factor": factor, **extra}


@pytest.mark.parametrize(
    ("value", "text", "expected"),
    [
        (10.34, True, Decimal("10.34")),  # shortest repr, not 10.339999...
        (12, True, Decimal(12)),
        (Decimal("1.5"), True, Decimal("1.5")),
        (np.float64(0.1), True, Decimal("0.1")),
        (np.int64(7), True, Decimal(7)),
        (" 3.25 ", True, Decimal("3.25")),
        ("3.25", False, None),  # the APIs send numbers: text only where asked for
        (True, True, None),
        (None, True, None),
        (math.nan, True, None),
        (math.inf, True, None),
        ("NaN", True, None),
        ([1], True, None),
        ("doce", True, None),
    ],
)
def test_p6_o5_one_parser(value, text, expected):
    assert to_decimal(value, text=text) == expected


def test_p6_require_decimal_names_what_and_why():
    with pytest.raises(ValueError, match="price is not a finite number"):
        require_decimal(math.nan, "price")
    with pytest.raises(ValueError, match=r"price is not a number \(str '10'\)"):
        require_decimal("10", "price")


def test_p6_ieps_under_iva_whatever_the_order_or_the_sat_code():
    by_name = product_taxes([tax(1, "IVA 16%", 0.16), tax(4, "IEPS 8%", 0.08)])
    reversed_order = product_taxes([tax(4, "IEPS 8%", 0.08), tax(1, "IVA 16%", 0.16)])
    by_sat_code = product_taxes(
        [tax(1, "Traslado A", 0.16, sat_code="002"), tax(4, "Traslado B", 0.08, sat_code="003")]
    )
    for taxes in (by_name, reversed_order, by_sat_code):
        assert taxes.factor == Decimal("1.2528") and taxes.percent == Decimal("25.28")
        assert after_tax(Decimal(100), taxes) == Decimal("125.28")
        assert pre_tax(Decimal("125.28"), taxes) == Decimal(100)
    assert by_name.tax_ids == (1, 4) and reversed_order.tax_ids == (4, 1)


def test_p6_cache_keeps_true_apart_from_a_rate_of_one():
    assert product_taxes([tax(9, "IEPS 100", 1)]).ieps == Decimal(1)
    with pytest.raises(ValueError, match="not a number"):
        product_taxes([tax(9, "IEPS 100", True)])


def test_o5_the_same_tax_twice_counts_once_and_a_missing_id_is_flagged():
    twice = product_taxes([tax(1, "IVA", 0.16), tax(1, "IVA", 0.16)])
    assert twice.tax_ids == (1,) and twice.factor == Decimal("1.16")
    assert product_taxes([tax(None, "IVA", 0.16)]).missing_id
    assert not product_taxes([tax(None, "IVA", 0.16)]).exempt


@pytest.mark.parametrize(
    ("taxes", "words"),
    [
        ([42], "not an object"),
        (["IVA"], "not an object"),
        ([{**tax(1, "IVA", 0.16), "rate": [0.16]}], "not a number"),
        ([tax(1, "IVA", 1.0)], "expected a fraction"),
        ([tax(4, "IEPS", 3.5)], "expected a fraction"),
        ([tax(1, "IVA", 0.16, kind="other")], "type 'other'"),
        ([tax(1, "IVA", 0.16, factor="cuota")], "factor 'cuota'"),
        ([tax(1, "ISH", 0.03)], "neither IVA nor IEPS"),
        ({"tax_id": 1}, "taxes is not a list"),
    ],
)
def test_p6_unreadable_taxes_are_refused_with_the_reason(taxes, words):
    with pytest.raises(ValueError, match=words):
        product_taxes(taxes)


def test_p6_exempt_withheld_and_cuotas():
    assert product_taxes(None) is EXEMPT and product_taxes([]) is EXEMPT
    only_withheld = product_taxes([tax(7, "IVA retenido", 0.106667, kind="withheld")])
    assert only_withheld.exempt and only_withheld.factor == 1
    cuota = product_taxes([tax(1, "IVA 16%", 0.16), tax(6, "IEPS cuota", 0.5944, factor="fixed")])
    assert cuota.factor == Decimal("1.16") and cuota.fixed == ("IEPS cuota",)
    assert cuota.tax_ids == (1,) and cuota.label == "IVA 16%"
