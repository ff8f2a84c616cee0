"""Calibrated credibility: Beta-Binomial posteriors from held-out worlds and labelled history, the table the
desk loads, its provenance, the cached default and the ``cns calibrate`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cns.cli import main
from cns.market.newsgen import generate_news
from cns.signals.universe import source_dictionary
from cns.trading.calibrate import (
    CalibrationError,
    calibrate,
    default_credibility,
    held_out_seeds,
    read_history,
    world_labels,
)
from cns.trading.credibility import GENERATOR_PROVENANCE, CredibilityTable
from cns.trading.errors import StateError

EVENTS = 20_000


def test_held_out_seeds_never_include_the_trading_seed_and_are_reproducible():
    s = held_out_seeds(7, 5)
    assert len(s) == len(set(s)) == 5 and 7 not in s and s == held_out_seeds(7, 5)
    assert held_out_seeds(8, 5) != s and all(0 <= x < 2**63 for x in s)
    with pytest.raises(CalibrationError):
        held_out_seeds(-1, 2)


def test_labels_follow_the_truth_known_after_the_fact():
    w = generate_news(EVENTS, 30.0, seed=11)
    src, ok = world_labels(w)
    assert src.shape == ok.shape and src.shape[0] > 5000
    rec = w.batch.records
    # a false story's reports are never correct
    so = w.story_of
    false_reports = (so >= 0) & (w.stories["is_true"][np.maximum(so, 0)] == 0) & (rec["kind"] != 0)
    assert false_reports.sum() > 0
    cred = source_dictionary().code("reuters.com")
    low = source_dictionary().code("reddit.com")
    assert ok[src == cred].mean() > 0.85 > 0.7 > ok[src == low].mean()


def test_beta_binomial_posterior_and_table():
    cal = calibrate(2, 7, events=EVENTS)
    assert cal.held_out_seeds == held_out_seeds(7, 2)
    c = cal.counts["reuters.com"]
    assert cal.reliability("reuters.com") == pytest.approx((1 + c.correct) / (2 + c.n))
    assert cal.reliability("nobody.example") == 0.5  # the prior mean
    doc = cal.to_dict()
    assert doc["format"] == "cns-credibility" and "held-out" in doc["provenance"]
    assert doc["sources"]["reuters.com"]["alpha"] == 1 + c.correct
    table = cal.table(source_dictionary())
    code = source_dictionary().code
    assert table.scores[code("reuters.com")] > 85 > 70 > table.scores[code("stocktwits.com")]
    assert table.scores[0] == 50.0 and table.provenance.startswith("calibrated")
    assert table.reliability()[code("reuters.com")] == pytest.approx(table.scores[code("reuters.com")] / 100)


def test_history_only_and_bad_lines_are_counted_not_raised(tmp_path):
    h = tmp_path / "hist.jsonl"
    h.write_bytes(
        b'{"source": "reuters.com", "correct": true}\n\n{"source": "reuters.com", "correct": 0}\n'
        b'not json\n["a"]\n{"source": "", "correct": true}\n{"source": "x.com", "correct": "yes"}\n'
        b"\xff\xfe\n" + b'{"source": "' + b"a" * 5000 + b'", "correct": true}\n'
    )
    counts, info = read_history(h)
    assert counts["reuters.com"].n == 2 and counts["reuters.com"].correct == 1
    assert (
        info["lines"] == 8
        and info["used"] == 2
        and info["rejected"] == 6
        and info["first_rejected_line"] == 4
    )
    cal = calibrate(0, 7, history=h)
    assert cal.reliability("reuters.com") == pytest.approx(0.5) and "labelled history" in cal.provenance()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("nope\n")
    with pytest.raises(CalibrationError, match="no labelled outcomes"):
        calibrate(0, 7, history=bad)
    with pytest.raises(CalibrationError, match="cannot read"):
        read_history(tmp_path / "missing.jsonl")


def test_table_from_file_and_provenance(tmp_path):
    assert CredibilityTable.for_dictionary(source_dictionary()).provenance == GENERATOR_PROVENANCE
    cal = calibrate(1, 3, events=EVENTS)
    p = tmp_path / "c.json"
    p.write_text(json.dumps(cal.to_dict()))
    sources = source_dictionary()
    sources.intern("newcomer.example")
    t = CredibilityTable.from_file(p, sources)
    assert t.scores[sources.code("newcomer.example")] == 50.0  # unrated domain: the prior mean
    assert str(p) in t.provenance and "held-out" in t.provenance
    for bad, match in (
        ("[1]", "format"),
        ("{", "not a JSON"),
        ('{"format": "cns-credibility", "sources": {"a.com": {"score": 101}}}', "0..100"),
    ):
        p.write_text(bad)
        with pytest.raises(StateError, match=match):
            CredibilityTable.from_file(p, sources)
    with pytest.raises(StateError, match="cannot read"):
        CredibilityTable.from_file(tmp_path / "none.json", sources)


def test_default_credibility_is_calibrated_and_cached(tmp_path):
    t1 = default_credibility(5, worlds=1, events=EVENTS, cache_dir=tmp_path)
    files = list(tmp_path.glob("credibility-*.json"))
    assert len(files) == 1 and "held-out" in t1.provenance and "cached" not in t1.provenance
    t2 = default_credibility(5, worlds=1, events=EVENTS, cache_dir=tmp_path)
    assert np.array_equal(t1.scores, t2.scores) and "cached" in t2.provenance
    files[0].write_text("{ damaged")
    t3 = default_credibility(5, worlds=1, events=EVENTS, cache_dir=tmp_path)  # recomputed, not raised
    assert np.array_equal(t1.scores, t3.scores)
    other = default_credibility(6, worlds=1, events=EVENTS, cache_dir=tmp_path)
    assert not np.array_equal(other.scores, t1.scores)  # another trading seed, other held-out worlds


def test_cli_writes_the_table(tmp_path, capsys):
    out = tmp_path / "sub" / "credibility.json"
    assert (
        main(["calibrate", "--worlds", "1", "--seed", "3", "--events", str(EVENTS), "--out", str(out)]) == 0
    )
    doc = json.loads(out.read_text())
    assert doc["trading_seed"] == 3 and len(doc["held_out_seeds"]) == 1 and "reuters.com" in doc["sources"]
    assert "wrote" in capsys.readouterr().out
    assert main(["calibrate", "--worlds", "0", "--out", str(out)]) == 2
    assert "no labelled outcomes" in capsys.readouterr().err
