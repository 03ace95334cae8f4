"""Geometry conversions: marching cubes (vs. scikit-image itself), cubify (vs. a Python loop over voxels),
voxelising a 20k-face mesh (vs. trimesh's surface voxels + fill)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from benchmarks.harness import Case


def _sphere_sdf(res: int) -> torch.Tensor:
    from inverse3d.ops import grid_points

    return grid_points(res).norm(dim=-1) - 0.35  # (res, res, res)


def _mc_ours(res: int):
    def make():
        from inverse3d.ops import marching_cubes

        vol = _sphere_sdf(res)[None]
        return lambda: marching_cubes(vol, 0.0, bounds=(-0.5, 0.5))

    return make


def _mc_skimage(res: int):
    def make():
        from skimage.measure import marching_cubes

        vol = _sphere_sdf(res).numpy()
        return lambda: marching_cubes(vol, 0.0)

    return make


def _occupancy(res: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.rand(1, res, res, res, generator=gen)


def _cubify_ours(res: int):
    def make():
        from inverse3d.ops import cubify

        vox = _occupancy(res)
        return lambda: cubify(vox, 0.7)

    return make


def _cubify_naive(res: int):
    def make():
        tests = str(Path(__file__).resolve().parents[1] / "tests")
        if tests not in sys.path:
            sys.path.insert(0, tests)
        from reference.cubify import cubify_naive

        vox = _occupancy(res)[0]
        return lambda: cubify_naive(vox, 0.7)

    return make


def _sphere_mesh(level: int):
    from inverse3d.utils import ico_sphere

    return ico_sphere(level).scale_verts(0.45)  # level 5: 20,480 faces


def _voxelize_ours(level: int, res: int):
    def make():
        from inverse3d.ops import voxelize_meshes

        mesh = _sphere_mesh(level)
        return lambda: voxelize_meshes(mesh, res)

    return make


def _voxelize_trimesh(level: int, res: int):
    def make():
        import trimesh

        mesh = _sphere_mesh(level)
        tm = trimesh.Trimesh(mesh.verts_packed().numpy(), mesh.faces_packed().numpy(), process=False)
        return lambda: tm.voxelized(1.0 / res).fill()

    return make


def cases() -> list[Case]:
    return [
        Case(
            "marching cubes 128^3 sphere SDF",
            _mc_ours(128),
            comparator=("skimage direct", _mc_skimage(128)),
            repeats=3,
        ),
        Case(
            "cubify 32^3 random (30% occupied)",
            _cubify_ours(32),
            comparator=("naive loop", _cubify_naive(32)),
            repeats=3,
        ),
        Case(
            "voxelize 20k-face sphere at 32^3",
            _voxelize_ours(5, 32),
            comparator=("trimesh voxelized+fill", _voxelize_trimesh(5, 32)),
            repeats=5,
        ),
        Case("voxelize 20k-face sphere at 128^3", _voxelize_ours(5, 128), repeats=3),
        Case(
            "cubify 8^3 random (tiny)",
            _cubify_ours(8),
            comparator=("naive loop", _cubify_naive(8)),
            repeats=3,
            tiny=True,
        ),
    ]
