"""The warm-up world (cns.replay.warm): the desk's market cut to its first seconds, every array type kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from cns.replay.driver import ReplayOptions, prepare
from cns.replay.warm import WARM_SPAN_NS, warm_records, warm_span_ns, warm_world


@pytest.mark.timeout(600)
def test_warm_world_cuts_the_market_not_the_types(tmp_path: Path) -> None:
    opts = ReplayOptions(events=4000, seconds=3.0, seed=3, progress=False, cache_dir=str(tmp_path))
    prep = prepare(opts)
    desk = prep.desk_cfg
    small = warm_world(prep, span_ns=1_000_000_000)
    cut = small.desk_cfg
    assert cut.start_ns == desk.start_ns and cut.end_ns == desk.start_ns + 1_000_000_000
    assert desk.reports is not None and cut.reports is not None
    assert 0 < len(cut.reports) < len(desk.reports)
    assert int(cut.reports["t_ns"].max()) <= cut.end_ns
    assert 0 < len(cut.stories) < len(desk.stories)
    for a, b in ((cut.reports, desk.reports), (cut.stories, desk.stories)):
        assert a.dtype == b.dtype and a.flags.c_contiguous and a.flags.writeable == b.flags.writeable
    assert small.news is prep.news and small.validator is prep.validator and small.cfg is prep.cfg
    assert warm_world(prep).desk_cfg.end_ns == min(desk.end_ns, desk.start_ns + warm_span_ns(prep))
    assert warm_span_ns(prep) == prep.cfg.signal.hold_ns + WARM_SPAN_NS
    assert warm_world(prep, span_ns=10**15).desk_cfg.end_ns == desk.end_ns  # never past the run's end
    assert 1 <= warm_records(prep) <= prep.news.layout.n_records
    with pytest.raises(ValueError, match="span_ns"):
        warm_world(prep, span_ns=0)
