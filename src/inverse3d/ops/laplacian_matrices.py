"""Sparse Laplacian matrices of graphs and triangle meshes (PyTorch3D's ``ops.laplacian_matrices``).

All three return ``torch.sparse_coo_tensor`` matrices (coalesced) of shape (V, V) in the dtype of ``verts``,
differentiable in their values where the weights depend on the vertex positions.
"""

from __future__ import annotations

import torch

__all__ = ["laplacian", "cot_laplacian", "norm_laplacian"]


def _check(verts: torch.Tensor, index: torch.Tensor, width: int, name: str) -> None:
    if not torch.is_tensor(verts) or verts.ndim != 2:
        raise ValueError(f"{name}: verts must be (V, D), got {getattr(verts, 'shape', type(verts).__name__)}")
    if not torch.is_tensor(index) or index.ndim != 2 or index.shape[1] != width:
        what = "edges (E, 2)" if width == 2 else "faces (F, 3)"
        raise ValueError(f"{name}: expected {what}, got {getattr(index, 'shape', type(index).__name__)}")
    if index.is_floating_point():
        raise ValueError(f"{name}: indices must be integers, got {index.dtype}")
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= verts.shape[0]):
        raise ValueError(f"{name}: indices must lie in [0, {verts.shape[0]})")


def _sparse(rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, V: int) -> torch.Tensor:
    return torch.sparse_coo_tensor(torch.stack([rows, cols]), values, (V, V), check_invariants=False).coalesce()


def laplacian(verts: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Uniform graph Laplacian: ``L[i, j] = 1 / deg(i)`` for each edge (i, j) (both directions), ``L[i, i] = -1``.

    Args:
        verts: (V, D) float, only the count, device and dtype are used.
        edges: (E, 2) long undirected edges.

    Returns:
        (V, V) sparse float; an isolated vertex keeps only its -1.
    """
    _check(verts, edges, 2, "laplacian")
    V = verts.shape[0]
    e0, e1 = edges.long().unbind(1)
    rows, cols = torch.cat([e0, e1]), torch.cat([e1, e0])
    deg = torch.bincount(rows, minlength=V).to(verts.dtype)
    off = 1.0 / deg[rows]  # deg >= 1 for every row that has an edge
    diag = torch.arange(V, device=verts.device)
    values = torch.cat([off, torch.full((V,), -1.0, dtype=verts.dtype, device=verts.device)])
    return _sparse(torch.cat([rows, diag]), torch.cat([cols, diag]), values, V)


def cot_laplacian(verts: torch.Tensor, faces: torch.Tensor, eps: float = 1e-12) -> tuple[torch.Tensor, torch.Tensor]:
    """Cotangent Laplacian and inverse vertex areas of a triangle mesh.

    ``L[i, j] = (cot a_ij + cot b_ij) / 2`` summed over the faces sharing edge (i, j), where a_ij, b_ij are the
    angles opposite the edge (the cotangents come from side lengths and Heron's area, clamped at ``eps``).

    Args:
        verts: (V, 3) float.
        faces: (F, 3) long.
        eps: lower bound of Heron's squared area product before the square root.

    Returns:
        L: (V, V) sparse float, zero diagonal.
        inv_areas: (V, 1) float, 1 / (sum of the areas of the faces around each vertex), 0 for a vertex in no face.
    """
    _check(verts, faces, 3, "cot_laplacian")
    V = verts.shape[0]
    faces = faces.long()
    v0, v1, v2 = verts[faces].unbind(1)  # (F, 3) each
    A = (v1 - v2).norm(dim=1)  # side opposite v0
    B = (v0 - v2).norm(dim=1)
    C = (v0 - v1).norm(dim=1)
    s = 0.5 * (A + B + C)
    area = (s * (s - A) * (s - B) * (s - C)).clamp(min=eps).sqrt()  # (F,)
    A2, B2, C2 = A * A, B * B, C * C
    # cot of the angle at each corner, over 4: the weight of the opposite edge from this face
    cot = torch.stack([B2 + C2 - A2, A2 + C2 - B2, A2 + B2 - C2], 1) / (4.0 * area[:, None])  # (F, 3)
    ii = faces[:, [1, 2, 0]].reshape(-1)  # the edge opposite corner k joins the two other corners
    jj = faces[:, [2, 0, 1]].reshape(-1)
    w = cot.reshape(-1)
    L = _sparse(torch.cat([ii, jj]), torch.cat([jj, ii]), torch.cat([w, w]), V)
    total = torch.zeros(V, dtype=verts.dtype, device=verts.device).index_add(0, faces.reshape(-1), area.repeat_interleave(3))
    inv_areas = torch.where(total > 0, 1.0 / torch.where(total > 0, total, torch.ones_like(total)), torch.zeros_like(total))
    return L, inv_areas[:, None]


def norm_laplacian(verts: torch.Tensor, edges: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Inverse-distance weighted adjacency: ``L[i, j] = L[j, i] = 1 / (|v_i - v_j| + eps)`` for each edge.

    Args:
        verts: (V, D) float.
        edges: (E, 2) long.
        eps: added to each edge length.

    Returns:
        (V, V) sparse float, zero diagonal (repeated edges add up).
    """
    _check(verts, edges, 2, "norm_laplacian")
    V = verts.shape[0]
    e0, e1 = edges.long().unbind(1)
    w = 1.0 / ((verts[e0] - verts[e1]).norm(dim=1) + eps)
    return _sparse(torch.cat([e0, e1]), torch.cat([e1, e0]), torch.cat([w, w]), V)
