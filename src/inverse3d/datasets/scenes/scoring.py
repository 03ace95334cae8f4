"""Scoring renders of a scene's views against its images: PSNR and SSIM per view and their means, with side-by-side
PNGs (truth | render | a third panel of the task's choosing). Shared by the evaluations of NeRF, the neural surfaces
and Gaussian splatting (``inverse3d.tasks.*.evaluate``), which differ only in how they render a view."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch

__all__ = ["check_n_views", "ssim_window", "score_views", "format_scores"]


def check_n_views(n_views: int | None) -> None:
    """Raises ``ValueError`` naming ``--n-views`` unless it is None (all views) or >= 1."""
    if n_views is not None and n_views < 1:
        raise ValueError(f"--n-views must be >= 1; got {n_views}")


def ssim_window(height: int, width: int) -> int:
    """The SSIM window for images of ``height`` x ``width``: 11, or the largest odd size that fits a smaller image."""
    return min(11, (min(height, width) - 1) // 2 * 2 + 1)


def score_views(scene, render: Callable[[int], tuple[torch.Tensor, torch.Tensor | None]],
                n_views: int | None = None, out_dir: str | Path | None = None,
                progress: bool = False) -> dict[str, Any]:
    """PSNR and SSIM of renders of the first ``n_views`` views of ``scene`` against its images.

    Args:
        scene: a ``SceneDataset`` (``scene[i]["image"]``: (H, W, 3) in [0, 1]; ``scene.image_size``: (H, W)).
        render: ``i -> (rgb, panel)``: view ``i`` rendered, (H, W, 3) (clamped to [0, 1] here), and the third panel
            of its PNG, (H, W, 3) in [0, 1] (depth or normal shading), or None when no PNG is written.
        n_views: score the first N views (default: all).
        out_dir: an existing folder for ``view_NNN.png`` (truth | render | panel); None: no images.
    Returns:
        {"views": [{"index", "psnr", "ssim"}...], "psnr": mean, "ssim": mean}.
    """
    from tqdm.auto import tqdm

    from inverse3d.metrics import psnr, ssim
    from inverse3d.viz.images import save_image

    check_n_views(n_views)
    count = len(scene) if n_views is None else min(n_views, len(scene))
    window = ssim_window(*scene.image_size)
    rows = []
    for i in tqdm(range(count), desc="eval", disable=not progress):
        rgb, panel = render(i)
        pred = rgb.clamp(0, 1)
        truth = scene[i]["image"].to(pred.device)
        rows.append({"index": i, "psnr": float(psnr(pred, truth)),
                     "ssim": float(ssim(pred, truth, window_size=window))})
        if out_dir is not None:
            save_image(Path(out_dir) / f"view_{i:03d}.png", torch.cat([truth, pred, panel], dim=1).cpu().numpy())
    return {"views": rows, "psnr": sum(r["psnr"] for r in rows) / len(rows),
            "ssim": sum(r["ssim"] for r in rows) / len(rows)}


def format_scores(result: dict[str, Any]) -> str:
    """The per-view table and the means of a ``score_views`` result as text."""
    lines = [f"{'view':>6} {'PSNR (dB)':>10} {'SSIM':>7}"]
    lines += [f"{r['index']:>6} {r['psnr']:>10.2f} {r['ssim']:>7.4f}" for r in result["views"]]
    lines.append(f"{'mean':>6} {result['psnr']:>10.2f} {result['ssim']:>7.4f}")
    return "\n".join(lines)
