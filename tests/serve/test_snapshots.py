"""Serve snapshots: recovery from the latest snapshot + the journal tail gives exactly the state of a full
replay (book, P&L, risk throttle, corroboration windows, held decisions, feed seq), corrupt snapshots fall
back to older ones or a full replay, and a restart in the middle of a corroboration window makes the same
decisions as an uninterrupted run (deterministic inputs, no wall clock in the decision)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from numpy.lib.recfunctions import repack_fields

from cns.engine import VERDICT_CONFORMS
from cns.feeds import FeedBatch, FeedServer
from cns.fix.transport import loop_call
from cns.serve.config import serve_config_from_dict
from cns.serve.service import Service, prepare
from cns.serve.snapshots import snapshot_dir
from cns.trading.corroborate_kernels import ACTION_CONTINGENCY, ACTION_TRADE, DECISION_DTYPE

from .helpers import run, serve_dict, until, venue_news


def _same(a: dict, b: dict, skip: tuple[str, ...] = ()) -> None:
    assert set(a) == set(b)
    for k in a:
        if k in skip:
            continue
        x, y = a[k], b[k]
        assert x.shape == y.shape and x.dtype == y.dtype, k
        if x.dtype.names:
            for f in x.dtype.names:
                eq = x.dtype[f].kind == "f"
                assert np.array_equal(x[f], y[f], equal_nan=eq), (k, f)
        else:
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), k


def _live(st) -> dict:
    """The installed live state that the snapshot covers."""
    oms, pf = st.pipeline.oms, st.pipeline.portfolio
    n = int(oms.id_counter[0]) - oms.base_id
    out = {
        "table": oms.table[:n].copy(),
        "open_buy": oms.open_buy.copy(),
        "open_sell": oms.open_sell.copy(),
        "position": pf.position.copy(),
        "realized": pf.realized.copy(),
        "fees": pf.fees_paid.copy(),
        "feed_seq": np.array([s.last_seq for s in st.feed_stats.values()], np.int64),
    }
    for k, v in st.pipeline.risk.state().items():
        if k not in ("exposure", "gross"):
            out["risk_" + k] = v
    for k, v in st.pipeline.corroborator.state().items():
        out["corr_" + k] = v
    return out


def test_snapshot_plus_tail_equals_full_replay_and_bad_snapshots_fall_back(tmp_path: Path, caplog) -> None:
    jdir = tmp_path / "j"
    doc = serve_dict(0, journal={"dir": str(jdir), "fsync": "os", "snapshot_every": 8, "snapshot_retain": 3})

    async def scenario() -> dict:
        srv = FeedServer(venue_news(3000, 30.0), speed=10.0, heartbeat_s=0.5, wait_clients=1)
        await srv.start()
        try:
            doc["feeds"][0]["port"] = srv.port
            svc = Service(serve_config_from_dict(doc))
            await svc.start()
            st = svc.state
            j = st.extra["journal"]
            await until(lambda: st.counters["fills"] > 5 and j.writer.last_index > 60, 30.0, "fills")
            stats = await loop_call(svc.node, st.names.snapshots, "stats", 5.0)
            # a crashed snapshotter is restarted on the shard's model and goes on from its index
            first = svc.node.whereis(st.names.snapshots)
            svc.node.exit(first, "kill")
            await until(lambda: svc.node.whereis(st.names.snapshots) not in (None, first), 5.0, "restart")
            n0 = j.writer.last_index
            await until(lambda: j.writer.last_index > n0 + 10, 30.0, "more entries")
            idx = await loop_call(svc.node, st.names.snapshots, "snapshot", 10.0)
            assert idx >= n0 + 10
            await svc._halt()  # no graceful stop: as after a crash
            st.extra["journal"].close()
            return {"stats": stats, "last": st.extra["journal"].writer.last_index}
        finally:
            await srv.stop()

    r = run(scenario(), 90.0)
    assert len(list((jdir / "t.snapshots").glob("snap-*.cnss"))) >= 2, r
    cfg = serve_config_from_dict(doc)
    a = prepare(cfg, warm=False)  # the newest snapshot + the tail
    ra = a.extra["recovered"]
    a.extra["journal"].close()
    snaps = Path(snapshot_dir(a.extra["journal"]))
    saved = tmp_path / "saved"
    shutil.copytree(snaps, saved)
    shutil.rmtree(snaps)
    b = prepare(cfg, warm=False)  # the whole journal
    rb = b.extra["recovered"]
    b.extra["journal"].close()
    print("RECOVERY", {k: ra[k] for k in ("entries", "snapshot", "replayed", "seconds")}, rb["replayed"])
    assert ra["snapshot"] is not None and rb["snapshot"] is None
    assert ra["entries"] == rb["entries"] == rb["replayed"] >= r["last"]
    assert ra["replayed"] == ra["entries"] - ra["snapshot"] < rb["replayed"]
    assert ra["orders"] < rb["orders"]  # the snapshot carried the earlier ones
    _same(a.extra["model"].export(), b.extra["model"].export())
    _same(_live(a), _live(b))
    assert int(np.count_nonzero(a.pipeline.portfolio.position)) > 0
    assert int(a.pipeline.risk.counts[0]) > 0  # the throttle state came back
    assert int(a.pipeline.corroborator.state()["slots"]["active"].sum()) > 0  # open windows came back

    # the newest snapshot corrupt: the one before it is used, a warning names the bad one
    shutil.copytree(saved, snaps, dirs_exist_ok=True)
    files = sorted(snaps.glob("snap-*.cnss"))
    raw = bytearray(files[-1].read_bytes())
    raw[200] ^= 0xFF
    files[-1].write_bytes(bytes(raw))
    caplog.set_level("WARNING", logger="cns.serve")
    c = prepare(cfg, warm=False)
    rc = c.extra["recovered"]
    c.extra["journal"].close()
    assert rc["snapshot"] == int(files[-2].name[5:25]) and len(rc["snapshot_skipped"]) == 1
    assert "CRC" in rc["snapshot_skipped"][0] and "snapshot skipped" in caplog.text
    _same(c.extra["model"].export(), b.extra["model"].export())
    # every snapshot unusable: a full replay, with a warning
    for f in snaps.glob("snap-*.cnss"):
        f.write_bytes(b"junk")
    d = prepare(cfg, warm=False)
    d.extra["journal"].close()
    assert d.extra["recovered"]["snapshot"] is None and "replaying the whole journal" in caplog.text
    _same(d.extra["model"].export(), b.extra["model"].export())


def test_runaway_trip_is_restored_a_graceful_stop_kill_switch_is_not(tmp_path: Path) -> None:
    from cns.serve.journal import CONTROL_KILL_SWITCH, CONTROL_RUNAWAY

    for code, engaged in ((CONTROL_KILL_SWITCH, False), (CONTROL_RUNAWAY, True)):
        cfg = serve_config_from_dict(serve_dict(1, journal={"dir": str(tmp_path / str(code))}))
        st = prepare(cfg, warm=False)
        st.extra["journal"].control(code)
        st.extra["journal"].close()
        st2 = prepare(cfg, warm=False)
        st2.extra["journal"].close()
        assert st2.pipeline.risk.kill_switch_engaged is engaged and st2.stopping is engaged


def _decide(st, recs: np.ndarray) -> np.ndarray:
    """What the validate + corroborate stages do with a batch: the decisions."""
    v = st.extra["validator"]
    n = len(recs)
    verdict = np.empty(n, np.uint8)
    v.process(recs, verdict, np.empty(n, np.uint16), np.empty(n, np.uint8))
    return st.pipeline.corroborator.process(recs, mask=np.equal(verdict, VERDICT_CONFORMS))


def _trade(st, d: np.ndarray, now: int) -> tuple[np.ndarray, np.ndarray]:
    """The signal + risk stages on decisions at news time ``now`` (journalled as the stages do)."""
    j = st.extra.get("journal")
    d = d[(d["action"] == ACTION_TRADE) | (d["action"] == ACTION_CONTINGENCY)]
    d = d[(d["ticker"] < len(st.tradable)) & st.tradable[np.minimum(d["ticker"], len(st.tradable) - 1)]]
    if not len(d):
        return np.zeros(0, np.uint8), np.zeros(0)
    cand = st.pipeline.signal.orders(d, st.quotes.mid)
    if not len(cand):
        return np.zeros(0, np.uint8), np.zeros(0)
    cand["ts_ns"] = now
    mid = st.quotes.mid
    risk = st.pipeline.risk
    risk.refresh(mid)
    before = risk.counts.copy()
    acc, reasons = risk.check(cand, mid, np.full(len(mid), now, np.int64), now)
    if j is not None:
        j.risk_checked(acc, before, risk.counts, int(risk.oms.id_counter[0]))
        if len(acc):
            j.orders(acc)
    return reasons, acc["order_id"].copy()


def _batches(n_batches: int = 60) -> list[np.ndarray]:
    recs = venue_news(1200, 120.0, seed=9).records
    return [recs[k] for k in np.array_split(np.arange(len(recs)), n_batches)]


def _run(st, batches: list[np.ndarray]) -> list[tuple]:
    out = []
    j = st.extra.get("journal")
    for recs in batches:
        if j is not None:
            nb = type("NB", (), {"records": recs, "headlines": None})()
            j.news(FeedBatch("f1", nb, np.zeros(0, np.uint64), 0, 0), 0)  # type: ignore[arg-type]
        d = _decide(st, recs)
        reasons, ids = _trade(st, d, int(recs["publish_ns"].max()))
        out.append((repack_fields(d).tobytes(), reasons.tobytes(), ids.tobytes()))  # values, not padding
    return out


def test_restart_mid_window_makes_the_same_decisions_as_no_restart(tmp_path: Path) -> None:
    """Half the batches, a crash (journal closed, state dropped), a restart on the journal (with and without
    a snapshot), the other half: decisions, risk verdicts (the rate throttle bites) and order ids equal an
    uninterrupted run's; a restart that loses the state (fresh) does not."""
    risk = {"max_orders_per_window": 3, "rate_window_ns": 20_000_000_000}
    batches = _batches()
    half = len(batches) // 2

    def cfg(name: str, every: int = 0):
        return serve_config_from_dict(
            serve_dict(1, risk=risk, journal={"dir": str(tmp_path / name), "snapshot_every": every})
        )

    ref = prepare(cfg("ref"), warm=False)
    want = _run(ref, batches)
    assert sum(len(x[0]) for x in want[half:]) > 0
    rate = ref.pipeline.risk.rejections()["rate"]
    assert rate > 0  # the throttle takes part in the decisions

    for every in (0, 7):
        first = prepare(cfg(f"r{every}", every), warm=False)
        got = _run(first, batches[:half])
        before = _live(first)
        held = first.extra["journal"]
        # two decisions held for a paused feed, one of them released: one stays held across the restart
        dec = np.frombuffer(b"".join(x[0] for x in want), repack_fields(np.zeros(0, DECISION_DTYPE)).dtype)
        dec = dec.astype(DECISION_DTYPE)
        if len(dec) >= 2:
            held.held(dec[:2])
            held.held(dec[:1], released=True)
        if every:
            from cns.journal.snapshot import SnapshotStore
            from cns.serve.snapshots import recover_model

            model, _ = recover_model(held, first)  # what the snapshotter would have written by now
            SnapshotStore(snapshot_dir(held)).write(model.export(), model.index)
        held.close()
        second = prepare(cfg(f"r{every}", every), warm=False)  # the restart
        rec = second.extra["recovered"]
        assert (rec["snapshot"] is not None) == bool(every)
        after = _live(second)
        _same(before, after, skip=("corr_stats",))
        if len(dec) >= 2:
            h = list(second.extra["held"])
            assert len(h) == 1 and h[0][1]["news_id"].tolist() == dec[1:2]["news_id"].tolist()
        got += _run(second, batches[half:])
        second.extra["journal"].close()
        assert got == want, every

    fresh = prepare(cfg("fresh"), warm=False)  # the state lost at the restart
    lost = _run(fresh, batches[:half])
    fresh2 = prepare(cfg("fresh2"), warm=False)
    lost += _run(fresh2, batches[half:])
    assert [x[0] for x in lost[half:]] != [x[0] for x in want[half:]]  # the windows matter
