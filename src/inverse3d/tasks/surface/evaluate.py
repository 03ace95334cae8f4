"""Measuring a trained surface: its mesh (marching cubes of the SDF at level 0), its images (PSNR/SSIM on test
views, side-by-side truth | render | normal shading) and its geometry (chamfer and F1@t against the scene's
ground-truth ``mesh.ply``).

Geometry is measured as CONVENTIONS.md says for shapes: both meshes are sampled uniformly by area
(``sample_points_from_meshes``, ``n_points`` each, a fixed seed), and both point sets are scaled by one factor so
that the ground truth's bounding-box diagonal is 1; F1@t thresholds (0.01 ... 0.05) and the chamfer distance are in
those units. The extracted surface is cut to the ground truth's box padded by ``crop`` (of its diagonal) first, so
the sphere-like closure that an SDF sometimes grows at the border of the scene box is not counted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

__all__ = ["extract_surface_mesh", "geometry_metrics", "evaluate_images", "evaluate_surface", "format_table"]


def extract_surface_mesh(model, path: str | Path | None = None, resolution: int = 128
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Marching cubes of a ``SurfaceModel``'s SDF at level 0 over its box; written as PLY to ``path`` when given.

    Returns:
        verts (V, 3), faces (F, 3).
    """
    from inverse3d.tasks.surface.extract import extract_sdf_mesh

    verts, faces = extract_sdf_mesh(model.sdf, (model.bounds_lo, model.bounds_hi), resolution)
    if path is not None:
        from inverse3d.io.ply_io import save_ply

        save_ply(path, verts, faces)
    return verts, faces


def _surface_points(verts: torch.Tensor, faces: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    from inverse3d.ops import sample_points_from_meshes
    from inverse3d.structures import Meshes

    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return sample_points_from_meshes(Meshes([verts.float()], [faces]), n)[0]  # (n, 3)
    finally:
        torch.random.set_rng_state(state)


def geometry_metrics(verts: torch.Tensor, faces: torch.Tensor, gt_mesh: str | Path | tuple, n_points: int = 50_000,
                     thresholds=(0.01, 0.02, 0.03, 0.04, 0.05), crop: float = 0.05, seed: int = 0
                     ) -> dict[str, Any]:
    """Chamfer and F1@t of a mesh against the ground truth (module docstring for the units).

    Args:
        verts, faces: (V, 3), (F, 3) the extracted surface (world units).
        gt_mesh: the ground-truth PLY file, or its (verts, faces).
        n_points: points sampled on each surface.
        crop: the prediction is cut to the ground truth's box padded by this fraction of its diagonal.
    Returns:
        {"chamfer": float, "f1": {t: F1}, "precision": {t: P}, "recall": {t: R}, "scale": the ground truth's
        diagonal (world units), "n_points": n_points}.
    """
    from inverse3d.metrics.shapes import chamfer_l2, f1_scores

    if isinstance(gt_mesh, (str, Path)):
        from inverse3d.io.ply_io import load_ply

        gt_verts, gt_faces = load_ply(gt_mesh)
    else:
        gt_verts, gt_faces = gt_mesh
    if gt_faces.numel() == 0:
        raise ValueError(f"{gt_mesh}: the ground-truth mesh has no faces")
    if faces.numel() == 0:
        raise ValueError("the extracted mesh has no faces")
    lo, hi = gt_verts.min(0).values, gt_verts.max(0).values
    diag = float((hi - lo).norm())
    pad = crop * diag
    inside = ((verts >= lo - pad) & (verts <= hi + pad)).all(-1)  # (V,)
    keep = inside[faces].all(-1)  # (F,) faces whose corners are all in the padded box
    if not bool(keep.any()):
        raise ValueError("the extracted mesh lies entirely outside the ground truth's box")
    pred = _surface_points(verts.cpu(), faces[keep].cpu(), n_points, seed) / diag
    gt = _surface_points(gt_verts.cpu(), gt_faces.cpu(), n_points, seed + 1) / diag
    scores = f1_scores(pred[None], gt[None], thresholds)
    cd = float(chamfer_l2(pred[None], gt[None])[0])
    return {"chamfer": cd, "f1": {f"{t:g}": float(v) for t, v in zip(thresholds, scores["f1"][0])},
            "precision": {f"{t:g}": float(v) for t, v in zip(thresholds, scores["precision"][0])},
            "recall": {f"{t:g}": float(v) for t, v in zip(thresholds, scores["recall"][0])},
            "scale": diag, "n_points": n_points}


def evaluate_images(model, ckpt: dict[str, Any], out_dir: Path | None, split: str = "test",
                    n_views: int | None = None, chunk: int = 4096, progress: bool = False) -> dict[str, Any]:
    """PSNR/SSIM of the model on ``split``'s views (over white for scenes with alpha, unless trained over black);
    writes ``out_dir/view_NNN.png`` (truth | render | normal shading) when ``out_dir`` is given."""
    from inverse3d.datasets.scenes.scoring import check_n_views, score_views
    from inverse3d.datasets.scenes.training import open_scene
    from inverse3d.tasks.surface.render import normals_to_rgb, render_view

    check_n_views(n_views)
    meta = ckpt["scene"]
    train_cfg = ckpt.get("train_config", {})
    white = train_cfg.get("background", "white") != "black"
    scene = open_scene(Path(meta["path"]), split, int(train_cfg.get("downscale", 1)), white)
    device = model.bounds_lo.device
    bg = torch.ones(3, device=device) if (white and meta.get("has_alpha")) else None

    def render(i: int):
        view = render_view(model, scene, i, bg, chunk)
        geo = None if out_dir is None else normals_to_rgb(view["normal"], view["opacity"], 1.0 if white else 0.0)
        return view["rgb"], geo

    return {"split": split, **score_views(scene, render, n_views, out_dir, progress)}


def evaluate_surface(checkpoint: str | Path, out_dir: str | Path, split: str = "test", n_views: int | None = None,
                     resolution: int = 128, n_points: int = 50_000, device: str | torch.device = "cpu",
                     chunk: int = 4096, save_images: bool = True, progress: bool = False) -> dict[str, Any]:
    """Images and geometry of a ``surface train`` checkpoint.

    Writes ``out_dir/metrics.json``, ``out_dir/mesh.ply`` and (``save_images``) ``out_dir/view_NNN.png``.
    Returns:
        {"checkpoint", "step", "split", "views": [{"index", "psnr", "ssim"}], "psnr", "ssim",
        "geometry": ``geometry_metrics`` or None when the scene has no mesh.ply, "mesh": path, "vertices",
        "faces", and the transform's "beta" or "s"}.
    """
    from inverse3d.io.outputs import atomic_write
    from inverse3d.tasks.surface.train import load_surface_checkpoint

    model, ckpt = load_surface_checkpoint(checkpoint, device)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"checkpoint": str(checkpoint), "step": int(ckpt["step"]), **model.sharpness()}
    result.update(evaluate_images(model, ckpt, out if save_images else None, split, n_views, chunk, progress))
    verts, faces = extract_surface_mesh(model, out / "mesh.ply", resolution)
    result.update({"mesh": str(out / "mesh.ply"), "vertices": int(verts.shape[0]), "faces": int(faces.shape[0])})
    gt = Path(ckpt["scene"]["path"]) / "mesh.ply"
    result["geometry"] = geometry_metrics(verts, faces, gt, n_points) if gt.is_file() else None
    text = json.dumps(result, indent=2)
    atomic_write(out / "metrics.json", lambda tmp: tmp.write_text(text))
    return result


def format_table(result: dict[str, Any]) -> str:
    """The per-view table, the means and the geometry's figures as text."""
    from inverse3d.datasets.scenes.scoring import format_scores

    lines = [format_scores(result)]
    geo = result.get("geometry")
    if geo:
        f1 = "  ".join(f"F1@{t} {v:.1f}" for t, v in geo["f1"].items())
        lines.append(f"geometry (units: ground-truth diagonal 1): chamfer {geo['chamfer']:.5f}  {f1}")
    else:
        lines.append("geometry: the scene has no mesh.ply")
    return "\n".join(lines)
