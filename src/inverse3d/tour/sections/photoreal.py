"""The photorealism spectrum, part 1: built-in multi-view scenes, rasterised and (with the extra) path traced.

For the lego-like scene and the materials scene this section writes a small copy of the scene in the NeRF-synthetic
layout (the same files ``inverse3d scenes make`` writes, read back with ``load_scene``), draws the training cameras as
frusta around the scene's surface points, shows training views with their depth and normal maps, and renders a
turntable with our rasteriser (Phong) -- beside the same turntable path traced by Mitsuba 3 when the ``photoreal``
extra is installed.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from inverse3d.tour.registry import TourContext
from inverse3d.viz.report import Section, html_table

NAME = "photoreal"
ORDER = 100
SCENES = ("lego", "materials")
SIZE, SIZE_QUICK = 128, 48
"""Image size of the scenes written (the volume section trains on these copies)."""
N_TRAIN, N_TRAIN_QUICK = 24, 6
N_POINTS = 20_000


def _over_white(rgba: torch.Tensor) -> np.ndarray:
    """(N, H, W, 4) float in [0, 1] -> (N, H, W, 3) uint8 composited over white."""
    rgb, a = rgba[..., :3], rgba[..., 3:]
    return (((rgb * a + (1 - a)).clamp(0, 1) * 255).round().to(torch.uint8)).cpu().numpy()


def _depth_image(depth: torch.Tensor) -> np.ndarray:
    """(H, W) depth, 0 where empty -> (H, W, 3) uint8, near bright, empty white."""
    d = depth.cpu().numpy()
    hit = d > 0
    out = np.full(d.shape, 255, np.uint8)
    if hit.any():
        lo, hi = d[hit].min(), d[hit].max()
        out[hit] = (40 + 180 * (hi - d[hit]) / max(hi - lo, 1e-6)).astype(np.uint8)
    return np.repeat(out[..., None], 3, axis=-1)


def _normal_image(normals: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """(H, W, 3) unit normals -> (H, W, 3) uint8 as (n + 1) / 2, white where empty."""
    rgb = ((normals.cpu() + 1) / 2).clamp(0, 1)
    m = mask.cpu()[..., None]
    return ((rgb * m + (1 - m)) * 255).round().to(torch.uint8).numpy()


def build(ctx: TourContext) -> Section:
    from inverse3d.datasets.scenes import (CameraLayout, layout_c2w, load_scene, make_scene, render_rasterized,
                                           scene_spec)
    from inverse3d.viz.cameras import plot_camera_frusta
    from inverse3d.viz.images import image_grid, save_frames, save_image
    from inverse3d.viz.plots import side_by_side

    try:
        import mitsuba  # noqa: F401

        photoreal = True
    except ImportError:
        photoreal = False
    size = SIZE_QUICK if ctx.quick else SIZE
    n_train = N_TRAIN_QUICK if ctx.quick else N_TRAIN
    n_frames = 4 if ctx.quick else ctx.n_frames
    sec = Section(
        "Photorealism spectrum, part 1: multi-view scenes",
        "NeRF, neural surfaces and Gaussian splatting learn a scene from posed images. inverse3d makes its own scenes "
        "from a seed and writes them in the NeRF-synthetic layout (transforms_*.json with OpenGL camera-to-world "
        "matrices, RGBA PNGs), with depth and normal maps and the ground-truth mesh and surface points beside them, "
        "so that geometry can be scored too. The same description of each scene is drawn by our rasteriser (Phong "
        "shading, milliseconds per view) and, with the photoreal extra, by Mitsuba 3's path tracer (soft shadows, "
        "glossy reflections, global illumination). Make a full-size copy with "
        "`inverse3d scenes make lego -o data/scenes/lego`; `inverse3d scenes info DIR` describes any scene folder "
        "(ours, Blender/NeRF-synthetic, nerfstudio, COLMAP, LLFF).",
    )
    rows = []
    for name in SCENES:
        t0 = time.perf_counter()
        folder = make_scene(name, ctx.out_dir / "scenes" / name, image_size=size, n_train=n_train, n_val=1,
                            n_test=1, progress=False, device=ctx.device, n_points=N_POINTS)
        made = time.perf_counter() - t0
        train = load_scene(folder, "train", white_background=True)
        spec = scene_spec(name)

        # where the training cameras are
        import trimesh

        cloud = trimesh.load(folder / "points.ply", process=False)
        colors = None
        if getattr(cloud, "colors", None) is not None and len(cloud.colors) == len(cloud.vertices):
            colors = np.asarray(cloud.colors)[:, :3] / 255.0
        plot = plot_camera_frusta(ctx.path(f"scene_{name}_cameras.png"), train.cameras, train.image_size,
                                  points=np.asarray(cloud.vertices), points_rgb=colors,
                                  title=f"{name}: {len(train)} training cameras", highlight=range(4))
        sec.add(plot, f"The {len(train)} training cameras of the {name} scene (red: the four views shown next), "
                "around its surface points.", f"{name}: cameras")

        # four training views, and the depth and normal maps of the first
        views = [train[i] for i in range(min(4, len(train)))]
        tiles = [(v["image"].clamp(0, 1) * 255).round().to(torch.uint8).numpy() for v in views]
        first = views[0]
        if "depth" in first and "normal" in first:
            mask = first["mask"] if first["mask"] is not None else torch.ones(first["image"].shape[:2])
            tiles += [_depth_image(torch.as_tensor(first["depth"])),
                      _normal_image(torch.as_tensor(first["normal"]), torch.as_tensor(mask))]
        grid = save_image(ctx.path(f"scene_{name}_views.png"), image_grid(tiles, ncols=3))
        sec.add(grid, "Training views as written to disk (over a white background), then the depth and world-space "
                "normal maps of the first.", f"{name}: training views", wide=True)

        # a turntable, rasterised, beside the path-traced one when the extra is there
        layout = CameraLayout(kind="ring", radius=spec.cameras.radius, fov_x=spec.cameras.fov_x,
                              look_at=spec.cameras.look_at, elevation=25.0)
        c2w = layout_c2w(layout, n_frames, seed=0)
        angle = math.radians(spec.cameras.fov_x)
        t1 = time.perf_counter()
        raster = _over_white(render_rasterized(spec, c2w, angle, size, device=ctx.device).rgba)
        raster_s = time.perf_counter() - t1
        traced_s = None
        if photoreal:
            from inverse3d.datasets.scenes import render_pathtraced

            t2 = time.perf_counter()
            traced = _over_white(torch.as_tensor(render_pathtraced(spec, c2w, angle, size, spp=4 if ctx.quick else 32,
                                                                   progress=False)))
            traced_s = time.perf_counter() - t2
            frames = side_by_side(raster, traced)
            caption = (f"{name}: our rasteriser (left, {raster_s:.1f} s for {n_frames} frames) and Mitsuba 3's path "
                       f"tracer (right, {traced_s:.1f} s) from the same cameras.")
        else:
            frames = raster
            caption = (f"{name}: our rasteriser, Phong shading ({raster_s:.1f} s for {n_frames} frames). Install the "
                       "photoreal extra (pip install -e .[photoreal]) to see the path-traced version beside it.")
        gif = save_frames(frames, ctx.path(f"scene_{name}_turntable.gif"), fps=ctx.fps)
        sec.add(gif, caption, f"{name}: rasterised" + (" vs path traced" if photoreal else ""), wide=photoreal)
        rows.append([name, len(train), f"{size} x {size}", f"{made:.1f}", f"{raster_s / n_frames * 1000:.0f}",
                     "-" if traced_s is None else f"{traced_s / n_frames * 1000:.0f}"])
    sec.html_blocks.append(html_table(
        ["scene", "train views", "image size", "written in (s)", "raster ms/frame", "path traced ms/frame"], rows))
    if not photoreal:
        sec.note = ("The path tracer is an optional extra (Mitsuba 3): pip install -e .[photoreal] and run the tour "
                    "again to see each scene rasterised and path traced side by side.")
    return sec
