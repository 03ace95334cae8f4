"""Alignment: batched Umeyama on many small clouds, ICP between two noisy copies of a cloud, EPnP.

Comparator for Umeyama: the cloud-by-cloud numpy loop of tests/reference/alignment.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from benchmarks.harness import Case


def _pair(N: int, P: int):
    from inverse3d.transforms import random_rotations

    gen = torch.Generator().manual_seed(0)
    X = torch.randn(N, P, 3, generator=gen)
    Y = X @ random_rotations(N) + torch.randn(N, 1, 3, generator=gen) + 0.01 * torch.randn(N, P, 3, generator=gen)
    return X, Y


def _umeyama(N: int, P: int):
    def make():
        from inverse3d.ops import corresponding_points_alignment

        X, Y = _pair(N, P)
        return lambda: corresponding_points_alignment(X, Y, estimate_scale=True)

    return make


def _umeyama_naive(N: int, P: int):
    def make():
        tests = str(Path(__file__).resolve().parents[1] / "tests")
        if tests not in sys.path:
            sys.path.insert(0, tests)
        from reference.alignment import umeyama_naive

        X, Y = _pair(N, P)
        return lambda: umeyama_naive(X, Y, estimate_scale=True)

    return make


def _icp(N: int, P: int):
    def make():
        from inverse3d.ops import iterative_closest_point

        gen = torch.Generator().manual_seed(0)
        Y = torch.rand(N, P, 3, generator=gen)
        X = Y + 0.02 + 0.001 * torch.randn(N, P, 3, generator=gen)
        return lambda: iterative_closest_point(X, Y, max_iterations=20)

    return make


def _epnp(N: int, P: int):
    def make():
        from inverse3d.ops import efficient_pnp
        from inverse3d.transforms import random_rotations

        gen = torch.Generator().manual_seed(0)
        x = torch.randn(N, P, 3, generator=gen)
        cam = x @ random_rotations(N) + torch.tensor([0.0, 0.0, 8.0])
        y = cam[..., :2] / cam[..., 2:]
        return lambda: efficient_pnp(x, y)

    return make


def cases() -> list[Case]:
    return [
        Case("umeyama 1000 clouds x 100 pts", _umeyama(1000, 100), comparator=("numpy loop", _umeyama_naive(1000, 100))),
        Case("icp 2 x 10k pts, 20 iterations", _icp(2, 10_000), repeats=3),
        Case("efficient_pnp 256 x 100 pts", _epnp(256, 100), repeats=3),
        Case("umeyama 8 clouds x 20 pts (tiny)", _umeyama(8, 20), comparator=("numpy loop", _umeyama_naive(8, 20)),
             repeats=3, tiny=True),
    ]
