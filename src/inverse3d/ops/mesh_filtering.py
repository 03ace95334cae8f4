"""Taubin smoothing of meshes (PyTorch3D's ``ops.taubin_smoothing``)."""

from __future__ import annotations

import torch

__all__ = ["taubin_smoothing"]


def taubin_smoothing(meshes, lambd: float = 0.53, mu: float = -0.53, num_iter: int = 10):
    """Smooths vertex positions without shrinking (Taubin 1995), every mesh of the batch at once.

    Each iteration moves every vertex towards the inverse-edge-length weighted mean ``m`` of its neighbours
    (weights from ``norm_laplacian`` of the current positions), twice::

        v <- (1 - lambd) v + lambd m
        v <- (1 - mu) v + mu m        (mu < 0: the inflating step)

    A vertex without neighbours does not move.

    Args:
        meshes: ``Meshes``.
        lambd: the shrinking weight, > 0.
        mu: the inflating weight, < 0.
        num_iter: number of iterations.

    Returns:
        New ``Meshes`` with the smoothed vertices, the same faces and textures; differentiable in the vertices.
    """
    verts = meshes.verts_packed()  # (V, 3)
    edges = meshes.edges_packed()  # (E, 2)
    for _ in range(num_iter):
        for weight in (lambd, mu):
            verts = (1 - weight) * verts + weight * _neighbour_mean(verts, edges)
    from inverse3d.structures import Meshes

    counts = meshes.num_verts_per_mesh().tolist()
    return Meshes(verts=list(verts.split(counts)), faces=meshes.faces_list(), textures=meshes.textures)


def _neighbour_mean(verts: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """(V, 3) inverse-distance weighted mean of the neighbours of each vertex (the vertex itself if isolated).

    The weights are those of ``norm_laplacian(verts, edges)``; summed edge by edge with ``index_add`` rather than
    through the sparse matrix.
    """
    e0, e1 = edges.unbind(1)
    w = 1.0 / ((verts[e0] - verts[e1]).norm(dim=1) + 1e-12)  # (E,)
    rows = torch.cat([e0, e1])
    ww = torch.cat([w, w])
    total = torch.zeros(verts.shape[0], dtype=verts.dtype, device=verts.device).index_add(0, rows, ww)[:, None]
    summed = torch.zeros_like(verts).index_add(0, rows, ww[:, None] * verts[torch.cat([e1, e0])])
    isolated = total == 0
    return torch.where(isolated, verts, summed / torch.where(isolated, torch.ones_like(total), total))
