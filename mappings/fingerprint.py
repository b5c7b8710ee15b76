"""Stable fingerprints of what the integration writes to Handy (RULES P8).

A fingerprint is the first 16 hex digits of the sha256 of a canonical JSON text: keys sorted,
no whitespace, strings as UTF-8, numbers as fixed-point decimals. It depends only on the
values (never on dict order, process, hash seed or float repr noise), so a binding's stored
fingerprint can be compared with the next run's desired one to decide "no change, no write".

Numbers: ints, floats and Decimals are rounded to `NUMBER_PLACES` decimals (ROUND_HALF_UP)
and printed without trailing zeros, so 12, 12.0 and Decimal("12.00") agree. Prices arrive
already rounded to 2 decimals (P6); stock may be fractional (kg), hence 4.
Empty values (None, NaN, "") all canonicalise to null: Handy does not tell them apart.

Fingerprints are computed from plain Python values (the mapped Gestionix record, Handy's JSON),
never from DataFrame cells, so there is no numpy or pandas-NA case here: such a value would be
canonicalised as its text, i.e. a bug would show as a changed fingerprint, never pass silently
as a match.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from mappings.money import to_decimal

FINGERPRINT_HEX_DIGITS = 16
NUMBER_PLACES = 4
_QUANTUM = Decimal(1).scaleb(-NUMBER_PLACES)


def canonical_number(value: float | Decimal) -> str | None:
    """Fixed-point text of a number at NUMBER_PLACES decimals, trailing zeros dropped; None for NaN."""
    number = to_decimal(value, text=False)  # floats by shortest repr: 0.1 stays 0.1
    if number is None:
        return None
    try:
        rounded = number.quantize(_QUANTUM, rounding=ROUND_HALF_UP).normalize()
    except InvalidOperation:  # beyond the context's precision
        return None
    text = format(rounded, "f")
    return "0" if text in ("-0", "0") else text


def canonical(value: Any) -> Any:
    """A JSON-ready, order-independent form of `value` (see module docstring)."""
    # Exact-type fast paths first: this runs once per field of every record of a 50 000-row batch.
    kind = type(value)
    if kind is str:
        return value if value != "" else None
    if kind is dict:
        return {str(key): canonical(item) for key, item in value.items()}
    if kind is Decimal or kind is float:
        text = canonical_number(value)
        return None if text is None else {"#": text}
    if isinstance(value, str):
        return value if value != "" else None
    if value is None:
        return None
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return {"#": canonical_number(int(value))}
    if isinstance(value, (float, Decimal)):  # subclasses (a numpy float is a float)
        text = canonical_number(value)
        return None if text is None else {"#": text}
    if isinstance(value, Mapping):
        return {str(key): canonical(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)) or (
        isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray))
    ):
        return [canonical(item) for item in value]
    return str(value)


def fingerprint(fields: Mapping[str, Any]) -> str:
    """Short, stable hex digest of `fields` (the values written to Handy)."""
    text = json.dumps(canonical(fields), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:FINGERPRINT_HEX_DIGITS]
