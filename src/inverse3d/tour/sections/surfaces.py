"""The photorealism spectrum, part 3: surfaces as signed distance functions.

Sphere tracing of analytic SDFs (the course's torus and a scene of 26 primitives combined by CSG), the same surface
relit by three lights without tracing again, and a neural SDF fitted to a point cloud of a built-in shape (a short
run, labelled as such, with its F1 against the true surface).

The section is a list of parts (``PARTS``), each a function ``(ctx, section) -> None`` adding figures and table
rows; image-based surfaces (VolSDF / NeuS) are added by appending their part to ``PARTS`` (or calling
``build_parts`` with a longer list).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch

from inverse3d.tour.registry import TourContext
from inverse3d.viz.report import Section, html_table

NAME = "surfaces"
ORDER = 120
TITLE = "Photorealism spectrum, part 3: surfaces"

# the short neural-SDF run of the tour (the full run is the documented command in the text)
FIT_STEPS, FIT_STEPS_QUICK = 400, 30
FIT_POINTS = 3000


def _uint8(images: torch.Tensor) -> np.ndarray:
    """(N, H, W, 3|4) float in [0, 1] -> (N, H, W, 3) uint8."""
    return (images[..., :3].clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()


def _cameras(dist: float, elev: float, azims, device):
    from inverse3d.renderer import FoVPerspectiveCameras, look_at_view_transform

    R, T = look_at_view_transform(dist, elev, list(azims), device=device)
    return FoVPerspectiveCameras(R=R, T=T, device=device)


def part_sdf_scenes(ctx: TourContext, sec: Section) -> None:
    """The sphere-traced torus (turntable) and the 26-primitive scene (one frame)."""
    from inverse3d.renderer import PointLights
    from inverse3d.renderer.sdf import SphereTracingRenderer, count_primitives, many_primitives_scene, torus_scene
    from inverse3d.viz.images import save_frames, save_image

    size = 64 if ctx.quick else 96
    n_frames = 4 if ctx.quick else 8
    lights = PointLights(location=((1.5, 2.5, 2.5),), device=ctx.device)
    renderer = SphereTracingRenderer(image_size=size, lights=lights, max_iters=64, far=6.0)
    t0 = time.perf_counter()
    with torch.no_grad():
        frames = renderer(torus_scene().to(ctx.device),
                          cameras=_cameras(1.6, 20.0, np.linspace(0, 360, n_frames, endpoint=False), ctx.device))
    torus_s = time.perf_counter() - t0
    gif = save_frames(_uint8(frames.images), ctx.path("sdf_torus.gif"), fps=ctx.fps)
    sec.add(gif, f"The course's torus as a signed distance function, sphere traced: each ray steps by the SDF value "
            f"until it is below 1e-4; normals are the autograd gradient of the SDF; Phong shading with our "
            f"PointLights and Materials ({n_frames} frames of {size} x {size} in {torus_s:.1f} s).",
            "Sphere-traced torus")

    scene = many_primitives_scene(ground=False).to(ctx.device)
    scene_size = 64 if ctx.quick else 128
    t0 = time.perf_counter()
    with torch.no_grad():
        image = SphereTracingRenderer(image_size=scene_size, lights=lights, max_iters=64, far=8.0)(
            scene, cameras=_cameras(2.1, 35.0, [30.0], ctx.device)).images[0]
    scene_s = time.perf_counter() - t0
    png = save_image(ctx.path("sdf_primitives.png"), _uint8(image[None])[0])
    sec.add(png, f"{count_primitives(scene)} primitives (spheres, boxes, tori, capsules, cylinders) placed with "
            "rotations and combined by union, smooth union (the blob in the middle) and difference (the bitten box "
            f"on top), sphere traced at {scene_size} x {scene_size} in {scene_s:.1f} s; the colour of each pixel is "
            "that of the primitive nearest to the hit point.", "Many primitives, CSG")
    sec.html_blocks.append(html_table(["scene", "primitives", "image", "seconds"], [
        ["torus", 1, f"{n_frames} x {size}^2", f"{torus_s:.1f}"],
        ["CSG scene", count_primitives(scene), f"{scene_size}^2", f"{scene_s:.1f}"],
    ]))


def part_relighting(ctx: TourContext, sec: Section) -> None:
    """One traced frame of the torus shaded under three lights: tracing once, shading three times."""
    from inverse3d.renderer import DirectionalLights, PointLights
    from inverse3d.renderer.sdf import SphereTracingRenderer, torus_scene
    from inverse3d.viz.images import image_grid, save_image

    size = 64 if ctx.quick else 96
    shape = torus_scene().to(ctx.device)
    cams = _cameras(1.6, 30.0, [0.0], ctx.device)
    renderer = SphereTracingRenderer(image_size=size, max_iters=64, far=6.0)
    with torch.no_grad():
        frags = renderer(shape, cameras=cams)
    lights = [
        ("warm key from the left", PointLights(location=((2.0, 1.0, 1.0),), diffuse_color=((0.7, 0.5, 0.3),),
                                               ambient_color=((0.25, 0.25, 0.3),), device=ctx.device)),
        ("cold light from above", DirectionalLights(direction=((0.0, 1.0, 0.2),), diffuse_color=((0.3, 0.45, 0.8),),
                                                    ambient_color=((0.2, 0.2, 0.2),), device=ctx.device)),
        ("white light from the right, strong highlight", PointLights(
            location=((-2.0, 1.5, 1.0),), diffuse_color=((0.8, 0.8, 0.8),), ambient_color=((0.15, 0.15, 0.15),),
            specular_color=((0.6, 0.6, 0.6),), device=ctx.device)),
    ]
    tiles = [_uint8(renderer.shade(frags.points, frags.normals, frags.mask, cams, shape, lights=light))[0]
             for _, light in lights]
    png = save_image(ctx.path("sdf_relit.png"), image_grid(tiles, ncols=3))
    sec.add(png, "Relighting: the hit points and normals of one traced frame shaded again under three lights ("
            + "; ".join(name for name, _ in lights) + ") -- no second tracing.", "Relit surface", wide=True)


def part_points_fit(ctx: TourContext, sec: Section) -> None:
    """A short neural-SDF fit to a built-in shape's cloud: the cloud | the sphere-traced result, with F1."""
    from inverse3d.tasks.surface.points import FitPointsConfig, fit_points, load_point_cloud, render_sdf_turntable
    from inverse3d.viz.images import save_frames
    from inverse3d.viz.plots import side_by_side
    from inverse3d.viz.turntable import render_turntable

    steps = FIT_STEPS_QUICK if ctx.quick else FIT_STEPS
    size = 64 if ctx.quick else 80
    n_frames = 4 if ctx.quick else 8
    config = FitPointsConfig(shape="chair", n_points=FIT_POINTS, iterations=steps, n_layers=3, hidden=64,
                             n_harmonics=4, batch_size=512, lr=5e-3, resolution=48 if ctx.quick else 96,
                             eval_points=5000, turntable_frames=0, out_dir=str(ctx.out_dir / "surfaces_fit"),
                             overwrite=True, progress=False, device=str(ctx.device))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batches: one thread avoids the intra-op synchronisation (much faster on CPU)
    try:
        result = fit_points(config)
    finally:
        torch.set_num_threads(threads)
    import json

    metrics = json.loads(result.files["metrics"].read_text())
    cloud = load_point_cloud(config)
    result.model.eval()
    traced = render_sdf_turntable(result.model, cloud.bounds, cloud.points.to(ctx.device), n_frames, size)
    points = render_turntable(cloud.points, n_frames=n_frames, image_size=size, progress=False, device=ctx.device)
    gif = save_frames(side_by_side(points, traced), ctx.path("sdf_from_points.gif"), fps=ctx.fps)
    sec.add(gif, f"A neural SDF from {FIT_POINTS} points (with normals) of the procedural chair: the input cloud "
            f"(left) and the SDF network sphere traced (right). Short run: {result.step} steps of a 3 x 64 SDFMLP "
            f"in {result.seconds:.0f} s, F1@0.01 = {metrics['f1@0.01']:.1f}, F1@0.02 = {metrics['f1@0.02']:.1f} "
            "against the true surface (bounding-box diagonal 1).", "Neural SDF from points (short run)", wide=True)
    sec.html_blocks.append(html_table(["run", "points", "steps", "seconds", "F1@0.01", "F1@0.02", "chamfer"], [
        ["tour (short)", FIT_POINTS, result.step, f"{result.seconds:.0f}", f"{metrics['f1@0.01']:.1f}",
         f"{metrics['f1@0.02']:.1f}", f"{metrics['chamfer_l2']:.2e}"],
    ]))


def part_volsdf(ctx: TourContext, sec: Section) -> None:
    """A short VolSDF run on a small copy of the lego scene: colour | geometry turntable, a test view, numbers."""
    from inverse3d.tasks.surface.study import short_volsdf_figure

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small batches: one thread is faster on the CPU
    try:
        r = short_volsdf_figure(ctx.out_dir / "volsdf", seconds=3.0 if ctx.quick else 12.0,
                                image_size=24 if ctx.quick else 32, n_frames=4 if ctx.quick else 8)
    finally:
        torch.set_num_threads(threads)
    import imageio.v3 as iio

    from inverse3d.viz.images import save_frames, save_image, zoom

    frames = iio.imread(r["turntable"], index=None)[..., :3]
    # the short run's 32 px views, shown 4 times larger
    gif = save_frames(list(zoom(frames, 4)), ctx.path("volsdf_turntable.gif"), fps=ctx.fps)
    view = save_image(ctx.path("volsdf_view.png"), zoom(iio.imread(r["view"])[..., :3], 4))
    f1 = "-" if r["f1@0.02"] is None else f"{r['f1@0.02']:.1f}"
    sec.add(gif, f"VolSDF from the lego scene's images ({r['label']}): colour | geometry (normal shading). Test PSNR "
            f"{r['psnr']:.1f} dB, F1@0.02 of the marching-cubes mesh against the true mesh {f1}, learned beta "
            f"{r['beta']:.3g}. The full run: `inverse3d surface train --scene lego --method volsdf --max-minutes 15`.",
            "VolSDF (short run)", wide=True)
    sec.add(view, "A held-out view: truth | VolSDF render | normal shading.", "VolSDF: test view")


PARTS: list[Callable[[TourContext, Section], None]] = [part_sdf_scenes, part_relighting, part_points_fit,
                                                       part_volsdf]
"""The parts of the section, in order; image-based surfaces (VolSDF / NeuS) append theirs."""


def build_parts(ctx: TourContext, parts: list[Callable[[TourContext, Section], None]]) -> Section:
    """The section with the given parts (each adds its figures and tables)."""
    sec = Section(
        TITLE,
        "A surface can be the zero level set of a signed distance function f (negative inside, |grad f| = 1). "
        "Sphere tracing renders it without a mesh: a ray advances by f, which can never overshoot the surface. "
        "Primitives (sphere, box, torus, capsule, cylinder, plane) combine by min / max (CSG), and any closed mesh "
        "becomes an SDF through its exact distance and winding-number sign. A neural SDF (an MLP with a harmonic "
        "embedding and geometric initialisation to a sphere, or a hash grid) is fitted to a point cloud with "
        "|f| = 0 on the points, normal alignment, the eikonal term (|grad f| - 1)^2 and the off-surface term "
        "exp(-100 |f|), then meshed by marching cubes. The full run reaches F1@0.01 above 90 on 10,000 points in "
        "under 3 CPU minutes: `inverse3d surface fit-points --shape chair --iterations 800 --threads 1`. "
        "Sphere-trace the scenes yourself with `inverse3d surface trace --scene primitives -o scene.png`.",
    )
    for part in parts:
        part(ctx, sec)
    return sec


def build(ctx: TourContext) -> Section:
    return build_parts(ctx, PARTS)
