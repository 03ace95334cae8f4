"""Plots of training and evaluation (matplotlib with the Agg backend, written to PNG) and side-by-side frames.

Every PNG is written atomically through a temporary name unique to the process (``inverse3d.io.outputs``), so a
reader never sees half a file and two writers never mix their bytes (the tasks' GIFs go through
``inverse3d.viz.images.save_frames``, which does the same).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from inverse3d.io.outputs import atomic_write


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Running mean over the last ``window`` values (shorter at the start); (len(values),)."""
    v = np.asarray(values, dtype=np.float64)
    if window <= 1 or len(v) == 0:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))
    idx = np.arange(1, len(v) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def _save_figure(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))


def plot_loss_curve(path: str | Path, losses: Sequence[float], title: str = "loss", log: bool = True) -> Path:
    """Writes the loss of every step (thin) and its running mean (thick) to a PNG; returns the path."""
    plt = _pyplot()
    path = Path(path)
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    steps = np.arange(1, len(losses) + 1)
    v = np.asarray(losses, dtype=np.float64)
    ax.plot(steps, v, lw=0.6, alpha=0.4, color="tab:blue", label="per step")
    if len(v) > 10:
        ax.plot(steps, smooth(v, max(len(v) // 50, 5)), lw=1.8, color="tab:blue", label="running mean")
        ax.legend()
    if log and len(v) and (v > 0).all():
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        return _save_figure(fig, path)
    finally:
        plt.close(fig)


def plot_f1_curves(
    path: str | Path, thresholds: Sequence[float], curves: Mapping[str, Sequence[float]], title: str = "F1 vs threshold"
) -> Path:
    """Writes F1 (percent) against the distance threshold, one line per name in ``curves``, to a PNG."""
    plt = _pyplot()
    path = Path(path)
    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=100)
    for name, f1 in curves.items():
        ax.plot(list(thresholds), list(f1), marker="o", label=name)
    ax.set_xlabel("threshold")
    ax.set_ylabel("F1 (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    try:
        return _save_figure(fig, path)
    finally:
        plt.close(fig)


def side_by_side(*videos: torch.Tensor | np.ndarray, pad: int = 4) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 of equal T and H (or a single image (H, W, 3), repeated) -> (T, H, sum W + pad, 3),
    white between them."""
    arrays = [np.asarray(v.cpu() if torch.is_tensor(v) else v) for v in videos]
    T = max(a.shape[0] for a in arrays if a.ndim == 4)
    arrays = [np.broadcast_to(a[None], (T, *a.shape)) if a.ndim == 3 else a for a in arrays]
    H = max(a.shape[1] for a in arrays)
    sep = np.full((T, H, pad, 3), 255, np.uint8)
    parts = []
    for i, a in enumerate(arrays):
        if a.shape[1] < H:  # centre shorter videos vertically
            top = (H - a.shape[1]) // 2
            a = np.pad(a, ((0, 0), (top, H - a.shape[1] - top), (0, 0), (0, 0)), constant_values=255)
        parts.append(a[..., :3])
        if i < len(arrays) - 1:
            parts.append(sep)
    return np.concatenate(parts, axis=2)
