"""Measuring a trained surface: its mesh (marching cubes of the SDF at level 0), its images (PSNR/SSIM on test
views, side-by-side truth | render | normal shading) and its geometry (chamfer and F1@t against the scene's
ground-truth ``mesh.ply``).

Geometry is measured as CONVENTIONS.md says for shapes: both meshes are sampled uniformly by area
(``sample_points_from_meshes``, ``n_points`` each, a fixed seed), and both point sets are scaled by one factor so
that the ground truth's bounding-box diagonal is 1; F1@t thresholds (0.01 ... 0.05) and the chamfer distance are in
those units. The extracted surface is cut to the ground truth's box padded by ``crop`` (of its diagonal) first, so
the sphere-like closure that an SDF sometimes grows at the border of the scene box is not counted.

The ground truth is the surface of the solid its mesh encloses (``outer_surface``, the default). A scene assembled
from overlapping closed parts -- the built-in lego is 70 boxes and cylinders -- has faces buried inside other parts
(27% of its area), which no image shows and no surface can recover; its samples are dropped: a sample is kept when
the point just off its face, along the outward normal, is outside the whole mesh (generalised winding number below
1/2). Meshes that are not closed are used as they are. ``--no-outer-surface`` measures against every face.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

__all__ = ["extract_surface_mesh", "geometry_metrics", "outer_surface_points", "is_closed", "evaluate_images",
           "evaluate_surface", "format_table"]


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


def _surface_points(verts: torch.Tensor, faces: torch.Tensor, n: int, seed: int, normals: bool = False):
    """``n`` points (n, 3) uniform by area on the mesh, from ``seed`` (the global RNG is left as it was); with
    ``normals`` also their faces' unit normals (n, 3)."""
    from inverse3d.ops import sample_points_from_meshes
    from inverse3d.structures import Meshes

    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        out = sample_points_from_meshes(Meshes([verts.float()], [faces]), n, return_normals=normals)
    finally:
        torch.random.set_rng_state(state)
    return (out[0][0], out[1][0]) if normals else out[0]


def is_closed(verts: torch.Tensor, faces: torch.Tensor) -> bool:
    """Whether every edge of the triangle mesh (``verts`` (V, 3), ``faces`` (F, 3)) is shared by exactly two faces,
    vertices at the same position (to 1e-6 of the diagonal) counting as one (a PLY often repeats them per face)."""
    scale = float((verts.max(0).values - verts.min(0).values).norm()) or 1.0
    _, weld = torch.unique(torch.round(verts.double() / (1e-6 * scale)), dim=0, return_inverse=True)
    faces = weld[faces]
    edges = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]).sort(dim=1).values
    _, counts = torch.unique(edges, dim=0, return_counts=True)
    return bool((counts == 2).all())


def outer_surface_points(verts: torch.Tensor, faces: torch.Tensor, n: int, seed: int, oversample: float = 1.5
                         ) -> tuple[torch.Tensor, float]:
    """Up to ``n`` points uniform by area on the surface of the solid a closed mesh encloses (module docstring),
    and the fraction of the mesh's area inside it (buried faces). Draws ``oversample * n`` points on every face and
    keeps the first ``n`` whose point just off the face (1e-4 of the diagonal along the face's outward normal) has
    a winding number below 1/2."""
    from inverse3d.renderer.sdf.mesh_sdf import winding_number

    points, normals = _surface_points(verts, faces, int(n * oversample), seed, normals=True)
    tris = verts.double()[faces]
    if float(torch.linalg.det(tris).sum()) < 0:  # faces wound inwards (negative volume): normals point inside
        normals = -normals
    eps = 1e-4 * float((verts.max(0).values - verts.min(0).values).norm())
    outside = winding_number(points + eps * normals, verts.float(), faces).abs() < 0.5
    return points[outside][:n], 1.0 - float(outside.float().mean())


def geometry_metrics(verts: torch.Tensor, faces: torch.Tensor, gt_mesh: str | Path | tuple, n_points: int = 50_000,
                     thresholds=(0.01, 0.02, 0.03, 0.04, 0.05), crop: float = 0.05, seed: int = 0,
                     outer_surface: bool = True) -> dict[str, Any]:
    """Chamfer and F1@t of a mesh against the ground truth (module docstring for the units).

    Args:
        verts, faces: (V, 3), (F, 3) the extracted surface (world units).
        gt_mesh: the ground-truth PLY file, or its (verts, faces).
        n_points: points sampled on each surface.
        crop: the prediction is cut to the ground truth's box padded by this fraction of its diagonal.
        outer_surface: a closed ground truth is sampled on the surface of the solid it encloses only (module
            docstring).
    Returns:
        {"chamfer": float, "f1": {t: F1}, "precision": {t: P}, "recall": {t: R}, "scale": the ground truth's
        diagonal (world units), "n_points": n_points, "gt_surface": "outer" or "all faces", "gt_buried": the
        fraction of the ground truth's area left out (0 for "all faces")}.
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
    buried = 0.0
    if outer_surface and is_closed(gt_verts.cpu(), gt_faces.cpu()):
        gt, buried = outer_surface_points(gt_verts.cpu(), gt_faces.cpu(), n_points, seed + 1)
        gt = gt / diag
    else:
        outer_surface = False
        gt = _surface_points(gt_verts.cpu(), gt_faces.cpu(), n_points, seed + 1) / diag
    scores = f1_scores(pred[None], gt[None], thresholds)
    cd = float(chamfer_l2(pred[None], gt[None])[0])
    return {"chamfer": cd, "f1": {f"{t:g}": float(v) for t, v in zip(thresholds, scores["f1"][0])},
            "precision": {f"{t:g}": float(v) for t, v in zip(thresholds, scores["precision"][0])},
            "recall": {f"{t:g}": float(v) for t, v in zip(thresholds, scores["recall"][0])},
            "scale": diag, "n_points": n_points, "gt_surface": "outer" if outer_surface else "all faces",
            "gt_buried": buried}


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
                     chunk: int = 4096, save_images: bool = True, progress: bool = False,
                     outer_surface: bool = True) -> dict[str, Any]:
    """Images and geometry of a ``surface train`` checkpoint (``outer_surface``: as ``geometry_metrics``).

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
    result["geometry"] = geometry_metrics(verts, faces, gt, n_points, outer_surface=outer_surface) \
        if gt.is_file() else None
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
        against = "" if geo.get("gt_surface", "outer") == "all faces" else \
            f", its outer surface: {100 * geo.get('gt_buried', 0.0):.1f}% of its area is buried inside"
        lines.append(f"geometry (units: ground-truth diagonal 1{against}): chamfer {geo['chamfer']:.5f}  {f1}")
    else:
        lines.append("geometry: the scene has no mesh.ply")
    return "\n".join(lines)
