from __future__ import annotations

import msgspec

from cns.cli import main
from cns.news import read_binary, read_jsonl

from .conftest import line


def test_convert_jsonl_to_binary_with_rejects_then_back(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join([line(id=1), "not json", line(id=3, type="weather"), line(id=4)]) + "\n")
    rc = main(["news", "convert", str(src), str(tmp_path / "out.cnsb")])
    out = capsys.readouterr().out
    assert rc == 1 and "converted 2 items" in out and "2 rejected" in out
    rej = [msgspec.json.decode(x) for x in (tmp_path / "out.cnsb.rejects.jsonl").read_bytes().splitlines()]
    assert [(r["line"], r["reason"].split(":")[0]) for r in rej] == [(2, "bad_json"), (3, "unknown_kind")]
    assert list(read_binary(tmp_path / "out.cnsb").records["id"]) == [1, 4]

    rc = main(
        [
            "news",
            "convert",
            str(tmp_path / "out.cnsb"),
            str(tmp_path / "back.jsonl"),
            "--rejects",
            str(tmp_path / "r2.jsonl"),
        ]
    )
    assert rc == 0 and not (tmp_path / "r2.jsonl").exists()
    assert list(read_jsonl(tmp_path / "back.jsonl").records["id"]) == [1, 4]


def test_convert_failures_exit_2(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text(line() + "\n")
    assert main(["news", "convert", str(src), str(tmp_path / "out.txt")]) == 2
    assert main(["news", "convert", str(src), str(tmp_path / "out.jsonl")]) == 2
    assert main(["news", "convert", str(tmp_path / "missing.jsonl"), str(tmp_path / "o.cnsb")]) == 2
    bad = tmp_path / "bad.cnsb"
    bad.write_bytes(b"CNSNEWS\x00garbage")
    assert main(["news", "convert", str(bad), str(tmp_path / "o.jsonl")]) == 2
    assert "cns news convert:" in capsys.readouterr().err
