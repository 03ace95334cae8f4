"""The PSNR curve of a splatting run: training PSNR per step (thin), its running mean (thick) and the progress
test view's PSNR (dots), written to PNG atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["plot_psnr_curve"]


def plot_psnr_curve(path: str | Path, train_psnr: Sequence[float], test_psnr: Sequence[Sequence[float]],
                    title: str = "PSNR") -> Path:
    """Writes the curve to ``path``; ``train_psnr``: one value per step, ``test_psnr``: [step, PSNR] pairs (the
    value after ``step`` steps). Returns ``path``."""
    from inverse3d.io.outputs import atomic_write
    from inverse3d.viz.plots import smooth

    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    try:
        v = np.asarray(train_psnr, dtype=np.float64)
        steps = np.arange(1, len(v) + 1)
        if len(v):
            ax.plot(steps, v, lw=0.5, alpha=0.35, color="tab:blue", label="training view")
            if len(v) > 10:
                ax.plot(steps, smooth(v, max(len(v) // 50, 5)), lw=1.8, color="tab:blue", label="running mean")
        if len(test_psnr):
            t = np.asarray(test_psnr, dtype=np.float64).reshape(-1, 2)
            ax.plot(t[:, 0], t[:, 1], "o-", ms=3, lw=1.2, color="tab:orange", label="test view")
        ax.set_xlabel("step")
        ax.set_ylabel("PSNR (dB)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    finally:
        plt.close(fig)
