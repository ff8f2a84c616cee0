"""The shard's journal: orders journalled before they leave with journal-derived ClOrdIDs, reports and news
journalled as they arrive; a restart on the same journal rebuilds the OMS, positions, realised P&L and the
feeds' last sequence numbers exactly."""

from __future__ import annotations

import numpy as np

from cns.feeds import FeedServer
from cns.journal.clordid import parse_clordid
from cns.serve.config import serve_config_from_dict
from cns.serve.service import Service, prepare

from .helpers import run, serve_dict, until, venue_news


def _book(st) -> dict:
    oms, pf = st.pipeline.oms, st.pipeline.portfolio
    n = int(oms.id_counter[0]) - oms.base_id
    return {
        "position": pf.position.copy(),
        "realized": pf.realized.copy(),
        "avg_cost": pf.avg_cost.copy(),
        "table": oms.table[:n].copy(),
        "open_buy": oms.open_buy.copy(),
        "open_sell": oms.open_sell.copy(),
        "id_counter": int(oms.id_counter[0]),
    }


def test_restart_on_the_journal_rebuilds_the_book_exactly(tmp_path) -> None:
    async def scenario() -> None:
        srv = FeedServer(venue_news(3000, 30.0), speed=10.0, heartbeat_s=0.5, wait_clients=1)
        await srv.start()
        try:
            doc = serve_dict(srv.port, journal={"dir": str(tmp_path / "j"), "fsync": "group"})
            cfg = serve_config_from_dict(doc)
            svc = Service(cfg)
            await svc.start()
            st = svc.state
            await until(lambda: st.counters["fills"] > 5 and st.counters["events_in"] > 300, 30.0, "fills")
            j = st.extra["journal"]
            await svc._halt()
            # the book at the halt (no graceful mass cancel: as after a crash)
            before = _book(st)
            last_seq = st.feed_stats["f1"].last_seq
            wire = list(j.wire_to_oms)
            j.close()
            assert wire and all(parse_clordid(str(w))[0] == 0 for w in wire)
            st2 = prepare(cfg, warm=False)
            rec = st2.extra["recovered"]
            after = _book(st2)
            for f in before["table"].dtype.names:
                a, b = before["table"][f], after["table"][f]
                assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), f
            for k, v in before.items():  # the table field by field above (its padding bytes are not state)
                if k == "table":
                    continue
                if isinstance(v, np.ndarray):
                    assert np.array_equal(v, after[k], equal_nan=v.dtype.kind == "f"), k
                else:
                    assert v == after[k], k
            assert st2.feed_stats["f1"].last_seq == last_seq > 0
            assert rec["orders"] > 0 and rec["execs"] > 0
            st2.extra["journal"].close()
        finally:
            await srv.stop()

    run(scenario(), 90.0)


def test_journal_needs_durable_fix_sessions() -> None:
    import pytest

    from cns.serve.errors import ServeConfigError

    doc = serve_dict(1, fix_port=2, journal={"dir": "/tmp/x"})
    with pytest.raises(ServeConfigError, match="store_dir"):
        serve_config_from_dict(doc)
    doc["fix"][0].update(store_dir="/tmp/y", reset_on_logon=False)
    cfg = serve_config_from_dict(doc)
    assert cfg.journal.dir == "/tmp/x" and cfg.journal.fsync == "group"
    with pytest.raises(ServeConfigError, match="journal.fsync"):
        serve_config_from_dict(serve_dict(1, journal={"dir": "/tmp/x", "fsync": "sometimes"}))


def test_recovery_rewinds_the_fix_store_to_the_first_report_not_journalled(tmp_path) -> None:
    """A report the FIX session consumed (its store's next expected number moved on) but whose exec entry never
    made it into the journal (killed between the marker and the entry, or before the marker) is asked again:
    the store is rewound to it, never past a journalled one."""
    from cns.fix.store import FileSessionStore
    from cns.serve.journal import ServeJournal
    from cns.serve.state import build_state
    from cns.venue.dtypes import EXEC_ACK, EXEC_DTYPE

    doc = serve_dict(1, fix_port=2, journal={"dir": str(tmp_path / "j")})
    doc["fix"][0].update(store_dir=str(tmp_path / "fix"), reset_on_logon=False)
    cfg = serve_config_from_dict(doc)
    store = FileSessionStore(str(tmp_path / "fix"), "venue1")
    store.set_next_target_seq(40)
    store.close()
    j = ServeJournal(cfg.journal, cfg.shard, ("f1",))
    ack = np.zeros(1, EXEC_DTYPE)
    ack["kind"] = EXEC_ACK
    for seq in (10, 11):
        j.fix_in(0, seq)
        j.execs(ack)
    j.fix_in(0, 12)  # killed here: report 12 consumed by the session, never journalled
    j.close()
    j2 = ServeJournal(cfg.journal, cfg.shard, ("f1",))
    rec = j2.recover(build_state(cfg))
    j2.close()
    assert rec["fix_rewind"] == {"venue1": {"store_next": 40, "journal_next": 12}}
    reopened = FileSessionStore(str(tmp_path / "fix"), "venue1")  # the rewind is on the store, durably
    assert reopened.next_target_seq == 12
    reopened.close()
