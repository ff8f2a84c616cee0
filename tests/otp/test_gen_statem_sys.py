"""sys-style system messages reach a GenStatem too (OTP: sys works on every gen_* behaviour)."""

from __future__ import annotations

import pytest

from cns.otp import cast, sysapi
from cns.otp import stop as gen_server_stop
from cns.otp.gen_statem import Call, GenStatem, KeepState, Reply
from cns.otp.sysapi import SysError
from cns.runtime import Node


class Meter(GenStatem):
    def init(self):
        return "idle", 0

    def idle(self, event_type, content, data):
        match event_type, content:
            case "cast", n:
                return KeepState(data + n)
            case Call(frm), "get":
                return KeepState(actions=Reply(frm, data))


def test_get_state_and_replace_state_use_the_state_data_pair() -> None:
    node = Node()
    pid = Meter.start(node)

    cast(node, pid, 3)
    node.run_until_idle()
    assert sysapi.get_state(node, pid) == ("idle", 3)
    assert sysapi.replace_state(node, pid, lambda sd: (sd[0], sd[1] * 10)) == ("idle", 30)
    assert node.call(pid, "get") == 30
    assert sysapi.get_status(node, pid)["state"] == "idle"


def test_unsupported_request_is_a_sys_error_and_the_machine_lives() -> None:
    node = Node()
    pid = Meter.start(node)
    with pytest.raises(SysError):
        sysapi.replace_state(node, pid, lambda sd: 1 / 0)
    with pytest.raises(SysError):
        sysapi.statistics(node, pid)
    assert node.call(pid, "get") == 0


def test_the_generic_stop_stops_a_gen_statem() -> None:
    node = Node()
    pid = Meter.start(node)
    gen_server_stop(node, pid)
    node.run_until_idle()
    assert not pid.is_alive


def test_a_gen_statem_class_tuple_is_a_child_spec() -> None:
    from cns.otp import ChildSpec, Supervisor, SupFlags, which_children

    node = Node()
    sup = Supervisor.start_link(node, SupFlags("one_for_one", 3, 5.0), [ChildSpec("meter", (Meter, ()))])
    (child,) = which_children(node, sup)
    assert node.call(child.pid, "get") == 0


def test_a_subclass_shadowing_an_internal_is_refused_at_definition() -> None:
    from cns.otp.gen_statem import BadCallbackMode

    with pytest.raises(BadCallbackMode, match="_tick"):

        class Shadow(GenStatem):
            def _tick(self, msg):  # a session's own helper with an unlucky name
                return None
