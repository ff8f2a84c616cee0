"""Builders of the five news scenarios as JSON Lines items (dicts), with knobs for the test variants.

``write_all(dir)`` regenerates the committed ``src/cns/shipped/scenarios/*.jsonl`` files with the default knobs.
"""

from __future__ import annotations

import json
from pathlib import Path

T0 = 1_700_000_000_000_000_000  # ns since epoch of each scenario's first report
MS = 1_000_000
SEC = 1_000_000_000

CREDIBLE = ("reuters.com", "bloomberg.com", "apnews.com", "wsj.com", "ft.com", "cnbc.com", "marketwatch.com")
SOCIAL = ("twitter.com", "reddit.com", "stocktwits.com")
BLOGS = ("zerohedge.com", "stockblog.net", "pennystocks.blog")
MAINSTREAM = ("wsj.com", "ft.com", "cnbc.com", "marketwatch.com", "barrons.com")


def item(i: int, source: str, dt_ns: int, type_: str, headline: str, tickers: list[str], **fields) -> dict:
    """One wire item published ``dt_ns`` after T0 and received 2 ms later."""
    out = {
        "id": i,
        "source": source,
        "publish_ns": T0 + dt_ns,
        "receive_ns": T0 + dt_ns + 2 * MS,
        "tickers": tickers,
        "type": type_,
        "headline": headline,
        "eps_actual": None,
        "eps_expected": None,
        "move_pct": None,
        "rate": None,
        "confidence": 0.9,
    }
    out.update(fields)
    return out


def flash_crash(n_credible: int = 4, base_id: int = 1000) -> list[dict]:
    """An index down ~3 % per ``n_credible`` credible sources; a low-credibility source says -10 % first."""
    items = [
        item(
            base_id,
            "stocktwits.com",
            0,
            "macro",
            "S&P 500 collapses 10% in panic crash",
            ["SPX"],
            move_pct=-10.0,
            confidence=0.4,
        )
    ]
    moves = (-3.0, -2.9, -3.1, -3.0, -3.05, -2.95, -3.0)
    for k in range(n_credible):
        items.append(
            item(
                base_id + 1 + k,
                CREDIBLE[k],
                (k + 1) * 50 * MS,
                "macro",
                "S&P 500 falls 3% as selloff deepens",
                ["SPX"],
                move_pct=moves[k],
            )
        )
    return items


def earnings_beat(
    credible_eps: tuple[float, ...] = (3.14, 3.14, 3.13),
    expected: float = 2.89,
    outlier_eps: float | None = 4.20,
    base_id: int = 2000,
) -> list[dict]:
    """AAPL earnings confirmed by credible sources; a low-credibility blog claims ``outlier_eps``."""
    items = []
    dt = 0
    for k, eps in enumerate(credible_eps):
        items.append(
            item(
                base_id + k,
                CREDIBLE[k],
                dt,
                "earnings",
                "Apple beats estimates with strong iPhone sales",
                ["AAPL"],
                eps_actual=eps,
                eps_expected=expected,
                evidence_type="primary",
            )
        )
        dt += 40 * MS
        if k == 0 and outlier_eps is not None:
            items.append(
                item(
                    base_id + 50,
                    "pennystocks.blog",
                    dt,
                    "earnings",
                    "Apple smashes estimates, record blowout quarter",
                    ["AAPL"],
                    eps_actual=outlier_eps,
                    eps_expected=expected,
                    confidence=0.3,
                )
            )
            dt += 40 * MS
    return items


def supply_disruption(n_credible: int = 4, base_id: int = 3000) -> list[dict]:
    """A supply disruption at NVDA from ``n_credible`` sources with credibility > 70 plus two weaker ones."""
    items = [
        item(
            base_id,
            "twitter.com",
            0,
            "supply_disruption",
            "NVDA supplier fab fire, shortage feared",
            ["NVDA"],
            confidence=0.3,
        ),
        item(
            base_id + 1,
            "zerohedge.com",
            30 * MS,
            "supply_disruption",
            "Chip shortage looms after fab fire disrupts NVDA supply",
            ["NVDA"],
            confidence=0.5,
        ),
    ]
    for k in range(n_credible):
        items.append(
            item(
                base_id + 2 + k,
                CREDIBLE[k],
                (k + 2) * 60 * MS,
                "supply_disruption",
                "Fire at supplier plant disrupts Nvidia chip supply",
                ["NVDA"],
            )
        )
    return items


def central_bank_quote(n_valid: int = 2, base_id: int = 4000) -> list[dict]:
    """Direct quotes of a rate decision (5.50 %). The first ``n_valid`` of (federalreserve.gov, reuters.com,
    apnews.com) are valid; the invalid ones: a quote from a source at credibility 80 (not > 80), a report
    without the direct-quote flag, and a direct quote published 10 s before the first report (stale)."""
    valid = ("federalreserve.gov", "reuters.com", "apnews.com")
    head = "Fed Chair: rates will remain at 5.50% to restrain inflation"
    items = []
    for k in range(n_valid):
        items.append(
            item(
                base_id + k,
                valid[k],
                k * 100 * MS,
                "central_bank_quote",
                head,
                [],
                rate=5.50,
                flags=["direct_quote"],
                evidence_type="primary",
            )
        )
    dt = n_valid * 100 * MS
    items.append(
        item(
            base_id + 10,
            "marketwatch.com",
            dt + 10 * MS,
            "central_bank_quote",
            head,
            [],
            rate=5.50,
            flags=["direct_quote"],
        )
    )
    items.append(item(base_id + 11, "bloomberg.com", dt + 20 * MS, "central_bank_quote", head, [], rate=5.50))
    items.append(
        item(
            base_id + 12,
            "cnbc.com",
            -10 * SEC,
            "central_bank_quote",
            head,
            [],
            rate=5.50,
            flags=["direct_quote"],
        )
    )
    return items


def rumor_storm(
    n_social: int = 30, n_blog: int = 10, n_mainstream: int = 10, base_id: int = 5000
) -> list[dict]:
    """A takeover rumor about META: social and blog chatter plus mainstream outlets reporting it verified."""
    items = []
    srcs = (
        [SOCIAL[k % 3] for k in range(n_social)]
        + [BLOGS[k % 3] for k in range(n_blog)]
        + [MAINSTREAM[k % 5] for k in range(n_mainstream)]
    )
    # interleave so the verified share is not front- or back-loaded
    order = sorted(range(len(srcs)), key=lambda k: (k * 7919) % len(srcs))
    for j, k in enumerate(order):
        items.append(
            item(
                base_id + j,
                srcs[k],
                j * 20 * MS,
                "rumor",
                "Report: Meta said to explore takeover bid",
                ["META"],
                confidence=0.5,
            )
        )
    return items


SCENARIOS = {
    "1-flash-crash": flash_crash,
    "2-earnings-beat": earnings_beat,
    "3-supply-disruption": supply_disruption,
    "4-central-bank-quote": central_bank_quote,
    "5-rumor-storm": rumor_storm,
}


def lines(items: list[dict]) -> list[str]:
    return [json.dumps(x) for x in items]


def write_all(directory: str | Path) -> None:
    d = Path(directory)
    for name, build in SCENARIOS.items():
        (d / f"{name}.jsonl").write_text("\n".join(lines(build())) + "\n")


if __name__ == "__main__":  # regenerate the committed files: python -m tests.scenarios.builders
    from cns.resources import shipped_scenarios

    write_all(shipped_scenarios())
