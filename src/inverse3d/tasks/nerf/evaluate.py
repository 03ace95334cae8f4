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
    from tqdm.auto import tqdm

    from inverse3d.io.outputs import atomic_write
    from inverse3d.metrics import psnr, ssim
    from inverse3d.tasks.nerf.render import depth_to_gray, render_view
    from inverse3d.tasks.nerf.train import load_nerf_checkpoint, open_scene
    from inverse3d.viz.images import save_image

    if n_views is not None and n_views < 1:
        raise ValueError(f"--n-views must be >= 1; got {n_views}")
    model, ckpt = load_nerf_checkpoint(checkpoint, device)
    meta = ckpt["scene"]
    white = eval_background(ckpt.get("train_config", {}))
    scene = open_scene(Path(meta["path"]), split, int(ckpt.get("train_config", {}).get("downscale", 1)), white)
    bg = torch.ones(3, device=device) if (white and meta.get("has_alpha")) else None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    count = len(scene) if n_views is None else min(n_views, len(scene))
    H, W = scene.image_size
    window = min(11, H, W) // 2 * 2 + 1 if min(H, W) < 11 else 11
    rows = []
    for i in tqdm(range(count), desc="eval", disable=not progress):
        truth = scene[i]["image"].to(device)
        view = render_view(model, scene, i, bg, chunk)
        pred = view["rgb"].clamp(0, 1)
        rows.append({"index": i, "psnr": float(psnr(pred, truth)),
                     "ssim": float(ssim(pred, truth, window_size=window))})
        if save_images:
            gray = depth_to_gray(view["depth"], view["opacity"], model.near, model.far)
            save_image(out / f"view_{i:03d}.png", torch.cat([truth, pred, gray], dim=1).cpu().numpy())
    result = {"checkpoint": str(checkpoint), "step": int(ckpt["step"]), "split": split, "views": rows,
              "psnr": sum(r["psnr"] for r in rows) / len(rows), "ssim": sum(r["ssim"] for r in rows) / len(rows)}
    text = json.dumps(result, indent=2)
    atomic_write(out / "metrics.json", lambda tmp: tmp.write_text(text))
    return result


def format_table(result: dict[str, Any]) -> str:
    """The per-view table and the means as text."""
    lines = [f"{'view':>6} {'PSNR (dB)':>10} {'SSIM':>7}"]
    lines += [f"{r['index']:>6} {r['psnr']:>10.2f} {r['ssim']:>7.4f}" for r in result["views"]]
    lines.append(f"{'mean':>6} {result['psnr']:>10.2f} {result['ssim']:>7.4f}")
    return "\n".join(lines)
