from __future__ import annotations

import pytest

from cns.bench.trading import main, run


@pytest.mark.smoke
def test_trading_bench_runs_small_and_reports_every_kernel(tmp_path, capsys):
    rep = run(n_news=4000, batch=1000)
    names = [r["kernel"] for r in rep["results"]]
    assert names == ["corroborate", "signal", "risk (+ OMS register)", "oms apply execs (+ portfolio)"]
    for r in rep["results"]:
        assert (
            r["records"] > 0
            and r["ns_per_record_mean"] > 0
            and r["ns_per_record_max"] >= r["ns_per_record_p50"]
        )
    assert rep["corroboration"]["records"] == 4000
    out = tmp_path / "b.json"
    assert main(["--news", "2000", "--batch", "500", "--json", str(out)]) == 0
    assert out.exists() and "corroborate" in capsys.readouterr().out
