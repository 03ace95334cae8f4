"""PSNR and SSIM of trained Gaussians on a scene's views, with side-by-side images (truth | render | depth)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

__all__ = ["evaluate_splat", "format_table"]


@torch.no_grad()
def evaluate_splat(source: str | Path, out_dir: str | Path, split: str = "test", scene: str | Path | None = None,
                   n_views: int | None = None, device: str | torch.device = "cpu", save_images: bool = True,
                   downscale: int | None = None, progress: bool = False, eps2d: float | None = None
                   ) -> dict[str, Any]:
    """Renders the views of ``split`` and compares them with the images.

    Args:
        source: a ``splat train`` checkpoint, or a Gaussian PLY (then ``scene`` is needed).
        scene: the scene folder (default: the checkpoint's).
        downscale: read the images downscaled (default: as trained, else 1).
        eps2d: the rasteriser's low-pass term (default: as trained; for a PLY 0.3, as 3DGS).
    Returns:
        {"views": [{"index", "psnr", "ssim"}...], "psnr": mean, "ssim": mean, "split", "source", "gaussians"};
        written to ``out_dir/metrics.json``, with ``out_dir/view_NNN.png`` (truth | render | depth) when
        ``save_images``.
    """
    from inverse3d.datasets.scenes import load_scene
    from inverse3d.datasets.scenes.scoring import check_n_views, score_views
    from inverse3d.io.outputs import atomic_write
    from inverse3d.tasks.splat.render import depth_to_gray, frame_cameras, render_view, trained_eps2d
    from inverse3d.tasks.splat.train import load_splat

    check_n_views(n_views)
    model, ckpt = load_splat(source, device)
    meta = ckpt.get("splat", {})
    train_config = ckpt.get("train_config", {})
    if scene is None:
        if "path" not in meta:
            raise ValueError(f"--scene is needed to evaluate {source} (a PLY file knows no scene)")
        scene = meta["path"]
    if downscale is None:
        downscale = int(train_config.get("downscale", 1))
    data = load_scene(Path(scene), split, downscale=downscale,
                      white_background=train_config.get("background", "white") != "black")
    count = len(data) if n_views is None else min(n_views, len(data))
    viewmats, Ks, width, height = frame_cameras(data.frames[:count], device)
    bg = torch.full((3,), 0.0 if train_config.get("background", "white") == "black" else 1.0, device=device)
    if eps2d is None:
        eps2d = trained_eps2d(ckpt)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    def render(i: int):
        view = render_view(model, viewmats[i:i + 1], Ks[i:i + 1], width, height, None, bg, eps2d=eps2d)
        gray = depth_to_gray(view["depth"][0], view["alpha"][0]) if save_images else None
        return view["rgb"][0], gray

    scores = score_views(data, render, count, out if save_images else None, progress)
    result = {"source": str(source), "scene": str(scene), "split": split, "gaussians": len(model),
              "step": int(ckpt.get("step", 0)), **scores}
    text = json.dumps(result, indent=2)
    atomic_write(out / "metrics.json", lambda tmp: tmp.write_text(text))
    return result


def format_table(result: dict[str, Any]) -> str:
    """The per-view table and the means as text."""
    from inverse3d.datasets.scenes.scoring import format_scores

    return format_scores(result)
