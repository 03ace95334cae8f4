"""Laplacian smoothing regulariser for meshes: uniform, cotangent and cotangent-curvature (PyTorch3D semantics)."""

from __future__ import annotations

import torch

_METHODS = ("uniform", "cot", "cotcurv")


def mesh_laplacian_smoothing(meshes, method: str = "uniform") -> torch.Tensor:
    """Mean length of the Laplacian of the vertex positions, averaged per mesh then over the batch.

    With ``L`` a Laplacian matrix treated as a constant (no gradient through its weights), the per-vertex
    term is
      - "uniform": ``|L V|`` with ``L = meshes.laplacian_packed()`` (``1/deg`` off the diagonal, -1 on it);
      - "cot": ``|L V / rowsum(L) - V|`` with the cotangent weights ``L``;
      - "cotcurv": ``|(L V - rowsum(L) V) / (4 A)|`` with ``A`` the area of the faces around the vertex,
        an estimate of the mean curvature normal.

    Args:
        meshes: a ``Meshes`` batch of N meshes.
        method: "uniform", "cot" or "cotcurv".

    Returns:
        () float loss, differentiable with respect to the vertices; a (1,) zero when the batch is empty
        (as PyTorch3D).
    """
    if method not in _METHODS:
        raise ValueError(f"Method should be one of {{uniform, cot, cotcurv}}; got {method!r}")
    if meshes.isempty():
        return torch.tensor([0.0], dtype=torch.float32, device=meshes.device, requires_grad=True)
    N = len(meshes)
    verts = meshes.verts_packed()  # (V, 3)
    faces = meshes.faces_packed()  # (F, 3)
    num_verts = meshes.num_verts_per_mesh()  # (N,)
    vert_to_mesh = meshes.verts_packed_to_mesh_idx()  # (V,)
    weights = 1.0 / num_verts.gather(0, vert_to_mesh).to(verts.dtype)  # (V,)

    if method == "uniform":
        with torch.no_grad():
            L = meshes.laplacian_packed()
            L = L.to(verts.dtype) if L.dtype != verts.dtype else L
        loss = torch.sparse.mm(L, verts) if L.is_sparse else L @ verts
    else:
        with torch.no_grad():
            rows, cols, vals, inv_areas = cot_laplacian(verts.detach(), faces)
            row_sum = torch.zeros(verts.shape[0], 1, dtype=verts.dtype, device=verts.device)
            row_sum.index_add_(0, rows, vals[:, None])  # (V, 1)
        LV = torch.zeros_like(verts).index_add(0, rows, vals[:, None] * verts[cols])  # (V, 3)
        if method == "cot":
            norm_w = torch.where(row_sum > 0, 1.0 / row_sum.clamp(min=torch.finfo(verts.dtype).tiny), row_sum)
            loss = LV * norm_w - verts
        else:
            loss = (LV - row_sum * verts) * (0.25 * inv_areas)
    loss = loss.norm(dim=1)  # (V,)
    return (loss * weights).sum() / N


def cot_laplacian(verts: torch.Tensor, faces: torch.Tensor, eps: float = 1e-12):
    """Cotangent Laplacian weights of a (packed) triangle mesh, as sparse COO entries.

    Each face adds ``cot(angle at corner k) = (|b|^2 + |c|^2 - |a|^2) / (4 area)`` to both directions of the
    edge opposite corner k, so ``L[i, j]`` is the sum of the cotangents of the angles facing edge (i, j).

    Args:
        verts: (V, 3) float vertex positions.
        faces: (F, 3) long vertex indices.
        eps: lower clamp of the squared area (Heron's formula) so degenerate faces stay finite.

    Returns:
        rows, cols: (6F,) long, the entries ``L[rows[e], cols[e]] += vals[e]`` (duplicates add up);
        vals: (6F,) float cotangent weights;
        inv_areas: (V, 1) float, 1 / (sum of the areas of the faces around each vertex), 0 for none.
    """
    V = verts.shape[0]
    v0, v1, v2 = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]  # (F, 3)
    # A is the side opposite v0, B opposite v1, C opposite v2
    A = (v1 - v2).norm(dim=1)
    B = (v0 - v2).norm(dim=1)
    C = (v0 - v1).norm(dim=1)
    s = 0.5 * (A + B + C)
    area = (s * (s - A) * (s - B) * (s - C)).clamp(min=eps).sqrt()  # (F,)
    A2, B2, C2 = A * A, B * B, C * C
    cot = torch.stack([B2 + C2 - A2, A2 + C2 - B2, A2 + B2 - C2], 1) / (4.0 * area[:, None])  # (F, 3)
    # the cotangent at corner k weighs the edge opposite it: (v1, v2), (v2, v0), (v0, v1)
    ii = faces[:, [1, 2, 0]].reshape(-1)
    jj = faces[:, [2, 0, 1]].reshape(-1)
    vals = cot.reshape(-1)
    rows = torch.cat([ii, jj])
    cols = torch.cat([jj, ii])
    vals = torch.cat([vals, vals])
    areas_sum = torch.zeros(V, dtype=verts.dtype, device=verts.device)
    areas_sum.index_add_(0, faces.reshape(-1), area.repeat_interleave(3))
    inv_areas = torch.where(areas_sum > 0, 1.0 / areas_sum.clamp(min=torch.finfo(verts.dtype).tiny), areas_sum)
    return rows, cols, vals, inv_areas.view(V, 1)
