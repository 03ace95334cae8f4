"""Point clouds into volumes (trilinear splatting) and oriented box IoU.

Comparators: the point-by-point splatting loop of tests/reference/volumes.py and scipy's exact box intersection
(tests/reference/iou_box3d.py), on the tiny sizes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from benchmarks.harness import Case


def _reference(name: str):
    tests = str(Path(__file__).resolve().parents[1] / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import importlib

    return importlib.import_module(f"reference.{name}")


def _splat_inputs(N: int, P: int, res: int, C: int = 4):
    gen = torch.Generator().manual_seed(0)
    pts = torch.rand(N, P, 3, generator=gen) * 2 - 1
    feats = torch.rand(N, P, C, generator=gen)
    dens = torch.zeros(N, 1, res, res, res)
    vfeat = torch.zeros(N, C, res, res, res)
    return pts, feats, dens, vfeat


def _splat(N: int, P: int, res: int):
    def make():
        from inverse3d.ops import add_points_features_to_volume_densities_features

        pts, feats, dens, vfeat = _splat_inputs(N, P, res)
        return lambda: add_points_features_to_volume_densities_features(pts, feats, dens, vfeat)

    return make


def _splat_naive(N: int, P: int, res: int):
    def make():
        pts, feats, dens, vfeat = _splat_inputs(N, P, res)
        sizes = torch.tensor([[res] * 3] * N)
        ref = _reference("volumes")
        return lambda: ref.splat_naive(pts, feats, dens, vfeat, sizes, "trilinear")

    return make


def _boxes(n: int):
    from inverse3d.transforms import random_rotations

    torch.manual_seed(0)
    unit = torch.tensor([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]],
                        dtype=torch.float32)
    return ((unit - 0.5) * (torch.rand(n, 1, 3) + 0.5)) @ random_rotations(n) + torch.rand(n, 1, 3) * 3


def _iou(n: int, m: int):
    def make():
        from inverse3d.ops import box3d_overlap

        a, b = _boxes(n), _boxes(m)
        return lambda: box3d_overlap(a, b)

    return make


def _iou_naive(n: int, m: int):
    def make():
        a, b = _boxes(n), _boxes(m)
        ref = _reference("iou_box3d")
        return lambda: ref.box3d_overlap_naive(a, b)

    return make


def cases() -> list[Case]:
    return [
        Case("splat 4 x 100k points into 64^3 trilinear", _splat(4, 100_000, 64), repeats=3),
        Case("box3d_overlap 200 x 200 boxes", _iou(200, 200), repeats=3),
        Case("splat 1 x 200 points into 8^3 (tiny)", _splat(1, 200, 8),
             comparator=("point loop", _splat_naive(1, 200, 8)), repeats=3, tiny=True),
        Case("box3d_overlap 4 x 4 boxes (tiny)", _iou(4, 4), comparator=("scipy per pair", _iou_naive(4, 4)),
             repeats=3, tiny=True),
    ]
