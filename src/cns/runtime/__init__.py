"""Actor runtime with Erlang semantics: one single-threaded scheduler (:class:`Node`) per OS process.

Processes are spawned from an :class:`Actor` (override ``receive(msg)``) or any callable of one message::

    from cns.runtime import Node, Actor

    class Echo(Actor):
        def receive(self, msg):
            if isinstance(msg, From):            # a call: answer it
                self.node.reply(msg, msg.request)

    node = Node()
    pid = node.spawn(Echo())
    node.send(pid, "hello")                      # async, never blocks (unless bounded mailbox is full)
    assert node.call(pid, 42) == 42              # plain Python: runs the scheduler until the reply
    node.run_until_idle()

Semantics (OTP's "Processes" chapter): ``spawn``/``spawn_link``; ``send`` (by pid or registered name,
per-sender ordering, messages passed by reference -- NumPy batches are never copied); ``call`` with timeout
(default 5 s; ``NoProc``/``CallTimeout``); ``register``/``whereis``; ``self_pid``; links, monitors
(``Down`` with the reason, ``noproc`` at once for a dead pid); ``exit(pid, reason)`` with ``kill``
untrappable (the victim exits ``killed``), ``normal`` ignored by non-trapping processes; ``trap_exit``
turning signals into :class:`Exit` messages; a raising handler exits the process with the exception as
reason (logged with its traceback); ``raise Stop(reason)`` exits cleanly. Timers: ``send_after``,
``send_interval``, ``cancel_timer``.

Calls inside handlers: make the handler ``async def`` and ``await node.acall(pid, req)``. The scheduler
drives the coroutine itself (``coro.send``, no asyncio); the process is parked until the reply or timeout and
its other messages wait. ``acall`` sends at once and returns the call record (:class:`From`), awaitable in
the calling process, so several calls may be in flight before they are awaited. ``await node.sleep(s)``, ``await node.wait_down(ref, timeout)`` and, when the node
runs under asyncio (``await node.run_async()``), awaiting asyncio futures/streams park the same way.

Driving from plain Python (recommended for pipeline stages): ``node.call(pid, batch)`` for request/reply per
batch, or ``node.send(pid, batch)`` for many batches followed by one ``node.run_until_idle()`` -- the latter
costs one list append per message and one handler call per message in a tight loop.

Hot code loading support (used by :mod:`cns.otp.hotload`): ``node.processes(BehaviourClass)`` lists live
processes whose actor is an instance of the class; ``node.run_in(pid, fn)`` runs ``fn(actor)`` inside the process
at a safe point *in mailbox order*: after the messages already queued when ``run_in`` is called (handled by the
old code), between two messages, never while a handler is parked; it returns ``fn``'s result. Afterwards the
handler is re-bound from ``actor.receive``, so ``fn`` may assign ``actor.__class__`` and call ``code_change``:
every message queued after the request -- including those sent while the swap runs -- is handled by the new
code, none is lost or handled twice. On timeout the request is withdrawn (``fn`` never runs).

Monitors are removed when either side dies (Erlang's rule): a dead watcher leaves nothing on its target.

Telemetry: :mod:`cns.runtime.telemetry` (``attach``/``detach``/``emit``; events ``spawn``, ``exit``, ``messages``,
``messages_out``, ``mailbox_depth``, ``dropped``, ``lost``); zero cost with no handler attached.

Fairness: a scheduler turn handles at most ``Node(turn_messages=512)`` messages of one process (Erlang's
reductions); the rest of its batch waits with it (ahead of newer messages; ``mailbox_size`` counts it) and it
goes to the back of the run queue, so a slow consumer with a huge mailbox cannot hold up other processes,
timers or deadlines.

Never hangs, counts what it loses: every timeout and delay is a finite number of seconds (``BadArg``
otherwise); a blocked send, a call, ``run_in`` and ``run(timeout)`` read the clock (deadline, due timers) at
least every few hundred turns however busy the node is; a finished or timed-out wait leaves no timer
behind; an interval timer never bursts to catch up (``Timer.missed``). Messages lost -- left in the mailbox
of an exiting process, sent to a dead one, dropped by a full mailbox -- are counted in ``Node.info()``
(and the telemetry ``lost``/``dropped`` events); calls among them fail at once with ``NoProc``.

Bulk start: ``with node.bulk_spawn(): ...`` raises the cyclic GC's generation-0 threshold for the scope
(``freeze=True``: pauses it and freezes what is alive on exit), for creating many long-lived processes.

Layout: :mod:`.node` (processes, names, send, the scheduler), :mod:`.calls` (call/acall/reply/run_in),
:mod:`.signals` (links, monitors, exit signals), :mod:`.timers`, :mod:`.aio` (async handlers, ``run_async``, ``loop_call``), :mod:`.turns` (a scheduler turn),
:mod:`.process` (Pid, Actor, message types), :mod:`.mailbox` (bounded mailboxes), :mod:`.bulk` (the GC scope).
"""

from . import telemetry
from .aio import loop_call
from .errors import (
    ActorError,
    BadArg,
    CallTimeout,
    InitFailed,
    InvalidSpec,
    MailboxFull,
    NameTaken,
    NoProc,
    NotInProcess,
)
from .mailbox import POLICIES as MAILBOX_POLICIES
from .mailbox import BoundedMailbox
from .node import Node, current_node
from .process import KILL, KILLED, NOPROC, NORMAL, SHUTDOWN, Actor, Down, Exit, From, Pid, Stop, Timer

__all__ = [
    "KILL",
    "KILLED",
    "MAILBOX_POLICIES",
    "NOPROC",
    "NORMAL",
    "SHUTDOWN",
    "Actor",
    "ActorError",
    "BadArg",
    "BoundedMailbox",
    "CallTimeout",
    "Down",
    "Exit",
    "From",
    "InitFailed",
    "InvalidSpec",
    "MailboxFull",
    "NameTaken",
    "NoProc",
    "Node",
    "NotInProcess",
    "Pid",
    "Stop",
    "Timer",
    "current_node",
    "loop_call",
    "telemetry",
]
