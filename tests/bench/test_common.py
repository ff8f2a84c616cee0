"""cns.bench.common: the helpers every benchmark shares."""

from __future__ import annotations

import json
import math

import numpy as np

from cns.bench.common import cpu_model, fmt_ns, fmt_rate, machine, percentiles_ns, print_table, write_json


def test_machine_facts() -> None:
    assert cpu_model()
    m = machine()
    assert m["cpu"] == cpu_model() and m["logical_cpus"] >= 1 and m["python"].startswith("3.")


def test_percentiles_ns() -> None:
    p = percentiles_ns(np.arange(1, 1001, dtype=np.int64))
    assert p == {"p50": 501.0, "p99": 991.0, "p999": 1000.0, "max": 1000.0, "mean": 500.5, "count": 1000}
    empty = percentiles_ns(np.array([], dtype=np.int64))
    assert empty["count"] == 0 and math.isnan(empty["p50"])


def test_table_and_json(tmp_path, capsys) -> None:
    text = print_table("T", [{"a": 1, "b": 2.5}, {"a": "x", "c": None}])
    assert capsys.readouterr().out.strip() == text.strip()
    assert "n/a" in text and text.splitlines()[1].split() == ["a", "b", "c"]
    p = write_json(tmp_path / "d" / "r.json", {"n": np.int64(3), "x": float("nan"), "a": np.arange(2)})
    assert json.loads(p.read_text()) == {"n": 3, "x": None, "a": [0, 1]}
    assert fmt_ns(1500) == "1.50 µs" and fmt_rate(3.2e6) == "3.20 M/s" and fmt_ns(None) == "n/a"
