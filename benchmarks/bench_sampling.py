"""Point sampling and neighbourhoods: farthest point sampling and ball query on uniform clouds.

Comparators: the cloud-by-cloud loops of tests/reference/sampling.py (tiny sizes only: they are pure Python).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from benchmarks.harness import Case


def _reference():
    tests = str(Path(__file__).resolve().parents[1] / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from reference import sampling

    return sampling


def _clouds(N: int, P: int):
    return torch.rand(N, P, 3, generator=torch.Generator().manual_seed(0))


def _fps(N: int, P: int, K: int):
    def make():
        from inverse3d.ops import sample_farthest_points

        pts = _clouds(N, P)
        return lambda: sample_farthest_points(pts, K=K)

    return make


def _fps_naive(N: int, P: int, K: int):
    def make():
        pts = _clouds(N, P)
        ref = _reference()
        return lambda: ref.sample_farthest_points_naive(pts, None, K)

    return make


def _ball(N: int, P: int, K: int, radius: float):
    def make():
        from inverse3d.ops import ball_query

        pts = _clouds(N, P)
        return lambda: ball_query(pts, pts, K=K, radius=radius)

    return make


def _ball_naive(N: int, P: int, K: int, radius: float):
    def make():
        pts = _clouds(N, P)
        ref = _reference()
        return lambda: ref.ball_query_naive(pts, pts, K=K, radius=radius)

    return make


def cases() -> list[Case]:
    return [
        Case("sample_farthest_points 4 x 20k -> 1k", _fps(4, 20_000, 1000), repeats=3),
        Case("ball_query 4 x 10k K=32 r=0.05", _ball(4, 10_000, 32, 0.05), repeats=3),
        Case("sample_farthest_points 2 x 200 -> 16 (tiny)", _fps(2, 200, 16),
             comparator=("naive loop", _fps_naive(2, 200, 16)), repeats=3, tiny=True),
        Case("ball_query 1 x 100 K=8 r=0.2 (tiny)", _ball(1, 100, 8, 0.2),
             comparator=("naive loop", _ball_naive(1, 100, 8, 0.2)), repeats=3, tiny=True),
    ]
