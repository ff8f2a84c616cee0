"""Hot code loading under load: every message handled exactly once, the ones after the swap by the new code."""

from __future__ import annotations

import importlib
import sys
import textwrap
from typing import Any

import pytest

from cns.otp.gen_server import GenServer, cast
from cns.otp.hotload import HotLoadError, reload_module, upgrade
from cns.runtime import Actor, Node

N = 20_000
PER_TURN = 50


class CounterV1(GenServer):
    vsn = 1

    def init(self) -> None:
        self.seen: list[tuple[int, int]] = []  # (seq, version that handled it)

    def handle_cast(self, seq: int) -> None:
        self.seen.append((seq, 1))

    def handle_call(self, request: Any, from_: Any) -> Any:
        return self.seen


class CounterV2(GenServer):
    vsn = 2

    def handle_cast(self, seq: int) -> None:
        self.log.append((seq, 2))

    def handle_call(self, request: Any, from_: Any) -> Any:
        return self.log

    def code_change(self, old_vsn: Any, state: dict[str, Any], extra: Any) -> dict[str, Any]:
        assert old_vsn == 1
        state["log"] = state.pop("seen")  # v2 renamed the field
        state["upgraded_with"] = extra
        return state


class BrokenV2(CounterV1):
    vsn = 2

    def code_change(self, old_vsn: Any, state: dict[str, Any], extra: Any) -> dict[str, Any]:
        raise RuntimeError("refuse")


class Producer(Actor):
    """Floods ``target`` with casts, PER_TURN per scheduler turn, so the flood spans many turns."""

    def __init__(self, target: Any, total: int) -> None:
        self.target = target
        self.total = total
        self.next = 0

    def receive(self, msg: Any) -> None:
        stop = min(self.next + PER_TURN, self.total)
        for seq in range(self.next, stop):
            cast(self.node, self.target, seq)
        self.next = stop
        if stop < self.total:
            self.node.send(self.pid, "more")


def _flood_and_swap(node: Node, servers: list[Any], new: type, *, extra: Any = None) -> Any:
    producers = [node.spawn(Producer(s, N)) for s in servers]
    for p in producers:
        node.send(p, "go")
    node.run(timeout=0.01)  # part of the flood is handled by v1 ...
    report = upgrade(node, CounterV1, new, extra=extra)
    node.run_until_idle()  # ... the rest (including what queued during the swap) by the new code
    return report


def test_upgrade_under_load_exactly_once_and_in_order() -> None:
    node = Node()
    servers = [CounterV1.start(node) for _ in range(3)]
    report = _flood_and_swap(node, servers, CounterV2, extra="tag")
    assert report.ok and set(report.upgraded) == set(servers)
    assert report.old_vsn == 1 and report.new_vsn == 2 and report.elapsed_ns > 0
    for s in servers:
        log = node.call(s, "log")
        assert [seq for seq, _ in log] == list(range(N)), "every message exactly once, in order"
        versions = [v for _, v in log]
        cut = versions.index(2)
        assert 0 < cut < N, "the swap happened in the middle of the flood"
        assert set(versions[:cut]) == {1} and set(versions[cut:]) == {2}
        assert type(s.actor) is CounterV2 and s.actor.upgraded_with == "tag"
    node.shutdown()


def test_failed_code_change_keeps_old_code_and_state() -> None:
    node = Node()
    s = CounterV1.start(node)
    report = _flood_and_swap(node, [s], BrokenV2)
    assert not report.ok and report.failed[0][0] is s and "refuse" in report.failed[0][1]
    assert s.is_alive and type(s.actor) is CounterV1
    log = node.call(s, "log")
    assert [seq for seq, _ in log] == list(range(N)) and {v for _, v in log} == {1}
    node.shutdown()


def test_slot_layout_mismatch_is_reported() -> None:
    class Slotted(Actor):
        __slots__ = ("x",)

        def receive(self, msg: Any) -> None:
            pass

    class Plain(Actor):
        def receive(self, msg: Any) -> None:
            pass

    node = Node()
    p = node.spawn(Slotted())
    report = upgrade(node, Slotted, Plain)
    assert report.failed and "__slots__" in report.failed[0][1]
    assert type(p.actor) is Slotted and p.is_alive
    with pytest.raises(HotLoadError):
        upgrade(node, Slotted, "Plain")  # type: ignore[arg-type]
    node.shutdown()


def test_reload_module_upgrades_every_live_process(tmp_path, monkeypatch) -> None:
    src = textwrap.dedent("""
        from cns.otp.gen_server import GenServer

        class Worker(GenServer):
            vsn = {vsn}

            def init(self):
                self.n = 0

            def handle_cast(self, msg):
                self.n += {step}

            def handle_call(self, request, from_):
                return (self.vsn, self.n)

            def code_change(self, old_vsn, state, extra):
                state["from_vsn"] = old_vsn
                return state
    """)
    mod_file = tmp_path / "hotmod_under_test.py"
    mod_file.write_text(src.format(vsn=1, step=1))
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("hotmod_under_test")
    try:
        node = Node()
        pids = [mod.Worker.start(node) for _ in range(4)]
        for p in pids:
            cast(node, p, "x")
        node.run_until_idle()
        mod_file.write_text(src.format(vsn=2, step=100) + "\n# v2\n")
        (report,) = reload_module(node, "hotmod_under_test")
        assert report.ok and len(report.upgraded) == 4
        for p in pids:
            cast(node, p, "x")
        assert [node.call(p, "?") for p in pids] == [(2, 101)] * 4
        assert all(p.actor.from_vsn == 1 for p in pids)
        with pytest.raises(HotLoadError, match="not imported"):
            reload_module(node, "no_such_module_xyz")
        node.shutdown()
    finally:
        sys.modules.pop("hotmod_under_test", None)


def test_upgrade_pool_workers_under_load_loses_nothing() -> None:
    from cns.otp.pool import PoolWorker, start_pool

    class EchoV1(PoolWorker):
        vsn = 1

        def init(self, sink: list[Any]) -> None:
            self.sink = sink

        def handle_cast(self, seq: int) -> None:
            self.sink.append((seq, 1))

    class EchoV2(EchoV1):
        vsn = 2

        def handle_cast(self, seq: int) -> None:
            self.sink.append((seq, 2))

    node = Node()
    sink: list[Any] = []
    pool = start_pool(node, EchoV1, 3, args=(sink,))
    for seq in range(3_000):
        pool.cast(seq)
    node.run(timeout=0.002)
    report = upgrade(node, EchoV1, EchoV2)
    for seq in range(3_000, 6_000):
        pool.cast(seq)
    node.run_until_idle()
    assert report.ok and len(report.upgraded) == 3
    assert sorted(s for s, _ in sink) == list(range(6_000))
    assert all(v == 2 for s, v in sink if s >= 3_000)
    assert pool.stats().lost == 0
    pool.stop()
