"""Stable fingerprints of the fields written to Handy (RULES P8)."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings.fingerprint import canonical_number, fingerprint

SAMPLE = {"description": "Refresco 600 ml", "family": "bebidas", "price": Decimal("12.00")}
# Pinned: a change of this value invalidates every stored binding (one full rewrite of Handy).
SAMPLE_FINGERPRINT = "f5c468acdeb67b80"


def test_p8_fingerprint_is_pinned():
    assert fingerprint(SAMPLE) == SAMPLE_FINGERPRINT


def test_p8_fingerprint_is_the_same_in_another_process_with_another_hash_seed():
    code = (
        "from decimal import Decimal; from mappings.fingerprint import fingerprint; "
        "print(fingerprint({'price': Decimal('12.00'), 'family': 'bebidas', 'description': 'Refresco 600 ml'}))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    assert out.stdout.strip() == SAMPLE_FINGERPRINT


def test_p8_key_order_does_not_matter():
    assert fingerprint(dict(reversed(list(SAMPLE.items())))) == fingerprint(SAMPLE)


@pytest.mark.parametrize("price", [12, 12.0, Decimal(12), Decimal("12.000"), np.float64(12.0)])
def test_p8_equal_numbers_in_any_type_give_one_fingerprint(price):
    assert fingerprint({**SAMPLE, "price": price}) == SAMPLE_FINGERPRINT


@pytest.mark.parametrize("empty", [None, "", float("nan")])
def test_empty_values_are_one_value(empty):
    assert fingerprint({"email": empty}) == fingerprint({"email": None})


def test_p8_any_changed_field_changes_the_fingerprint():
    assert fingerprint({**SAMPLE, "price": Decimal("12.01")}) != SAMPLE_FINGERPRINT
    assert fingerprint({**SAMPLE, "description": "Refresco 600 ML"}) != SAMPLE_FINGERPRINT
    assert fingerprint({**SAMPLE, "extra": None}) != SAMPLE_FINGERPRINT


def test_numbers_and_their_text_differ():
    assert fingerprint({"code": "12"}) != fingerprint({"code": 12})


def test_fingerprint_is_short_hex():
    value = fingerprint(SAMPLE)
    assert len(value) == 16 and int(value, 16) >= 0


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9))
def test_float_noise_below_the_fourth_decimal_is_ignored(value):
    assert canonical_number(value) == canonical_number(Decimal(repr(value)))
    assert fingerprint({"q": value}) == fingerprint({"q": Decimal(repr(value))})


def test_canonical_number_has_no_exponent_or_trailing_zeros():
    assert canonical_number(1e-5) == "0"
    assert canonical_number(1e7) == "10000000"
    assert canonical_number(Decimal("10.5000")) == "10.5"
    assert canonical_number(-0.0) == "0"
    assert canonical_number(float("nan")) is None
