"""The one name normalisation used wherever names are compared (RULES O3, C5, A1).

Case-, accent- and whitespace-insensitive, NFKC-normalised, nothing more:
"Tienda Lucía" == "tienda  lucia", but "Lucía SA" != "Lucía".
Decision: ñ folds to n (it is n + combining tilde once decomposed), because sellers
type on phones without the key as often as with it; "Peña" == "Pena".
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


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
