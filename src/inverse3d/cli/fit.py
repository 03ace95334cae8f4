"""``inverse3d fit {vox,point,mesh}``: fit a voxel grid, a point cloud or an ico-sphere mesh to one shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import tyro

from inverse3d.engine.fit import FitConfig


@dataclass
class Args(FitConfig):
    """Fit one representation to a procedural shape (--category, --seed) or to your mesh (--mesh) and write the loss
    curve, a progress GIF and turntables of target and fit side by side into --out-dir."""

    kind: tyro.conf.Positional[Literal["vox", "point", "mesh"]] = "vox"
    """Representation to fit: vox (voxel grid, BCE), point (point cloud, chamfer) or mesh (ico-sphere, chamfer +
    Laplacian smoothing)."""


def run(args: Args) -> int:
    from inverse3d.engine.fit import fit

    result = fit(args)
    print(f"fit {args.kind} to {result.target.name}: {len(result.losses)} steps in {result.seconds:.1f} s, "
          f"loss {result.losses[0]:.4g} -> {result.losses[-1]:.4g}")
    for name, path in result.files.items():
        print(f"  {name}: {path}")
    return 0


if __name__ == "__main__":  # python -m inverse3d.cli.fit
    import tyro

    raise SystemExit(run(tyro.cli(Args)))
