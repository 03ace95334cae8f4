"""Subcommands of ``inverse3d surface`` for surfaces from images (VolSDF, NeuS): ``train``, ``eval``, ``mesh``,
``render`` and ``beta-study``. Each is a dataclass of options with a ``run_*`` function, mounted into
``inverse3d.cli.surface``'s subcommand union."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import tyro

from inverse3d.tasks.surface.train import SurfaceTrainConfig

__all__ = ["Train", "Eval", "Mesh", "Render", "BetaStudy", "run_train", "run_eval", "run_mesh", "run_render",
           "run_beta_study", "SUBCOMMANDS"]


@dataclass
class Train(SurfaceTrainConfig):
    """Train VolSDF (--method volsdf) or NeuS (--method neus) on a scene folder or a built-in scene; writes
    checkpoint.pt, loss.png, config.json and log.json (train PSNR, beta or s) into --out-dir. Continue with
    --resume; replace with --overwrite."""

    viewer: Optional[str] = None
    """Stream the step, loss and a render of the surface to a browser viewer at [HOST:]PORT while training (e.g.
    8080; needs the viewer extra, pip install -e '.[viewer]')."""


@dataclass
class Eval:
    """PSNR/SSIM on a split's views and chamfer/F1 of the extracted surface against the scene's mesh.ply: a
    printed table, metrics.json, mesh.ply and side-by-side PNGs (truth | render | normal shading) in --out-dir."""

    checkpoint: str = "out/surface/checkpoint.pt"
    """A checkpoint of inverse3d surface train."""
    out_dir: str = "out/surface/eval"
    """Folder for metrics.json, mesh.ply and view_NNN.png."""
    split: str = "test"
    """train, val or test."""
    n_views: Optional[int] = None
    """Evaluate only the first N views (default: all)."""
    resolution: int = 128
    """Marching-cubes grid samples per axis over the scene box."""
    n_points: int = 50000
    """Points sampled on each surface for chamfer and F1."""
    outer_surface: bool = True
    """Measure against the surface of the solid the scene's closed mesh.ply encloses, leaving out faces buried
    inside other parts (no image shows them); --no-outer-surface: against every face."""
    images: bool = True
    """Write the side-by-side PNGs."""
    chunk: int = 4096
    """Rays rendered at once (bounds the memory)."""
    device: str = "auto"
    """Torch device: auto, cpu, cuda, cuda:N or mps."""


@dataclass
class Mesh:
    """Extract the surface of a trained SDF (marching cubes at level 0), written as PLY."""

    checkpoint: str = "out/surface/checkpoint.pt"
    """A checkpoint of inverse3d surface train."""
    output: Annotated[str, tyro.conf.arg(aliases=("-o",))] = "out/surface/mesh.ply"
    """The PLY file."""
    resolution: int = 128
    """Grid samples per axis over the scene box."""
    device: str = "auto"
    """Torch device."""


@dataclass
class Render:
    """Render a 360-degree turntable of a trained surface, colour | normal-shaded geometry side by side, as GIF,
    MP4 or PNG frames."""

    checkpoint: str = "out/surface/checkpoint.pt"
    """A checkpoint of inverse3d surface train."""
    output: Annotated[str, tyro.conf.arg(aliases=("-o",))] = "out/surface/turntable.gif"
    """The video: .gif, .mp4 (needs imageio-ffmpeg) or a folder of PNG frames."""
    frames: int = 36
    """Frames around the scene."""
    size: Optional[int] = None
    """Width in pixels of each panel (default: the training views')."""
    chunk: int = 4096
    """Rays rendered at once."""
    device: str = "auto"
    """Torch device."""


@dataclass
class BetaStudy(SurfaceTrainConfig):
    """The course's study of VolSDF's beta: one short run per fixed beta (--betas), each evaluated on the test
    views and against the ground-truth mesh; writes beta_study.md / .json and one folder per beta in --out-dir."""

    betas: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3)
    """The fixed betas to compare."""
    iterations: int = 500
    """Training steps of each run."""
    out_dir: str = "out/surface/beta_study"
    """Folder for the table and the runs."""
    n_views: Optional[int] = 10
    """Test views evaluated per run (None: all)."""
    resolution: int = 96
    """Marching-cubes grid samples per axis."""


SUBCOMMANDS = {"train": Train, "eval": Eval, "mesh": Mesh, "render": Render, "beta-study": BetaStudy}
"""Subcommand name -> options dataclass, for ``inverse3d.cli.surface``'s union."""


def _positive(name: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"{name} must be >= 1; got {value}")


def _checkpoint(path: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"--checkpoint {path}: no such file (train one with inverse3d surface train)")
    return p


def run_train(args: Train) -> int:
    from inverse3d.cli.options import last_loss, run_training
    from inverse3d.tasks.surface.train import train_surface

    def describe(r) -> str:
        extra = "  ".join(f"{k} {v:.4g}" for k, v in r.model.sharpness().items())
        return (f"trained {args.method} ({args.sdf} SDF) to step {r.step} in {r.seconds:.1f} s, last loss "
                f"{last_loss(r)}, {extra}")

    return run_training(args, train_surface, describe)


def run_eval(args: Eval) -> int:
    from inverse3d.cli.options import resolve_device
    from inverse3d.tasks.surface.evaluate import evaluate_surface, format_table

    if args.split not in ("train", "val", "test"):
        raise ValueError(f"--split must be train, val or test; got {args.split!r}")
    for name in ("chunk", "n_points"):
        _positive("--" + name.replace("_", "-"), getattr(args, name))
    if args.resolution < 2:
        raise ValueError(f"--resolution must be >= 2; got {args.resolution}")
    result = evaluate_surface(_checkpoint(args.checkpoint), args.out_dir, args.split, args.n_views, args.resolution,
                              args.n_points, resolve_device(args.device), args.chunk, args.images,
                              outer_surface=args.outer_surface)
    print(format_table(result))
    print(f"wrote {Path(args.out_dir) / 'metrics.json'} and {result['mesh']}")
    return 0


def run_mesh(args: Mesh) -> int:
    from inverse3d.cli.options import check_output_path, resolve_device
    from inverse3d.tasks.surface.evaluate import extract_surface_mesh
    from inverse3d.tasks.surface.train import load_surface_checkpoint

    out = check_output_path(args.output, {".ply"})
    if args.resolution < 2:
        raise ValueError(f"--resolution must be >= 2; got {args.resolution}")
    model, _ = load_surface_checkpoint(_checkpoint(args.checkpoint), resolve_device(args.device))
    v, f = extract_surface_mesh(model, out, args.resolution)
    print(f"wrote {out} ({v.shape[0]} vertices, {f.shape[0]} faces)")
    return 0


def run_render(args: Render) -> int:
    from inverse3d.cli.options import check_output_path, resolve_device
    from inverse3d.tasks.surface.render import render_turntable
    from inverse3d.tasks.surface.train import load_surface_checkpoint
    from inverse3d.viz.images import save_frames

    out = check_output_path(args.output, {".gif", ".mp4", ""})
    _positive("--frames", args.frames)
    _positive("--chunk", args.chunk)
    if args.size is not None:
        _positive("--size", args.size)
    model, ckpt = load_surface_checkpoint(_checkpoint(args.checkpoint), resolve_device(args.device))
    save_frames(render_turntable(model, ckpt["scene"], args.frames, args.size, chunk=args.chunk), out)
    print(f"wrote {out} ({args.frames} frames: colour | geometry)")
    return 0


def run_beta_study(args: BetaStudy) -> int:
    from inverse3d.cli.options import resolve_device
    from inverse3d.tasks.surface.study import beta_study, format_beta_table

    args.device = str(resolve_device(args.device))
    if args.method != "volsdf":
        raise ValueError(f"beta-study trains VolSDF: --method must be volsdf; got {args.method!r}")
    if not args.betas or any(not (b > 0) for b in args.betas):
        raise ValueError(f"--betas must be positive numbers; got {list(args.betas)}")
    if args.resolution < 2:
        raise ValueError(f"--resolution must be >= 2; got {args.resolution}")
    train_cfg = SurfaceTrainConfig(**{k: getattr(args, k) for k in SurfaceTrainConfig.__dataclass_fields__})
    train_cfg.check()
    rows = beta_study(train_cfg, args.betas, args.out_dir, args.n_views, args.resolution)
    print(format_beta_table(rows))
    print(f"wrote {Path(args.out_dir) / 'beta_study.md'}")
    return 0


HANDLERS = {Train: run_train, Eval: run_eval, Mesh: run_mesh, Render: run_render, BetaStudy: run_beta_study}
"""Options dataclass -> its run function, for ``inverse3d.cli.surface.run``."""
