"""Facts about the machine and a strict JSON writer, shared by benchmarks and reports.

Lives in telemetry (the bottom layer) so that ``cns.replay`` and ``cns.bench`` can both use it without
importing each other.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["cpu_model", "machine", "write_json"]


def cpu_model() -> str:
    """The CPU model name (first ``model name`` line of ``/proc/cpuinfo``), or the platform's best guess."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() in ("model name", "Model", "cpu model"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine() -> dict[str, Any]:
    """Facts about the machine and interpreter a benchmark ran on (for the JSON ``machine`` field)."""
    facts: dict[str, Any] = {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "os": f"{platform.system()} {platform.release()}",
        "numpy": np.__version__,
    }
    try:
        import numba

        facts["numba"] = numba.__version__
    except ImportError:  # numba is a hard dependency, but machine() must never fail
        facts["numba"] = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            first = f.readline().split()
            facts["mem_total_kib"] = int(first[1])
    except (OSError, IndexError, ValueError):
        facts["mem_total_kib"] = None
    return facts


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"write_json: cannot encode {type(o).__name__}")


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` (parents created); numpy scalars/arrays are converted.

    NaN is written as ``null`` so the file is strict JSON. Returns the path written.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_nan_to_none(obj), indent=2, default=_json_default, allow_nan=False)
    p.write_text(text + "\n", encoding="utf-8")
    return p


def _nan_to_none(o: Any) -> Any:
    if isinstance(o, (float, np.floating)) and math.isnan(o):
        return None
    if isinstance(o, dict):
        return {k: _nan_to_none(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_nan_to_none(v) for v in o]
    return o
