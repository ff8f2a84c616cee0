"""Dictionary encoding of strings and IRIs to dense ``uint32`` codes, so kernels compare integers.

Code 0 is reserved for "absent"; the first interned string gets code 1. Codes are stable for the lifetime of
a :class:`Dictionary` and across processes when the dictionary is saved and loaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np


class Dictionary:
    """A bidirectional ``str`` <-> ``uint32`` code table (code 0 = absent)."""

    __slots__ = ("_codes", "_strings")

    def __init__(self, strings: Iterable[str] = ()) -> None:
        self._codes: dict[str, int] = {}
        self._strings: list[str] = [""]
        for s in strings:
            self.intern(s)

    def intern(self, s: str) -> int:
        """The code of ``s``, adding it when new. The empty string is absent (code 0)."""
        if not s:
            return 0
        code = self._codes.get(s)
        if code is None:
            code = len(self._strings)
            self._codes[s] = code
            self._strings.append(s)
        return code

    def intern_many(self, strings: Iterable[str]) -> np.ndarray:
        """Codes of ``strings`` as a ``uint32`` array (new strings are added)."""
        return np.fromiter((self.intern(s) for s in strings), dtype=np.uint32)

    def code(self, s: str) -> int:
        """The code of ``s``, or 0 when it was never interned (does not add)."""
        return self._codes.get(s, 0)

    def string(self, code: int) -> str:
        """The string of ``code``; raises ``KeyError`` for an unknown code."""
        if not 0 <= code < len(self._strings):
            raise KeyError(f"unknown dictionary code {code}")
        return self._strings[code]

    def strings(self) -> list[str]:
        """All strings, index = code (index 0 is the empty 'absent' entry)."""
        return list(self._strings)

    def __len__(self) -> int:
        return len(self._strings)

    def __contains__(self, s: object) -> bool:
        return s in self._codes

    def save(self, path: str | Path) -> None:
        """Write the strings (code order, code 0 omitted) to ``path`` as a JSON list; OSError propagates."""
        Path(path).write_text(json.dumps(self._strings[1:]))

    @classmethod
    def load(cls, path: str | Path) -> Dictionary:
        """A dictionary read from a file :meth:`save` wrote (same codes); raises OSError / ValueError on a bad file."""
        return cls(json.loads(Path(path).read_text()))
