"""``inverse3d splat``: 3D Gaussian splatting on multi-view scenes: ``train``, ``render`` (turntable of a checkpoint
or of any 3DGS PLY file) and ``eval`` (PSNR/SSIM on the test views)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional, Union

import tyro

from inverse3d.tasks.splat.train import SplatTrainConfig
from inverse3d.training.options import check_float


@dataclass
class Train(SplatTrainConfig):
    """Train 3D Gaussians on a scene folder or a built-in scene (adaptive density control, L1 + D-SSIM); writes
    checkpoint.pt, gaussians.ply (the 3DGS PLY layout), progress.gif, psnr.png, loss.png, config.json and log.json
    into --out-dir. Continue with --resume; replace with --overwrite."""

    viewer: Optional[str] = None
    """Stream the step, loss and the current Gaussians to a browser viewer at [HOST:]PORT while training (e.g. 8080;
    needs the viewer extra, pip install -e '.[viewer]')."""


@dataclass
class Render:
    """Render a turntable (colour | depth | alpha side by side) of a splat checkpoint or of any Gaussian PLY file in
    the 3DGS layout (ours or downloaded), as GIF, MP4 or PNG frames. A checkpoint orbits its scene's cameras; a PLY
    orbits the median of its opaque Gaussians unless --radius / --elevation / --centre say otherwise."""

    source: Annotated[str, tyro.conf.arg(aliases=("-i",))] = "out/splat/checkpoint.pt"
    """A checkpoint of inverse3d splat train (.pt) or a Gaussian PLY file (.ply)."""
    output: Annotated[str, tyro.conf.arg(aliases=("-o",))] = "out/splat/turntable.gif"
    """The video: .gif, .mp4 (needs imageio-ffmpeg) or a folder of PNG frames."""
    frames: int = 60
    """Frames around the scene."""
    size: Optional[int] = None
    """Width in pixels of each panel (default: the training views', 256 for a PLY)."""
    radius: Optional[float] = None
    """Distance of the cameras from the centre (default: the training cameras' mean, or 2.5 times the spread of
    the Gaussians)."""
    elevation: Optional[float] = None
    """Camera elevation in degrees above the plane normal to --up (default: the training cameras', or 20)."""
    centre: Optional[tuple[float, float, float]] = None
    """The point looked at (default: the scene box's centre, or the median of the opaque Gaussians)."""
    fov: Optional[float] = None
    """Horizontal field of view in degrees (default: the training views', or 40)."""
    up: tuple[float, float, float] = (0.0, 1.0, 0.0)
    """The world's up direction (COLMAP captures often have (0, -1, 0))."""
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    """Background colour, RGB in [0, 1]."""
    fps: float = 15.0
    """Frames per second of the video."""
    eps2d: Optional[float] = None
    """The rasteriser's low-pass term in squared pixels (default: the checkpoint's --eps2d; for a PLY 0.3, as 3DGS
    and gsplat train)."""
    device: str = "auto"
    """Torch device: auto, cpu, cuda, cuda:N or mps."""


@dataclass
class Eval:
    """PSNR and SSIM of trained Gaussians on a split's views: a printed table, metrics.json and side-by-side PNGs
    (truth | render | depth) in --out-dir."""

    source: Annotated[str, tyro.conf.arg(aliases=("-i",))] = "out/splat/checkpoint.pt"
    """A checkpoint of inverse3d splat train, or a Gaussian PLY file (then --scene is needed)."""
    scene: Optional[str] = None
    """The scene folder (default: the checkpoint's)."""
    out_dir: str = "out/splat/eval"
    """Folder for metrics.json and view_NNN.png."""
    split: str = "test"
    """train, val or test."""
    n_views: Optional[int] = None
    """Evaluate only the first N views (default: all)."""
    downscale: Optional[int] = None
    """Read the images downscaled by 1, 2, 4 or 8 (default: as trained)."""
    images: bool = True
    """Write the side-by-side PNGs."""
    eps2d: Optional[float] = None
    """The rasteriser's low-pass term in squared pixels (default: the checkpoint's --eps2d; for a PLY 0.3)."""
    device: str = "auto"
    """Torch device."""


Command = tyro.conf.OmitSubcommandPrefixes[Union[
    Annotated[Train, tyro.conf.subcommand("train")],
    Annotated[Render, tyro.conf.subcommand("render")],
    Annotated[Eval, tyro.conf.subcommand("eval")],
]]


@dataclass
class Args:
    """3D Gaussian splatting on multi-view scenes: train, render, eval."""

    command: Command
    """What to do: train, render or eval (each documents its own options with --help)."""


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be positive; got {value}")


def _source(path: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"--source {path}: no such file (a checkpoint of inverse3d splat train, or a .ply)")
    return p


def run_train(args: Train) -> int:
    from inverse3d.cli.options import last_loss, run_training
    from inverse3d.tasks.splat.train import train

    return run_training(args, train, lambda r: f"trained {len(r.model)} Gaussians to step {r.step} in "
                                               f"{r.seconds:.1f} s, last loss {last_loss(r)}")


def run_render(args: Render) -> int:
    from inverse3d.cli.options import check_output_path, resolve_device
    from inverse3d.tasks.splat.render import gaussians_orbit, render_turntable, scene_orbit, trained_eps2d
    from inverse3d.tasks.splat.train import load_splat
    from inverse3d.viz.images import save_frames

    out = check_output_path(args.output, {".gif", ".mp4", ""})
    _positive("--frames", args.frames)
    _positive("--fps", args.fps)
    for name, value in (("--size", args.size), ("--radius", args.radius), ("--fov", args.fov)):
        if value is not None:
            _positive(name, value)
    if args.fov is not None and args.fov >= 180:
        raise ValueError(f"--fov must be below 180 degrees; got {args.fov}")
    if not all(0 <= c <= 1 for c in args.background):
        raise ValueError(f"--background must be RGB in [0, 1]; got {list(args.background)}")
    if args.eps2d is not None:
        check_float("--eps2d", args.eps2d)
    model, ckpt = load_splat(_source(args.source), resolve_device(args.device))
    eps2d = trained_eps2d(ckpt) if args.eps2d is None else args.eps2d
    orbit = scene_orbit(ckpt["splat"]) if "splat" in ckpt else gaussians_orbit(model.means, model.opacities)
    for key, value in (("radius", args.radius), ("elevation", args.elevation), ("fov", args.fov)):
        if value is not None:
            orbit[key] = float(value)
    if args.centre is not None:
        orbit["centre"] = list(args.centre)
    frames = render_turntable(model, orbit, args.frames, args.size, args.background, args.up, eps2d=eps2d)
    save_frames(frames, out, fps=args.fps)
    print(f"wrote {out} ({args.frames} frames of {len(model)} Gaussians: colour | depth | alpha)")
    return 0


def run_eval(args: Eval) -> int:
    from inverse3d.cli.options import resolve_device
    from inverse3d.tasks.splat.evaluate import evaluate_splat, format_table

    if args.split not in ("train", "val", "test"):
        raise ValueError(f"--split must be train, val or test; got {args.split!r}")
    source = _source(args.source)
    if args.scene is not None and not Path(args.scene).exists():
        raise ValueError(f"--scene {args.scene}: no such folder")
    if args.eps2d is not None:
        check_float("--eps2d", args.eps2d)
    result = evaluate_splat(source, args.out_dir, args.split, args.scene, args.n_views,
                            resolve_device(args.device), args.images, args.downscale, eps2d=args.eps2d)
    print(format_table(result))
    print(f"wrote {Path(args.out_dir) / 'metrics.json'}")
    return 0


def run(args: Args) -> int:
    cmd = args.command
    handlers = {Train: run_train, Render: run_render, Eval: run_eval}
    return handlers[type(cmd)](cmd)


if __name__ == "__main__":  # python -m inverse3d.cli.splat
    raise SystemExit(run(tyro.cli(Args)))
