"""``inverse3d invert``: inverse problems solved through the soft rasteriser: ``pose`` (a camera's rotation and
position from one image of a known mesh), ``texture`` (a UV map or vertex colours of a known mesh from posed images)
and ``shape`` (an ico sphere deformed into the target from multi-view silhouettes and RGB)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Union

import tyro

from inverse3d.cli import invert_sds
from inverse3d.tasks.invert.pose import PoseConfig
from inverse3d.tasks.invert.shape import ShapeConfig
from inverse3d.tasks.invert.texture import TextureConfig


@dataclass
class Pose(PoseConfig):
    """Recover a camera's rotation and position from a silhouette or an RGB image of a known mesh (built-in cow or
    lego at random true poses, --trials of them, or --mesh FILE --image FILE), from a poor initial guess with
    --starts random restarts; prints the rotation error in degrees and the position error; writes pose.json,
    progress.gif, result.png, loss.png into --out-dir."""

    out_dir: str = "out/invert/pose"
    """Folder for pose.json, progress.gif, result.png, loss.png, config.json and checkpoint.pt."""


@dataclass
class Texture(TextureConfig):
    """Recover a UV texture map or per-vertex colours of a known mesh from posed images (the built-in cow's views, or
    --scene FOLDER with --mesh FILE); prints texture PSNR (when the truth is known) and held-out image PSNR; writes
    texture.png + mesh.obj (or mesh.ply), metrics.json, heldout.png, progress.gif, loss.png into --out-dir."""

    out_dir: str = "out/invert/texture"
    """Folder for texture.png, mesh.obj / mesh.ply, metrics.json, heldout.png, progress.gif, loss.png."""


@dataclass
class Shape(ShapeConfig):
    """Deform an ico sphere (or --template FILE) into the target (built-in cow, or --target SCENE) from multi-view
    silhouettes and RGB images, coarse to fine; prints chamfer and F1@t to the ground truth; writes mesh.ply,
    metrics.json, result.png, progress.gif, loss.png into --out-dir."""

    out_dir: str = "out/invert/shape"
    """Folder for mesh.ply, metrics.json, result.png, progress.gif, loss.png, config.json and checkpoint.pt."""


# The subcommands; score distillation (``sds``) has its own module, inverse3d.cli.invert_sds.
Command = tyro.conf.OmitSubcommandPrefixes[Union[
    Annotated[Pose, tyro.conf.subcommand("pose")],
    Annotated[Texture, tyro.conf.subcommand("texture")],
    Annotated[Shape, tyro.conf.subcommand("shape")],
    Annotated[invert_sds.Args, tyro.conf.subcommand("sds")],
]]


@dataclass
class Args:
    """Inverse problems through differentiable rendering: pose, texture, shape; and score distillation (sds) from
    a local diffusion model."""

    command: Command
    """What to recover: pose, texture, shape, or sds (each documents its own options with --help)."""


def _device(cfg) -> None:
    from inverse3d.cli.options import resolve_device

    cfg.device = str(resolve_device(cfg.device))


def _interrupted(stop) -> int:
    if stop.path is not None:
        print(f"interrupted at step {stop.step}; checkpoint: {stop.path} (continue with --resume)")
    return 130


def _files(files) -> None:
    for name, path in files.items():
        print(f"  {name}: {path}")


def run_pose(args: Pose) -> int:
    from inverse3d.tasks.invert.pose import fit_pose
    from inverse3d.training import TrainingInterrupted

    _device(args)
    try:
        r = fit_pose(args)
    except TrainingInterrupted as stop:
        return _interrupted(stop)
    for k, (losses, best) in enumerate(zip(r.losses, r.summary["best_start"])):
        line = f"trial {k}: best start {best} (loss {losses[best]:.4g})"
        if r.rotation_error is not None:
            line += f", rotation error {r.rotation_error[k]:.2f} deg, position error {r.position_error[k]:.4f}"
        print(line)
    if r.success_rate is not None:
        print(f"rotation error < {args.success_degrees:g} deg in {100 * r.success_rate:.0f}% of {args.trials} "
              f"trial(s) (median {r.summary['median_rotation_error_degrees']:.2f} deg)")
    print(f"{r.seconds:.1f} s in all, {r.seconds_per_start:.1f} s per start")
    _files(r.files)
    return 0


def run_texture(args: Texture) -> int:
    from inverse3d.tasks.invert.texture import fit_texture
    from inverse3d.training import TrainingInterrupted

    _device(args)
    try:
        r = fit_texture(args)
    except TrainingInterrupted as stop:
        return _interrupted(stop)
    parts = [f"train PSNR {r.train_psnr:.2f} dB"]
    if r.test_psnr is not None:
        parts.append(f"held-out image PSNR {r.test_psnr:.2f} dB")
    if r.texture_psnr is not None:
        parts.append(f"texture PSNR {r.texture_psnr:.2f} dB")
    print(", ".join(parts) + f" ({r.seconds:.1f} s)")
    _files(r.files)
    return 0


def run_shape(args: Shape) -> int:
    from inverse3d.tasks.invert.shape import fit_shape
    from inverse3d.training import TrainingInterrupted

    _device(args)
    try:
        r = fit_shape(args)
    except TrainingInterrupted as stop:
        return _interrupted(stop)
    if r.metrics is not None:
        f1 = ", ".join(f"F1@{t} {v:.1f}" for t, v in r.metrics["f1"].items())
        print(f"chamfer {r.metrics['chamfer']:.5f} (start {r.initial_metrics['chamfer']:.5f}); {f1}")
    print(f"{r.verts.shape[0]} vertices, {r.faces.shape[0]} faces in {r.seconds:.1f} s")
    _files(r.files)
    return 0


HANDLERS = {Pose: run_pose, Texture: run_texture, Shape: run_shape, invert_sds.Args: invert_sds.run}


def run(args: Args) -> int:
    cmd = args.command
    return HANDLERS[type(cmd)](cmd)


if __name__ == "__main__":  # python -m inverse3d.cli.invert
    raise SystemExit(run(tyro.cli(Args)))
