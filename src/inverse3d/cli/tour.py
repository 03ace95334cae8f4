"""``inverse3d tour -o OUT``: the gallery page on built-in assets (what ``make demo`` runs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import tyro


@dataclass
class Args:
    """Render the inverse3d tour: triangles, a cube face by face, textured and retextured meshes, camera moves,
    point clouds from RGB-D, parametric and implicit surfaces, sampled points, fitting/training results, multi-view
    scenes, NeRF, neural surfaces, Gaussian splatting and differentiable rendering, as turntable GIFs and figures on
    one HTML page (OUT/index.html)."""

    output: Annotated[str, tyro.conf.arg(aliases=("-o",), metavar="PATH")] = "out/tour"
    """Folder to write index.html and its media into (created if missing)."""
    size: int = 192
    """Image size in pixels of every rendered frame."""
    frames: int = 24
    """Frames per turntable."""
    fps: int = 12
    """Frames per second of the GIFs."""
    mesh: Optional[Path] = None
    """Your own mesh (OBJ/PLY/GLB) for the textured-mesh and camera sections instead of the built-in globe."""
    device: str = "cpu"
    """Torch device to render on: cpu, cuda, cuda:1, mps, or auto (CUDA, then MPS, when present)."""
    sections: tuple[str, ...] = ()
    """Build only these sections (one module each in inverse3d/tour/sections), in page order: triangle, cube,
    textures, camera, rgbd, parametric, implicit, sampling, single_view, photoreal, volume, surfaces, splatting,
    diffrender; default all. A name that does not exist is refused with the list of those that do."""
    quick: bool = False
    """Shorter fitting and training runs (for smoke tests); the page says so."""


def check_args(args: Args) -> tuple[Path, str]:
    """Checks the options before anything is rendered or created; returns the output folder and the device.

    Raises:
        ValueError / FileNotFoundError: one line naming the option and what is wrong.
    """
    from inverse3d.cli.options import check_output_folder, resolve_device

    out = check_output_folder(args.output)
    for name, value in (("--size", args.size), ("--frames", args.frames), ("--fps", args.fps)):
        if value < 1:
            raise ValueError(f"{name} must be positive; got {value}")
    device = resolve_device(args.device)
    if args.mesh is not None:
        if args.mesh.is_dir():
            raise ValueError(f"--mesh {args.mesh}: is a folder; expected a mesh file (OBJ, PLY, GLB)")
        if not args.mesh.is_file():
            raise FileNotFoundError(f"--mesh {args.mesh}: no such file")
    return out, str(device)


def run(args: Args) -> int:
    import sys

    from inverse3d.tour import build_tour
    from inverse3d.tour.registry import SectionsFailed

    out, device = check_args(args)
    try:
        page = build_tour(
            out, image_size=args.size, n_frames=args.frames, fps=args.fps, mesh_path=args.mesh,
            device=device, only=list(args.sections) or None, quick=args.quick,
        )
    except SectionsFailed as err:  # the page is written; each failure's traceback was printed above
        print(f"inverse3d: error: {err}", file=sys.stderr)
        return 1
    print(f"Wrote {page}")
    return 0
