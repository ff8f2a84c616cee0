"""Per-dictionary-entry lookup tables: string constraints evaluated once per distinct string.

A constraint on a dictionary-coded field (``sh:pattern``, ``sh:minLength``/``sh:maxLength``, ``sh:in`` on a
source domain, ticker or data source) does not run per record: it runs once per dictionary entry here, and
the kernel reads ``lut[code]`` — the code of the first violated constraint for that string, 0 if it passes.
Code 0 of the dictionary (absent) always maps to 0: an absent value has no value node to violate.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["StringCheck", "string_check", "build_lut", "extend_lut", "xpath_regex"]

StringCheck = tuple[int, Callable[[str], bool]]
"""``(violation code, predicate that returns True when the string passes)``."""

_FLAG_MAP = {"i": re.IGNORECASE, "s": re.DOTALL, "m": re.MULTILINE, "x": re.VERBOSE}


def xpath_regex(pattern: str, flags: str = "") -> re.Pattern[str]:
    """Compile an ``sh:pattern`` (XPath ``fn:matches`` semantics: unanchored search) with ``sh:flags``."""
    f = 0
    for ch in flags:
        if ch == "q":
            pattern = re.escape(pattern)
        elif ch in _FLAG_MAP:
            f |= _FLAG_MAP[ch]
        else:
            raise ValueError(f"unsupported sh:flags letter {ch!r} in {flags!r}")
    return re.compile(pattern, f)


def string_check(
    code: int,
    *,
    pattern: str | None = None,
    flags: str = "",
    min_length: int | None = None,
    max_length: int | None = None,
    allowed: Sequence[str] | None = None,
) -> StringCheck:
    """One check on a string; exactly one of the keyword constraints is expected (the others None)."""
    if pattern is not None:
        rx = xpath_regex(pattern, flags)
        return code, lambda s: rx.search(s) is not None
    if min_length is not None:
        n = min_length
        return code, lambda s: len(s) >= n
    if max_length is not None:
        m = max_length
        return code, lambda s: len(s) <= m
    if allowed is not None:
        ok = frozenset(allowed)
        return code, lambda s: s in ok
    raise ValueError("string_check needs one of pattern, min_length, max_length, allowed")


def build_lut(strings: Sequence[str], checks: Sequence[StringCheck]) -> np.ndarray:
    """``uint16`` table, index = code: the first failing check's code for ``strings[code]``, else 0.

    ``strings[0]`` is the absent entry and maps to 0. Each string is evaluated exactly once.
    """
    return extend_lut(np.zeros(0, dtype=np.uint16), strings, checks)


def extend_lut(lut: np.ndarray, strings: Sequence[str], checks: Sequence[StringCheck]) -> np.ndarray:
    """Grow ``lut`` to ``len(strings)`` evaluating only the new entries (dictionaries only grow)."""
    start = len(lut)
    if start >= len(strings):
        return lut
    out = np.zeros(len(strings), dtype=np.uint16)
    out[:start] = lut
    for code in range(max(start, 1), len(strings)):
        s = strings[code]
        for vcode, ok in checks:
            if not ok(s):
                out[code] = vcode
                break
    return out
