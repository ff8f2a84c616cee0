"""LOBSTER / generic L3 CSV importers, the generated sample day, and the reproduction tests of the L3 book:
passive replay reproduces the orderbook file after every message; active matching of the rebuilt order flow
reproduces the recorded executions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cns.errors import CNSError
from cns.market.lobster import (
    LOBSTER_TICK,
    L3CsvColumns,
    LobsterImportError,
    lobster_active_ops,
    lobster_passive_ops,
    read_l3_csv,
    read_lobster,
    recorded_executions,
)
from cns.market.lobster_sample import generate_lobster_day, sample_paths, write_lobster_day
from cns.venue.l3book import L3Book
from cns.venue.l3book_dtypes import EXEC_REJECTED, OP_ADD, OP_DELETE, OP_EXEC, OP_PMODIFY


@pytest.fixture(scope="module")
def sample():  # type: ignore[no-untyped-def]
    msg, ob = sample_paths()
    assert msg.exists() and ob.exists(), "the generated LOBSTER sample must ship in cns/data/samples"
    return read_lobster(msg, ob)


def test_shipped_sample_is_the_seeded_generator_output(sample, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    m, o = write_lobster_day(tmp_path)
    sm, so = sample_paths()
    assert m.read_bytes() == sm.read_bytes() and o.read_bytes() == so.read_bytes()
    msgs, book = generate_lobster_day()
    assert np.array_equal(msgs, sample.messages) and np.array_equal(book, sample.orderbook)
    assert sample.quarantined == []
    types = np.bincount(sample.messages["type"], minlength=8)
    assert len(sample.messages) >= 2500 and all(types[k] > 0 for k in (1, 2, 3, 4, 5))
    assert np.all(np.diff(sample.messages["time_ns"]) >= 0)


def test_passive_replay_reproduces_the_orderbook_file(sample) -> None:  # type: ignore[no-untyped-def]
    ops = lobster_passive_ops(sample.messages)
    book = L3Book(LOBSTER_TICK)
    reports, tob = book.replay(ops, levels=sample.orderbook.shape[1] // 4)
    mismatched = np.nonzero((tob != sample.orderbook).any(axis=1))[0]
    assert mismatched.size == 0, f"first mismatch after message line {sample.messages['line'][mismatched[0]]}"
    assert not (reports["kind"] == EXEC_REJECTED).any()
    ex = reports[reports["maker"] == 1]
    assert len(ex) == int((sample.messages["type"] == 4).sum())
    assert book.check() == 0


def test_active_matching_reproduces_recorded_executions(sample, capsys) -> None:  # type: ignore[no-untyped-def]
    ops = lobster_active_ops(sample.messages)
    book = L3Book(LOBSTER_TICK)
    reports = book.process(ops)
    assert not (reports["kind"] == EXEC_REJECTED).any()
    mk = reports[reports["maker"] == 1]
    produced = np.stack(
        (mk["ts_ns"].astype(np.int64), mk["order_id"].astype(np.int64), mk["price"], mk["qty"]), axis=1
    )
    recorded = recorded_executions(sample.messages)
    with capsys.disabled():
        print(
            f"\nLOBSTER sample: recorded executions {len(recorded)} ({int(recorded[:, 3].sum())} shares), "
            f"produced trades {len(produced)} ({int(produced[:, 3].sum())} shares)"
        )
        for p, r in list(zip(produced, recorded, strict=False))[:3]:
            print(
                f"  produced t={p[0]} maker={p[1]} px={p[2]} qty={p[3]}   recorded t={r[0]} id={r[1]} "
                f"px={r[2]} qty={r[3]}"
            )
    assert np.array_equal(produced, recorded)
    # the book the matcher built equals the book the feed describes at the end of the day
    passive = L3Book(LOBSTER_TICK)
    passive.process(lobster_passive_ops(sample.messages))
    assert np.array_equal(
        book.snapshot()[["side", "price", "qty"]], passive.snapshot()[["side", "price", "qty"]]
    )


def test_malformed_message_rows_are_quarantined(tmp_path: Path) -> None:
    good = ["34200.000000001,1,11,100,5853200,1", "34200.5,1,12,100,5853300,-1"]
    bad = [
        "34200.6,1,13,100,5853300",
        "34200.7,9,14,100,5853300,1",
        "34200.8,1,15,100,5853300.5,1",
        "abc,1,16,100,5853300,1",
        "34200.9,1,17,-5,5853300,1",
        "34201,1,18,100,5853300,0",
        "34201.1,1,19,100,99999999999999999999,1",
    ]
    p = tmp_path / "m.csv"
    p.write_text("\n".join(good[:1] + bad + good[1:]) + "\n")
    d = read_lobster(p)
    assert d.messages["order_id"].tolist() == [11, 12]
    assert d.messages["time_ns"].tolist() == [34_200_000_000_001, 34_200_500_000_000]
    assert [q.line for q in d.quarantined] == list(range(2, 9))
    reasons = {q.line: q.reason for q in d.quarantined}
    assert "6 columns" in reasons[2] and "7" in reasons[3] and "integer" in reasons[4]
    assert "seconds" in reasons[5] and "size" in reasons[6] and "direction" in reasons[7]
    assert d.quarantined[0].text == bad[0]


def test_malformed_orderbook_row_drops_its_message(tmp_path: Path) -> None:
    m = tmp_path / "m.csv"
    o = tmp_path / "o.csv"
    m.write_text("34200.1,1,11,100,5853200,1\n34200.2,1,12,100,5853300,-1\n")
    o.write_text("9999999999,0,5853200,100\n5853300,x,5853200,100\n")
    d = read_lobster(m, o)
    assert d.messages["order_id"].tolist() == [11] and d.orderbook.shape == (1, 4)
    assert [q.line for q in d.quarantined] == [2]
    with pytest.raises(LobsterImportError):
        read_lobster(tmp_path / "missing.csv")
    o.write_text("1,2,3,4\n")
    with pytest.raises(CNSError):
        read_lobster(m, o)  # row counts differ


def test_generic_l3_csv_with_column_mapping(tmp_path: Path) -> None:
    p = tmp_path / "feed.csv"
    p.write_text(
        "\n".join(
            [
                "ts,oid,dir,px,qty,what,venue",
                "1000,1,buy,10.00,100,add,X",
                "1001,2,S,10.02,50,add,X",
                "1002,3,B,10.01,70,ADD,X",
                "1003,1,buy,10.01,100,modify,X",  # re-priced: behind order 3 at 10.01
                "1004,2,,,20,trade,X",
                "1005,3,,,,delete,X",
                "1006,4,buy,10.005,10,add,X",  # off the tick grid
                "1007,5,up,10.00,10,add,X",  # bad side
                "1008,6,buy,nan,10,add,X",
                "1009,7,buy,10.00,10,replace-all,X",  # unknown action
                "1010,8,buy,10.00",  # short row
            ]
        )
        + "\n"
    )
    cols = L3CsvColumns(order_id="oid", timestamp="ts", side="dir", price="px", size="qty", action="what")
    ops, quarantined = read_l3_csv(p, tick_size=0.01, columns=cols, time_unit="us")
    assert ops["kind"].tolist() == [OP_ADD, OP_ADD, OP_ADD, OP_PMODIFY, OP_EXEC, OP_DELETE]
    assert ops["ts_ns"][0] == 1_000_000 and ops["price"].tolist()[:4] == [1000, 1002, 1001, 1001]
    assert [q.line for q in quarantined] == [8, 9, 10, 11, 12]
    assert "tick" in quarantined[0].reason and "side" in quarantined[1].reason
    book = L3Book(0.01)
    reports = book.process(ops)
    assert not (reports["kind"] == EXEC_REJECTED).any()
    assert book.best() == (1001, 100, 1002, 30)
    with pytest.raises(LobsterImportError):
        read_l3_csv(p, tick_size=0.01)  # default column names are not in this header
