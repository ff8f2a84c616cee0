"""CNS workloads for ``cns bench actors`` (same workloads as :mod:`cns.bench.actors_peers`)."""

from __future__ import annotations

from typing import Any

from cns.bench.actors_peers import Sizes

__all__ = ["run_cns"]


def run_cns(sizes: Sizes) -> dict[str, Any]:
    """Run the CNS workloads; raises until the runtime (cns.runtime) provides spawn/send/call."""
    import cns.runtime as rt

    if not hasattr(rt, "spawn"):
        raise RuntimeError("cns.runtime does not export spawn/send/call yet")
    raise RuntimeError("CNS workloads not wired yet")
