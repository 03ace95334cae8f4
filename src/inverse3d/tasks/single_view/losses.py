"""Losses of single-view training, by model type.

``vox`` / ``vox_conv``: class-balanced BCE on the voxels, occupied cells weighted by ``0.5 / mean occupancy of the
training set`` (``mean_occupancy``, kept in the model as ``logit_shift`` = its log); ``point``: chamfer distance to
the shape's surface samples; ``mesh``: ``w_chamfer`` x chamfer between points sampled on the predicted mesh and the
surface samples + ``w_smooth`` x uniform Laplacian smoothing; ``implicit``: BCE between predicted occupancy logits
and the trilinearly interpolated voxel occupancy (``occupancy_at``) at query points (``implicit_queries``: half
uniform in the box, half near the surface, which balances the classes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from inverse3d.tasks.single_view.train import TrainConfig


def _subsample(points: torch.Tensor, n: int) -> torch.Tensor:
    """(B, P, 3) -> (B, min(n, P), 3): a random subset of each cloud (torch's global generator)."""
    B, P, _ = points.shape
    if P <= n:
        return points
    idx = torch.rand(B, P, device=points.device).argsort(dim=1)[:, :n]  # (B, n)
    return points.gather(1, idx[..., None].expand(B, n, 3))


def occupancy_at(voxels: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Trilinear interpolation of (B, D, H, W) occupancies (cells over [-0.5, 0.5]^3, ``voxel_grid`` layout) at
    (B, Q, 3) world points -> (B, Q) in [0, 1]; 0 outside the box."""
    grid = (2.0 * points)[:, :, None, None, :]  # (B, Q, 1, 1, 3): x, y, z -> w, h, d in [-1, 1]
    out = F.grid_sample(voxels[:, None].to(points.dtype), grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)  # (B, 1, Q, 1, 1)
    return out[:, 0, :, 0, 0].clamp(0.0, 1.0)  # rounding can step a hair outside


def implicit_queries(points: torch.Tensor, n: int, noise: float = 0.03) -> torch.Tensor:
    """(B, n, 3) query points: half uniform in [-0.55, 0.55]^3, half surface samples plus Gaussian noise."""
    B = points.shape[0]
    n_near = n // 2
    uniform = (torch.rand(B, n - n_near, 3, device=points.device, dtype=points.dtype) - 0.5) * 1.1
    near = _subsample(points, n_near)
    if near.shape[1] < n_near:  # fewer stored samples than asked: repeat them
        near = near.repeat(1, -(-n_near // near.shape[1]), 1)[:, :n_near]
    near = near + noise * torch.randn_like(near)
    return torch.cat([uniform, near], dim=1)


def mean_occupancy(dataset, max_items: int = 256) -> float:
    """Mean voxel occupancy over (up to ``max_items`` evenly spaced) items of ``dataset``."""
    n = len(dataset)
    idx = sorted({int(i * n / min(n, max_items)) for i in range(min(n, max_items))})
    return float(torch.stack([dataset[i]["voxels"].float().mean() for i in idx]).mean())


def training_loss(model: torch.nn.Module, core, batch: dict[str, Any], config: TrainConfig) -> torch.Tensor:
    """The loss of one batch (module docstring). ``model`` may be DDP-wrapped; ``core`` is the unwrapped model."""
    from inverse3d.loss import chamfer_distance, mesh_laplacian_smoothing, voxel_bce_loss

    images = batch["images"]
    kind = core.type
    if kind in ("vox", "vox_conv"):
        return voxel_bce_loss(model(images), batch["voxels"], pos_weight=float(core.logit_shift.exp()))
    gt = _subsample(batch["points"], config.n_points)
    if kind == "point":
        return chamfer_distance(model(images), gt)[0]
    if kind == "mesh":
        from inverse3d.ops import sample_points_from_meshes

        meshes = core.decoder.meshes(model(images))
        samples = sample_points_from_meshes(meshes, config.n_points)
        loss = config.w_chamfer * chamfer_distance(samples, gt)[0]
        if config.w_smooth:
            loss = loss + config.w_smooth * mesh_laplacian_smoothing(meshes, method="uniform")
        return loss
    queries = implicit_queries(batch["points"], config.n_queries)
    target = occupancy_at(batch["voxels"], queries)  # (B, Q) soft occupancies in [0, 1]
    return F.binary_cross_entropy_with_logits(model(images, queries), target)
