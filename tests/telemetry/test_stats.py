"""One percentile helper: same keys and method everywhere."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cns.bench.common import percentiles_ns
from cns.telemetry.stats import sample_mask, summarize


def test_keys_and_higher_method() -> None:
    s = summarize(np.arange(1, 1001))
    assert list(s) == ["count", "mean", "p50", "p99", "p999", "max"]
    assert (
        s["count"] == 1000 and s["p50"] == 501 and s["p99"] == 991 and s["p999"] == 1000 and s["max"] == 1000
    )


def test_empty_is_nan_and_negative_dropped() -> None:
    s = summarize([])
    assert s["count"] == 0 and math.isnan(s["p50"])
    assert summarize([-1, -1, 5], drop_negative=True)["count"] == 1


def test_nan_refused() -> None:
    with pytest.raises(ValueError):
        summarize([1.0, math.nan])


def test_bench_alias_is_the_same_helper() -> None:
    x = np.array([3, 1, 2])
    assert percentiles_ns(x) == summarize(x)


def test_sample_mask_every_nth_and_per_group() -> None:
    assert sample_mask(5, 2).tolist() == [0, -1, 0, -1, 0]
    assert sample_mask(0, 3).dtype == np.int64 and len(sample_mask(0, 3)) == 0
    assert sample_mask(6, 2, starts=np.array([0, 3])).tolist() == [0, -1, 0, 0, -1, 0]
    with pytest.raises(ValueError):
        sample_mask(3, 0)
