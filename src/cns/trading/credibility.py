"""Per-source credibility as arrays indexed by source dictionary code, for the corroboration kernel.

Scores are 0–100 (higher = more credible); categories are indices into
:data:`cns.signals.universe.CATEGORIES` (wire, mainstream, official, expert, blog, social). Code 0 (unknown
source) and any domain the configuration does not list get ``unknown_score``/``unknown_category``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cns.signals.dictionary import Dictionary
from cns.signals.universe import CATEGORIES
from cns.trading.config import CredibilityConfig
from cns.trading.errors import StateError


@dataclass(frozen=True, slots=True)
class CredibilityTable:
    """``scores[code]`` (float64, 0–100) and ``category[code]`` (uint8 index into CATEGORIES) per source code.

    Built for one source :class:`Dictionary`; records whose ``source`` code is beyond the table (a domain
    interned after the table was built) must be handled by rebuilding with :meth:`for_dictionary`.
    """

    scores: np.ndarray
    category: np.ndarray

    def __post_init__(self) -> None:
        if self.scores.dtype != np.float64 or self.category.dtype != np.uint8:
            raise StateError("CredibilityTable needs float64 scores and uint8 categories")
        if self.scores.shape != self.category.shape or self.scores.ndim != 1 or len(self.scores) == 0:
            raise StateError("CredibilityTable scores and categories must be equal-length non-empty 1-D arrays")

    @classmethod
    def for_dictionary(cls, sources: Dictionary, config: CredibilityConfig | None = None) -> CredibilityTable:
        """The table for every code of ``sources`` under ``config`` (default: the universe's sources)."""
        cfg = config or CredibilityConfig()
        by_domain = dict(cfg.sources)
        cat_by_domain = dict(cfg.categories)
        strings = sources.strings()
        scores = np.full(len(strings), cfg.unknown_score, dtype=np.float64)
        cats = np.full(len(strings), CATEGORIES.index(cfg.unknown_category), dtype=np.uint8)
        for code, dom in enumerate(strings):
            if code == 0:
                continue
            if dom in by_domain:
                scores[code] = by_domain[dom]
            if dom in cat_by_domain:
                cats[code] = CATEGORIES.index(cat_by_domain[dom])
        return cls(scores, cats)

    def __len__(self) -> int:
        return len(self.scores)

    def score(self, code: int) -> float:
        """Credibility of source ``code`` (0–100)."""
        if not 0 <= code < len(self.scores):
            raise StateError(f"source code {code} outside the credibility table (size {len(self.scores)})")
        return float(self.scores[code])

    def category_mask(self, categories: tuple[str, ...]) -> np.ndarray:
        """``uint8`` per code: 1 when the source's category is one of ``categories``."""
        wanted = np.zeros(len(CATEGORIES), dtype=np.uint8)
        for c in categories:
            wanted[CATEGORIES.index(c)] = 1
        return wanted[self.category]
