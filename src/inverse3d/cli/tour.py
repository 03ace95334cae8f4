"""``inverse3d tour -o OUT``: the gallery page on built-in assets (what ``make demo`` runs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import tyro


@dataclass
class Args:
    """Render the inverse3d tour: triangles, a cube face by face, textured and retextured meshes, camera moves,
    point clouds from RGB-D, parametric and implicit surfaces, sampled points, and fitting/training results, as
    turntable GIFs on one HTML page (OUT/index.html)."""

    output: Annotated[Path, tyro.conf.arg(aliases=("-o",))] = Path("out/tour")
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
    """Torch device to render on, e.g. cpu, cuda, mps."""
    sections: tuple[str, ...] = ()
    """Build only these sections (names: see inverse3d.viz.tour.SECTIONS); default all."""
    quick: bool = False
    """Shorter fitting and training runs (for smoke tests); the page says so."""


def run(args: Args) -> None:
    from inverse3d.viz.tour import build_tour

    page = build_tour(
        args.output, image_size=args.size, n_frames=args.frames, fps=args.fps, mesh_path=args.mesh,
        device=args.device, only=list(args.sections) or None, quick=args.quick,
    )
    print(f"Wrote {page}")
