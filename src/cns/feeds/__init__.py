"""Live news feeds in: the CNS feed protocol (binary TCP and JSON WebSocket), a replay server standing in
for a vendor, and supervised feed handlers delivering ordered NEWS_DTYPE batches. See ``docs/feeds.md``.

Pieces for a live service (``cns serve``)::

    from cns.feeds import FeedConfig, FeedStats, feed_child_spec
    stats = FeedStats()
    spec = feed_child_spec(FeedConfig("vendor-a", port=7400), consumer=desk_pid, stats=stats,
                           on_alert=print)
    # ... Supervisor.start_link(node, SupFlags(...), [spec, ...]); await node.run_async()
    # the desk reads stats.paused before deciding on vendor-a's instruments
"""

from cns.feeds.bench import FeedThroughput, measure_throughput, measure_throughput_async
from cns.feeds.errors import FeedConfigError, FeedError
from cns.feeds.handler import (
    Backoff,
    FeedAlert,
    FeedBatch,
    FeedConfig,
    FeedHandler,
    FeedStats,
    feed_child_spec,
)
from cns.feeds.sequencer import SequenceTracker
from cns.feeds.server import FeedServer, FeedSource

__all__ = [
    "Backoff",
    "FeedAlert",
    "FeedBatch",
    "FeedConfig",
    "FeedConfigError",
    "FeedError",
    "FeedHandler",
    "FeedServer",
    "FeedSource",
    "FeedStats",
    "FeedThroughput",
    "SequenceTracker",
    "feed_child_spec",
    "measure_throughput",
    "measure_throughput_async",
]
