"""The default simulated world: news sources with their credibility, and tradable instruments.

Shared by the generators (market/), the credibility table (trading/) and the scenarios. Credibility is a
0–100 score; ``category`` says what kind of outlet it is (used by the rumor-storm rule).
"""

from __future__ import annotations

from dataclasses import dataclass

from cns.signals.dictionary import Dictionary

CATEGORIES: tuple[str, ...] = ("wire", "mainstream", "official", "expert", "blog", "social")


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """A news source. ``domain`` is its DNS name; ``credibility`` is 0–100."""

    domain: str
    credibility: int
    category: str


@dataclass(frozen=True, slots=True)
class InstrumentInfo:
    """A tradable instrument. ``price`` is the initial mid in USD; ``is_index`` marks an index (e.g. SPX)."""

    ticker: str
    price: float
    is_index: bool = False


DEFAULT_SOURCES: tuple[SourceInfo, ...] = (
    SourceInfo("reuters.com", 95, "wire"),
    SourceInfo("bloomberg.com", 95, "wire"),
    SourceInfo("apnews.com", 92, "wire"),
    SourceInfo("dowjones.com", 92, "wire"),
    SourceInfo("wsj.com", 90, "mainstream"),
    SourceInfo("ft.com", 90, "mainstream"),
    SourceInfo("cnbc.com", 85, "mainstream"),
    SourceInfo("marketwatch.com", 80, "mainstream"),
    SourceInfo("barrons.com", 82, "mainstream"),
    SourceInfo("federalreserve.gov", 99, "official"),
    SourceInfo("ecb.europa.eu", 99, "official"),
    SourceInfo("sec.gov", 98, "official"),
    SourceInfo("bls.gov", 98, "official"),
    SourceInfo("seekingalpha.com", 60, "expert"),
    SourceInfo("zerohedge.com", 40, "blog"),
    SourceInfo("stockblog.net", 30, "blog"),
    SourceInfo("pennystocks.blog", 15, "blog"),
    SourceInfo("twitter.com", 20, "social"),
    SourceInfo("reddit.com", 15, "social"),
    SourceInfo("stocktwits.com", 15, "social"),
)

_NAMED = (
    "AAPL",
    "MSFT",
    "NVDA",
    "AMZN",
    "GOOGL",
    "META",
    "TSLA",
    "JPM",
    "XOM",
    "UNH",
    "JNJ",
    "V",
    "PG",
    "MA",
    "HD",
    "CVX",
    "MRK",
    "ABBV",
    "PEP",
    "KO",
)


def default_instruments(n: int = 500) -> tuple[InstrumentInfo, ...]:
    """``n`` instruments: the SPX index first, then named large caps, then synthetic tickers ``T0020``…

    Initial prices are deterministic (no RNG) so every run and every process agrees on them.
    """
    out = [InstrumentInfo("SPX", 5000.0, True)]
    for i in range(n - 1):
        ticker = _NAMED[i] if i < len(_NAMED) else f"T{i:04d}"
        out.append(InstrumentInfo(ticker, 20.0 + (i * 37 % 480)))
    return tuple(out)


def ticker_dictionary(instruments: tuple[InstrumentInfo, ...] | None = None) -> Dictionary:
    """The canonical ticker dictionary: code ``k`` is ``instruments[k - 1]`` (code 0 = no ticker)."""
    return Dictionary(i.ticker for i in (instruments or default_instruments()))


def source_dictionary(sources: tuple[SourceInfo, ...] = DEFAULT_SOURCES) -> Dictionary:
    """The canonical source dictionary: code ``k`` is ``sources[k - 1]`` (code 0 = unknown source)."""
    return Dictionary(s.domain for s in sources)
