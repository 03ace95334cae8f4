"""``inverse3d view PATH [PATH ...]``: open meshes, point clouds, voxel grids, Gaussian splats, scene folders and
NeRF checkpoints in a local browser viewer (viser: ``pip install -e '.[viewer]'``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Optional

import tyro


@dataclass
class Args:
    """Open results in a browser viewer: any mix of meshes (.obj .ply .glb .gltf .off .stl, with UV textures and
    vertex colours), point clouds (.ply .npz .npy), voxel grids (.npz/.pt with 'voxels' or 'occupancy'), 3D
    Gaussian-splat .ply files, multi-view scene folders (images on camera frusta, ground-truth mesh.ply) and
    checkpoints of inverse3d nerf train (rendered from the browser's camera with the "Render view" button). Prints
    the URL and serves until Ctrl-C. Every file is read before the server starts."""

    paths: Annotated[tuple[str, ...], tyro.conf.Positional, tyro.conf.arg(metavar="PATHS")]
    """Files or scene folders to show."""
    host: str = "127.0.0.1"
    """Address to bind: 127.0.0.1 keeps the viewer on this machine; 0.0.0.0 opens it to the network."""
    port: int = 8080
    """TCP port; 0 or a busy port: a free one is chosen (and printed)."""
    voxels: str = "cubes"
    """How voxel grids are drawn: cubes (a cube per occupied cell) or marching-cubes (a smooth surface)."""
    screenshot_dir: str = "out/view"
    """Folder where the Screenshot button writes screenshot_NNN.png."""
    device: str = "auto"
    """Torch device of checkpoint renders: auto, cpu, cuda, cuda:N or mps."""
    seconds: Optional[float] = None
    """Stop serving after this many seconds (default: until Ctrl-C)."""


def run(args: Args) -> int:
    from inverse3d.cli.options import resolve_device
    from inverse3d.viewer.app import check_host_port, require_viser
    from inverse3d.viewer.sources import load_source

    if not args.paths:
        raise ValueError("inverse3d view needs at least one PATH (a mesh, point cloud, scene folder, ...)")
    if args.voxels not in ("cubes", "marching-cubes"):
        raise ValueError(f"--voxels must be cubes or marching-cubes; got {args.voxels!r}")
    if args.seconds is not None and not args.seconds > 0:
        raise ValueError(f"--seconds must be > 0; got {args.seconds}")
    check_host_port(args.host, args.port)
    device = str(resolve_device(args.device))
    items = [load_source(p) for p in args.paths]  # every file is read (and checked) before the server starts
    try:
        require_viser()
    except ImportError as err:
        raise ValueError(str(err)) from None
    from inverse3d.viewer.app import Viewer

    viewer = Viewer(args.host, args.port, screenshot_dir=args.screenshot_dir, device=device,
                    voxel_style=args.voxels)
    try:
        for path, item in zip(args.paths, items):
            slug = viewer.add(item)
            print(f"  {slug.lstrip('/')}: {type(item).__name__.removesuffix('Item').lower()} from {path}")
        for note in viewer.notes:
            print(note)
        print(f"viewer at {viewer.url} (Ctrl-C to stop)", flush=True)
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        viewer.stop()
    print("viewer stopped")
    return 0


if __name__ == "__main__":  # python -m inverse3d.cli.view
    raise SystemExit(run(tyro.cli(Args)))
