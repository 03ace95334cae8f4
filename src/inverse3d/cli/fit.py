"""``inverse3d fit {vox,point,mesh}``: fit a voxel grid, a point cloud or an ico-sphere mesh to one shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Optional

import tyro

from inverse3d.tasks.single_view import FitConfig


@dataclass
class Args(FitConfig):
    """Fit one representation to a procedural shape (--category, --seed) or to your mesh (--mesh) and write the loss
    curve, a progress GIF and turntables of target and fit side by side into --out-dir."""

    kind: tyro.conf.Positional[Literal["vox", "point", "mesh"]] = "vox"
    """Representation to fit: vox (voxel grid, BCE), point (point cloud, chamfer) or mesh (ico-sphere, chamfer +
    edge length, normal consistency and Laplacian smoothing: --w-edge, --w-normal, --w-smooth)."""
    # paths as str, not Path: tyro reads "" as Path("."), and an empty path must be an error, not the current folder
    mesh: Annotated[Optional[str], tyro.conf.arg(metavar="PATH")] = None  # type: ignore[assignment]
    """A mesh file (.obj, .ply, .glb, .off, .stl) to fit instead of a procedural shape; normalised to bounding-box
    diagonal 1 and centred."""
    out_dir: Annotated[str, tyro.conf.arg(metavar="PATH")] = "out/fit"  # type: ignore[assignment]
    """Folder for loss.png, progress.gif and target_vs_fit.gif (locked while fitting)."""


def run(args: Args) -> int:
    from inverse3d.cli.options import resolve_device
    from inverse3d.tasks.single_view import fit

    args.device = str(resolve_device(args.device))
    args.check()  # every option, before any work
    result = fit(args)
    print(f"fit {args.kind} to {result.target.name}: {len(result.losses)} steps in {result.seconds:.1f} s, "
          f"loss {result.losses[0]:.4g} -> {result.losses[-1]:.4g}")
    for name, path in result.files.items():
        print(f"  {name}: {path}")
    return 0


if __name__ == "__main__":  # python -m inverse3d.cli.fit
    raise SystemExit(run(tyro.cli(Args)))
