"""Edge-length regulariser for meshes (PyTorch3D semantics)."""

from __future__ import annotations

import torch


def mesh_edge_loss(meshes, target_length: float = 0.0) -> torch.Tensor:
    """Mean squared deviation of edge lengths from ``target_length``, averaged per mesh then over the batch.

    ``loss = 1/N sum_n 1/E_n sum_{(a, b) in edges_n} (|v_a - v_b| - target_length)^2``.

    Args:
        meshes: a ``Meshes`` batch of N meshes.
        target_length: the preferred edge length (0 pulls edges short, which also smooths).

    Returns:
        () float loss, differentiable with respect to the vertices; a (1,) zero when the batch is empty
        (as PyTorch3D).
    """
    if meshes.isempty():
        return torch.tensor([0.0], dtype=torch.float32, device=meshes.device, requires_grad=True)
    N = len(meshes)
    edges = meshes.edges_packed()  # (E, 2)
    verts = meshes.verts_packed()  # (V, 3)
    edge_to_mesh = meshes.edges_packed_to_mesh_idx()  # (E,)
    num_edges = meshes.num_edges_per_mesh()  # (N,)
    weights = 1.0 / num_edges.gather(0, edge_to_mesh).to(verts.dtype)  # (E,)
    v0, v1 = verts[edges[:, 0]], verts[edges[:, 1]]  # (E, 3)
    loss = ((v0 - v1).norm(dim=1, p=2) - target_length) ** 2.0
    return (loss * weights).sum() / N
