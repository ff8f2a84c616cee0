"""SequenceTracker rules (pure logic, clock supplied by the test) and the reconnect backoff."""

from __future__ import annotations

import numpy as np
import pytest

from cns.feeds import Backoff, FeedConfig, FeedConfigError, FeedStats, SequenceTracker
from cns.feeds.sequencer import Piece
from cns.signals.dtypes import empty_news

S = 1_000_000_000


def piece(first: int, count: int) -> Piece:
    recs = empty_news(count)
    recs["id"] = np.arange(first, first + count)
    return Piece(first, count, recs, np.zeros(0, np.uint8), np.arange(first, first + count, dtype=np.uint64))


def ids(pieces: list[Piece]) -> list[int]:
    return [int(i) for p in pieces for i in p.records["id"]]


def tracker(**kw) -> tuple[SequenceTracker, FeedStats]:
    st = FeedStats()
    t = SequenceTracker(st, **kw)
    t.sync(1)
    return t, st


def test_in_order_and_duplicates():
    t, st = tracker()
    assert ids(t.offer(piece(1, 3), 0)) == [1, 2, 3]
    assert t.is_duplicate(1, 3) and st.duplicates == 3
    assert ids(t.offer(piece(2, 4), 0)) == [4, 5]  # overlap trimmed
    assert st.duplicates == 5 and st.last_seq == 5
    assert t.offer(piece(5, 1), 0) == [] and st.duplicates == 6


def test_gap_held_requested_and_filled():
    t, st = tracker()
    t.offer(piece(1, 2), 0)
    assert t.offer(piece(6, 2), 0) == []  # 3..5 missing
    assert t.take_requests() == [(3, 3)] and st.gaps_detected == 1
    assert t.offer(piece(8, 1), 0) == []  # still held, no second request
    assert t.take_requests() == []
    assert ids(t.offer(piece(3, 3), 0)) == [3, 4, 5, 6, 7, 8]
    assert st.gaps_filled == 1 and st.last_seq == 8 and t.held_records == 0


def test_tail_gap_from_a_heartbeat_and_catchup():
    t, st = tracker()
    t.offer(piece(1, 2), 0)
    t.live_edge(2, 0)
    assert t.take_requests() == []
    t.live_edge(5, 0)
    assert t.take_requests() == [(3, 3)] and st.gaps_detected == 1
    t.offer(piece(3, 3), 0)
    t.disconnected()
    t.reconnected(9, 0)
    assert t.take_requests() == [(6, 4)] and st.catchups == 1 and st.gaps_detected == 1


def test_truncated_replay_gives_up_the_missing_part():
    t, st = tracker()
    t.offer(piece(1, 1), 0)
    t.offer(piece(10, 1), 0)
    assert t.take_requests() == [(2, 8)]
    assert ids(t.offer(piece(6, 4), 0)) == []  # 6..9 replayed, 2..5 are gone
    out = t.replay_end(6, 4, True, 0)
    assert ids(out) == [6, 7, 8, 9, 10]
    assert st.gaps_lost == 1 and st.lost_records == 4 and t.take_lost() == [(2, 6)]


def test_unanswered_replay_is_retried_then_given_up():
    t, st = tracker(replay_timeout_ns=S, max_attempts=2)
    t.offer(piece(1, 1), 0)
    t.offer(piece(5, 1), 0)
    assert t.take_requests() == [(2, 3)]
    assert t.tick(S // 2) == [] and t.take_requests() == []
    assert t.tick(S) == [] and t.take_requests() == [(2, 3)]  # second attempt
    assert ids(t.tick(2 * S)) == [5]  # given up
    assert st.lost_records == 3 and st.gaps_lost == 1 and st.replay_requests == 2


def test_held_bound_forces_give_up():
    t, st = tracker(max_held_records=5)
    t.offer(piece(1, 1), 0)
    t.offer(piece(10, 3), 0)
    out = t.offer(piece(13, 3), 0)  # 6 held > 5
    assert ids(out) == list(range(10, 16)) and st.lost_records == 8


def test_backoff_is_exponential_capped_jittered_and_reproducible():
    a, b = Backoff(0.1, 1.0, 0.5, seed=4), Backoff(0.1, 1.0, 0.5, seed=4)
    da = [a.next_delay() for _ in range(8)]
    assert da == [b.next_delay() for _ in range(8)]
    for k, d in enumerate(da):
        cap = min(1.0, 0.1 * 2**k)
        assert cap * 0.5 <= d <= cap
    a.reset()
    assert a.next_delay() <= 0.1
    assert Backoff(0.1, 1.0, 0.0).next_delay() == 0.1


@pytest.mark.parametrize(
    "kw",
    [
        {"name": ""},
        {"port": 0},
        {"transport": "udp"},
        {"batch_max": 0},
        {"stale_after_s": 0},
        {"backoff_jitter": 2},
        {"backoff_max_s": 0.001},
        {"feed_id": -1},
        {"start_seq": -1},
        {"stale_after_s": float("nan")},
    ],
)
def test_config_refuses_bad_values(kw):
    base = {"name": "x", "port": 1}
    with pytest.raises(FeedConfigError):
        FeedConfig(**{**base, **kw})
