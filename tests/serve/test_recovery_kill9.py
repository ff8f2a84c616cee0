"""Acceptance: ``kill -9`` of a ``cns serve`` subprocess at random instants of a live session (venue gateway
and feed server in the test process, deterministic news file at a fixed pace, market maker seeded), restarted
on the same journal and FIX store every time; at the end (graceful stop) our positions equal the venue's own
record of what our account traded, and the venue saw no ClOrdID twice.

The venue matches on its wall clock against a market maker it re-quotes on a timer, so fills cannot be
compared with an uninterrupted reference run; the venue's record of our account is the reference.
Cash: the venue's cash for our account equals the cash of the fills in our journal (each journalled once).
``CNS_KILL9_N`` kills (default 20, ~2.5 min on 2 shared cores)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

from cns.feeds import FeedServer
from cns.fix.transport import loop_call
from cns.gateway import orders as gw_orders
from cns.runtime import Node

from .helpers import run, serve_dict, venue_config, venue_news
from .test_cli_live import ENV, _toml


def test_kill9_loop_positions_match_the_venue_and_no_duplicate_clordid(tmp_path: Path, monkeypatch) -> None:
    from cns.gateway.server import start_venue, stop_venue

    n_kills = int(os.environ.get("CNS_KILL9_N", "20"))
    seen: Counter[tuple[int, bytes]] = Counter()
    orig = gw_orders.OrderEntryMixin._new_order

    def counting(self, owner, session, m):  # type: ignore[no-untyped-def]
        from cns.fix import spec as S

        seen[(owner, bytes(m.get(S.CL_ORD_ID) or b""))] += 1
        return orig(self, owner, session, m)

    monkeypatch.setattr(gw_orders.OrderEntryMixin, "_new_order", counting)
    rng = random.Random(11)

    async def scenario() -> dict:
        vnode = Node()
        vrun = asyncio.get_running_loop().create_task(vnode.run_async())
        venue = await start_venue(vnode, venue_config())
        srv = FeedServer(venue_news(20000, 200.0), speed=1.0, heartbeat_s=0.5, wait_clients=0)
        await srv.start()
        doc = serve_dict(
            srv.port,
            fix_port=venue.fix_port,
            md_port=venue.md_port,
            # snapshots often, so restarts recover from snapshot + tail (and from a full replay before the first)
            journal={"dir": str(tmp_path / "journal"), "fsync": "group", "snapshot_every": 40},
        )
        doc["fix"][0].update(store_dir=str(tmp_path / "fixstore"), reset_on_logon=False)
        cfg = _toml(doc, tmp_path / "serve.toml")
        recoveries: list[float] = []
        lines: list[str] = []
        proc = None
        try:
            for k in range(n_kills + 1):
                t0 = time.monotonic()
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "cns",
                    "serve",
                    "--config",
                    str(cfg),
                    "--summary",
                    str(tmp_path / "s.json"),
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    env=ENV,
                )
                assert proc.stdout is not None
                line = (await asyncio.wait_for(proc.stdout.readline(), 90.0)).decode()
                if not line.startswith("cns serve: started"):
                    err = (await proc.stderr.read()).decode()[-3000:] if proc.stderr else ""
                    raise AssertionError(f"restart {k}: {line!r} {err}")
                recoveries.append(time.monotonic() - t0)
                lines.append(line.strip())
                await asyncio.sleep(rng.uniform(0.2, 2.0))
                if k < n_kills:
                    proc.kill()  # SIGKILL
                    await proc.wait()
            await asyncio.sleep(1.0)
            proc.send_signal(15)
            out, err = await asyncio.wait_for(proc.communicate(), 60.0)
            assert proc.returncode == 0, err.decode()[-3000:]
            summary = json.loads((tmp_path / "s.json").read_text())
            venue_pos = await loop_call(vnode, "venue_gateway", ("position", 2), 20.0)
            gstats = await loop_call(vnode, "venue_gateway", "stats", 20.0)
            return {
                "summary": summary,
                "venue": venue_pos,
                "gateway": gstats,
                "recoveries": recoveries,
                "lines": lines,
            }
        finally:
            if proc is not None and proc.returncode is None:
                proc.kill()
                await proc.wait()
            await srv.stop()
            await stop_venue(venue)
            vnode.stop()
            await asyncio.wait_for(vrun, 5.0)

    r = run(scenario(), 180.0 + 15.0 * n_kills)
    ours = {k: v for k, v in r["summary"]["desk"]["positions"].items()}
    theirs = {k: v for k, v in r["venue"].items() if k != "cash" and v}
    dups = {k: v for k, v in seen.items() if v > 1 and k[0] == 2}
    report = {
        "kills": n_kills,
        "worst_start_s": round(max(r["recoveries"]), 2),
        "orders_at_venue": sum(v for (o, _), v in seen.items() if o == 2),
        "duplicates": len(dups),
        "ours": ours,
        "venue": theirs,
    }
    cash, fills = _journal_cash(tmp_path / "journal" / "t")
    report.update(
        venue_cash=r["venue"]["cash"],
        journal_cash=cash,
        fills=fills,
        recovery_replay_s=(r["summary"].get("journal") or {}).get("recovery", {}).get("seconds"),
        venue_live_orders=r["gateway"]["live_orders"],
        unacked_at_restart=sum(int(x.split("unacked=")[1].split()[0]) for x in r["lines"] if "unacked=" in x),
        fix_rewinds=sum(int(x.split("rewound=")[1].split()[0]) for x in r["lines"] if "rewound=" in x),
        recovered_restarts=sum("recovered=" in x for x in r["lines"]),
        from_snapshot=sum("recovered=" in x and "snapshot=none" not in x for x in r["lines"]),
        replayed_entries=[int(x.split("replayed=")[1].split()[0]) for x in r["lines"] if "replayed=" in x],
        journal_entries=[int(x.split("recovered=")[1].split()[0]) for x in r["lines"] if "recovered=" in x],
    )
    print("KILL9", json.dumps(report))
    assert abs(cash - r["venue"]["cash"]) < 1e-6 * max(1.0, abs(cash)), report
    assert not dups, dups
    assert ours == theirs, report
    assert report["from_snapshot"] > 0, report  # the snapshot path was taken under kill -9


def _journal_cash(directory: Path) -> tuple[float, int]:
    """Cash of the fills of our orders as journalled: -sum(side * qty * price) - fees."""
    import numpy as np

    from cns.journal import TYPE_EXEC, TYPE_ORDER, JournalReader
    from cns.serve.journal import registry
    from cns.venue.dtypes import EXEC_FILL, EXEC_PARTIAL, ORDER_CANCEL

    ours: set[int] = set()
    execs = []
    with JournalReader(directory, registry()) as r:
        for e in r:
            if e.type == TYPE_ORDER:
                ours.update(e.records["order_id"][e.records["type"] != ORDER_CANCEL].tolist())
            elif e.type == TYPE_EXEC:
                execs.append(e.records.copy())
    x = np.concatenate(execs)
    f = x[((x["kind"] == EXEC_FILL) | (x["kind"] == EXEC_PARTIAL)) & np.isin(x["order_id"], list(ours))]
    return float(-(f["side"] * f["qty"] * f["price"]).sum() - f["fee"].sum()), len(f)
