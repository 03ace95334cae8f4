"""File IO: ``load_obj`` on a generated textured OBJ, compared with ``trimesh.load`` on the same file."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.harness import Case

_FILES: dict[int, Path] = {}


def grid_obj(n: int) -> Path:
    """Writes (once per process) an n x n vertex grid with UVs and normals, 2 (n-1)^2 triangles, as v/vt/vn."""
    if n in _FILES:
        return _FILES[n]
    folder = Path(tempfile.mkdtemp(prefix="inverse3d_bench_io_"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / f"grid_{n}.obj"
    u, v = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n), indexing="xy")
    z = 0.1 * np.sin(6 * u) * np.cos(4 * v)
    verts = np.stack([u, v, z], -1).reshape(-1, 3)
    uvs = np.stack([u, v], -1).reshape(-1, 2)
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)]) + 1
    corners = np.repeat(faces[..., None], 3, axis=-1).reshape(len(faces), 9)
    lines = [
        ("v %.6f %.6f %.6f\n" * len(verts)) % tuple(verts.ravel()),
        ("vt %.6f %.6f\n" * len(uvs)) % tuple(uvs.ravel()),
        ("vn 0 0 1\n" * len(verts)),
        ("f %d/%d/%d %d/%d/%d %d/%d/%d\n" * len(faces)) % tuple(corners.ravel()),
    ]
    path.write_text("".join(lines))
    _FILES[n] = path
    return path


def _ours(n: int):
    def make():
        from inverse3d.io import load_obj

        path = grid_obj(n)
        return lambda: load_obj(path, load_textures=False)

    return make


def _trimesh(n: int):
    def make():
        import trimesh

        path = grid_obj(n)
        return lambda: trimesh.load(path, process=False, force="mesh")

    return make


def cases() -> list[Case]:
    return [
        Case("load_obj 100k faces v/vt/vn", _ours(225), comparator=("trimesh.load", _trimesh(225)), repeats=5),
        Case("load_obj 2k faces v/vt/vn", _ours(33), comparator=("trimesh.load", _trimesh(33)), repeats=5,
             tiny=True),
    ]
