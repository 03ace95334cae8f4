"""Decoders from one image feature (N, C) to a 3D shape: voxels, points, a deformed ico-sphere, or an occupancy field.

Every decoder maps into the normalised shape space of CONVENTIONS.md (shapes centred, inside [-0.5, 0.5]^3) and
returns raw tensors (logits, coordinates), never a sigmoid: the losses take logits.

- ``VoxelMLPDecoder``: two fully connected layers to R^3 logits (the course's decoder).
- ``VoxelConvDecoder``: a fully connected layer to a 4^3 x C volume, then 3D transposed convolutions doubling the
  resolution up to R^3 (Pix2Vox's coarse generator).
- ``PointMLPDecoder``: an MLP to ``n_points`` x 3 coordinates.
- ``MeshOffsetDecoder``: an MLP to one offset per vertex of an ico-sphere of radius ``radius``.
- ``ImplicitDecoder``: an occupancy network: a residual MLP on Fourier features of a 3D point, conditioned on the
  image feature, giving one occupancy logit per point.

Voxel grids are (N, D, H, W) with the axis order and cell layout of ``inverse3d.ops.voxel_grid`` (x from w,
y from h, z from d, cells over [-0.5, 0.5]^3).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn


def _mlp(sizes: Sequence[int], slope: float = 0.1) -> nn.Sequential:
    """Linear layers of the given sizes with LeakyReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(slope))
    return nn.Sequential(*layers)


def _shrink_last(seq: nn.Sequential, scale: float) -> None:
    """Scales the last linear layer's initial weights (and zeroes its bias) so outputs start near zero."""
    last = [m for m in seq if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        last.weight.mul_(scale)
        last.bias.zero_()


class VoxelMLPDecoder(nn.Module):
    """(N, C) features -> (N, R, R, R) occupancy logits by Linear(C, hidden) - PReLU - Linear(hidden, R^3)."""

    def __init__(self, voxel_res: int = 32, in_dim: int = 512, hidden: int = 1024) -> None:
        super().__init__()
        if voxel_res < 2:
            raise ValueError(f"voxel_res must be at least 2; got {voxel_res}")
        self.voxel_res = voxel_res
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.PReLU(), nn.Linear(hidden, voxel_res**3))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        R = self.voxel_res
        return self.net(features).view(-1, R, R, R)


class VoxelConvDecoder(nn.Module):
    """(N, C) features -> (N, R, R, R) logits: Linear to (channels, 4, 4, 4), then ConvTranspose3d(k=4, s=2) +
    BatchNorm + ReLU stages halving the channels and doubling the size until R, then a 1x1x1 convolution.

    ``voxel_res`` must be 4 times a power of two (8, 16, 32, 64).
    """

    def __init__(self, voxel_res: int = 32, in_dim: int = 512, channels: int = 128) -> None:
        super().__init__()
        stages = math.log2(voxel_res / 4) if voxel_res >= 4 else -1
        if stages < 0 or stages != int(stages):
            raise ValueError(f"VoxelConvDecoder needs voxel_res = 4 * 2^k (8, 16, 32, ...); got {voxel_res}")
        self.voxel_res = voxel_res
        self.channels = channels
        self.fc = nn.Linear(in_dim, channels * 4**3)
        layers: list[nn.Module] = []
        c = channels
        for _ in range(int(stages)):
            c_out = max(c // 2, 8)
            layers += [nn.ConvTranspose3d(c, c_out, kernel_size=4, stride=2, padding=1), nn.BatchNorm3d(c_out),
                       nn.ReLU()]
            c = c_out
        layers.append(nn.Conv3d(c, 1, kernel_size=1))
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.fc(features).view(-1, self.channels, 4, 4, 4)  # (N, C, 4, 4, 4), axes (d, h, w)
        return self.net(x)[:, 0]  # (N, R, R, R)


class PointMLPDecoder(nn.Module):
    """(N, C) features -> (N, n_points, 3) points by an MLP with LeakyReLU(0.1) (the course's point decoder)."""

    def __init__(self, n_points: int = 2048, in_dim: int = 512, hidden: Sequence[int] = (1024, 2048)) -> None:
        super().__init__()
        if n_points < 1:
            raise ValueError(f"n_points must be positive; got {n_points}")
        self.n_points = n_points
        self.net = _mlp([in_dim, *hidden, n_points * 3])
        _shrink_last(self.net, 0.1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features).view(-1, self.n_points, 3)


class MeshOffsetDecoder(nn.Module):
    """(N, C) features -> (N, V, 3) vertices of a deformed ico-sphere: ``radius * sphere + MLP(features)``.

    The faces are fixed: ``self.faces`` (F, 3) int64 (a buffer, so it follows ``.to(device)``); ``self.template``
    (V, 3) holds the undeformed vertices. Level L has V = 10 * 4^L + 2 vertices and F = 20 * 4^L faces.
    """

    def __init__(
        self, ico_level: int = 4, in_dim: int = 512, hidden: Sequence[int] = (1024, 2048), radius: float = 0.35
    ) -> None:
        super().__init__()
        from inverse3d.utils.ico_sphere import ico_sphere_verts_faces

        verts, faces = ico_sphere_verts_faces(ico_level)
        self.ico_level = ico_level
        self.register_buffer("template", verts * radius)  # (V, 3)
        self.register_buffer("faces", faces)  # (F, 3)
        self.net = _mlp([in_dim, *hidden, verts.shape[0] * 3])
        _shrink_last(self.net, 0.1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        offsets = self.net(features).view(features.shape[0], -1, 3)  # (N, V, 3)
        return self.template.to(offsets.dtype) + offsets

    def meshes(self, verts: torch.Tensor):
        """(N, V, 3) vertices from ``forward`` -> a ``Meshes`` batch with this decoder's faces."""
        from inverse3d.structures import Meshes

        faces = self.faces.expand(verts.shape[0], -1, -1)
        return Meshes(verts=verts, faces=faces)


def fourier_features(points: torch.Tensor, n_freqs: int) -> torch.Tensor:
    """(..., 3) points -> (..., 3 + 6 n_freqs): the points and sin/cos of 2^k pi points for k < n_freqs."""
    if n_freqs == 0:
        return points
    freqs = math.pi * 2.0 ** torch.arange(n_freqs, dtype=points.dtype, device=points.device)  # (L,)
    angles = (points[..., None, :] * freqs[:, None]).flatten(-2)  # (..., 3 L)
    return torch.cat([points, angles.sin(), angles.cos()], dim=-1)


class _ResBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc0 = nn.Linear(width, width)
        self.fc1 = nn.Linear(width, width)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc1(self.act(self.fc0(self.act(x))))


class ImplicitDecoder(nn.Module):
    """Occupancy network: (N, C) image features and (N, Q, 3) query points -> (N, Q) occupancy logits.

    Each block adds a projection of the image feature to the point's hidden state, then a residual MLP block
    (Mescheder et al.'s ONet decoder, without conditional batch norm). Points are lifted by ``fourier_features``.
    """

    def __init__(self, in_dim: int = 512, hidden: int = 256, n_blocks: int = 5, n_freqs: int = 4) -> None:
        super().__init__()
        self.n_freqs = n_freqs
        self.fc_p = nn.Linear(3 + 6 * n_freqs, hidden)
        self.fc_c = nn.ModuleList([nn.Linear(in_dim, hidden) for _ in range(n_blocks)])
        self.blocks = nn.ModuleList([_ResBlock(hidden) for _ in range(n_blocks)])
        self.out = nn.Linear(hidden, 1)
        self.act = nn.ReLU()

    def forward(self, features: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        if points.ndim != 3 or points.shape[-1] != 3 or points.shape[0] != features.shape[0]:
            raise ValueError(
                f"query points must be (N, Q, 3) with N = {features.shape[0]}; got {tuple(points.shape)}"
            )
        x = self.fc_p(fourier_features(points.to(features.dtype), self.n_freqs))  # (N, Q, hidden)
        for fc_c, block in zip(self.fc_c, self.blocks):
            x = block(x + fc_c(features)[:, None])
        return self.out(self.act(x))[..., 0]  # (N, Q)
