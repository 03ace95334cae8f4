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
                   downscale: int | None = None, progress: bool = False) -> dict[str, Any]:
    """Renders the views of ``split`` and compares them with the images.

    Args:
        source: a ``splat train`` checkpoint, or a Gaussian PLY (then ``scene`` is needed).
        scene: the scene folder (default: the checkpoint's).
        downscale: read the images downscaled (default: as trained, else 1).
    Returns:
        {"views": [{"index", "psnr", "ssim"}...], "psnr": mean, "ssim": mean, "split", "source", "gaussians"};
        written to ``out_dir/metrics.json``, with ``out_dir/view_NNN.png`` (truth | render | depth) when
        ``save_images``.
    """
    from tqdm.auto import tqdm

    from inverse3d.datasets.scenes import load_scene
    from inverse3d.io.outputs import atomic_write
    from inverse3d.metrics import psnr, ssim
    from inverse3d.tasks.splat.render import depth_to_gray, frame_cameras, render_view
    from inverse3d.tasks.splat.train import load_splat
    from inverse3d.viz.images import save_image

    if n_views is not None and n_views < 1:
        raise ValueError(f"--n-views must be >= 1; got {n_views}")
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
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    window = min(11, (min(height, width) - 1) // 2 * 2 + 1)
    rows = []
    for i in tqdm(range(count), desc="eval", disable=not progress):
        truth = data[i]["image"].to(device)
        view = render_view(model, viewmats[i:i + 1], Ks[i:i + 1], width, height, None, bg)
        pred = view["rgb"][0].clamp(0, 1)
        rows.append({"index": i, "psnr": float(psnr(pred, truth)),
                     "ssim": float(ssim(pred, truth, window_size=window))})
        if save_images:
            gray = depth_to_gray(view["depth"][0], view["alpha"][0])
            save_image(out / f"view_{i:03d}.png", torch.cat([truth, pred, gray], dim=1).cpu().numpy())
    result = {"source": str(source), "scene": str(scene), "split": split, "gaussians": len(model),
              "step": int(ckpt.get("step", 0)), "views": rows,
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
