"""The replay's data cache: one private location, verified on load (a truncated or corrupt file is regenerated,
never a traceback on every later run), written atomically, and a re-run reports the same quarantine."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import msgspec
import numpy as np
import pytest

from cns.cachedir import CacheDirError
from cns.errors import CNSError
from cns.market.newsgen import load_or_generate
from cns.replay.data import prepare_news
from cns.replay.driver import ReplayOptions
from cns.venue.errors import VenueError

SEC = 1_000_000_000
T0 = 1_767_623_400 * SEC


def _item(i: int, t: int, **over: object) -> bytes:
    d: dict[str, object] = {
        "id": i,
        "source": "reuters.com",
        "publish_ns": t - 1000,
        "receive_ns": t,
        "tickers": ["AAPL"],
        "type": "earnings",
        "headline": "Apple beats estimates",
        "confidence": 0.9,
        "eps_actual": 2.0,
        "eps_expected": 1.5,
    }
    d.update(over)
    return msgspec.json.encode(d)


def _user_file(tmp_path: Path) -> Path:
    lines = [
        _item(1, T0),
        b"not json",
        _item(2, T0 + SEC, type="weather"),
        _item(3, T0 + 2 * SEC),
        _item(4, T0 + 3 * SEC, source="s" * 70_000),
        _item(5, T0 + 4 * SEC, receive_ns=2**63 - 1),
    ]
    p = tmp_path / "news.jsonl"
    p.write_bytes(b"\n".join(lines) + b"\n")
    return p


def _opts(tmp_path: Path, **kw: object) -> ReplayOptions:
    kw.setdefault("cache_dir", str(tmp_path / "cache"))
    return ReplayOptions(out_dir=str(tmp_path / "out"), progress=False, **kw)  # type: ignore[arg-type]


def test_cache_dir_defaults_to_the_private_data_dir(tmp_path, monkeypatch):
    assert ReplayOptions().cache_dir is None
    monkeypatch.setenv("CNS_CACHE_DIR", str(tmp_path / "root"))
    monkeypatch.chdir(tmp_path)
    news = prepare_news(
        ReplayOptions(events=2000, seconds=2.0, out_dir=str(tmp_path / "out"), progress=False)
    )
    data = tmp_path / "root" / "data"
    assert news.path.parent == data and stat.S_IMODE(data.stat().st_mode) == 0o700
    assert not (tmp_path / ".cache").exists()
    g = load_or_generate(1000, 1.0, 3)
    assert not g.from_cache and any(p.name.startswith("news-") for p in data.iterdir())


def test_unsafe_default_cache_dir_is_refused(tmp_path, monkeypatch):
    root = tmp_path / "root"
    root.mkdir()
    os.chmod(root, 0o777)
    monkeypatch.setenv("CNS_CACHE_DIR", str(root))
    with pytest.raises(CacheDirError):
        prepare_news(ReplayOptions(events=2000, seconds=2.0, out_dir=str(tmp_path / "out"), progress=False))


def test_rerun_reports_the_same_quarantine(tmp_path):
    opts = _opts(tmp_path, news_path=str(_user_file(tmp_path)))
    first = prepare_news(opts)
    rej_file = tmp_path / "out" / "rejects.jsonl"
    rejects = rej_file.read_bytes()
    assert not first.from_cache and sum(first.input_rejects.values()) == 4
    assert first.input_rejects == {"bad_json": 1, "unknown_kind": 1, "bad_length": 1, "time_range": 1}
    rej_file.unlink()
    second = prepare_news(opts)
    assert second.from_cache and second.input_rejects == first.input_rejects
    assert rej_file.read_bytes() == rejects
    assert second.layout.n_records == first.layout.n_records == 2
    assert second.input_reject_list == first.input_reject_list and [
        r.line for r in first.input_reject_list
    ] == [2, 3, 5, 6]


def _cache_file(tmp_path: Path, prefix: str, suffix: str) -> Path:
    (p,) = [
        p for p in (tmp_path / "cache").iterdir() if p.name.startswith(prefix) and p.name.endswith(suffix)
    ]
    return p


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "delete_rejects", "garbage_rejects"])
def test_damaged_converted_cache_is_regenerated(tmp_path, damage):
    opts = _opts(tmp_path, news_path=str(_user_file(tmp_path)))
    first = prepare_news(opts)
    del first
    conv = _cache_file(tmp_path, "user-", ".cnsb")
    rej = _cache_file(tmp_path, "user-", ".rejects.jsonl")
    data = conv.read_bytes()
    if damage == "truncate":
        conv.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        conv.write_bytes(data[:-3] + bytes([data[-3] ^ 0xFF]) + data[-2:])  # same size, header intact
    elif damage == "empty":
        conv.write_bytes(b"")
    elif damage == "delete_rejects":
        rej.unlink()
    else:
        rej.write_bytes(b"\x00garbage")
    again = prepare_news(opts)
    assert not again.from_cache
    assert again.layout.n_records == 2 and sum(again.input_rejects.values()) == 4
    assert prepare_news(opts).from_cache  # repaired


@pytest.mark.parametrize(
    ("prefix", "suffix", "damage"),
    [
        ("news-", ".cnsb", "truncate"),
        ("news-", ".cnsb", "flip"),
        ("stories-", ".npy", "truncate"),
        ("stories-", ".npy", "empty"),
        ("story_of-", ".npy", "truncate"),
        ("world-", ".json", "garbage"),
    ],
)
def test_damaged_generated_world_is_regenerated(tmp_path, prefix, suffix, damage):
    opts = _opts(tmp_path, events=3000, seconds=2.0, seed=5)
    first = prepare_news(opts)
    n, stories = first.layout.n_records, first.stories.copy()
    del first
    p = _cache_file(tmp_path, prefix, suffix)
    data = p.read_bytes()
    p.write_bytes(
        {
            "truncate": data[: len(data) // 2],
            "empty": b"",
            "garbage": b"{not json",
            "flip": data[:-3] + bytes([data[-3] ^ 0xFF]) + data[-2:],
        }[damage]
    )
    again = prepare_news(opts)
    assert not again.from_cache and again.layout.n_records == n and np.array_equal(again.stories, stories)
    assert prepare_news(opts).from_cache
    g = load_or_generate(3000, 2.0, 5, cache_dir=tmp_path / "cache")
    assert g.from_cache and len(g.batch) == n


def test_load_or_generate_survives_a_truncated_cache(tmp_path):
    load_or_generate(2000, 1.0, 1, cache_dir=tmp_path)
    (p,) = tmp_path.glob("news-*.cnsb")
    p.write_bytes(p.read_bytes()[:100])
    g = load_or_generate(2000, 1.0, 1, cache_dir=tmp_path)
    assert not g.from_cache and len(g.batch) == 2000
    assert load_or_generate(2000, 1.0, 1, cache_dir=tmp_path).from_cache


def test_a_failed_write_leaves_no_partial_cache(tmp_path, monkeypatch):
    def boom(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)  # the disk fills up while the cache is written
    with pytest.raises(OSError):
        prepare_news(_opts(tmp_path, events=2000, seconds=1.0))
    left = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert not any(name.startswith("news-") or ".tmp" in name for name in left), left
    monkeypatch.undo()
    assert not prepare_news(_opts(tmp_path, events=2000, seconds=1.0)).from_cache


def test_replay_time_span_follows_the_data(tmp_path):
    p = tmp_path / "n.jsonl"
    p.write_bytes(b"\n".join([_item(1, T0 + 5 * SEC), _item(2, T0), _item(3, T0 + 9 * SEC)]) + b"\n")
    news = prepare_news(_opts(tmp_path, news_path=str(p)))
    assert news.start_ns == T0 and news.end_ns == T0 + 9 * SEC


def test_absurd_replay_span_is_refused_before_running(tmp_path):
    p = tmp_path / "n.jsonl"
    p.write_bytes(b"\n".join([_item(1, T0), _item(2, 4_000_000_000 * SEC)]) + b"\n")  # 2096
    with pytest.raises(VenueError, match="span"):
        prepare_news(_opts(tmp_path, news_path=str(p)))
    for seconds in (float("nan"), float("inf"), 1e12):  # ReplayOptions may refuse the first two itself
        with pytest.raises(CNSError, match="seconds"):
            prepare_news(_opts(tmp_path, events=100, seconds=seconds))
    with pytest.raises(VenueError, match="seconds"):
        prepare_news(_opts(tmp_path, events=100, seconds=1e8))  # 3.2 years: more than the simulator's span


@pytest.mark.parametrize("content", [b"", b"garbage\n\n", b"\xff\xfe\n" + _item(1, 2**63 - 1)])
def test_news_with_nothing_to_replay_is_refused_in_one_line(tmp_path, content):
    from cns.news.errors import NewsError

    p = tmp_path / "n.jsonl"
    p.write_bytes(content)
    with pytest.raises(NewsError, match="no item to replay") as e:
        prepare_news(_opts(tmp_path, news_path=str(p)))
    assert "\n" not in str(e.value)
