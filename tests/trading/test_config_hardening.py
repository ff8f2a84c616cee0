"""Risk fails closed at load: every numeric key of the trading configuration is finite, in its documented
range and of the right type, or the load raises a ConfigError naming the key (``cns run`` exits 2)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from cns.trading import ConfigError, TradingConfig, config_from_dict, load_config
from cns.trading.config import CorroborationConfig, CredibilityConfig, RiskConfig, SignalConfig

SECTIONS = {
    "credibility": CredibilityConfig,
    "corroboration": CorroborationConfig,
    "signal": SignalConfig,
    "risk": RiskConfig,
}


def numeric_keys() -> list[tuple[str, str, object]]:
    """Every int/float key of every section (bools are not numbers here), with its default."""
    out = []
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            default = getattr(cls(), f.name)
            if isinstance(default, int | float) and not isinstance(default, bool):
                out.append((section, f.name, default))
    return out


NUMERIC = numeric_keys()
IDS = [f"{s}.{k}" for s, k, _ in NUMERIC]
NAN_MEANS_NONE = {"corroboration.rate_expectation_pct"}  # documented: NaN = take the direction from sentiment
SIGNED = {"corroboration.rate_expectation_pct"}  # a policy rate can be negative


def test_there_are_numeric_keys_in_every_section():
    assert {s for s, _, _ in NUMERIC} == set(SECTIONS)
    assert len(NUMERIC) > 40


@pytest.mark.parametrize(("section", "key", "default"), NUMERIC, ids=IDS)
@pytest.mark.parametrize("bad", [math.inf, -math.inf, -1, 10**30, 10**400, "1", True, [1]])
def test_every_numeric_key_rejects_bad_values_by_name(section, key, default, bad):
    if bad == -1 and f"{section}.{key}" in SIGNED:
        return
    with pytest.raises(ConfigError) as e:
        config_from_dict({section: {key: bad}})
    assert f"{section}.{key}" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(("section", "key", "default"), NUMERIC, ids=IDS)
def test_every_numeric_key_rejects_nan_unless_documented(section, key, default):
    if f"{section}.{key}" in NAN_MEANS_NONE:
        assert math.isnan(
            getattr(config_from_dict({section: {key: math.nan}}), section).__getattribute__(key)
        )
        return
    with pytest.raises(ConfigError, match=f"{section}.{key}"):
        config_from_dict({section: {key: math.nan}})


@pytest.mark.parametrize(("section", "key", "default"), NUMERIC, ids=IDS)
def test_every_default_is_accepted_back_from_toml(section, key, default):
    cfg = config_from_dict({section: {key: default}})
    got = getattr(getattr(cfg, section), key)
    assert got == default or (math.isnan(got) and math.isnan(default))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("collar_bps", -5.0),
        ("collar_bps", 0.0),
        ("max_gross_exposure_usd", -1.0),
        ("max_gross_exposure_usd", 0.0),
        ("daily_loss_limit_usd", -250_000.0),
        ("max_order_notional_usd", 0.0),
        ("rate_window_ns", 0),
        ("rate_window_ns", -1),
        ("duplicate_window_ns", 0),
        ("duplicate_window_ns", -5),
        ("headline_cooldown_ns", 0),
        ("headline_cooldown_ns", -1),
        ("max_ref_age_ns", 0),
        ("max_orders_per_window", 10**12),
        ("max_orders_per_window", 10_000_001),
        ("max_order_qty", 10**10),
        ("max_position", 10**13),
    ],
)
def test_risk_limits_out_of_range_are_rejected(key, value):
    with pytest.raises(ConfigError, match=f"risk.{key}"):
        config_from_dict({"risk": {key: value}})


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("signal", "min_strength", 1.5),
        ("signal", "contingency_fraction", 2.0),
        ("signal", "aggress_bps", 10_000.0),
        ("signal", "exit_aggress_bps", 10_000.0),
        ("signal", "contingency_offset_bps", 10_000.0),
        ("signal", "hold_ns", -1),
        ("signal", "notional_usd", 1e300),
        ("corroboration", "min_agreeing", 17),
        ("corroboration", "quote_min_valid", 0),
        ("corroboration", "credible_above", 101.0),
        ("corroboration", "move_tol_rel", 1.5),
        ("corroboration", "window_ns", 10**18),
        ("credibility", "unknown_score", 150.0),
    ],
)
def test_other_keys_out_of_range_are_rejected(section, key, value):
    with pytest.raises(ConfigError, match=f"{section}.{key}"):
        config_from_dict({section: {key: value}})


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("risk", "daily_loss_limit_usd", 0.0),  # stop at the first loss
        ("risk", "max_orders_per_window", 10_000_000),  # the documented maximum
        ("signal", "hold_ns", 0),  # no exits
        ("signal", "min_strength", 0.0),
        ("corroboration", "rate_expectation_pct", -0.5),  # negative policy rates exist
    ],
)
def test_documented_edges_are_accepted(section, key, value):
    assert getattr(getattr(config_from_dict({section: {key: value}}), section), key) == value


def test_huge_rate_window_is_a_config_error_not_a_memory_error(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[risk]\nmax_orders_per_window = 1_000_000_000_000\n")
    with pytest.raises(ConfigError, match="risk.max_orders_per_window") as e:
        load_config(p)
    assert str(p) in str(e.value)


def test_toml_nan_and_inf_are_rejected_with_the_file_named(tmp_path):
    p = tmp_path / "c.toml"
    for text in (
        "[risk]\ncollar_bps = nan\n",
        "[risk]\nmax_order_notional_usd = inf\n",
        "[risk]\ndaily_loss_limit_usd = -inf\n",
        "[signal]\nmin_strength = nan\n",
    ):
        p.write_text(text)
        with pytest.raises(ConfigError) as e:
            load_config(p)
        assert text.split("\n")[1].split(" ")[0] in str(e.value) and str(p) in str(e.value)


def test_credibility_source_scores_reject_nan_and_bools():
    for bad in (math.nan, math.inf, True, -1.0):
        with pytest.raises(ConfigError, match="credibility.sources.x.com"):
            config_from_dict({"credibility": {"sources": {"x.com": bad}}})


def test_programmatic_configs_are_checked_too():
    """A config built in code (not from TOML) cannot carry a NaN or out-of-range limit either."""
    with pytest.raises(ConfigError, match="risk.collar_bps"):
        dataclasses.replace(RiskConfig(), collar_bps=math.nan)
    with pytest.raises(ConfigError, match="risk.max_orders_per_window"):
        RiskConfig(max_orders_per_window=10**12)
    with pytest.raises(ConfigError, match="signal.notional_usd"):
        SignalConfig(notional_usd=math.inf)
    with pytest.raises(ConfigError, match="risk.max_order_qty"):
        RiskConfig(max_order_qty=True)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="corroboration.rumor_ignore_below_pct"):
        CorroborationConfig(rumor_ignore_below_pct=50.0, rumor_monitor_below_pct=40.0)
    with pytest.raises(ConfigError, match="risk.disabled_checks"):
        RiskConfig(disabled_checks=("nope",))
    assert RiskConfig(collar_bps=25).collar_bps == 25.0 and isinstance(
        RiskConfig(collar_bps=25).collar_bps, float
    )
    assert TradingConfig() == load_config(None)


def test_cluster_source_cap_matches_the_kernel():
    from cns.trading.config import MAX_CLUSTER_SOURCES as CFG_CAP
    from cns.trading.corroborate_kernels import MAX_CLUSTER_SOURCES

    assert CFG_CAP == MAX_CLUSTER_SOURCES


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[risk]\ncollar_bps = nan\n", "risk.collar_bps"),
        ("[risk]\nmax_order_notional_usd = inf\n", "risk.max_order_notional_usd"),
        ("[risk]\nmax_orders_per_window = 1_000_000_000_000\n", "risk.max_orders_per_window"),
        ("[risk]\nheadline_cooldown_ns = 0\n", "risk.headline_cooldown_ns"),
        ('[signal]\nhold_ns = "2s"\n', "signal.hold_ns"),
    ],
)
def test_cns_run_with_a_bad_config_exits_2_with_one_line_naming_the_key(
    tmp_path, monkeypatch, capsys, text, key
):
    """``cns run --config bad.toml``: exit 2, one stderr line naming the key, no traceback, and no heavy work
    (the config is refused before any news is generated or loaded)."""
    from cns.cli import main
    from cns.replay import driver

    def no_news(*_a: object, **_k: object) -> None:
        raise AssertionError("news prepared before the config was checked")

    monkeypatch.setattr(driver, "prepare_news", no_news)
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    rc = main(
        [
            "run",
            "--events",
            "1000",
            "--seconds",
            "1",
            "--config",
            str(bad),
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
            "--no-slow-baseline",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2
    assert key in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
