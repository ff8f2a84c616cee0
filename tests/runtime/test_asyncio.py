"""The node inside an asyncio loop: actors own real sockets and await I/O in the same scheduler."""

from __future__ import annotations

import asyncio

from cns.runtime import Actor, Node


class EchoServer(Actor):
    """Listens on 127.0.0.1; each connection is handed back to this actor, which reads and echoes."""

    def __init__(self) -> None:
        self.port = None
        self.server = None

    async def receive(self, msg):
        if msg == "listen":
            self.server = await asyncio.start_server(
                lambda r, w: self.node.send(self.pid, ("conn", r, w)), "127.0.0.1", 0
            )
            self.port = self.server.sockets[0].getsockname()[1]
        elif msg[0] == "conn":
            _, reader, writer = msg
            data = await reader.readline()
            writer.write(b"echo:" + data)
            await writer.drain()
            writer.close()
        elif msg == "close":
            self.server.close()


class Client(Actor):
    def __init__(self) -> None:
        self.answer = None

    async def receive(self, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping\n")
        await writer.drain()
        self.answer = await reader.readline()
        writer.close()


def test_actor_owned_socket_roundtrip_under_asyncio():
    node = Node()
    server = EchoServer()
    client = Client()
    spid = node.spawn(server)
    cpid = node.spawn(client)
    ticks = []
    tick_pid = node.spawn(ticks.append)
    node.send_interval(0.001, tick_pid, "tick")

    async def main():
        node.send(spid, "listen")
        await asyncio.wait_for(node.run_async(until=lambda: server.port is not None), 5)
        node.send(cpid, server.port)
        await asyncio.wait_for(node.run_async(until=lambda: client.answer is not None), 5)
        node.send(spid, "close")
        await asyncio.wait_for(node.run_async(until=lambda: not spid.mailbox_size), 5)

    asyncio.run(main())
    assert client.answer == b"echo:ping\n"
    assert ticks  # timers fire while the node runs under asyncio
    assert spid.is_alive and cpid.is_alive


def test_send_from_asyncio_callback_wakes_idle_node():
    node = Node()
    got = []
    p = node.spawn(got.append)

    async def main():
        loop = asyncio.get_running_loop()
        loop.call_later(0.02, node.send, p, "from callback")
        loop.call_later(0.05, node.stop)
        await asyncio.wait_for(node.run_async(), 5)

    asyncio.run(main())
    assert got == ["from callback"]
