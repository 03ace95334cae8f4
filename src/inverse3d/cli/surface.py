"""``inverse3d surface``: neural signed distance fields.

Subcommands:

- ``fit-points CLOUD.ply`` or ``fit-points --shape NAME``: a neural SDF fitted to a point cloud; writes the mesh,
  metrics against the ground truth where known, turntables of the cloud and of the sphere-traced SDF.
- ``trace``: sphere-trace a built-in SDF scene (the course's torus, a scene of 26 primitives, a built-in shape's
  mesh SDF) or a ``fit-points`` checkpoint to a PNG or a turntable, Phong shaded and relit.
- (from images, VolSDF / NeuS; ``inverse3d.cli.surface_train``) ``train``: a neural surface from a multi-view
  scene; ``eval``: PSNR/SSIM of the test views and chamfer/F1 of the mesh against the scene's ground truth;
  ``mesh``: marching cubes of the SDF; ``render``: colour | geometry turntable; ``beta-study``: short runs at
  several fixed VolSDF betas, tabulated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Optional, Union

import tyro

from inverse3d.cli.surface_train import HANDLERS as IMAGE_HANDLERS
from inverse3d.cli.surface_train import BetaStudy, Eval, Mesh, Render, Train
from inverse3d.tasks.surface.points import FitPointsConfig


@dataclass
class FitPoints(FitPointsConfig):
    """Fit a neural SDF to a point cloud (a PLY file, or --shape NAME: samples of a built-in shape); writes
    checkpoint.pt, mesh.ply (marching cubes), metrics.json (chamfer, F1@t against the ground truth when known),
    input_turntable.gif and sdf_turntable.gif (sphere traced), loss.png and config.json into --out-dir. Continue
    with --resume; replace with --overwrite."""

    cloud: Annotated[Optional[str], tyro.conf.Positional, tyro.conf.arg(metavar="CLOUD.ply")] = None
    """A PLY point cloud (positions, optional nx/ny/nz normals) to fit; or use --shape."""


@dataclass
class Trace:
    """Sphere-trace an SDF: a built-in scene (torus, primitives, or a built-in shape's mesh: chair, table, sofa,
    sphere, cube) or the network of a fit-points checkpoint; Phong shaded with a point light. One view as PNG, or a
    turntable as GIF / MP4 (--frames > 1)."""

    scene: str = "primitives"
    """torus, primitives (26 primitives with CSG), a built-in shape name (its mesh as an SDF), or a fit-points
    checkpoint.pt."""
    output: Annotated[str, tyro.conf.arg(aliases=("-o",))] = "out/surface/trace.png"
    """The image (.png) or video (.gif, .mp4) to write."""
    size: int = 256
    """Image size in pixels (square)."""
    frames: int = 1
    """Views around the scene (1: a single view, written as PNG)."""
    elev: float = 30.0
    """Camera elevation in degrees."""
    azim: float = 30.0
    """Camera azimuth of the first view in degrees."""
    dist: float = 0.0
    """Camera distance from the origin (0: framed automatically)."""
    light: tuple[float, float, float] = (1.5, 2.5, 2.5)
    """World position of the point light."""
    max_iters: int = 64
    """Sphere-tracing steps per ray."""
    device: str = "auto"
    """Torch device."""


# Subcommands of ``inverse3d surface``: from point clouds and analytic SDFs here, from images in surface_train.
Command = tyro.conf.OmitSubcommandPrefixes[Union[
    Annotated[FitPoints, tyro.conf.subcommand("fit-points")],
    Annotated[Trace, tyro.conf.subcommand("trace")],
    Annotated[Train, tyro.conf.subcommand("train")],
    Annotated[Eval, tyro.conf.subcommand("eval")],
    Annotated[Mesh, tyro.conf.subcommand("mesh")],
    Annotated[Render, tyro.conf.subcommand("render")],
    Annotated[BetaStudy, tyro.conf.subcommand("beta-study")],
]]


@dataclass
class Args:
    """Neural surfaces: fit-points (a neural SDF from a point cloud), trace (sphere tracing), and from images
    (VolSDF / NeuS) train, eval, mesh, render, beta-study."""

    command: Command
    """What to do (each subcommand documents its own options with --help)."""


def run_fit_points(args: FitPoints) -> int:
    from inverse3d.cli.options import resolve_device
    from inverse3d.tasks.surface.points import fit_points
    from inverse3d.training import TrainingInterrupted

    args.device = str(resolve_device(args.device))
    args.check()
    try:
        result = fit_points(args)
    except TrainingInterrupted as stop:
        if stop.path is not None:
            print(f"interrupted at step {stop.step}; checkpoint: {stop.path} (continue with --resume)")
        return 130
    last = result.losses[-1] if result.losses else float("nan")
    print(f"fitted a {args.field} SDF to step {result.step} in {result.seconds:.1f} s, last loss {last:.4g}")
    metrics_path = result.files.get("metrics")
    if metrics_path is not None:
        metrics = json.loads(metrics_path.read_text())
        if "f1@0.01" in metrics:
            print(f"F1@0.01 {metrics['f1@0.01']:.1f}  F1@0.02 {metrics['f1@0.02']:.1f}  "
                  f"chamfer {metrics['chamfer_l2']:.3g}  (against {metrics['source']})")
    for name, path in result.files.items():
        print(f"  {name}: {path}")
    return 0


def run_trace(args: Trace) -> int:
    import math
    from pathlib import Path

    import torch

    from inverse3d.cli.options import check_output_path, resolve_device
    from inverse3d.renderer import FoVPerspectiveCameras, PointLights, look_at_view_transform
    from inverse3d.renderer.sdf import SphereTracingRenderer, count_primitives
    from inverse3d.viz.images import save_frames, save_image

    out = check_output_path(args.output, {".png", ".gif", ".mp4"})
    if args.frames < 1 or args.size < 8 or args.max_iters < 1:
        raise ValueError(f"need --frames >= 1, --size >= 8, --max-iters >= 1; got {args.frames}, {args.size}, "
                         f"{args.max_iters}")
    if (args.frames == 1) != (out.suffix == ".png"):
        raise ValueError(f"--output {args.output}: write one view (--frames 1) as .png, a turntable as .gif/.mp4")
    device = resolve_device(args.device)
    sdf, bounds, radius, what = trace_target(args.scene)
    sdf = sdf.to(device)
    dist = args.dist if args.dist > 0 else radius / math.sin(math.radians(30.0)) * 1.1
    azims = [args.azim + 360.0 * i / args.frames for i in range(args.frames)]
    R, T = look_at_view_transform(dist, args.elev, azims, device=device)
    lights = PointLights(location=(tuple(args.light),), device=device)
    renderer = SphereTracingRenderer(image_size=args.size, lights=lights, bounds=bounds, max_iters=args.max_iters,
                                     far=dist + 4 * radius, eps=1e-4 * radius * 4,
                                     step_scale=0.9 if Path(args.scene).suffix == ".pt" else 1.0)
    images = []
    with torch.no_grad():
        for i in range(args.frames):
            cams = FoVPerspectiveCameras(R=R[i : i + 1], T=T[i : i + 1], device=device)
            images.append(renderer(sdf, cameras=cams).images[0, ..., :3].clamp(0, 1).cpu())
    if args.frames == 1:
        save_image(out, images[0])
    else:
        save_frames(torch.stack(images), out)
    print(f"wrote {out} ({what}, {count_primitives(sdf)} primitives)" if what != "network" else f"wrote {out}")
    return 0


def trace_target(scene: str):
    """(sdf module, bounds or None, radius of the region to frame, description) for ``Trace.scene``."""
    from pathlib import Path

    from inverse3d.renderer.sdf import MeshSDF, Union, many_primitives_scene, torus_scene
    from inverse3d.tasks.surface.shapes import SHAPES, builtin_surface

    if scene == "torus":
        return torus_scene(), None, 0.55, "torus"
    if scene == "primitives":
        return many_primitives_scene(), None, 1.3, "primitives"
    if scene in SHAPES:
        target = builtin_surface(scene)
        parts = [MeshSDF(v, f) for v, f in target.parts]  # union of closed parts: exact outside
        return Union(parts), ((-0.6,) * 3, (0.6,) * 3), 0.55, scene
    path = Path(scene)
    if path.suffix == ".pt":
        from inverse3d.tasks.surface.points import load_points_checkpoint

        if not path.is_file():
            raise ValueError(f"--scene {scene}: no such checkpoint file")
        model, ckpt = load_points_checkpoint(path)
        lo, hi = ckpt["bounds"]
        return model, (lo, hi), 0.55, "network"
    raise ValueError(f"--scene must be torus, primitives, one of {', '.join(SHAPES)} or a checkpoint.pt; got {scene!r}")


HANDLERS = {FitPoints: run_fit_points, Trace: run_trace, **IMAGE_HANDLERS}


def run(args: Args) -> int:
    cmd = args.command
    return HANDLERS[type(cmd)](cmd)


if __name__ == "__main__":  # python -m inverse3d.cli.surface
    raise SystemExit(run(tyro.cli(Args)))
