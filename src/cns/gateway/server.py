"""Assembly of the venue: one supervisor over the market-data publisher, the gateway, one FIX session per
client, the FIX acceptor and the market maker (in that start order; a crashed child is restarted alone:
``one_for_one``, at most 10 restarts in 10 s).

    node = Node()
    runner = asyncio.get_running_loop().create_task(node.run_async())
    venue = await start_venue(node, load_venue_config("venue.toml"))
    print(venue.fix_port, venue.md_port)
    ...
    await stop_venue(venue)          # Logout to every logged-on client, BYE to market-data clients

Process names: ``venue`` (supervisor), ``venue_md``, ``venue_gateway``, ``fix:<session name>``,
``fix_acceptor``, ``venue_market_maker``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from cns.fix.acceptor import acceptor_child_spec
from cns.fix.session import FixSessionConfig, fix_session_child_spec
from cns.gateway.config import VenueConfig
from cns.gateway.errors import GatewayConfigError
from cns.gateway.gateway import VenueGateway
from cns.gateway.market_maker import market_maker_child_spec
from cns.gateway.marketdata import MarketDataPublisher
from cns.otp import ChildSpec, Supervisor, SupFlags
from cns.runtime import Node, Pid
from cns.runtime.aio import loop_call

__all__ = ["VenueHandle", "session_configs", "start_venue", "stop_venue"]


@dataclass
class VenueHandle:
    node: Node
    supervisor: Pid
    config: VenueConfig
    fix_port: int
    md_port: int | None


def session_configs(config: VenueConfig) -> list[FixSessionConfig]:
    """The acceptor-role FIX session configs of the venue's clients."""
    return [
        FixSessionConfig(
            name=s.name,
            sender_comp_id=s.sender_comp_id,
            target_comp_id=s.target_comp_id,
            role="acceptor",
            heartbeat_s=config.heartbeat_s,
            password=s.password,
            store_dir=config.store_dir,
            store_fsync=config.store_fsync,
            persist_when_down=True,
        )
        for s in config.sessions
    ]


async def start_venue(node: Node, config: VenueConfig, *, timeout: float = 10.0) -> VenueHandle:
    """Start the venue's supervision tree on ``node`` (which must be running under asyncio) and wait until
    the FIX and market-data ports listen. :class:`GatewayConfigError` if a port cannot be bound."""
    sessions = session_configs(config)
    children: list[ChildSpec] = []
    md_name: str | None = None
    if config.md_port is not None:
        md_name = "venue_md"

        def start_md(n: Node) -> Pid:
            return MarketDataPublisher.start_publisher(
                n,
                config.symbols,
                host=config.host,
                port=config.md_port or 0,
                heartbeat_s=config.md_heartbeat_s,
                name=md_name,
                link=True,
            )

        children.append(ChildSpec("venue_md", start_md, shutdown=2.0))

    def start_gateway(n: Node) -> Pid:
        return VenueGateway.start_gateway(n, config, name="venue_gateway", md=md_name, link=True)

    children.append(ChildSpec("venue_gateway", start_gateway, shutdown=2.0))
    children += [fix_session_child_spec(s, "venue_gateway") for s in sessions]
    children.append(acceptor_child_spec(sessions, host=config.host, port=config.port))
    if config.market_maker.enabled:
        children.append(market_maker_child_spec(config))
    sup = Supervisor.start(node, SupFlags("one_for_one", intensity=10, period=10.0), children, name="venue")
    assert sup is not None
    fix_port = await _port(node, "fix_acceptor", timeout)
    md_port = await _port(node, md_name, timeout) if md_name is not None else None
    return VenueHandle(node, sup, config, fix_port, md_port)


async def _port(node: Node, name: str, timeout: float) -> int:
    r = await loop_call(node, name, "port", timeout)
    if isinstance(r, BaseException):
        raise GatewayConfigError(str(r))
    return int(r)


async def stop_venue(h: VenueHandle, timeout: float = 3.0) -> None:
    """Graceful stop: every logged-on client gets a Logout (waiting at most ``timeout`` s for the answers),
    then the tree shuts down (market-data clients get BYE, sockets close, stores close)."""
    node = h.node
    waits = []
    for s in h.config.sessions:
        if node.whereis(f"fix:{s.name}") is not None:
            waits.append(loop_call(node, f"fix:{s.name}", "logout", timeout))
    if waits:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*waits, return_exceptions=True), timeout + 0.5)
    node.exit(h.supervisor, "shutdown")
    deadline = time.monotonic() + timeout + 5.0
    while h.supervisor.mbox is not None and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # let the transports flush BYE / Logout
