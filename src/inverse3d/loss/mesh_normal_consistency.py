"""Normal consistency regulariser for meshes (PyTorch3D semantics)."""

from __future__ import annotations

import torch


def mesh_normal_consistency(meshes) -> torch.Tensor:
    """Mean of ``1 - cos`` between the normals of the two faces on either side of each edge.

    For an edge (v0, v1) shared by faces with opposite corners a and b, the normals are taken as
    ``n0 = (v1 - v0) x (a - v0)`` and ``n1 = -(v1 - v0) x (b - v0)``, so a flat pair gives 0 whatever the faces'
    winding. An edge shared by more than two faces contributes every pair of them. Averaged per mesh over
    its pairs, then over the batch.

    Args:
        meshes: a ``Meshes`` batch of N meshes.

    Returns:
        () float loss, differentiable with respect to the vertices; a (1,) zero when the batch is empty
        (as PyTorch3D).
    """
    if meshes.isempty():
        return torch.tensor([0.0], dtype=torch.float32, device=meshes.device, requires_grad=True)
    N = len(meshes)
    verts = meshes.verts_packed()  # (V, 3)
    faces = meshes.faces_packed()  # (F, 3)
    edges = meshes.edges_packed()  # (E, 2)
    vert_to_mesh = meshes.verts_packed_to_mesh_idx()  # (V,)
    face_to_edge = meshes.faces_packed_to_edges_packed()  # (F, 3), edge opposite each corner
    F = faces.shape[0]

    with torch.no_grad():
        # One row per (face, edge of the face): the edge and the face's corner opposite it, grouped by edge.
        edge_idx = face_to_edge.reshape(F * 3)  # (3F,)
        opposite = faces.reshape(F * 3)  # corner k is opposite the edge in column k
        edge_idx, order = edge_idx.sort(stable=True)
        opposite = opposite[order]
        pair_a, pair_b = _pairs_within_groups(edge_idx)  # rows sharing an edge, a < b

    e = edge_idx  # (3F,)
    v0 = verts[edges[e, 0]]
    v1 = verts[edges[e, 1]]
    n = torch.linalg.cross(v1 - v0, verts[opposite] - v0, dim=1)  # (3F, 3)
    n0 = n[pair_a]
    n1 = -n[pair_b]
    loss = 1 - torch.cosine_similarity(n0, n1, dim=1)  # (pairs,)

    pair_mesh = vert_to_mesh[edges[e[pair_a], 0]]  # (pairs,)
    num_pairs = pair_mesh.bincount(minlength=N)
    weights = 1.0 / num_pairs[pair_mesh].to(verts.dtype)
    return (loss * weights).sum() / N


def _pairs_within_groups(group: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """All pairs (a, b), a < b, of positions with equal values in a sorted 1-D tensor.

    Args:
        group: (M,) sorted long.

    Returns:
        a, b: (Q,) long positions, grouped by value, ordered by a then b.
    """
    M = group.shape[0]
    device = group.device
    if M == 0:
        empty = torch.zeros(0, dtype=torch.int64, device=device)
        return empty, empty
    _, counts = torch.unique_consecutive(group, return_counts=True)
    start = torch.repeat_interleave(counts.cumsum(0) - counts, counts)  # (M,) first position of each group
    end = start + torch.repeat_interleave(counts, counts)  # (M,) one past the last
    pos = torch.arange(M, device=device)
    partners = end - pos - 1  # positions after pos in its group
    a = torch.repeat_interleave(pos, partners)
    first_of_a = torch.repeat_interleave(partners.cumsum(0) - partners, partners)
    b = a + 1 + (torch.arange(a.shape[0], device=device) - first_of_a)
    return a, b
