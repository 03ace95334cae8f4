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
    allow_external_files: bool = False
    """Let an OBJ's mtllib / map_Kd references point outside the mesh's folder (absolute paths, '..'); by default
    such references are refused with a warning."""


def run(args: Args) -> None:
    from inverse3d.io import describe_file
    from inverse3d.io.mesh_io import format_description

    if args.path.is_dir():
        raise ValueError(f"{args.path}: is a folder; expected a mesh or point-cloud file")
    info = describe_file(args.path, allow_external_files=args.allow_external_files)
    print(json.dumps(info, indent=2, default=str) if args.json else format_description(info))
