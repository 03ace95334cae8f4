"""Nearest neighbours, chamfer and mesh sampling: knn K=1 and chamfer (forward + backward) on 5k x 5k and
100k x 100k points uniform in a unit cube (batch 1), and 100k samples from an ico sphere of 20k faces.

Comparators: a brute-force torch reference (the full distance matrix; at 100k x 100k it would need 40 GB, so
there the comparator is scipy's cKDTree, forward only), scipy's cKDTree for knn, trimesh for sampling.
Target: chamfer 100k x 100k forward + backward under 2 s on 2 CPU cores, peak memory under 1 GB.
"""

from __future__ import annotations

import torch

from benchmarks.harness import Case


def _clouds(P1: int, P2: int, requires_grad: bool = False):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, P1, 3, generator=gen).requires_grad_(requires_grad)
    y = torch.rand(1, P2, 3, generator=gen).requires_grad_(requires_grad)
    return x, y


def _knn_ours(P: int, backward: bool):
    def make():
        from inverse3d.ops import knn_points

        x, y = _clouds(P, P, requires_grad=backward)

        def run():
            out = knn_points(x, y, K=1)
            if backward:
                out.dists.sum().backward()

        return run

    return make


def _knn_brute(P: int):
    """Full distance matrix in torch, then min; forward + backward."""

    def make():
        x, y = _clouds(P, P, requires_grad=True)

        def run():
            d = torch.cdist(x, y).square()  # (1, P, P)
            d.min(-1).values.sum().backward()

        return run

    return make


def _knn_kdtree(P: int):
    """scipy cKDTree: build on y, query x (forward only, float64)."""

    def make():
        from scipy.spatial import cKDTree

        x, y = (c[0].numpy() for c in _clouds(P, P))
        return lambda: cKDTree(y).query(x, k=1)

    return make


def _chamfer_ours(P: int):
    def make():
        from inverse3d.loss import chamfer_distance

        x, y = _clouds(P, P, requires_grad=True)

        def run():
            loss, _ = chamfer_distance(x, y)
            loss.backward()

        return run

    return make


def _chamfer_brute(P: int):
    """One full distance matrix for both directions; forward + backward."""

    def make():
        x, y = _clouds(P, P, requires_grad=True)

        def run():
            d = torch.cdist(x, y).square()  # (1, P, P)
            (d.min(2).values.mean() + d.min(1).values.mean()).backward()

        return run

    return make


def _chamfer_kdtree(P: int):
    """Both directions with scipy cKDTree (forward only)."""

    def make():
        from scipy.spatial import cKDTree

        x, y = (c[0].numpy() for c in _clouds(P, P))

        def run():
            dx, _ = cKDTree(y).query(x, k=1)
            dy, _ = cKDTree(x).query(y, k=1)
            return (dx**2).mean() + (dy**2).mean()

        return run

    return make


def _ico_sphere5():
    from inverse3d.utils import ico_sphere

    return ico_sphere(5)  # 10242 vertices, 20480 faces


def _sample_ours(S: int):
    def make():
        from inverse3d.ops import sample_points_from_meshes

        mesh = _ico_sphere5()
        return lambda: sample_points_from_meshes(mesh, S)

    return make


def _sample_trimesh(S: int):
    def make():
        import trimesh

        mesh = _ico_sphere5()
        tm = trimesh.Trimesh(mesh.verts_packed().numpy(), mesh.faces_packed().numpy(), process=False)
        return lambda: trimesh.sample.sample_surface(tm, S)

    return make


def cases() -> list[Case]:
    return [
        Case("knn K=1 1k x 1k fwd+bwd", _knn_ours(1000, True), ("torch brute force", _knn_brute(1000)), tiny=True),
        Case("knn K=1 5k x 5k fwd", _knn_ours(5000, False), ("scipy cKDTree", _knn_kdtree(5000))),
        Case("knn K=1 5k x 5k fwd+bwd", _knn_ours(5000, True), ("torch brute force", _knn_brute(5000))),
        Case("chamfer 5k x 5k fwd+bwd", _chamfer_ours(5000), ("torch brute force", _chamfer_brute(5000))),
        Case("knn K=1 100k x 100k fwd", _knn_ours(100_000, False), ("scipy cKDTree", _knn_kdtree(100_000)), repeats=3),
        Case("knn K=1 100k x 100k fwd+bwd", _knn_ours(100_000, True), repeats=3),
        Case(
            "chamfer 100k x 100k fwd+bwd",
            _chamfer_ours(100_000),
            ("scipy cKDTree (fwd only)", _chamfer_kdtree(100_000)),
            repeats=3,
        ),
        Case(
            "sample 100k points, 20k faces",
            _sample_ours(100_000),
            ("trimesh sample_surface", _sample_trimesh(100_000)),
        ),
    ]
