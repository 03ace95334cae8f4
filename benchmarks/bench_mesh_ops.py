"""Mesh operators on ico spheres: Laplacians, Taubin smoothing, midpoint subdivision, graph convolution.

Comparators: the dense / loop versions of tests/reference/mesh_ops.py on the tiny sizes.
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
    from reference import mesh_ops

    return mesh_ops


def _sphere(level: int):
    from inverse3d.utils import ico_sphere

    return ico_sphere(level)


def _cot(level: int):
    def make():
        from inverse3d.ops import cot_laplacian

        m = _sphere(level)
        v, f = m.verts_packed(), m.faces_packed()
        return lambda: cot_laplacian(v, f)

    return make


def _cot_naive(level: int):
    def make():
        m = _sphere(level)
        ref = _reference()
        return lambda: ref.cot_laplacian_dense(m.verts_packed(), m.faces_packed())

    return make


def _taubin(level: int, batch: int):
    def make():
        from inverse3d.ops import taubin_smoothing

        m = _sphere(level).extend(batch)
        return lambda: taubin_smoothing(m, num_iter=10)

    return make


def _subdivide(level: int, batch: int):
    def make():
        from inverse3d.ops import SubdivideMeshes

        m = _sphere(level).extend(batch)
        sub = SubdivideMeshes()
        return lambda: sub(m)

    return make


def _graph_conv(level: int):
    def make():
        from inverse3d.ops import GraphConv

        m = _sphere(level)
        conv = GraphConv(128, 128)
        x = torch.randn(m.verts_packed().shape[0], 128, requires_grad=True)
        edges = m.edges_packed()

        def run():
            conv(x, edges).sum().backward()

        return run

    return make


def _gather_scatter(level: int):
    def make():
        from inverse3d.ops.graph_conv import gather_scatter

        m = _sphere(level)
        x = torch.randn(m.verts_packed().shape[0], 128)
        edges = m.edges_packed()
        return lambda: gather_scatter(x, edges)

    return make


def _graph_conv_naive(level: int):
    def make():
        m = _sphere(level)
        x = torch.randn(m.verts_packed().shape[0], 128)
        ref = _reference()
        return lambda: ref.gather_scatter_naive(x, m.edges_packed())

    return make


def cases() -> list[Case]:
    return [
        Case("cot_laplacian ico6 (82k faces)", _cot(6), repeats=3),
        Case("taubin_smoothing 4 x ico5, 10 iterations", _taubin(5, 4), repeats=3),
        Case("SubdivideMeshes 8 x ico4", _subdivide(4, 8), repeats=3),
        Case("GraphConv 128->128 ico5 fwd+bwd", _graph_conv(5), repeats=3),
        Case("cot_laplacian ico1 (tiny)", _cot(1), comparator=("dense loop", _cot_naive(1)), repeats=3, tiny=True),
        Case("gather_scatter ico1 (tiny)", _gather_scatter(1), comparator=("edge loop", _graph_conv_naive(1)),
             repeats=3, tiny=True),
    ]
