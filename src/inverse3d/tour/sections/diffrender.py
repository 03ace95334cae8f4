"""The tour's "Differentiable rendering" section: three short inverse problems through the soft rasteriser.

A camera's pose recovered from a silhouette of the cow-like mesh (from a guess up to 15 degrees off), its texture map
recovered from a few posed images, and an ico sphere deformed into it from silhouettes and RGB -- each a short run of
``inverse3d invert pose / texture / shape`` at small sizes, with its progress GIF (target | current) and numbers. Under
``--quick`` every run takes a couple of steps only (a smoke run).
"""

from __future__ import annotations

import time
from pathlib import Path

from inverse3d.tour.registry import TourContext
from inverse3d.viz.report import Section, html_table

NAME = "diffrender"
ORDER = 140

# Short-run sizes (and the --quick smoke sizes).
POSE = dict(image_size=32, dist=0.9, iterations=40, lr=0.05, max_angle=15.0, max_shift=0.02, starts=1,
            faces_per_pixel=30, frame_every=2)
TEXTURE = dict(image_size=48, n_views=4, n_test=2, texture_size=32, iterations=25, lr=0.3, frame_every=1)
SHAPE = dict(image_size=48, n_views=6, views_per_step=2, level=1, stages=2, iterations=30, lr=0.02,
             faces_per_pixel=10, n_points=3000, frame_every=2)
QUICK_STEPS = 2


def build(ctx: TourContext) -> Section:
    from inverse3d.tasks.invert.pose import PoseConfig, fit_pose
    from inverse3d.tasks.invert.shape import ShapeConfig, fit_shape
    from inverse3d.tasks.invert.texture import TextureConfig, fit_texture

    root = Path(ctx.out_dir) / "diffrender"
    steps = (lambda n: QUICK_STEPS) if ctx.quick else (lambda n: n)
    common = dict(device=str(ctx.device), progress=False, overwrite=True, checkpoint_every=10**6)
    sec = Section(
        "Differentiable rendering",
        "Inverse problems solved by gradient descent through the soft rasteriser (SoftRas silhouettes and soft Phong "
        "shading): a camera's rotation and position from one silhouette of a known mesh, a texture map from posed "
        "images, and a shape from multi-view silhouettes and RGB. Each GIF shows the target (left) and the current "
        "rendering (right) during the optimisation.",
        note="Short runs at small image sizes so that the tour stays fast; the quality targets (pose within 2 degrees "
        "from 30-degree guesses, F1@0.02 >= 90, held-out PSNR >= 30 dB) need the full commands of "
        "`inverse3d invert` in the README.",
    )
    rows = []

    t0 = time.perf_counter()
    pose = fit_pose(PoseConfig(out_dir=str(root / "pose"), **dict(POSE, iterations=steps(POSE["iterations"])),
                               **common))
    rows.append(["pose (silhouette, cow)", f"rotation error {pose.summary['initial_rotation_error_degrees'][0]:.1f} -> "
                 f"{pose.rotation_error[0]:.2f} deg, position error {pose.position_error[0]:.3f}",
                 f"{POSE['image_size']} px, {POSE['starts']} start(s)", f"{time.perf_counter() - t0:.1f} s"])
    sec.add(pose.files["progress"], f"pose search: {rows[-1][1]}", "camera pose", wide=True)

    t0 = time.perf_counter()
    tex = fit_texture(TextureConfig(out_dir=str(root / "texture"),
                                    **dict(TEXTURE, iterations=steps(TEXTURE["iterations"])), **common))
    rows.append(["texture (UV map, phong)", f"held-out image PSNR {tex.test_psnr:.1f} dB, texture PSNR "
                 f"{tex.texture_psnr:.1f} dB", f"{TEXTURE['n_views']} views at {TEXTURE['image_size']} px",
                 f"{time.perf_counter() - t0:.1f} s"])
    sec.add(tex.files["progress"], f"a texture appearing: {rows[-1][1]}", "texture", wide=True)
    sec.add(tex.files["texture"], "the recovered texture map", "texture map")

    t0 = time.perf_counter()
    shape = fit_shape(ShapeConfig(out_dir=str(root / "shape"), **dict(SHAPE, iterations=steps(SHAPE["iterations"])),
                                  **common))
    m, m0 = shape.metrics, shape.initial_metrics
    rows.append(["shape (ico sphere -> cow)", f"chamfer {m0['chamfer']:.4f} -> {m['chamfer']:.4f}, F1@0.02 "
                 f"{m0['f1']['0.02']:.1f} -> {m['f1']['0.02']:.1f}", f"{SHAPE['n_views']} views, level "
                 f"{SHAPE['level']} -> {SHAPE['level'] + SHAPE['stages'] - 1}", f"{time.perf_counter() - t0:.1f} s"])
    sec.add(shape.files["progress"], f"a sphere deforming into the target: {rows[-1][1]}", "shape", wide=True)
    sec.add(shape.files["result"], "targets (top) and the fitted mesh (bottom)", "shape result", wide=True)
    sec.html_blocks.append(html_table(["problem", "result of this short run", "size", "time"], rows))
    return sec
