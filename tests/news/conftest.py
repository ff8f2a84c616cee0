from __future__ import annotations

import msgspec
import pytest


def item(**over: object) -> dict[str, object]:
    d: dict[str, object] = {
        "id": 17,
        "source": "reuters.com",
        "publish_ns": 1_700_000_000_000_000_000,
        "receive_ns": 1_700_000_000_000_500_000,
        "event_ns": 1_699_999_999_000_000_000,
        "tickers": ["AAPL"],
        "type": "earnings",
        "headline": "Apple beats estimates as profit surpasses forecasts",
        "eps_actual": 3.14,
        "eps_expected": 2.89,
        "move_pct": None,
        "rate": None,
        "confidence": 0.9,
        "evidence_hash": "ab" * 32,
        "evidence_type": "primary",
        "data_source": "bls.gov",
        "flags": ["statistical"],
    }
    d.update(over)
    return d


def line(**over: object) -> str:
    return msgspec.json.encode(item(**over)).decode()


@pytest.fixture(scope="session")
def small_world():
    from cns.market.newsgen import generate_news

    return generate_news(3000, 5.0, 11)
