"""``inverse3d scenes list | make NAME -o DIR | info DIR``: the built-in multi-view scenes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Optional, Union

import tyro


@dataclass
class ListArgs:
    """Print the built-in scene names, one per line, each with what it shows."""

    names_only: bool = False
    """Print only the names (for scripts)."""


@dataclass
class MakeArgs:
    """Write a built-in scene in the NeRF-synthetic layout (transforms_{train,val,test}.json, RGBA PNGs, depth and
    normal maps) with its ground-truth mesh.ply and points.ply and a manifest of checksums. Running it again with
    the same options only checks the files (a missing or modified one is regenerated)."""

    name: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="NAME")]
    """The scene: lego, materials, box or forward (``inverse3d scenes list``)."""
    output: Annotated[str, tyro.conf.arg(aliases=("-o",), metavar="DIR")]
    """Folder to write the scene into (created if missing)."""
    image_size: int = 128
    """Image side in pixels (square images, at least 8; NeRF-synthetic has 800, 400 is its half)."""
    n_train: Optional[int] = None
    """Training views (default: the scene's, 100; the box has 4)."""
    n_val: Optional[int] = None
    """Validation views (default 100)."""
    n_test: Optional[int] = None
    """Test views (default 200; on a ring around the object, or forward-facing for the forward scene)."""
    seed: int = 0
    """Seed of the scene's details, the camera layouts and the surface points; the same seed writes the same files."""
    renderer: str = "raster"
    """raster (our rasteriser with Phong shading; the box by volume rendering of its SDF) or pathtrace (Mitsuba 3,
    the photoreal extra: pip install -e .[photoreal]). Depth and normal maps always come from the rasteriser."""
    spp: int = 64
    """Samples per pixel of the path tracer."""
    device: str = "cpu"
    """Torch device to render on: cpu (the default, the same files on every machine), cuda, cuda:1, mps or auto
    (CUDA, then MPS, when present)."""
    progress: bool = True
    """Show a progress bar."""


@dataclass
class InfoArgs:
    """Describe a multi-view scene folder (any format inverse3d reads): views per split, image sizes, camera
    models, focal lengths, camera and point bounds, near/far estimates."""

    path: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="DIR")]
    """The scene folder (or file, for formats that are one file)."""
    downscale: int = 1
    """Describe the images downscaled by this factor (1, 2, 4 or 8), as a reader would load them."""


Command = Annotated[
    Union[
        Annotated[ListArgs, tyro.conf.subcommand("list", prefix_name=False)],
        Annotated[MakeArgs, tyro.conf.subcommand("make", prefix_name=False)],
        Annotated[InfoArgs, tyro.conf.subcommand("info", prefix_name=False)],
    ],
    tyro.conf.OmitArgPrefixes,  # --image-size, not --command.image-size
]


@dataclass
class Args:
    """Built-in multi-view scenes: ``list`` prints their names, ``make NAME -o DIR`` writes one in the
    NeRF-synthetic layout with its ground truth, ``info DIR`` describes a scene folder."""

    command: Command
    """What to do: list, make or info."""


def run_list(args: ListArgs) -> None:
    from inverse3d.datasets.scenes.builtin import SCENES

    width = max(len(name) for name in SCENES)
    for name, entry in SCENES.items():
        print(name if args.names_only else f"{name:<{width}}  {entry.description}")


def run_make(args: MakeArgs) -> None:
    from inverse3d.cli.options import resolve_device
    from inverse3d.datasets.scenes.make import check_out_dir, make_scene, scene_params

    device = resolve_device(args.device)
    params = scene_params(args.name, args.image_size, args.n_train, args.n_val, args.n_test, args.seed,
                          args.renderer, args.spp)  # every option, before any work
    before = _manifest_text(check_out_dir(args.output))
    out = make_scene(args.name, args.output, image_size=args.image_size, n_train=args.n_train, n_val=args.n_val,
                     n_test=args.n_test, seed=args.seed, renderer=args.renderer, progress=args.progress,
                     device=device, spp=args.spp)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    s = params["image_size"]
    done = "up to date" if before is not None and before == _manifest_text(out) else "wrote"
    print(f"{done} {out}: {args.name}, {params['n_train']}/{params['n_val']}/{params['n_test']} train/val/test views "
          f"at {s}x{s} ({params['renderer']}), {size / 2**20:.1f} MiB")


def _manifest_text(folder) -> str | None:
    from inverse3d.datasets.scenes.make import MANIFEST

    try:
        return (folder / MANIFEST).read_text()
    except (OSError, UnicodeDecodeError):
        return None


def run_info(args: InfoArgs) -> None:
    from inverse3d.datasets.scenes.info import scene_info

    if not str(args.path).strip():
        raise ValueError("scenes info: empty path")
    print(scene_info(args.path, downscale=args.downscale))


def run(args: Args) -> int:
    command = args.command
    if isinstance(command, ListArgs):
        run_list(command)
    elif isinstance(command, MakeArgs):
        run_make(command)
    else:
        run_info(command)
    return 0


if __name__ == "__main__":  # python -m inverse3d.cli.scenes
    raise SystemExit(run(tyro.cli(Args)))
