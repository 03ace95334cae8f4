"""``inverse3d nerf``: radiance fields on multi-view scenes: ``train``, ``render`` (turntable), ``eval`` (PSNR/SSIM
on the test views), ``mesh`` (marching cubes on the density, PLY) and ``fit-box`` (the course's box fit)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional, Union

import tyro

from inverse3d.tasks.nerf.train import NeRFTrainConfig


@dataclass
class Train(NeRFTrainConfig):
    """Train a NeRF (--field mlp | hashgrid | grid) on a scene folder or a built-in scene; writes checkpoint.pt,
    loss.png, config.json and log.json (train PSNR) into --out-dir. Continue with --resume; replace with
    --overwrite."""

    viewer: Optional[str] = None
    """Stream the step, loss and a render of the field to a browser viewer at [HOST:]PORT while training (e.g.
    8080; needs pip install -e '.[viewer]'); costs at most ~5% of the training time."""


@dataclass
class Render:
    """Render a 360-degree turntable (colour | depth | opacity side by side) of a trained NeRF as GIF or MP4."""

    checkpoint: str = "out/nerf/checkpoint.pt"
    """A checkpoint of inverse3d nerf train."""
    output: Annotated[str, tyro.conf.arg(aliases=("-o",))] = "out/nerf/turntable.gif"
    """The video: .gif, .mp4 (needs imageio-ffmpeg) or a folder of PNG frames."""
    frames: int = 60
    """Frames around the scene."""
    size: Optional[int] = None
    """Width in pixels of each panel (default: the training views')."""
    chunk: int = 8192
    """Rays rendered at once (bounds the memory)."""
    device: str = "auto"
    """Torch device: auto, cpu, cuda, cuda:N or mps."""


@dataclass
class Eval:
    """PSNR and SSIM of a trained NeRF on a split's views: a printed table, metrics.json and side-by-side PNGs
    (truth | render | depth) in --out-dir."""

    checkpoint: str = "out/nerf/checkpoint.pt"
    """A checkpoint of inverse3d nerf train."""
    out_dir: str = "out/nerf/eval"
    """Folder for metrics.json and view_NNN.png."""
    split: str = "test"
    """train, val or test."""
    n_views: Optional[int] = None
    """Evaluate only the first N views (default: all)."""
    images: bool = True
    """Write the side-by-side PNGs."""
    chunk: int = 8192
    """Rays rendered at once."""
    device: str = "auto"
    """Torch device."""


@dataclass
class Mesh:
    """Extract a mesh of a trained NeRF by marching cubes on its density, written as PLY."""

    checkpoint: str = "out/nerf/checkpoint.pt"
    """A checkpoint of inverse3d nerf train."""
    output: Annotated[str, tyro.conf.arg(aliases=("-o",))] = "out/nerf/mesh.ply"
    """The PLY file."""
    resolution: int = 128
    """Grid samples per axis over the scene box."""
    level: float = 10.0
    """Density level of the surface."""
    device: str = "auto"
    """Torch device."""


@dataclass
class FitBox:
    """Fit the box scene's centre and side lengths from its 4 training views by MSE, rendering with the scene's own
    SDF density (the course's first volume-rendering exercise); prints and writes the recovered numbers."""

    scene: str = "box"
    """A box scene folder, or "box": the built-in one, generated into --data-root/box_SIZE."""
    data_root: str = "data/scenes"
    """Where the built-in box is generated."""
    image_size: int = 128
    """Image size of the generated box scene."""
    iterations: int = 1000
    """Adam steps."""
    rays_per_step: int = 1024
    """Random rays per step."""
    n_samples: int = 64
    """Stratified samples per ray."""
    lr: float = 0.02
    """Adam's learning rate (cosine decay to 1%)."""
    init_center: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """The starting centre."""
    init_sides: tuple[float, float, float] = (1.75, 1.75, 1.75)
    """The starting side lengths."""
    seed: int = 0
    """Seed of the ray draws and samples."""
    output: Annotated[str, tyro.conf.arg(aliases=("-o",))] = "out/nerf/box_fit.json"
    """JSON with the recovered centre and sides, the truth and the errors."""
    device: str = "auto"
    """Torch device."""
    progress: bool = True
    """Show the progress bar."""


Command = tyro.conf.OmitSubcommandPrefixes[Union[
    Annotated[Train, tyro.conf.subcommand("train")],
    Annotated[Render, tyro.conf.subcommand("render")],
    Annotated[Eval, tyro.conf.subcommand("eval")],
    Annotated[Mesh, tyro.conf.subcommand("mesh")],
    Annotated[FitBox, tyro.conf.subcommand("fit-box")],
]]


@dataclass
class Args:
    """Radiance fields (NeRF, hash grid, dense grid) on multi-view scenes: train, render, eval, mesh, fit-box."""

    command: Command
    """What to do: train, render, eval, mesh or fit-box (each documents its own options with --help)."""


def _positive(name: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"{name} must be >= 1; got {value}")


def _checkpoint(path: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"--checkpoint {path}: no such file (train one with inverse3d nerf train)")
    return p


def run_train(args: Train) -> int:
    from inverse3d.cli.options import last_loss, run_training
    from inverse3d.tasks.nerf.train import train

    return run_training(args, train, lambda r: f"trained {args.field} NeRF to step {r.step} in {r.seconds:.1f} s, "
                                               f"last loss {last_loss(r)}")


def run_render(args: Render) -> int:
    from inverse3d.cli.options import check_output_path, resolve_device
    from inverse3d.tasks.nerf.render import render_turntable
    from inverse3d.tasks.nerf.train import load_nerf_checkpoint
    from inverse3d.viz.images import save_frames

    out = check_output_path(args.output, {".gif", ".mp4", ""})
    _positive("--frames", args.frames)
    _positive("--chunk", args.chunk)
    if args.size is not None:
        _positive("--size", args.size)
    device = resolve_device(args.device)
    model, ckpt = load_nerf_checkpoint(_checkpoint(args.checkpoint), device)
    frames = render_turntable(model, ckpt["scene"], args.frames, args.size, chunk=args.chunk)
    save_frames(frames, out)
    print(f"wrote {out} ({args.frames} frames: colour | depth | opacity)")
    return 0


def run_eval(args: Eval) -> int:
    from inverse3d.cli.options import resolve_device
    from inverse3d.tasks.nerf.evaluate import evaluate_nerf, format_table

    if args.split not in ("train", "val", "test"):
        raise ValueError(f"--split must be train, val or test; got {args.split!r}")
    _positive("--chunk", args.chunk)
    device = resolve_device(args.device)
    result = evaluate_nerf(_checkpoint(args.checkpoint), args.out_dir, args.split, args.n_views, device,
                           args.chunk, args.images)
    print(format_table(result))
    print(f"wrote {Path(args.out_dir) / 'metrics.json'}")
    return 0


def run_mesh(args: Mesh) -> int:
    from inverse3d.cli.options import check_output_path, resolve_device
    from inverse3d.tasks.nerf.mesh import extract_mesh
    from inverse3d.tasks.nerf.train import load_nerf_checkpoint

    out = check_output_path(args.output, {".ply"})
    _positive("--resolution", args.resolution)
    model, _ = load_nerf_checkpoint(_checkpoint(args.checkpoint), resolve_device(args.device))
    v, f = extract_mesh(model, out, args.resolution, args.level)
    print(f"wrote {out} ({v} vertices, {f} faces)")
    return 0


def run_fit_box(args: FitBox) -> int:
    from inverse3d.cli.options import check_output_path, resolve_device
    from inverse3d.io.outputs import atomic_write
    from inverse3d.tasks.nerf.box import box_rays_from_scene, fit_box
    from inverse3d.tasks.nerf.train import open_scene

    out = check_output_path(args.output, {".json"})
    for name in ("iterations", "rays_per_step", "n_samples"):
        _positive("--" + name.replace("_", "-"), getattr(args, name))
    device = resolve_device(args.device)
    path = Path(args.scene)
    if not path.exists():
        if args.scene != "box":
            raise ValueError(f"--scene {args.scene}: no such folder (or use the built-in 'box')")
        from inverse3d.datasets.scenes import make_scene

        path = make_scene("box", Path(args.data_root) / f"box_{args.image_size}", image_size=args.image_size,
                          progress=args.progress)
    manifest = path / "manifest.json"
    try:
        box = json.loads(manifest.read_text())["scene"]["box"]
        beta, truth_c, truth_s = float(box["beta"]), box["center"], box["sides"]
    except (OSError, KeyError, ValueError, TypeError):
        raise ValueError(f"--scene {path}: not a box scene made by inverse3d (no box in {manifest})") from None
    scene = open_scene(path, "train", 1, white_background=False)
    origins, directions, colors = (t.to(device) for t in box_rays_from_scene(scene))
    r = fit_box(origins, directions, colors, beta, args.init_center, args.init_sides, args.iterations,
                args.rays_per_step, args.n_samples, args.lr, seed=args.seed, progress=args.progress)
    err_c = max(abs(a - b) for a, b in zip(r.center, truth_c))
    err_s = max(abs(a - b) for a, b in zip(r.sides, truth_s))
    report = {"center": r.center, "sides": r.sides, "true_center": truth_c, "true_sides": truth_s,
              "max_center_error": err_c, "max_sides_error": err_s, "seconds": r.seconds, "steps": r.steps,
              "final_loss": r.losses[-1], "scene": str(path)}
    text = json.dumps(report, indent=2)
    atomic_write(out, lambda tmp: tmp.write_text(text))
    print(f"centre {[round(v, 4) for v in r.center]} (true {truth_c}, max error {err_c:.4f})")
    print(f"sides  {[round(v, 4) for v in r.sides]} (true {truth_s}, max error {err_s:.4f})")
    print(f"{r.steps} steps in {r.seconds:.1f} s; wrote {out}")
    return 0


def run(args: Args) -> int:
    cmd = args.command
    handlers = {Train: run_train, Render: run_render, Eval: run_eval, Mesh: run_mesh, FitBox: run_fit_box}
    return handlers[type(cmd)](cmd)


if __name__ == "__main__":  # python -m inverse3d.cli.nerf
    raise SystemExit(run(tyro.cli(Args)))
