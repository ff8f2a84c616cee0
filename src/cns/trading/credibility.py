"""Per-source credibility as arrays indexed by source dictionary code, for the corroboration kernel.

Scores are 0–100 (higher = more credible); categories are indices into
:data:`cns.signals.universe.CATEGORIES` (wire, mainstream, official, expert, blog, social). Code 0 (unknown
source) and any domain the configuration does not list get ``unknown_score``/``unknown_category``.

Where the scores came from is the table's ``provenance`` (the report prints it):

* :meth:`CredibilityTable.for_dictionary`: the ``[credibility]`` config — by default the generated world's own
  hidden source credibility (``DEFAULT_SOURCES``), i.e. the answer key; fine for tests, not for a backtest;
* :meth:`CredibilityTable.from_file` / :meth:`from_dict`: a calibrated table written by ``cns calibrate``
  (:mod:`cns.trading.calibrate`): ``score = 100 * P(a report of the source claims the right direction of a
  real move)``, learnt from held-out worlds or a labelled history. :func:`cns.trading.calibrate.
  default_credibility` is the one ``cns run`` should use.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from cns.signals.dictionary import Dictionary
from cns.signals.universe import CATEGORIES
from cns.trading.config import CredibilityConfig
from cns.trading.errors import StateError

FILE_FORMAT = "cns-credibility"  # the "format" of a calibrated table's JSON (cns calibrate)
CONFIG_PROVENANCE = "config [credibility]"
GENERATOR_PROVENANCE = (
    "config [credibility] defaults: the generator's hidden source credibility "
    "(cns.signals.universe.DEFAULT_SOURCES), not learnt"
)
MAX_TABLE_BYTES = 1 << 24  # a calibrated table file larger than 16 MB is refused unread


@dataclass(frozen=True, slots=True)
class CredibilityTable:
    """``scores[code]`` (float64, 0–100) and ``category[code]`` (uint8 index into CATEGORIES) per source code.

    Built for one source :class:`Dictionary`; records whose ``source`` code is beyond the table (a domain
    interned after the table was built) must be handled by rebuilding with :meth:`for_dictionary`.
    ``provenance``: one line saying where the scores came from (see the module docstring).
    """

    scores: np.ndarray
    category: np.ndarray
    provenance: str = CONFIG_PROVENANCE

    def __post_init__(self) -> None:
        if self.scores.dtype != np.float64 or self.category.dtype != np.uint8:
            raise StateError("CredibilityTable needs float64 scores and uint8 categories")
        if self.scores.shape != self.category.shape or self.scores.ndim != 1 or len(self.scores) == 0:
            raise StateError(
                "CredibilityTable scores and categories must be equal-length non-empty 1-D arrays"
            )
        if not isinstance(self.provenance, str):
            raise StateError("CredibilityTable provenance must be a string")

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
        default = CredibilityConfig()
        prov = GENERATOR_PROVENANCE if cfg.sources == default.sources else CONFIG_PROVENANCE
        return cls(scores, cats, prov)

    @classmethod
    def from_dict(
        cls, doc: dict[str, Any], sources: Dictionary, config: CredibilityConfig | None = None
    ) -> CredibilityTable:
        """The table of a calibrated document (``cns calibrate``'s JSON, see :mod:`cns.trading.calibrate`) for
        the codes of ``sources``. Scores come from ``doc["sources"][domain]["score"]`` (0–100); a domain the
        document does not rate gets its ``unknown_score``. Categories come from ``config`` (outlet kinds are
        public facts), else the document. Raises :class:`StateError` naming what is wrong with the document."""
        if not isinstance(doc, dict) or doc.get("format") != FILE_FORMAT:
            raise StateError(f"not a calibrated credibility table (format must be {FILE_FORMAT!r})")
        rated = doc.get("sources")
        unknown = doc.get("unknown_score", 50.0)
        if not isinstance(rated, dict) or not _score_ok(unknown):
            raise StateError(
                "calibrated credibility table needs a 'sources' object and a 0..100 'unknown_score'"
            )
        cfg = config or CredibilityConfig()
        cat_by_domain = dict(cfg.categories)
        strings = sources.strings()
        scores = np.full(len(strings), float(unknown), dtype=np.float64)
        cats = np.full(len(strings), CATEGORIES.index(cfg.unknown_category), dtype=np.uint8)
        for dom, entry in rated.items():
            if not isinstance(entry, dict) or not _score_ok(entry.get("score")):
                raise StateError(
                    f"calibrated credibility table: source {str(dom)[:80]!r} needs a 0..100 'score'"
                )
        for code, dom in enumerate(strings):
            if code == 0:
                continue
            if dom in rated:
                scores[code] = float(rated[dom]["score"])
            cat = cat_by_domain.get(dom, rated.get(dom, {}).get("category"))
            if cat in CATEGORIES:
                cats[code] = CATEGORIES.index(cat)
        prov = doc.get("provenance")
        return cls(scores, cats, str(prov)[:2000] if prov else "calibrated table (no provenance given)")

    @classmethod
    def from_file(
        cls, path: str | Path, sources: Dictionary, config: CredibilityConfig | None = None
    ) -> CredibilityTable:
        """:meth:`from_dict` of a JSON file written by ``cns calibrate``; ``provenance`` names the file.
        Raises :class:`StateError` for an unreadable, oversized, non-JSON or malformed file."""
        p = Path(path)
        try:
            if p.stat().st_size > MAX_TABLE_BYTES:
                raise StateError(f"{p}: credibility table larger than {MAX_TABLE_BYTES} bytes")
            doc = json.loads(p.read_bytes().decode("utf-8"))
        except OSError as e:
            raise StateError(f"cannot read credibility table {p}: {e.strerror or e}") from None
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise StateError(f"{p}: not a JSON credibility table ({type(e).__name__})") from None
        t = cls.from_dict(doc, sources, config)
        return t.with_provenance(f"{t.provenance} [file {p}]")

    def with_provenance(self, provenance: str) -> CredibilityTable:
        """The same scores with another ``provenance`` line."""
        return replace(self, provenance=provenance)

    def reliability(self) -> np.ndarray:
        """``scores / 100`` clipped to [0, 1]: the probability per source code that a report's claimed
        direction is right (what the simulated market's participants take as their starting estimate)."""
        out: np.ndarray = np.clip(self.scores / 100.0, 0.0, 1.0)
        return out

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
        mask: np.ndarray = wanted[self.category]
        return mask


def _score_ok(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and 0.0 <= x <= 100.0
