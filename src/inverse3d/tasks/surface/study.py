"""The course's study of VolSDF's beta, and a short labelled VolSDF run for the tour.

``beta_study`` trains one VolSDF per fixed beta (``--no-learn-beta``) for the same short budget and tabulates test
PSNR/SSIM and geometry F1/chamfer per beta: a small beta makes the density a sharp step at the surface (sharper
geometry, harder to optimise from a sphere), a large one a blurry shell (smooth, easy, but the colour is averaged
through a thick layer and the surface is biased).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Sequence

import torch

__all__ = ["beta_study", "format_beta_table", "short_volsdf_figure"]


def beta_study(config, betas: Sequence[float], out_dir: str | Path, n_views: int | None = None,
               resolution: int = 96, n_points: int = 20_000) -> list[dict[str, Any]]:
    """Trains ``config`` (a ``SurfaceTrainConfig``, method volsdf) once per fixed beta and evaluates each run.

    Every run writes into ``out_dir/beta_<beta>`` (its checkpoint, eval images, mesh.ply); the table goes to
    ``out_dir/beta_study.json`` and ``out_dir/beta_study.md``.

    Returns:
        rows {"beta", "steps", "seconds", "psnr", "ssim", "f1@0.02", "chamfer"} (F1/chamfer None without a
        ground-truth mesh).
    """
    from inverse3d.io.outputs import atomic_write
    from inverse3d.tasks.surface.evaluate import evaluate_surface
    from inverse3d.tasks.surface.train import train_surface

    if config.method != "volsdf":
        raise ValueError(f"the beta study trains VolSDF; got --method {config.method}")
    if not betas or any(not (b > 0) for b in betas):
        raise ValueError(f"--betas must be positive numbers; got {list(betas)}")
    out = Path(out_dir)
    rows = []
    for beta in betas:
        run_dir = out / f"beta_{beta:g}"
        cfg = dataclasses.replace(config, beta=float(beta), learn_beta=False, out_dir=str(run_dir))
        t0 = time.perf_counter()
        result = train_surface(cfg)
        seconds = time.perf_counter() - t0
        device = result.model.bounds_lo.device
        ev = evaluate_surface(run_dir / "checkpoint.pt", run_dir / "eval", n_views=n_views, resolution=resolution,
                              n_points=n_points, device=device)
        geo = ev["geometry"]
        rows.append({"beta": float(beta), "steps": result.step, "seconds": seconds, "psnr": ev["psnr"],
                     "ssim": ev["ssim"], "f1@0.02": None if geo is None else geo["f1"]["0.02"],
                     "chamfer": None if geo is None else geo["chamfer"]})
    text = json.dumps(rows, indent=2)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "beta_study.json", lambda tmp: tmp.write_text(text))
    table = format_beta_table(rows)
    atomic_write(out / "beta_study.md", lambda tmp: tmp.write_text(table + "\n"))
    return rows


def format_beta_table(rows: list[dict[str, Any]]) -> str:
    """The study's rows as a Markdown table."""
    def f(v, fmt):
        return "-" if v is None else format(v, fmt)

    lines = ["| beta | steps | PSNR (dB) | SSIM | F1@0.02 | chamfer |", "|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['beta']:g} | {r['steps']} | {r['psnr']:.2f} | {r['ssim']:.4f} | {f(r['f1@0.02'], '.1f')} | "
              f"{f(r['chamfer'], '.5f')} |" for r in rows]
    return "\n".join(lines)


def short_volsdf_figure(out_dir: str | Path, seconds: float = 20.0, image_size: int = 32, n_frames: int = 8,
                        progress: bool = False) -> dict[str, Any]:
    """A short VolSDF run on a small lego scene for the tour: trains for ``seconds`` (hash-grid SDF), then renders
    a colour | geometry turntable and a test view, extracts the mesh and measures it.

    Returns:
        {"turntable": GIF path, "view": PNG path (truth | render | normal shading), "mesh": PLY path,
        "psnr", "ssim", "f1@0.02", "chamfer", "beta", "steps", "train_seconds", "label"}.
    """
    from inverse3d.datasets.scenes import make_scene
    from inverse3d.tasks.surface.evaluate import evaluate_surface
    from inverse3d.tasks.surface.render import render_turntable
    from inverse3d.tasks.surface.train import SurfaceTrainConfig, load_surface_checkpoint, train_surface
    from inverse3d.viz.images import save_frames

    if not seconds > 0:
        raise ValueError(f"seconds must be positive; got {seconds}")
    out = Path(out_dir)
    scene = make_scene("lego", out / "scene", image_size=image_size, n_train=24, n_val=1, n_test=1,
                       progress=False, n_points=2000)
    cfg = SurfaceTrainConfig(scene=str(scene), out_dir=str(out / "run"), iterations=100_000, rays_per_step=256,
                             n_samples=24, n_importance=8, hash_levels=8, hash_log2_size=12, hash_finest=64,
                             hash_hidden=32, feature_dim=8, appearance_width=32, warmup=10, max_minutes=seconds / 60.0,
                             checkpoint_every=100_000, overwrite=True, progress=progress, device="cpu")
    result = train_surface(cfg)
    ev = evaluate_surface(out / "run" / "checkpoint.pt", out / "eval", n_views=1, resolution=48, n_points=5000)
    model, ckpt = load_surface_checkpoint(out / "run" / "checkpoint.pt")
    gif = save_frames(render_turntable(model, ckpt["scene"], n_frames, image_size), out / "turntable.gif", fps=8)
    geo = ev["geometry"] or {}
    return {"turntable": gif, "view": out / "eval" / "view_000.png", "mesh": Path(ev["mesh"]), "psnr": ev["psnr"],
            "ssim": ev["ssim"], "f1@0.02": geo.get("f1", {}).get("0.02"), "chamfer": geo.get("chamfer"),
            "beta": ev.get("beta"), "steps": result.step, "train_seconds": result.seconds,
            "label": f"short run: VolSDF, {result.step} steps ({seconds:g} s) on a {image_size}x{image_size} lego"}
