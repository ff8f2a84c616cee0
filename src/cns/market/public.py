"""The public news flow of the simulated market: what every participant can read, and nothing hidden.

A *public report* is one news item as the street reads it: when it was published to everyone (its receive
time), which instrument, which source, which event it is about, the direction it claims and the move it claims
(if it states one). It carries no truth: not whether its story is real, not the story's impact or when the price
will move. The market maker and the competitors of :mod:`cns.market.exchange` act on these (after their own
latency, weighted by their own estimate of each source), never on ``STORY_DTYPE``.

Direction of a report (:func:`report_direction`), from what the item states, in this order:

* ``move_pct`` finite and non-zero: its sign;
* earnings (``eps_actual`` and ``eps_expected`` finite and different): the sign of the surprise;
* a quoted policy rate (``rate`` finite): a cut below :data:`RATE_BASELINE_PCT` lifts prices (+1), a hike
  lowers them (-1);
* otherwise the sign of the headline ``sentiment`` (0 when neutral: a report that claims no direction).

Claimed move (``move_pct``, magnitude): ``|move_pct|`` when stated; for earnings ``|eps_actual / eps_expected -
1| / EPS_SURPRISE_PER_MOVE_PCT`` (the generated world's public rule of thumb, as a desk would fit it from
history); else NaN (the reader assumes a typical move).

Event: reports about the same event share ``event`` (ids ``>= 0``). A generated world knows which story a
report is about (``story_of``): that is public (a headline names its event), it says nothing about truth. For
news without it, reports on the same (instrument, kind) within ``window_ns`` buckets share an event.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cns.signals.dtypes import FLAG_TEST, KIND_HEARTBEAT, NEWS_DTYPE
from cns.venue.errors import VenueConfigError

__all__ = [
    "EPS_SURPRISE_PER_MOVE_PCT",
    "RATE_BASELINE_PCT",
    "REPORT_DTYPE",
    "load_public_reports",
    "public_reports",
    "report_direction",
]

RATE_BASELINE_PCT = 4.25  # the generated world's policy rate before a decision, percent (public knowledge)
EPS_SURPRISE_PER_MOVE_PCT = (
    0.03  # relative EPS surprise that comes with a 1 % move (the world's earnings rule)
)
MAX_MOVE_PCT = 50.0  # a claimed move is clipped to this magnitude, percent

REPORT_DTYPE = np.dtype(
    [
        ("t_ns", np.int64),  # ns since epoch: when the report became public (the record's receive time)
        ("instrument", np.uint32),  # ticker code (the record's first ticker)
        ("source", np.uint32),  # source dictionary code
        ("event", np.int64),  # event id >= 0: reports about the same event share it
        ("direction", np.int8),  # +1 / -1 / 0 (no direction claimed), see report_direction
        ("kind", np.uint8),  # KIND_*
        ("move_pct", np.float64),  # claimed move magnitude, percent (>= 0); NaN when the report states none
    ],
    align=True,
)


def report_direction(records: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
    """``int8`` direction (+1, -1, 0) each NEWS_DTYPE record (of ``records[idx]`` when given) claims; see the
    module docstring. NaN compares false, so a missing number never gives a direction."""

    def col(name: str) -> np.ndarray:
        c = records[name]
        return np.asarray(c if idx is None else c[idx], np.float64)

    mv = col("move_pct")
    d = np.sign(np.where(np.isfinite(mv), mv, 0.0))
    eps = np.sign(col("eps_actual") - col("eps_expected"))  # NaN where either is missing
    d = np.where((d == 0) & np.isfinite(eps), eps, d)
    rd = np.sign(RATE_BASELINE_PCT - col("rate"))
    d = np.where((d == 0) & np.isfinite(rd), rd, d)
    sent = np.sign(col("sentiment"))
    d = np.where((d == 0) & np.isfinite(sent), sent, d)
    return d.astype(np.int8)


def public_reports(
    records: np.ndarray, story_of: np.ndarray | None = None, *, window_ns: int = 2_000_000_000
) -> np.ndarray:
    """The public reports (REPORT_DTYPE, sorted by ``t_ns``, stable) of NEWS_DTYPE ``records``.

    Heartbeats, test traffic (FLAG_TEST) and items without a ticker are not reports. ``story_of[i]`` (the
    generated world's story of record ``i``, -1 for none) groups reports into events; without it, reports on
    the same (instrument, kind) in the same ``window_ns`` bucket of receive time share an event.
    """
    if not isinstance(records, np.ndarray) or records.dtype != NEWS_DTYPE or records.ndim != 1:
        raise VenueConfigError("public_reports needs a 1-D NEWS_DTYPE array")
    if isinstance(window_ns, bool) or not isinstance(window_ns, (int, np.integer)) or window_ns < 1:
        raise VenueConfigError(f"public_reports: window_ns must be an int >= 1, got {window_ns!r}")
    ticker = records["tickers"][:, 0]
    keep = (
        (records["kind"] != KIND_HEARTBEAT)
        & ((records["flags"] & FLAG_TEST) == 0)
        & (records["n_tickers"] > 0)
        & (ticker > 0)
    )
    if story_of is not None:
        story_of = np.asarray(story_of)
        if story_of.shape != records.shape:
            raise VenueConfigError(
                f"public_reports: story_of has shape {story_of.shape}, records {records.shape}"
            )
        keep &= story_of >= 0
    idx = np.flatnonzero(keep)
    out = np.zeros(idx.shape[0], REPORT_DTYPE)  # column by column: no copy of the wide records
    recv = records["receive_ns"][idx]
    out["t_ns"] = recv
    out["instrument"] = ticker[idx]
    out["source"] = records["source"][idx]
    out["direction"] = report_direction(records, idx)
    out["kind"] = records["kind"][idx]
    mv = np.abs(records["move_pct"][idx])
    ea, ee = records["eps_actual"][idx], records["eps_expected"][idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        eps_mv = np.abs(ea / ee - 1.0) / EPS_SURPRISE_PER_MOVE_PCT
    mv = np.where(np.isfinite(mv), mv, np.where(np.isfinite(eps_mv) & (ee != 0), eps_mv, np.nan))
    out["move_pct"] = np.where(np.isfinite(mv), np.minimum(mv, MAX_MOVE_PCT), np.nan)
    if story_of is not None:
        out["event"] = story_of[idx]  # story ids: >= 0, one per event (not necessarily dense)
    elif idx.shape[0]:
        bucket = recv // np.int64(window_ns)
        keys = np.stack([out["instrument"].astype(np.int64), out["kind"].astype(np.int64), bucket], axis=1)
        _, inv = np.unique(keys, axis=0, return_inverse=True)
        out["event"] = inv.reshape(-1)
    t = out["t_ns"]
    if t.shape[0] > 1 and bool(np.any(t[1:] < t[:-1])):
        out = out[np.argsort(t, kind="stable")]
    return out


def load_public_reports(news_path: str | Path, story_of_path: str | Path | None = None) -> np.ndarray:
    """:func:`public_reports` of a ``.cnsb`` news file (with the generated world's ``story_of-<key>.npy`` when
    given; see :class:`cns.market.newsgen.WorldFiles`). Records that do not parse are left out."""
    from cns.news.binary import read_binary

    batch = read_binary(news_path)
    story_of = None
    if story_of_path is not None:
        story_of = np.load(story_of_path, allow_pickle=False)
        if story_of.shape != batch.records.shape:  # a quarantined record shifts the rows: group by window
            story_of = None
    return public_reports(batch.records, story_of)


def check_reports(reports: np.ndarray, n_instruments: int) -> np.ndarray:
    """``reports`` as a contiguous REPORT_DTYPE array sorted by time, or :class:`VenueConfigError` naming the
    first bad row (instrument outside ``1..n_instruments``, negative time, direction not in {-1, 0, 1}, source
    code >= 2**20, negative event id)."""
    if not isinstance(reports, np.ndarray) or reports.dtype != REPORT_DTYPE or reports.ndim != 1:
        raise VenueConfigError("reports must be a 1-D cns.market.public.REPORT_DTYPE array")
    bad = (
        (reports["instrument"] < 1)
        | (reports["instrument"] > n_instruments)
        | (reports["t_ns"] < 0)
        | (np.abs(reports["direction"].astype(np.int64)) > 1)
        | (reports["source"] >= 1 << 20)
        | (reports["event"] < 0)
    )
    if np.any(bad):
        k = int(np.argmax(bad))
        raise VenueConfigError(
            f"reports[{k}] is invalid (instrument {int(reports['instrument'][k])} of "
            f"1..{n_instruments}, t_ns {int(reports['t_ns'][k])} >= 0, direction "
            f"{int(reports['direction'][k])} in -1..1, source {int(reports['source'][k])} "
            f"< 2**20, event {int(reports['event'][k])} >= 0)"
        )
    t = reports["t_ns"]
    if t.shape[0] > 1 and bool(np.any(t[1:] < t[:-1])):
        reports = reports[np.argsort(t, kind="stable")]
    return np.ascontiguousarray(reports)
