"""Record codegen: artifact round trip and cache, optimiser passes, refusals with locations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cns.engine import NewsValidator
from cns.resources import shipped_rules
from cns.rules import UnsupportedComponent, load_shapes
from cns.rules.codegen import compile_artifact, compile_shapes_file, load_artifact
from cns.rules.errors import RuleError
from cns.rules.record import bind_record
from cns.signals.dtypes import FLAG_HAS_EVIDENCE, KIND_EARNINGS, KIND_RUMOR
from cns.signals.schema import news_schema
from cns.signals.synth import extended_news_inputs, synth_news

PREFIX = """@prefix cns: <https://w3id.org/cns/ns#> . @prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""
SMALL = (
    PREFIX
    + """
cns:E a sh:NodeShape ; sh:targetClass cns:EarningsReport ;
  sh:property [ sh:path cns:epsActual ; sh:minCount 1 ; sh:maxCount 1 ; sh:datatype xsd:double ] .
cns:K a sh:NodeShape ; sh:targetClass cns:Article ;
  sh:property [ sh:path cns:eventType ; sh:in ( "earnings" "rumor" ) ] .
cns:Dead a sh:NodeShape ; sh:targetClass cns:Podcast ; sh:property [ sh:path cns:rate ; sh:minCount 1 ] .
cns:Off a sh:NodeShape ; sh:targetClass cns:Article ; sh:deactivated true ;
  sh:property [ sh:path cns:rate ; sh:minCount 1 ] .
cns:Beat a sh:NodeShape ; sh:targetClass cns:Heartbeat ; sh:property [ sh:path cns:rate ; sh:minCount 1 ] .
cns:H a sh:NodeShape ; sh:targetClass cns:Evidence ;
  sh:property [ sh:path cns:evidenceHash ; sh:pattern "^[0-9]{64}$" ] .
"""
)


def test_optimiser_passes_on_the_record_binding(tmp_path: Path) -> None:
    p = tmp_path / "small.ttl"
    p.write_text(SMALL)
    plan = bind_record(load_shapes(p), news_schema())
    notes = "\n".join(plan.notes)
    assert "cns:Off" in notes and "cns:Dead" in notes and "cns:Beat" in notes  # deactivated / dead / elided
    assert "sh:maxCount 1 on scalar eps_actual folded" in notes
    assert "sh:datatype on eps_actual proven by the dtype" in notes
    static = [c for c in plan.checks if c.static]
    assert len(static) == 1 and "kind" in static[0].cond  # the event-type list is hoisted to ingress
    shapes = {ci.shape for ci in plan.constraints}
    assert not any(s.startswith(("cns:Off", "cns:Dead", "cns:Beat")) for s in shapes)


def test_constant_handlers_and_digest_alphabet(tmp_path: Path) -> None:
    p = tmp_path / "small.ttl"
    p.write_text(SMALL)
    dicts, tables, _ = extended_news_inputs()
    v = NewsValidator.load(p, cache_dir=tmp_path / "k", dictionaries=dicts, tables=tables)
    hmap = v.artifact.meta["handlers"]
    assert KIND_RUMOR not in hmap["constant"]  # the evidence check applies to every kind...
    b = synth_news(3, dicts, mix={"heartbeat": 0, "test": 0, "zero_confidence": 0, "invalid": 0})
    b["kind"] = KIND_RUMOR
    b["flags"] = FLAG_HAS_EVIDENCE
    b["evidence_hash"] = 0x11  # hex "11..." only decimal digits: passes ^[0-9]{64}$
    b["evidence_hash"][1, 5] = 0x1A  # an 'a' nibble: fails
    b["kind"][2] = KIND_EARNINGS
    b["eps_actual"][2] = np.nan
    verdict, code = np.empty(3, np.uint8), np.empty(3, np.uint16)
    v.process(b, verdict, code)
    assert list(verdict) == [0, 1, 1]
    assert v.explain(int(code[1])).shape.startswith("cns:H") and v.explain(int(code[2])).shape.startswith(
        "cns:E"
    )


def test_constant_handler_is_elided_at_dispatch(tmp_path: Path) -> None:
    p = tmp_path / "e.ttl"
    p.write_text(
        PREFIX
        + """cns:E a sh:NodeShape ; sh:targetClass cns:EarningsReport ;
      sh:property [ sh:path cns:epsActual ; sh:minCount 1 ] ."""
    )
    art = compile_artifact(load_shapes(p), p, tmp_path / "e.cnsk")
    meta = json.loads(art.read_text())
    assert set(meta["handlers"]["constant"]) == {0, 2, 3, 4, 5, 6, 7, 8}
    assert "constant handler, elided at dispatch" in meta["source"]


def test_unsupported_constraint_says_where(tmp_path: Path) -> None:
    p = tmp_path / "bad.ttl"
    p.write_text(
        PREFIX
        + """cns:S a sh:NodeShape ; sh:targetClass cns:Article ;
      sh:property [ sh:path cns:publishedAt ; sh:equals cns:receivedAt ] ."""
    )
    with pytest.raises(UnsupportedComponent, match=r"cns:S / sh:property\[1\].*sh:equals"):
        compile_artifact(load_shapes(p), p, tmp_path / "bad.cnsk")
    p.write_text(
        PREFIX
        + """cns:S a sh:NodeShape ; sh:targetClass cns:Evidence ;
      sh:property [ sh:path cns:evidenceHash ; sh:pattern "^(ab)+$" ] ."""
    )
    with pytest.raises(UnsupportedComponent, match="raw bytes"):
        compile_artifact(load_shapes(p), p, tmp_path / "bad.cnsk")


def test_bad_artifact_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "x.cnsk"
    f.write_text("{}")
    with pytest.raises(RuleError, match="not a CNS kernel artifact"):
        load_artifact(f, tmp_path)
    f.write_text("not json")
    with pytest.raises(RuleError, match="cannot read"):
        load_artifact(f, tmp_path)


def test_second_start_loads_the_cached_artifact(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    art, cached = compile_shapes_file(shipped_rules("news.ttl"), cache)
    assert not cached and art.path.exists()
    snippet = (
        "import sys, json; from cns.engine import NewsValidator; "
        "v = NewsValidator.load(sys.argv[2], cache_dir=sys.argv[1]); "
        "print(json.dumps([v.was_cached, v.load_seconds]))"
    )
    first = json.loads(
        subprocess.run(
            [sys.executable, "-c", snippet, str(cache), str(shipped_rules("news.ttl"))],
            capture_output=True,
            text=True,
            check=True,
            timeout=240,
        ).stdout
    )
    again = json.loads(
        subprocess.run(
            [sys.executable, "-c", snippet, str(cache), str(shipped_rules("news.ttl"))],
            capture_output=True,
            text=True,
            check=True,
            timeout=240,
        ).stdout
    )
    assert first[0] is True and again[0] is True
    assert list((cache / "__pycache__").glob("*.nbi"))  # Numba's on-disk cache of the generated kernels


def test_cns_compile_writes_a_loadable_artifact(tmp_path: Path) -> None:
    from cns.cli import main

    out = tmp_path / "news.cnsk"
    assert main(["compile", str(shipped_rules("news.ttl")), "-o", str(out)]) == 0
    art = load_artifact(out, tmp_path / "cache")
    assert art.schema.name == "news" and hasattr(art.module, "tick") and art.meta["constraints"]
