from __future__ import annotations

import math

import pytest

from cns.signals.universe import DEFAULT_SOURCES, source_dictionary
from cns.trading import ConfigError, TradingConfig, UnknownConfigKeyError, config_from_dict, load_config
from cns.trading.credibility import CredibilityTable


def test_defaults_without_a_file():
    cfg = load_config(None)
    assert cfg == TradingConfig()
    assert dict(cfg.credibility.sources)["reuters.com"] == 95.0
    assert math.isnan(cfg.corroboration.rate_expectation_pct)


def test_toml_overrides_and_merges(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(
        "[corroboration]\nmin_agreeing = 4\nwindow_ns = 500_000_000\n"
        '[credibility.sources]\n"reuters.com" = 50\n"newwire.io" = 88\n'
        '[credibility.categories]\n"newwire.io" = "wire"\n'
        '[risk]\nrestricted = ["TSLA"]\ndisabled_checks = ["rate"]\ncollar_bps = 25\n'
    )
    cfg = load_config(p)
    assert cfg.corroboration.min_agreeing == 4 and cfg.corroboration.window_ns == 500_000_000
    scores = dict(cfg.credibility.sources)
    assert scores["reuters.com"] == 50.0 and scores["newwire.io"] == 88.0 and scores["wsj.com"] == 90.0
    assert cfg.risk.restricted == ("TSLA",) and cfg.risk.disabled_checks == ("rate",)
    assert cfg.risk.collar_bps == 25.0 and isinstance(cfg.risk.collar_bps, float)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[risk]\nmax_qty = 5\n", "risk.max_qty"),
        ("[signals]\nx = 1\n", "signals"),
        ("[corroboration]\nwindow = 1\n", "corroboration.window"),
        ("[credibility]\nfoo = 1\n", "credibility.foo"),
    ],
)
def test_unknown_keys_are_rejected_by_name(tmp_path, text, key):
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(UnknownConfigKeyError) as e:
        load_config(p)
    assert e.value.key == key and key in str(e.value) and str(p) in str(e.value)


@pytest.mark.parametrize(
    "data",
    [
        {"risk": {"max_order_qty": "ten"}},
        {"risk": {"max_order_qty": 1.5}},
        {"risk": {"disabled_checks": ["nope"]}},
        {"corroboration": {"window_ns": 0}},
        {"corroboration": {"rumor_ignore_below_pct": 40.0}},
        {"credibility": {"sources": {"x.com": 120}}},
        {"credibility": {"categories": {"x.com": "tabloid"}}},
        {"signal": {"notional_usd": -1.0}},
    ],
)
def test_bad_values_raise_config_error(data):
    with pytest.raises(ConfigError):
        config_from_dict(data)


def test_bad_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[risk\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_credibility_table_is_indexed_by_dictionary_code():
    d = source_dictionary()
    d.intern("unknown.example")
    cfg = config_from_dict({"credibility": {"unknown_score": 5.0}})
    t = CredibilityTable.for_dictionary(d, cfg.credibility)
    assert len(t) == len(DEFAULT_SOURCES) + 2
    for s in DEFAULT_SOURCES:
        assert t.score(d.code(s.domain)) == s.credibility
    assert t.score(d.code("unknown.example")) == 5.0 and t.score(0) == 5.0
    mask = t.category_mask(("wire",))
    assert mask[d.code("reuters.com")] == 1 and mask[d.code("wsj.com")] == 0
