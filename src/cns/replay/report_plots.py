"""The PNG plots of the replay report (``pnl.png``, ``latency.png``), each tagged with the run id."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from cns.replay.report_md import LATENCY_STAGES
from cns.telemetry.stats import summarize

PNG_RUN_ID_KEY = "CNS run id"


def _plot_pnl(path: Path, series: Mapping[str, tuple[np.ndarray, np.ndarray]], run_id: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    for label, (t_s, pnl) in series.items():
        ax.plot(t_s, pnl, label=label, lw=1.2)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("P&L, realised + unrealised (USD)")
    ax.set_title("P&L over the replay")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={PNG_RUN_ID_KEY: run_id})
    plt.close(fig)


def _plot_latency(path: Path, samples: Mapping[str, np.ndarray], run_id: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = [s for s in LATENCY_STAGES if s in samples and len(samples[s])]
    fig, axes = plt.subplots(len(stages), 1, figsize=(9, 1.9 * max(len(stages), 1)), squeeze=False)
    for ax, stage in zip(axes[:, 0], stages, strict=False):
        v = np.maximum(samples[stage].astype(np.float64), 1.0)
        bins = np.logspace(0, np.log10(v.max()) + 0.1, 80)
        ax.hist(v, bins=bins, color="tab:blue", alpha=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylabel(stage)
        ax.axvline(summarize(v)["p99"], color="tab:red", lw=0.8, label="p99")
        ax.legend(loc="upper right", fontsize=7)
    axes[-1, 0].set_xlabel("ns per event (sampled in-kernel stamps)")
    fig.suptitle("Per-stage latency histograms")
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={PNG_RUN_ID_KEY: run_id})
    plt.close(fig)
