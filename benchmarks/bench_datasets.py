"""Datasets: generating one procedural sample (render + voxels + surface samples) and reading one from the cache."""

from __future__ import annotations

import atexit
import shutil
import tempfile

from benchmarks.harness import Case


def _render(category: str, image_size: int, voxel_res: int, n_points: int):
    def make():
        from inverse3d.datasets.builtin import render_sample

        seeds = iter(range(10**6))  # a new shape each call, as generation does
        return lambda: render_sample(category, next(seeds), image_size=image_size, voxel_res=voxel_res, n_points=n_points)

    return make


def _cached_item():
    from inverse3d.datasets.builtin import ProceduralShapes

    root = tempfile.mkdtemp(prefix="inverse3d_bench_datasets_")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    ds = ProceduralShapes(root, n_train=2, n_val=0, n_test=0, progress=False)
    return lambda: ds[1]


def cases() -> list[Case]:
    return [
        Case("render_sample chair 137px 32^3 5000pts", _render("chair", 137, 32, 5000), repeats=5),
        Case("render_sample sofa 137px 32^3 5000pts", _render("sofa", 137, 32, 5000), repeats=5),
        Case("render_sample chair 32px 8^3 64pts", _render("chair", 32, 8, 64), repeats=3, tiny=True),
        Case("ProceduralShapes item from cache (137px)", _cached_item, repeats=20),
    ]
