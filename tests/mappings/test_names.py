"""The one name normalisation (RULES O3, C5, A1): table tests and hypothesis properties."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings.names import normalize_name, same_name

EQUAL_PAIRS = [
    ("Tienda Lucía", "tienda lucia"),  # O3's own example
    ("  Tienda   Lucía ", "TIENDA LUCIA"),
    ("Peña", "pena"),  # ñ folds to n (documented decision)
    ("ÑANDÚ", "nandu"),
    ("Tienda\tLucía\n", "tienda lucía"),
    ("Ａｂａｒｒｏｔｅｓ", "abarrotes"),  # NFKC: full-width letters
    ("José\u00a0Pérez", "jose perez"),  # non-breaking space is whitespace
    ("Straße", "STRASSE"),  # casefold, not lower
    ("Café ☕", "cafe ☕"),  # emoji survive
]
DIFFERENT_PAIRS = [
    ("Lucía SA", "Lucía"),  # nothing more aggressive than case/accents/spaces
    ("Tienda Lucía", "Tienda Lucia 2"),
    ("Ana-María", "Ana María"),  # punctuation is kept
    ("Café ☕", "Café"),
    ("Abarrotes S.A.", "Abarrotes SA"),
]


@pytest.mark.parametrize(("left", "right"), EQUAL_PAIRS)
def test_o3_names_equal_ignoring_case_accents_and_spaces(left, right):
    assert normalize_name(left) == normalize_name(right)
    assert same_name(left, right)


@pytest.mark.parametrize(("left", "right"), DIFFERENT_PAIRS)
def test_o3_different_names_stay_different(left, right):
    assert normalize_name(left) != normalize_name(right)
    assert not same_name(left, right)


@pytest.mark.parametrize("empty", [None, "", "   ", "\t\n", "\u0301"])
def test_empty_names_normalise_to_empty_and_never_match(empty):
    assert normalize_name(empty) == ""
    assert not same_name(empty, empty)


def test_composed_and_decomposed_forms_are_equal():
    composed = "Lucía Peña"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert normalize_name(composed) == normalize_name(decomposed) == "lucia pena"


def test_emoji_survive_normalisation():
    assert normalize_name("Tacos 🌮 Don Pepe") == "tacos 🌮 don pepe"


def test_non_text_values_are_stringified():
    assert normalize_name(1201) == "1201"


# --- properties -----------------------------------------------------------------------

names = st.text(max_size=40)
accents = st.sampled_from(["\u0301", "\u0300", "\u0303", "\u0308", "\u0302"])


@given(names)
def test_normalisation_is_idempotent(text):
    once = normalize_name(text)
    assert normalize_name(once) == once


# Latin script (what Mexican names and brands use). Outside it, case folding is not always
# symmetric: Turkish dotless "ı" upper-cases to "I" (-> "i"), and Greek iota subscript is a
# combining mark removed before case folding; normalize_name accepts those exotic differences.
latin_names = st.text(
    alphabet=st.characters(max_codepoint=0x24F, exclude_characters="ı"), max_size=40
)


@given(latin_names)
def test_normalisation_ignores_case(text):
    assert normalize_name(text.upper()) == normalize_name(text.lower()) == normalize_name(text)


@given(names)
def test_normalisation_ignores_unicode_form(text):
    forms = {
        normalize_name(unicodedata.normalize(form, text)) for form in ("NFC", "NFD", "NFKC", "NFKD")
    }
    assert forms == {normalize_name(text)}


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", max_size=30), accents)
def test_normalisation_ignores_accents(text, accent):
    accented = "".join(ch + accent if ch.isalpha() else ch for ch in text)
    assert normalize_name(accented) == normalize_name(text)


@given(
    st.lists(
        st.text(alphabet=st.characters(categories=["L", "N", "So"]), min_size=1, max_size=8),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from([" ", "  ", "\t", "\n ", "\u00a0"]),
)
def test_normalisation_ignores_surrounding_and_repeated_whitespace(words, gap):
    assert normalize_name(f"  {gap.join(words)}{gap}") == normalize_name(" ".join(words))


@given(names)
def test_normalised_names_have_no_outer_or_double_spaces(text):
    key = normalize_name(text)
    assert key == key.strip()
    assert "  " not in key
