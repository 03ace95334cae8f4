"""``inverse3d info PATH``: what a mesh or point-cloud file holds."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import tyro


@dataclass
class Args:
    """Print vertices, faces, bounds, UV/normal/texture presence and watertightness of a mesh file
    (OBJ, PLY, GLB/glTF, OFF, STL), or the point count and bounds of a point cloud (PLY without faces, NPZ, NPY)."""

    path: tyro.conf.Positional[Path]
    """The mesh or point-cloud file to describe."""
    json: bool = False
    """Print machine-readable JSON instead of a table."""


def format_info(info: dict) -> str:
    """Aligned ``key: value`` lines of :func:`inverse3d.io.describe_file`'s dictionary."""
    width = max(len(k) for k in info)
    lines = []
    for key, value in info.items():
        if isinstance(value, float):
            value = f"{value:.6g}"
        elif isinstance(value, (list, tuple)):
            value = "[" + ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in value) + "]"
        lines.append(f"{key:<{width}}  {value}")
    return "\n".join(lines)


def run(args: Args) -> None:
    from inverse3d.io import describe_file

    info = describe_file(args.path)
    print(json.dumps(info, indent=2, default=str) if args.json else format_info(info))
