"""PSNR and SSIM of a trained NeRF on a scene's test views, with side-by-side images (truth | render | depth)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

__all__ = ["evaluate_nerf", "eval_background"]


def eval_background(train_config: dict[str, Any]) -> bool:
    """Whether test images are composited over white (all but ``--background black`` runs)."""
    return train_config.get("background", "random") != "black"


@torch.no_grad()
def evaluate_nerf(checkpoint: str | Path, out_dir: str | Path, split: str = "test", n_views: int | None = None,
                  device: str | torch.device = "cpu", chunk: int = 8192, save_images: bool = True,
                  progress: bool = False) -> dict[str, Any]:
    """Renders the views of ``split`` and compares them with the images.

    Returns:
        {"views": [{"index", "psnr", "ssim"}...], "psnr": mean, "ssim": mean, "split", "checkpoint", "step"};
        written to ``out_dir/metrics.json``, with ``out_dir/view_NNN.png`` side by side when ``save_images``.
    """
    from inverse3d.datasets.scenes.scoring import check_n_views, score_views
    from inverse3d.io.outputs import atomic_write
    from inverse3d.tasks.nerf.render import depth_to_gray, render_view
    from inverse3d.tasks.nerf.train import load_nerf_checkpoint, open_scene

    check_n_views(n_views)
    model, ckpt = load_nerf_checkpoint(checkpoint, device)
    meta = ckpt["scene"]
    white = eval_background(ckpt.get("train_config", {}))
    scene = open_scene(Path(meta["path"]), split, int(ckpt.get("train_config", {}).get("downscale", 1)), white)
    bg = torch.ones(3, device=device) if (white and meta.get("has_alpha")) else None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    def render(i: int):
        view = render_view(model, scene, i, bg, chunk)
        gray = depth_to_gray(view["depth"], view["opacity"], model.near, model.far) if save_images else None
        return view["rgb"], gray

    scores = score_views(scene, render, n_views, out if save_images else None, progress)
    result = {"checkpoint": str(checkpoint), "step": int(ckpt["step"]), "split": split, **scores}
    text = json.dumps(result, indent=2)
    atomic_write(out / "metrics.json", lambda tmp: tmp.write_text(text))
    return result


def format_table(result: dict[str, Any]) -> str:
    """The per-view table and the means as text."""
    from inverse3d.datasets.scenes.scoring import format_scores

    return format_scores(result)
