"""``cns serve`` configuration: every refusal names the key (or variable), credentials never show."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cns.serve.config import load_serve_config, serve_config_from_dict
from cns.serve.errors import ServeConfigError, ServeError

from .helpers import serve_dict

SHIPPED = Path(__file__).resolve().parents[2] / "src" / "cns" / "shipped" / "serve.toml"


def test_a_good_config_has_its_values_and_hides_credentials() -> None:
    cfg = serve_config_from_dict(serve_dict(7400, fix_port=9878, md_port=9879))
    assert cfg.shard == "t" and cfg.feeds[0].port == 7400 and cfg.fix[0].port == 9878
    assert cfg.market_data is not None and cfg.market_data.port == 9879
    assert cfg.route() == {s: "venue1" for s in cfg.symbols}
    for text in (repr(cfg), repr(cfg.fix[0])):
        assert "CNSTEST" not in text and "pw-test" not in text


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda d: d["serve"].update(bogus=1), "serve.bogus"),
        (lambda d: d["feeds"][0].update(port=70000), "feeds[0].port"),
        (lambda d: d["feeds"][0].update(transport="udp"), "feeds[0].transport"),
        (lambda d: d.update(instruments=[]), "instruments"),
        (lambda d: d["instruments"].append({"symbol": "AAPL", "price": 1.0}), "instruments"),
        (lambda d: d["instruments"][0].update(price=float("nan")), "instruments[0].price"),
        (lambda d: d["fix"][0].update(instruments=["NOPE"]), "fix[0].instruments"),
        (lambda d: d.update(risk={"max_order_qty": -5}), "risk.max_order_qty"),
        (lambda d: d["serve"].update(order_sink="carrier-pigeon"), "serve.order_sink"),
    ],
)
def test_a_bad_value_is_refused_naming_the_key(mutate, key) -> None:  # type: ignore[no-untyped-def]
    d = serve_dict(7400, fix_port=9878)
    mutate(d)
    with pytest.raises(ServeError, match=key.replace("[", r"\[").replace("]", r"\]")):
        serve_config_from_dict(d)


def test_a_missing_credential_names_the_variable_not_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    d = serve_dict(7400, fix_port=9878)
    del d["fix"][0]["sender_comp_id"]
    d["fix"][0]["sender_comp_id_env"] = "CNS_TEST_NOT_SET_ANYWHERE"
    monkeypatch.delenv("CNS_TEST_NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(ServeConfigError, match="CNS_TEST_NOT_SET_ANYWHERE is not set"):
        serve_config_from_dict(d)
    monkeypatch.setenv("CNS_TEST_NOT_SET_ANYWHERE", "SECRETCOMP")
    cfg = serve_config_from_dict(d)
    assert cfg.fix[0].sender_comp_id == "SECRETCOMP" and "SECRETCOMP" not in repr(cfg.fix[0])


def test_the_shipped_example_config_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CNS_CLIENT_COMP_ID", "CNS_VENUE_COMP_ID"):
        monkeypatch.setenv(var, "X" + var[-7:-3])
    cfg = load_serve_config(SHIPPED)
    assert cfg.feeds and cfg.fix and cfg.instruments and cfg.market_data is not None


def _cns(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cns", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    "content, needle",
    [
        ("[serve]\nshard = 'a'\nnot_a_key = 3\n", "serve.not_a_key"),
        ("this is = = not toml", "not valid TOML"),
        ("[serve]\nshard = 'a'\n", "instruments"),
    ],
)
def test_cli_bad_config_exits_2_with_one_line(tmp_path: Path, content: str, needle: str) -> None:
    p = tmp_path / "serve.toml"
    p.write_text(content)
    r = _cns("serve", "--config", str(p))
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cns serve: error:") and needle in lines[0], r.stderr
    assert r.stdout == ""


def test_cli_missing_config_file_exits_2(tmp_path: Path) -> None:
    r = _cns("serve", "--config", str(tmp_path / "absent.toml"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "cannot read" in r.stderr
