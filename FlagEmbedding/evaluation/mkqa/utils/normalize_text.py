"""Character normaliser applied to the MKQA (NQ) corpus: control characters, dashes, quotes, primes, slashes."""
from __future__ import annotations

from typing import Dict, Optional


_DELETE = [chr(c) for c in range(0x01, 0x09)] + ["\x0e", "\x0f"] + [chr(c) for c in range(0x11, 0x1C)] + ["\u00ad"]
_SPACE = ["\x0b", "\x0c", "\u0085"]
_HYPHENS = ["\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2043", "\u2212", "\u2796", "\u02d7",
            "\ufe58", "\ufe63", "\uff0d", "\ufe31", "\ufe32"]
_DOUBLE_QUOTES = ["\u201c", "\u201d", "\u201e", "\u201f", "\u00ab", "\u00bb", "\u275d", "\u275e", "\u2e42",
                  "\u301d", "\u301e", "\u301f", "\uff02"]
_SINGLE_QUOTES = ["\u2018", "\u2019", "\u201a", "\u201b", "\u2039", "\u203a", "\u275b", "\u275c", "\u0060",
                  "\u00b4", "\u02b9", "\u02bb", "\u02bc", "\u02bd", "\u02c8", "\u02ca", "\u02cb", "\uff07", "\uff40"]
_PRIMES = {"\u2032": "'", "\u2033": "''", "\u2034": "'''", "\u2057": "''''"}
_SLASHES = ["\u2044", "\u2215", "\u29f8", "\uff0f"]

_TABLE: Dict[int, Optional[str]] = {ord(c): None for c in _DELETE}
_TABLE.update({ord(c): " " for c in _SPACE})
_TABLE.update({ord(c): "-" for c in _HYPHENS})
_TABLE.update({ord(c): '"' for c in _DOUBLE_QUOTES})
_TABLE.update({ord(c): "'" for c in _SINGLE_QUOTES})
_TABLE.update({ord(c): value for c, value in _PRIMES.items()})
_TABLE.update({ord(c): "/" for c in _SLASHES})
_TABLE[ord("\u2026")] = "..."


def normalize(text: str) -> str:
    """Normalise ``text``: drop control characters and soft hyphens, unify dashes, quotes, primes and slashes."""
    return text.translate(_TABLE)
