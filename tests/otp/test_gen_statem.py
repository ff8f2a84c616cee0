"""GenStatem behaviour; each test is one rule of OTP's gen_statem reference manual (stdlib ``gen_statem``) or
its design-principles chapter ("gen_statem Behaviour"), quoted or paraphrased in the leading comment."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import pytest

from cns.otp import ChildSpec, Supervisor, SupFlags, which_children
from cns.otp import stop as gen_server_stop
from cns.otp.gen_server import IGNORE
from cns.otp.gen_statem import (
    BadAction,
    BadCallbackMode,
    BadReturn,
    Call,
    CancelTimeout,
    EventTimeout,
    GenericTimeout,
    GenStatem,
    Hibernate,
    KeepState,
    NextEvent,
    NextState,
    Postpone,
    RepeatState,
    Reply,
    StateTimeout,
    StopMachine,
    UndefStateFunction,
    UpdateTimeout,
    call,
    cast,
    get_state,
    reply,
    stop,
)
from cns.runtime import Actor, CallTimeout, Exit, InitFailed, Node, NoProc, Stop

LOG: list = []


@pytest.fixture(autouse=True)
def _clear():
    LOG.clear()


class Recorder(GenStatem):
    """handle_event_function machine that logs every event and obeys scripted results.

    ``script[(state, event_type_key, content)]`` gives the result; ``event_type_key`` is the event type, with
    ``"call"`` for calls. Unscripted events keep state and data. A call ``"state"`` replies the state.
    """

    callback_mode = "handle_event_function"

    def init(self, script, state="a", actions=(), enter=False):
        self.script = script
        self.enter = enter
        return state, None, actions

    def handle_event(self, event_type, content, state, data):
        key = "call" if isinstance(event_type, Call) else event_type
        if key == "enter" and not self.enter:
            return None
        LOG.append((state, key, content))
        if key == "call" and content == "state":
            return KeepState(actions=Reply(event_type.from_, state))
        r = self.script.get((state, key, content))
        return r(event_type) if callable(r) else r


class EnterRecorder(Recorder):
    state_enter = True


def events():
    return [(s, t, c) for s, t, c in LOG if t != "enter"]


def start(script, state="a", actions=(), enter=False):
    node = Node()
    pid = (EnterRecorder if enter else Recorder).start(node, script, state, actions, enter)
    node.run_until_idle()
    return node, pid


# ------------------------------------------------------------------- examples
class CodeLock(GenStatem):
    """The code lock of OTP's design principles chapter (state_functions + state_enter)."""

    state_enter = True

    def init(self, code, open_time=0.01):
        return "locked", {"code": code, "buttons": "", "open_time": open_time}

    def locked(self, event_type, content, data):
        match event_type, content:
            case "enter", _:
                return KeepState({**data, "buttons": ""})
            case "cast", ("button", b):
                buttons = (data["buttons"] + b)[-len(data["code"]) :]
                if buttons == data["code"]:
                    return NextState("open", data)
                return KeepState({**data, "buttons": buttons}, EventTimeout(30.0, "forget"))
            case "timeout", "forget":
                return KeepState({**data, "buttons": ""})
            case Call(frm), "status":
                return KeepState(actions=Reply(frm, "locked"))

    def open(self, event_type, content, data):
        match event_type, content:
            case "enter", _:
                LOG.append("unlocked")
                return KeepState(actions=StateTimeout(data["open_time"], "lock"))
            case "state_timeout", "lock":
                LOG.append("relocked")
                return NextState("locked")
            case "cast", ("button", _):
                return KeepState(actions=Postpone())
            case Call(frm), "status":
                return KeepState(actions=Reply(frm, "open"))


def test_code_lock_example_opens_relocks_and_replays_postponed_buttons():
    # Design principles, "Example" / "Postponing Events": a correct code opens the door, a state time-out
    # locks it again, and buttons pressed while open are postponed until the door is locked.
    node = Node()
    door = CodeLock.start(node, "123", 0.01)
    for b in "123":
        cast(node, door, ("button", b))
    assert call(node, door, "status") == "open"
    cast(node, door, ("button", "9"))  # postponed in "open"
    node.run_until_idle()
    assert get_state(node, door)[0] == "open"
    node.run(timeout=0.1)  # the state time-out fires; the event time-out of "9" is 30 s away
    assert LOG == ["unlocked", "relocked"]
    assert call(node, door, "status") == "locked"
    assert get_state(node, door)[1]["buttons"] == "9"  # the postponed press was handled in "locked"


class TrafficLight(GenStatem):
    callback_mode = "handle_event_function"
    state_enter = True
    NEXT = {"red": "green", "green": "yellow", "yellow": "red"}

    def init(self, period):
        return "red", period

    def handle_event(self, event_type, content, state, data):
        if event_type == "enter":
            LOG.append(state)
            return KeepState(actions=StateTimeout(data, "change"))
        if event_type == "state_timeout":
            return NextState(self.NEXT[state])
        if event_type == "cast":  # a pedestrian button: an event, which does not cancel the state time-out
            return None
        return None


def test_traffic_light_cycles_on_state_timeouts_in_handle_event_mode():
    # handle_event_function: "the state can be any term"; state_enter: the enter call runs on every state
    # change and for the initial state.
    node = Node()
    light = TrafficLight.start(node, 0.002)
    for _ in range(3):
        cast(node, light, "button")
    node.run(timeout=0.05)
    assert LOG[:4] == ["red", "green", "yellow", "red"]


# ------------------------------------------------------------------- calls and replies
def test_call_answered_by_reply_action():
    # "{reply, From, Reply}: replies to a caller waiting for a reply in call/2" -- an immediate action.
    node, p = start({("a", "call", "ping"): lambda t: KeepState(actions=Reply(t.from_, "pong"))})
    assert call(node, p, "ping") == "pong"
    assert node.call(p, "state") == "a"


def test_deferred_reply_from_a_later_event():
    # "reply(From, Reply) ... can be used to reply explicitly from a later state callback".
    pending = []

    def park(t):
        pending.append(t.from_)
        return KeepState()

    def release(_t):
        reply(pending.pop(), "released")
        return NextState("b")

    node, p = start({("a", "call", "wait"): park, ("a", "cast", "go"): release})

    class Client(Actor):
        async def receive(self, msg):
            LOG.append(("client", await self.node.acall(p, "wait")))

    c = node.spawn(Client())
    node.send(c, "run")
    node.run_until_idle()
    assert pending and not any(e[0] == "client" for e in LOG)
    cast(node, p, "go")
    node.run_until_idle()
    assert ("client", "released") in LOG and get_state(node, p)[0] == "b"


def test_deferred_reply_from_a_state_timeout():
    # A call may be answered from any later callback, here a state time-out of another state.
    class Later(GenStatem):
        def init(self):
            return "idle", None

        def idle(self, event_type, content, data):
            if isinstance(event_type, Call):
                return NextState("busy", event_type.from_, StateTimeout(0.005, "done"))

        def busy(self, event_type, content, data):
            if event_type == "state_timeout":
                self.reply(data, "done")
                return NextState("idle", None)

    node = Node()
    p = Later.start(node)
    assert call(node, p, "work", timeout=2.0) == "done"


def test_stop_and_reply_replies_before_terminate():
    # "stop_and_reply: ... sends all Replies, then terminates by calling Module:terminate/3".
    class S(GenStatem):
        def init(self):
            return "s", "d0"

        def s(self, event_type, content, data):
            if isinstance(event_type, Call):
                self.frm = event_type.from_
                return StopMachine("done", "d1", [Reply(event_type.from_, "bye")])

        def terminate(self, reason, state, data):
            LOG.append((reason, state, data, self.frm.done))

    node = Node()
    p = S.start(node)
    assert call(node, p, "quit") == "bye"
    assert LOG == [("done", "s", "d1", True)]
    assert p.exit_reason == "done"


def test_raise_stop_with_reply_answers_the_current_call():
    # Like GenServer: raise Stop(reason, reply=v) inside a call replies v, runs terminate, exits reason.
    def boom(t):
        raise Stop("quit", reply="ok")

    node, p = start({("a", "call", "q"): boom})
    assert call(node, p, "q") == "ok"
    assert p.exit_reason == "quit"


def test_call_to_a_machine_that_stops_with_the_call_postponed_fails_with_noproc():
    # A postponed call is still pending; if the server dies the caller gets the exit (NoProc here).
    node, p = start(
        {("a", "call", "x"): KeepState(actions=Postpone()), ("a", "cast", "die"): StopMachine("bye")}
    )

    class Client(Actor):
        async def receive(self, msg):
            try:
                await self.node.acall(p, "x")
            except NoProc as e:
                LOG.append(("noproc", e.reason))

    node.send(node.spawn(Client()), "go")
    node.run_until_idle()
    cast(node, p, "die")
    node.run_until_idle()
    assert ("noproc", "bye") in LOG


# ------------------------------------------------------------------- postpone
def test_postponed_events_are_retried_in_order_after_a_state_change():
    # "If the state changes, the queue of incoming events is reset to start with the oldest postponed."
    node, p = start(
        {
            ("a", "cast", 1): KeepState(actions=Postpone()),
            ("a", "cast", 2): KeepState(actions=Postpone()),
            ("a", "cast", "go"): NextState("b"),
        }
    )
    for m in (1, 2, "go", 3):
        cast(node, p, m)
    node.run_until_idle()
    assert events() == [
        ("a", "cast", 1),
        ("a", "cast", 2),
        ("a", "cast", "go"),
        ("b", "cast", 1),
        ("b", "cast", 2),
        ("b", "cast", 3),
    ]


def test_postponed_events_stay_postponed_without_a_state_change():
    # Postponed events are retried only when the state changes: keep_state, repeat_state and next_state
    # to the same state ("NextState =:= State") are not state changes.
    node, p = start(
        {
            ("a", "cast", "p"): KeepState(actions=Postpone()),
            ("a", "cast", "same"): NextState("a"),
            ("a", "cast", "repeat"): RepeatState(),
            ("a", "cast", "go"): NextState("b"),
        }
    )
    for m in ("p", "same", "repeat"):
        cast(node, p, m)
    node.run_until_idle()
    assert ("b", "cast", "p") not in events() and events().count(("a", "cast", "p")) == 1
    cast(node, p, "go")
    node.run_until_idle()
    assert events()[-1] == ("b", "cast", "p")


def test_postponed_event_can_be_postponed_again_and_retried_at_the_next_change():
    # A retried event is an ordinary event: postponing it again keeps it for the next state change.
    node, p = start(
        {
            ("a", "cast", "p"): KeepState(actions=Postpone()),
            ("b", "cast", "p"): KeepState(actions=Postpone()),
            ("a", "cast", "go"): NextState("b"),
            ("b", "cast", "go"): NextState("c"),
        }
    )
    for m in ("p", "go", "go"):
        cast(node, p, m)
    node.run_until_idle()
    assert [e for e in events() if e[2] == "p"] == [
        ("a", "cast", "p"),
        ("b", "cast", "p"),
        ("c", "cast", "p"),
    ]


# ------------------------------------------------------------------- next_event
def test_next_events_are_handled_first_in_action_order():
    # "All events stored with action() next_event are inserted to be processed before previously queued
    # events", the first in the action list first.
    node, p = start(
        {
            ("a", "cast", "go"): KeepState(
                actions=[NextEvent("internal", 1), NextEvent("cast", 2), NextEvent("info", 3)]
            )
        }
    )
    cast(node, p, "go")
    cast(node, p, "later")
    node.run_until_idle()
    assert events() == [
        ("a", "cast", "go"),
        ("a", "internal", 1),
        ("a", "cast", 2),
        ("a", "info", 3),
        ("a", "cast", "later"),
    ]


def test_next_events_go_before_retried_postponed_events():
    # Order of the transition: postponed events are reset to the queue front, then inserted events go in
    # front of them.
    node, p = start(
        {
            ("a", "cast", "p"): KeepState(actions=Postpone()),
            ("a", "cast", "go"): NextState("b", actions=NextEvent("internal", "ins")),
        }
    )
    cast(node, p, "p")
    cast(node, p, "go")
    node.run_until_idle()
    assert events()[-2:] == [("b", "internal", "ins"), ("b", "cast", "p")]


def test_next_event_rejects_an_unknown_event_type():
    # {bad_event_type, Type}: next_event takes an event_type().
    with pytest.raises(BadAction) as ei:
        NextEvent("enter", None)
    assert ei.value.tag == "bad_event_type"
    assert NextEvent(("timeout", "t")).event_type == ("timeout", "t")


def test_init_actions_run_before_any_message_and_postpone_is_ignored():
    # init/1: "Actions are executed when entering the first state just as for a state callback, except
    # that the action postpone is forced to false". The first state is entered before any message.
    class Selfish(GenStatem):
        state_enter = True

        def init(self):
            self.send(self.pid, "sent during init")
            return "a", None, [NextEvent("internal", "first"), Postpone()]

        def a(self, event_type, content, data):
            LOG.append((event_type, content))

    node = Node()
    p = Selfish.start(node)
    node.run_until_idle()
    assert LOG == [("enter", "a"), ("internal", "first"), ("info", "sent during init")]
    assert p.is_alive


# ------------------------------------------------------------------- time-outs
def test_state_timeout_is_not_cancelled_by_events():
    # state_timeout: "cancelled by a state change" only; other events do not cancel it.
    node, p = start({("a", "cast", "arm"): KeepState(actions=StateTimeout(0.01, "st"))})
    cast(node, p, "arm")
    for i in range(3):
        cast(node, p, i)
    node.run(timeout=1.0)
    assert events()[-1] == ("a", "state_timeout", "st")


def test_state_timeout_is_cancelled_by_a_state_change():
    # "A state change cancels a state_timeout()".
    node, p = start(
        {
            ("a", "cast", "arm"): KeepState(actions=StateTimeout(0.01, "st")),
            ("a", "cast", "go"): NextState("b"),
        }
    )
    cast(node, p, "arm")
    cast(node, p, "go")
    node.run(timeout=0.1)
    assert all(t != "state_timeout" for _, t, _ in events())


def test_state_timeout_set_with_the_state_change_belongs_to_the_new_state():
    # "any new transition option of this type belongs to the new state".
    node, p = start({("a", "cast", "go"): NextState("b", actions=StateTimeout(0.005, "st"))})
    cast(node, p, "go")
    node.run(timeout=1.0)
    assert events()[-1] == ("b", "state_timeout", "st")


def test_restarting_a_state_timeout_replaces_the_running_one():
    # "Setting this timer while it is running will restart it with the new time-out value."
    node, p = start(
        {
            ("a", "cast", "arm"): KeepState(actions=StateTimeout(0.005, "first")),
            ("a", "cast", "rearm"): KeepState(actions=StateTimeout(0.01, "second")),
        }
    )
    cast(node, p, "arm")
    cast(node, p, "rearm")
    node.run(timeout=1.0)
    assert [c for _, t, c in events() if t == "state_timeout"] == ["second"]


def test_event_timeout_is_cancelled_by_any_event():
    # event_timeout: "cancelled by any event", including inserted events and other time-outs.
    node, p = start({("a", "cast", "arm"): KeepState(actions=EventTimeout(0.01, "et"))})
    cast(node, p, "arm")
    cast(node, p, "other")
    node.run(timeout=0.1)
    assert all(t != "timeout" for _, t, _ in events())


def test_event_timeout_fires_when_no_event_comes():
    node, p = start({("a", "cast", "arm"): KeepState(actions=EventTimeout(0.005, "et"))})
    cast(node, p, "arm")
    node.run(timeout=1.0)
    assert events()[-1] == ("a", "timeout", "et")


def test_event_timeout_is_cancelled_by_an_inserted_event():
    # An inserted event is an event: a queued event cancels the event time-out before it could fire.
    node, p = start(
        {("a", "cast", "arm"): KeepState(actions=[EventTimeout(0, "et"), NextEvent("internal", 1)])}
    )
    cast(node, p, "arm")
    node.run(timeout=0.05)
    assert events() == [("a", "cast", "arm"), ("a", "internal", 1)]


def test_generic_timeouts_survive_events_and_state_changes():
    # {timeout, Name}: "not cancelled by events or state changes"; several names run independently.
    node, p = start(
        {
            ("a", "cast", "arm"): KeepState(
                actions=[GenericTimeout("x", 0.005, "cx"), GenericTimeout("y", 0.01, "cy")]
            ),
            ("a", "cast", "go"): NextState("b"),
        }
    )
    cast(node, p, "arm")
    cast(node, p, "go")
    cast(node, p, "noise")
    node.run(timeout=1.0)
    assert events()[-2:] == [("b", ("timeout", "x"), "cx"), ("b", ("timeout", "y"), "cy")]


def test_generic_timeout_cancel_and_infinity():
    # {{timeout,Name}, cancel} cancels; starting with Time = infinity also cancels a running one.
    node, p = start(
        {
            ("a", "cast", "arm"): KeepState(
                actions=[GenericTimeout("x", 0.005, "cx"), GenericTimeout("y", 0.005, "cy")]
            ),
            ("a", "cast", "off"): KeepState(
                actions=[CancelTimeout(("timeout", "x")), GenericTimeout("y", math.inf)]
            ),
        }
    )
    cast(node, p, "arm")
    cast(node, p, "off")
    node.run(timeout=0.05)
    assert events() == [("a", "cast", "arm"), ("a", "cast", "off")]


def test_update_timeout_changes_content_and_keeps_expiry():
    # {Timer, update, Content}: "change the time-out message ... without affecting the expiry time".
    node, p = start(
        {
            ("a", "cast", "arm"): KeepState(actions=GenericTimeout("x", 0.005, "old")),
            ("a", "cast", "upd"): KeepState(actions=UpdateTimeout(("timeout", "x"), "new")),
        }
    )
    cast(node, p, "arm")
    cast(node, p, "upd")
    node.run(timeout=1.0)
    assert [c for _, t, c in events() if t == ("timeout", "x")] == ["new"]


def test_update_of_a_timer_not_running_fires_like_time_zero():
    # "If no time-out of this type is active, instead the time-out event is inserted just like when
    # starting a time-out with relative Time = 0."
    node, p = start({("a", "cast", "upd"): KeepState(actions=UpdateTimeout("state_timeout", "now"))})
    cast(node, p, "upd")
    cast(node, p, "later")
    node.run_until_idle()
    assert events() == [("a", "cast", "upd"), ("a", "state_timeout", "now"), ("a", "cast", "later")]


def test_zero_timeouts_come_after_queued_events_and_before_messages():
    # "Time-outs with zero time are guaranteed to be delivered to the state machine before any external
    # not yet received event ... after already queued events such as inserted and postponed events."
    node, p = start(
        {
            ("a", "cast", "go"): KeepState(
                actions=[GenericTimeout("z", 0, "zero"), NextEvent("internal", "ins")]
            )
        }
    )
    cast(node, p, "go")
    cast(node, p, "msg")
    node.run_until_idle()
    assert events() == [
        ("a", "cast", "go"),
        ("a", "internal", "ins"),
        ("a", ("timeout", "z"), "zero"),
        ("a", "cast", "msg"),
    ]


def test_zero_state_timeout_is_cancelled_by_a_state_change_before_it_fires():
    # A state time-out is delivered only in the state it was started for (OTP 23's time-out zero queue):
    # here an inserted event changes the state before the time 0 state time-out is handled.
    node, p = start(
        {
            ("a", "cast", "go"): KeepState(actions=[StateTimeout(0, "st"), NextEvent("internal", "x")]),
            ("a", "internal", "x"): NextState("b"),
        }
    )
    cast(node, p, "go")
    node.run_until_idle()
    assert events() == [("a", "cast", "go"), ("a", "internal", "x")]


def test_invalid_timeout_time_is_a_bad_action():
    for bad in (-1, "5", True, float("nan")):
        with pytest.raises(BadAction):
            StateTimeout(bad)
    with pytest.raises(BadAction):
        CancelTimeout("nope")
    assert EventTimeout(None).time is None and StateTimeout(math.inf).time is None


def test_stale_timer_message_is_dropped_after_cancel():
    # A cancelled time-out is never delivered, even when its timer already fired and its message waits in
    # the mailbox behind the event that cancels it (OTP cancels timers synchronously).
    node, p = start(
        {
            ("a", "cast", "arm"): KeepState(actions=GenericTimeout("x", 0.001, "cx")),
            ("a", "cast", "off"): KeepState(actions=CancelTimeout(("timeout", "x"))),
        }
    )
    cast(node, p, "arm")
    node.run_until_idle()
    time.sleep(0.005)
    cast(node, p, "off")  # queued first; the due timer's message is queued behind it by the next run
    node.run_until_idle()
    assert events() == [("a", "cast", "arm"), ("a", "cast", "off")]


def test_restarting_a_timeout_on_every_event_keeps_one_runtime_timer():
    # Implementation rule (not OTP's): runtime timers are reused, so a time-out restarted per event (a
    # heartbeat) does not grow the node's timer heap with cancelled entries.
    node, p = start(
        {("a", "cast", "x"): KeepState(actions=[EventTimeout(30.0, "idle"), StateTimeout(30.0, "st")])}
    )
    for _ in range(1000):
        cast(node, p, "x")
    node.run_until_idle()
    assert len(node._timers) <= 4  # the heap itself (node.info() counts only active timers)


def test_restart_to_a_later_deadline_fires_at_the_later_deadline():
    # Restarting a running time-out: it fires at the new time, not at the old one.
    fired = []
    node, p = start(
        {
            ("a", "cast", "arm"): KeepState(actions=GenericTimeout("x", 0.01, "c")),
            ("a", "cast", "later"): KeepState(actions=GenericTimeout("x", 0.06, "c")),
            ("a", ("timeout", "x"), "c"): lambda t: fired.append(time.monotonic()),
        }
    )
    cast(node, p, "arm")
    node.run_until_idle()
    t0 = time.monotonic()
    cast(node, p, "later")
    node.run(timeout=2.0)
    assert len(fired) == 1 and fired[0] - t0 >= 0.055


def test_restart_to_an_earlier_deadline_fires_early():
    node, p = start(
        {
            ("a", "cast", "arm"): KeepState(actions=StateTimeout(60.0, "late")),
            ("a", "cast", "sooner"): KeepState(actions=StateTimeout(0.005, "soon")),
        }
    )
    cast(node, p, "arm")
    cast(node, p, "sooner")
    node.run(timeout=1.0)
    assert events()[-1] == ("a", "state_timeout", "soon")


# ------------------------------------------------------------------- state enter calls
def test_enter_calls_on_init_state_change_and_repeat_state_only():
    # state_enter: called for the initial state (OldState = State), on every state change and on
    # repeat_state; not on keep_state nor on next_state to the same state.
    node, p = start(
        {
            ("a", "cast", "keep"): KeepState(),
            ("a", "cast", "same"): NextState("a"),
            ("a", "cast", "repeat"): RepeatState(),
            ("a", "cast", "go"): NextState("b"),
        },
        enter=True,
    )
    for m in ("keep", "same", "repeat", "go"):
        cast(node, p, m)
    node.run_until_idle()
    assert [e for e in LOG if e[1] == "enter"] == [
        ("a", "enter", "a"),
        ("a", "enter", "a"),
        ("b", "enter", "a"),
    ]


def test_enter_call_runs_before_the_queued_events_and_its_timeouts_apply():
    # The enter call is part of the transition: it runs before the next event and may set time-outs.
    node, p = start(
        {
            ("a", "cast", "go"): NextState("b"),
            ("b", "enter", "a"): KeepState(actions=StateTimeout(0, "from_enter")),
        },
        enter=True,
    )
    cast(node, p, "go")
    cast(node, p, "after")
    node.run_until_idle()
    assert LOG[-3:] == [("b", "enter", "a"), ("b", "state_timeout", "from_enter"), ("b", "cast", "after")]


@pytest.mark.parametrize("action", [Postpone(), NextEvent("internal", 1)])
def test_enter_call_may_not_postpone_or_insert_events(action):
    # "Actions: ... postpone() and next_event are not allowed" in a state enter call.
    node, p = start(
        {("a", "cast", "go"): NextState("b"), ("b", "enter", "a"): KeepState(actions=action)}, enter=True
    )
    cast(node, p, "go")
    node.run_until_idle()
    assert isinstance(p.exit_reason, BadAction)
    assert p.exit_reason.tag == "bad_state_enter_action_from_state_function"


def test_enter_call_may_not_change_the_state():
    # An enter call may return next_state only with the current state ("bad_state_enter_return_...").
    node, p = start({("a", "cast", "go"): NextState("b"), ("b", "enter", "a"): NextState("c")}, enter=True)
    cast(node, p, "go")
    node.run_until_idle()
    assert isinstance(p.exit_reason, BadReturn)
    assert p.exit_reason.reason == ("bad_state_enter_return_from_state_function", NextState("c"))


def test_enter_call_repeat_state_runs_it_again():
    n = []

    def enter(_t):
        n.append(1)
        return RepeatState() if len(n) < 3 else None

    node, p = start({("a", "cast", "go"): NextState("b"), ("b", "enter", "a"): enter}, enter=True)
    cast(node, p, "go")
    node.run_until_idle()
    assert len(n) == 3 and p.is_alive


def test_enter_call_may_reply_and_stop():
    # An enter call may reply (reply actions are enter actions) and may stop.
    class E(GenStatem):
        state_enter = True

        def init(self):
            return "a", None

        def a(self, event_type, content, data):
            if isinstance(event_type, Call):
                return NextState("b", event_type.from_)

        def b(self, event_type, content, data):
            if event_type == "enter":
                return StopMachine("enter_stop", replies=Reply(data, "from enter"))

    node = Node()
    p = E.start(node)
    assert call(node, p, "go") == "from enter"
    assert p.exit_reason == "enter_stop"


# ------------------------------------------------------------------- failures
def test_bad_return_exits_with_a_clear_reason_after_terminate():
    # {bad_return_from_state_function, Result}: the server terminates (terminate/3 runs) with that reason.
    class Bad(GenStatem):
        def init(self):
            return "s", None

        def s(self, event_type, content, data):
            return ("next_state", "t", data)  # an Erlang-style tuple is not a result here

        def terminate(self, reason, state, data):
            LOG.append(reason)

    node = Node()
    p = Bad.start(node)
    cast(node, p, "x")
    node.run_until_idle()
    r = p.exit_reason
    assert isinstance(r, BadReturn) and r.tag == "bad_return_from_state_function"
    assert r.term == ("next_state", "t", None) and LOG == [r]


def test_bad_action_exits_with_bad_action_from_state_function():
    node, p = start({("a", "cast", "x"): KeepState(actions=["postpone"])})
    cast(node, p, "x")
    node.run_until_idle()
    assert isinstance(p.exit_reason, BadAction)
    assert p.exit_reason.reason == ("bad_action_from_state_function", "postpone")


def test_bad_reply_in_stop_machine():
    node, p = start({("a", "cast", "x"): StopMachine("r", replies=[Postpone()])})
    cast(node, p, "x")
    node.run_until_idle()
    assert p.exit_reason.tag == "bad_reply_action_from_state_function"


def test_undefined_state_function_and_reserved_names():
    # state_functions: the state must name a callback function ({undef_state_function, ...}).
    class U(GenStatem):
        def init(self, first):
            return first, None

        def a(self, event_type, content, data):
            return NextState(content)

    node = Node()
    for target in ("nowhere", "terminate", "_private", 42):
        p = U.start(node, "a")
        cast(node, p, target)  # the transition itself is fine ...
        cast(node, p, "next")  # ... the next event finds no state function
        node.run_until_idle()
        assert isinstance(p.exit_reason, UndefStateFunction), target
        assert p.exit_reason.tag == "undef_state_function"


def test_exception_in_a_callback_is_the_exit_reason_after_terminate():
    def boom(_t):
        raise KeyError("k")

    node, p = start({("a", "cast", "x"): boom})
    cast(node, p, "x")
    node.run_until_idle()
    assert isinstance(p.exit_reason, KeyError)


def test_bad_callback_mode_is_rejected_when_the_class_is_defined():
    with pytest.raises(BadCallbackMode):

        class _M(GenStatem):
            callback_mode = "state_function"


def test_init_results_ignore_stop_and_bad_return():
    # init/1: {ok,...}, ignore, {stop, Reason}; anything else is {bad_return_from_init, ...}.
    class Starter(GenStatem):
        def init(self, r):
            if isinstance(r, Exception):
                raise r
            return r

        def s(self, *a):
            return None

    node = Node()
    assert Starter.start(node, IGNORE) is None
    with pytest.raises(InitFailed) as ei:
        Starter.start(node, StopMachine("no"))
    assert ei.value.reason == "no"
    with pytest.raises(InitFailed) as ei:
        Starter.start(node, "s")
    assert isinstance(ei.value.reason, BadReturn) and ei.value.reason.tag == "bad_return_from_init"
    assert Starter.start(node, ("s", 1)).is_alive
    p = Starter.start(node, ("s", 1, [Hibernate()]))
    node.run_until_idle()
    assert p.is_alive


def test_bad_init_action_crashes_after_start_returns():
    # The first state is entered after start returned {ok, Pid}: a bad init action crashes the process.
    node, p = start({}, actions=["bad"])
    assert not p.is_alive and isinstance(p.exit_reason, BadAction)


# ------------------------------------------------------------------- links, supervision, stop
def test_stop_reason_propagates_to_links():
    # {stop, Reason}: the process exits with Reason, so linked processes get the exit signal.
    class Parent(Actor):
        def receive(self, msg):
            if msg == "start":
                self.child = Recorder.start_link(
                    self.node, {("a", "cast", "x"): StopMachine(("shutdown", "bye"))}
                )
            else:
                LOG.append(msg)

    node = Node()
    par = Parent()
    pp = node.spawn(par, trap_exit=True)
    node.send(pp, "start")
    node.run_until_idle()
    cast(node, par.child, "x")
    node.run_until_idle()
    assert Exit(par.child, ("shutdown", "bye")) in LOG


def test_non_trapping_linked_process_dies_with_the_stop_reason():
    class Parent(Actor):
        def receive(self, msg):
            self.child = Recorder.start_link(self.node, {("a", "cast", "x"): StopMachine("boom")})

    node = Node()
    par = Parent()
    pp = node.spawn(par)
    node.send(pp, "start")
    node.run_until_idle()
    cast(node, par.child, "x")
    node.run_until_idle()
    assert pp.exit_reason == "boom"


class Counter(GenStatem):
    def init(self):
        self.trap_exit()
        LOG.append("init")
        return "counting", 0

    def counting(self, event_type, content, data):
        match event_type, content:
            case "cast", "crash":
                raise RuntimeError("crash")
            case "cast", n:
                return KeepState(data + n)
            case Call(frm), "get":
                return KeepState(actions=Reply(frm, data))

    def terminate(self, reason, state, data):
        LOG.append(("terminate", reason if isinstance(reason, str) else type(reason).__name__, data))


def test_supervisor_restarts_a_crashed_statem_and_shuts_it_down_with_terminate():
    # A gen_statem is a supervised worker: restarted per its restart type; on supervisor shutdown a trapping
    # gen_statem gets the parent's exit signal and terminate/3 runs with reason shutdown.
    node = Node()
    sup = Supervisor.start_link(
        node,
        SupFlags("one_for_one", 3, 5.0),
        [ChildSpec("counter", lambda n: Counter.start_link(n, name="counter"))],
    )
    first = node.whereis("counter")
    cast(node, "counter", 5)
    assert call(node, "counter", "get") == 5
    cast(node, "counter", "crash")
    node.run_until_idle()
    second = node.whereis("counter")
    assert second is not first and second.is_alive and not first.is_alive
    assert call(node, "counter", "get") == 0
    assert which_children(node, sup)[0].pid is second
    assert LOG[:3] == ["init", ("terminate", "RuntimeError", 5), "init"]
    gen_server_stop(node, sup)
    assert LOG[-1] == ("terminate", "shutdown", 0) and not second.is_alive


def test_stop_runs_terminate_and_get_state_reads_state_and_data():
    node = Node()
    p = Counter.start(node)
    cast(node, p, 2)
    assert get_state(node, p) == ("counting", 2)
    stop(node, p, "bye")
    assert LOG[-1] == ("terminate", "bye", 2) and p.exit_reason == "bye"
    with pytest.raises(NoProc):
        call(node, p, "get")


def test_exit_from_plain_python_is_a_shutdown_order_when_trapping():
    # As GenServer: an unlinked server is its own parent; an exit signal from plain Python stops it.
    node = Node()
    p = Counter.start(node)
    node.run_until_idle()
    node.exit(p, "shutdown")
    node.run_until_idle()
    assert LOG[-1] == ("terminate", "shutdown", 0)


def test_info_events_and_casts_from_gen_server_api():
    from cns.otp import cast as gs_cast

    node, p = start({})
    node.send(p, "raw")
    gs_cast(node, p, "c")
    node.run_until_idle()
    assert events() == [("a", "info", "raw"), ("a", "cast", "c")]


def test_async_state_function_awaits_a_call():
    # A callback may be async and await another process; the machine handles nothing else meanwhile.
    node = Node()
    counter = Counter.start(node)
    cast(node, counter, 7)

    class Asker(GenStatem):
        def init(self):
            return "idle", None

        async def idle(self, event_type, content, data):
            if isinstance(event_type, Call):
                n = await self.call(counter, "get")
                return NextState("done", n, [Reply(event_type.from_, n), NextEvent("internal", "after")])

        def done(self, event_type, content, data):
            LOG.append((event_type, content))

    a = Asker.start(node)
    assert call(node, a, "ask") == 7
    node.run_until_idle()
    assert ("internal", "after") in LOG and get_state(node, a) == ("done", 7)


def test_call_timeout_when_never_answered():
    node, p = start({("a", "call", "x"): KeepState()})
    with pytest.raises(CallTimeout):
        call(node, p, "x", timeout=0.01)


def test_hot_code_loading_applies_code_change_state():
    # code_change/4: the new code converts the old state and data.
    from cns.otp.hotload import upgrade

    class V1(GenStatem):
        vsn = 1

        def init(self):
            return "s", 1

        def s(self, event_type, content, data):
            if isinstance(event_type, Call):
                return KeepState(actions=Reply(event_type.from_, ("v1", data)))

    class V2(V1):
        vsn = 2

        def code_change_state(self, old_vsn, state, data, extra):
            return "t", {"n": data, "from": old_vsn}

        def t(self, event_type, content, data):
            if isinstance(event_type, Call):
                return KeepState(actions=Reply(event_type.from_, ("v2", data)))

    node = Node()
    p = V1.start(node)
    assert call(node, p, "?") == ("v1", 1)
    report = upgrade(node, V1, V2)
    assert report.ok, report.failed
    assert call(node, p, "?") == ("v2", {"n": 1, "from": 1})


# ------------------------------------------------------------------- the FIX session of the docs
def _doc_example() -> dict:
    text = (Path(__file__).resolve().parents[2] / "docs/otp/gen_statem.md").read_text()
    section = text.split("## Example: a FIX-like session", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    ns: dict = {}
    exec(compile(code, "docs/otp/gen_statem.md", "exec"), ns)
    return ns


def _gateway(node):
    out: list = []
    return out, node.spawn(out.append)


def test_fix_session_logon_orders_and_logout():
    FixSession = _doc_example()["FixSession"]
    node = Node()
    out, gw = _gateway(node)
    s = FixSession.start(node, gw, 30.0)
    results = []

    class Trader(Actor):
        async def receive(self, msg):
            results.append(await self.node.acall(s, msg))

    trader = node.spawn(Trader())
    node.send(trader, ("order", {"Symbol": "ACME", "Qty": 100}))  # arrives during logon: postponed
    node.run_until_idle()
    assert [m[0] for m in out] == ["Logon"] and results == []
    node.send(s, ("Logon", 1, {}))  # the counterparty accepts
    node.run_until_idle()
    assert [m[0] for m in out] == ["Logon", "NewOrderSingle"] and results == [2]
    node.send(s, ("TestRequest", 2, {"TestReqID": "t1"}))
    node.run_until_idle()
    assert out[-1] == ("Heartbeat", 3, {"TestReqID": "t1"})
    node.send(trader, "logout")
    node.run_until_idle()
    assert out[-1][0] == "Logout" and get_state(node, s)[0] == "logout" and results == [2]
    node.send(s, ("Logout", 3, {}))
    node.run_until_idle()
    assert results == [2, "logged_out"] and s.exit_reason == "normal"


def test_fix_session_heartbeats_then_disconnects_a_silent_peer():
    FixSession = _doc_example()["FixSession"]
    node = Node()
    out, gw = _gateway(node)
    s = FixSession.start(node, gw, 0.01)
    node.run_until_idle()
    node.send(s, ("Logon", 1, {}))
    node.run(timeout=2.0)
    sent = [m[0] for m in out]
    assert "Heartbeat" in sent and "TestRequest" in sent
    assert s.exit_reason == "peer_silent"


def test_fix_session_logon_timeout():
    FixSession = _doc_example()["FixSession"]
    node = Node()
    out, gw = _gateway(node)
    s = FixSession.start(node, gw, 0.005)
    node.run(timeout=2.0)
    assert s.exit_reason == "logon_timeout"
