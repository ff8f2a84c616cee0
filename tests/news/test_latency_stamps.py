"""Per-record latency stamps of the parse stage (``lat_ns=`` of parse_binary_chunk and score_records)."""

from __future__ import annotations

import numpy as np
import pytest

from cns.news import parse_binary_chunk, read_layout, write_binary
from cns.news.binary import WIRE_DTYPE, latency_stamp_params
from cns.news.sentiment import score_records
from cns.signals.dtypes import NEWS_DTYPE


@pytest.fixture(scope="module")
def image(tmp_path_factory, small_world):
    path = tmp_path_factory.mktemp("stamps") / "a.cnsb"
    write_binary(small_world.batch, path)
    raw = np.fromfile(path, np.uint8)
    return raw, read_layout(raw)


def _parse(raw, lay, lat=None):
    out = np.zeros(lay.n_records, NEWS_DTYPE)
    status = np.zeros(lay.n_records, np.uint8)
    n = parse_binary_chunk(raw, lay, 0, lay.n_records, out, status, lat_ns=lat)
    return n, out, status


def test_parse_stamps_exactly_the_sampled_output_positions(image):
    raw, lay = image
    n0, ref, st0 = _parse(raw, lay)
    lat = np.full(lay.n_records + 5, -1, np.int64)
    sampled = np.zeros(len(lat), bool)
    sampled[::3] = True
    lat[sampled] = 0
    n, out, st = _parse(raw, lay, lat)
    assert n == n0 and out.tobytes() == ref.tobytes() and np.array_equal(st, st0)  # stamping changes nothing
    assert np.all(lat[~sampled] == -1)  # untouched
    assert np.all(lat[sampled] >= 0)
    stamped = lat[: lay.n_records][sampled[: lay.n_records]]
    assert np.all(lat[lay.n_records :][sampled[lay.n_records :]] == 0)  # past n: untouched
    assert np.count_nonzero(stamped) > 0.5 * len(stamped)  # the clock moved for most records
    assert np.median(stamped) < 20_000  # plausible: a 152-byte record is validated in far less than 20 us


def test_parse_stamps_follow_output_positions_when_records_are_rejected(image):
    raw, lay = image
    bad = raw.copy()
    wire = bad[lay.records_offset : lay.blob_offset].view(WIRE_DTYPE)
    wire["kind"][[0, 5]] = 99  # records 0 and 5 are quarantined: out[k] shifts
    lat = np.zeros(lay.n_records, np.int64)
    n, out, st = _parse(bad, lay, lat)
    assert n == lay.n_records - 2 and np.count_nonzero(st) == 2
    assert np.all(lat[:n] >= 0) and np.all(lat[n:] == 0)


def test_sentiment_stamps_add_to_the_parse_stamps(image, small_world):
    raw, lay = image
    n, out, _ = _parse(raw, lay)
    blob = raw[lay.blob_offset : lay.blob_offset + lay.blob_len]
    ref = out.copy()
    score_records(ref, blob)
    lat = np.full(n, -1, np.int64)
    lat[1::2] = 0
    parse_lat = lat.copy()
    _parse(raw, lay, parse_lat)
    acc = parse_lat.copy()
    score_records(out, blob, lat_ns=acc)
    assert np.array_equal(out["sentiment"], ref["sentiment"])
    assert np.all(acc[0::2] == -1) and np.all(acc[1::2] >= parse_lat[1::2])  # added, never overwritten
    assert np.count_nonzero(acc[1::2] > parse_lat[1::2]) > 0.5 * len(acc[1::2])


def test_stamp_arguments_are_checked(image):
    raw, lay = image
    with pytest.raises(ValueError, match="lat_ns"):
        _parse(raw, lay, np.zeros(lay.n_records, np.int32))
    with pytest.raises(ValueError, match="lat_ns"):
        _parse(raw, lay, np.zeros(lay.n_records - 1, np.int64))
    ns_per_cycle, overhead = latency_stamp_params()
    assert 0.01 < ns_per_cycle < 10.0 and 0.0 <= overhead < 10_000
