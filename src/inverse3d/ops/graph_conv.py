"""Graph convolution on mesh vertices (PyTorch3D's ``GraphConv`` and ``gather_scatter``)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GraphConv", "gather_scatter", "gather_scatter_python"]


class GraphConv(nn.Module):
    """One graph convolution layer: ``out_i = W0 x_i + sum_{j in N(i)} W1 x_j`` (Morris et al. 2019)."""

    def __init__(self, input_dim: int, output_dim: int, init: str = "normal", directed: bool = False) -> None:
        """
        Args:
            input_dim: features per input vertex.
            output_dim: features per output vertex.
            init: "normal" (weights N(0, 0.01), zero biases) or "zero" (zero weights, default biases).
            directed: with directed edges (i, j), vertex i gathers from j only.
        """
        super().__init__()
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.directed = directed
        self.w0 = nn.Linear(input_dim, output_dim)
        self.w1 = nn.Linear(input_dim, output_dim)
        if init == "normal":
            nn.init.normal_(self.w0.weight, mean=0, std=0.01)
            nn.init.normal_(self.w1.weight, mean=0, std=0.01)
            self.w0.bias.data.zero_()
            self.w1.bias.data.zero_()
        elif init == "zero":
            self.w0.weight.data.zero_()
            self.w1.weight.data.zero_()
        else:
            raise ValueError('Invalid GraphConv initialization "%s"' % init)

    def forward(self, verts: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
        """
        Args:
            verts: (V, input_dim) vertex features.
            edges: (E, 2) long vertex indices of the edges.

        Returns:
            (V, output_dim).
        """
        if verts.device != edges.device:
            raise ValueError("verts and edges tensors must be on the same device.")
        if verts.shape[0] == 0:
            return verts.new_zeros((0, self.output_dim)) * verts.sum()
        return self.w0(verts) + gather_scatter(self.w1(verts), edges, self.directed)

    def __repr__(self) -> str:
        return "GraphConv(%d -> %d, directed=%r)" % (self.input_dim, self.output_dim, self.directed)


def gather_scatter(input: torch.Tensor, edges: torch.Tensor, directed: bool = False) -> torch.Tensor:
    """Sum of the neighbours' features at every vertex.

    Args:
        input: (V, D) features.
        edges: (E, 2) long; edge (i, j) adds ``input[j]`` to vertex i, and ``input[i]`` to vertex j unless
            ``directed``.
        directed: see above.

    Returns:
        (V, D), differentiable in ``input`` (any floating dtype).
    """
    if input.dim() != 2:
        raise ValueError("input can only have 2 dimensions.")
    if edges.dim() != 2:
        raise ValueError("edges can only have 2 dimensions.")
    if edges.shape[1] != 2:
        raise ValueError("edges must be of shape (num_edges, 2).")
    if edges.is_floating_point():
        raise ValueError("edges has to be an integer tensor.")
    edges = edges.long()
    if edges.numel() and (int(edges.min()) < 0 or int(edges.max()) >= input.shape[0]):
        raise ValueError(f"edges must index vertices in [0, {input.shape[0]})")
    out = torch.zeros_like(input).index_add(0, edges[:, 0], input[edges[:, 1]])
    if not directed:
        out = out.index_add(0, edges[:, 1], input[edges[:, 0]])
    return out


# PyTorch3D names its pure-Python fallback separately; here both are the same function.
gather_scatter_python = gather_scatter
