"""cns.ops needs ``prometheus-client`` and ``textual`` (the ``ops`` dependencies): without them the ops tests are
not collected and :mod:`test_deps` skips, naming what to install."""

from __future__ import annotations

import importlib.util

MISSING = [m for m in ("prometheus_client", "textual") if importlib.util.find_spec(m) is None]
collect_ignore_glob = ["test_[!d]*.py"] if MISSING else []
