"""The one name normalisation used wherever names are compared (RULES O3, C5, A1), and the one
cleaning of the names and texts written to Handy (clean_text, is_blank; RULES P5, C2).

Case-, accent- and whitespace-insensitive, NFKC-normalised, nothing more:
"Tienda Lucía" == "tienda  lucia", but "Lucía SA" != "Lucía".
Decision: ñ folds to n (it is n + combining tilde once decomposed), because sellers
type on phones without the key as often as with it; "Peña" == "Pena".
"""

from __future__ import annotations

import math
import unicodedata
from decimal import Decimal
from functools import lru_cache
from typing import Any

MAX_DESCRIPTION_LENGTH = 255


def normalize_name(value: object) -> str:
    """Comparison key of a person, company or branch name; "" for empty/None."""
    if value is None:
        return ""
    return _normalized(str(value))


@lru_cache(maxsize=1 << 16)  # O3 compares each customer with every client: the same names again
def _normalized(value: str) -> str:
    text = unicodedata.normalize("NFKC", value)
    decomposed = unicodedata.normalize("NFKD", text)
    without_marks = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    folded = unicodedata.normalize("NFKC", without_marks).casefold()
    return " ".join(folded.split())


def same_name(a: object, b: object) -> bool:
    """True when two non-empty names are equal after normalisation."""
    key = normalize_name(a)
    return bool(key) and key == normalize_name(b)


def clean_text(value: Any, limit: int = MAX_DESCRIPTION_LENGTH) -> str | None:
    """Strip, collapse inner whitespace, cut to `limit` characters; None when empty or not text."""
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())[:limit].rstrip()
    return text or None


def is_blank(value: Any) -> bool:
    """None, NaN or an all-space string. (Plan rows carry None for a gap, never pandas' NA: the
    plan turns its frames into rows at its boundary, mappings.plan.)"""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (bool, int)):
        return False
    if isinstance(value, (float, Decimal)):
        return value.is_nan() if isinstance(value, Decimal) else math.isnan(value)
    return False
