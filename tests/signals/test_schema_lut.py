"""Schema registry bindings and per-dictionary-entry lookup tables."""

from __future__ import annotations

import numpy as np
import pytest

from cns.signals.dtypes import NEWS_DTYPE
from cns.signals.errors import SchemaError
from cns.signals.lut import build_lut, extend_lut, string_check
from cns.signals.schema import CNS, REGISTRY, FieldBinding, RecordSchema, SchemaRegistry


def test_news_schema_is_registered_by_name_and_dtype() -> None:
    s = REGISTRY.get("news")
    assert REGISTRY.get(NEWS_DTYPE) is s
    assert s.binding(str(CNS.publishedAt)).field == "publish_ns"
    assert s.binding(str(CNS.credibility)).table == "credibility"
    with pytest.raises(SchemaError, match="not bound"):
        s.binding(str(CNS.nothing))


def test_registry_rejects_inconsistent_bindings() -> None:
    dt = np.dtype([("x", np.int64)])
    with pytest.raises(SchemaError, match="field 'y' is not in the dtype"):
        RecordSchema("t", dt, {"p": FieldBinding("p", "y", "number")}, {})
    with pytest.raises(SchemaError, match="needs a dictionary"):
        RecordSchema("t", dt, {"p": FieldBinding("p", "x", "code")}, {})
    reg = SchemaRegistry()
    reg.register(RecordSchema("t", dt, {"p": FieldBinding("p", "x", "number")}, {}))
    assert reg.get(dt).name == "t" and reg.names() == ["t"]
    with pytest.raises(SchemaError, match="no record schema named"):
        reg.get("missing")


def test_lut_evaluates_each_string_once_and_extends_only_new_entries() -> None:
    seen: list[str] = []

    def counting(s: str) -> bool:
        seen.append(s)
        return s.endswith(".com")

    checks = [(3, counting), string_check(4, max_length=8)]
    strings = ["", "a.com", "b.org", "verylongname.com"]
    lut = build_lut(strings, checks)
    assert lut.dtype == np.uint16 and list(lut) == [0, 0, 3, 4]
    assert seen == ["a.com", "b.org", "verylongname.com"]
    seen.clear()
    lut2 = extend_lut(lut, [*strings, "c.com"], checks)
    assert list(lut2) == [0, 0, 3, 4, 0] and seen == ["c.com"]


def test_string_checks() -> None:
    assert string_check(1, pattern="^[A-Z]+$")[1]("AAPL")
    assert not string_check(1, pattern="^[A-Z]+$")[1]("aapl")
    assert string_check(1, pattern="^[a-z]+$", flags="i")[1]("AAPL")
    assert string_check(1, allowed=["x", "y"])[1]("y") and not string_check(1, min_length=3)[1]("ab")
