"""One training step (forward, loss, backward, Adam) of each single-view model, on synthetic batches.

Inputs: random images, the voxels and surface samples of a sphere of radius 0.35 (no dataset generation), the
default model sizes (ResNet-18, 32^3 voxels, 2048 points, level-4 ico-sphere, 2048 implicit queries per shape).
"""

from __future__ import annotations

import torch

from benchmarks.harness import Case
from inverse3d.tasks.single_view.losses import training_loss
from inverse3d.tasks.single_view.train import TrainConfig
from inverse3d.models.single_view import MODEL_TYPES, SingleViewModel


def _batch(n: int, image_size: int, res: int, points: int) -> dict:
    g = torch.Generator().manual_seed(0)
    images = torch.rand(n, image_size, image_size, 3, generator=g)
    centres = (torch.arange(res) + 0.5) / res - 0.5
    z, y, x = torch.meshgrid(centres, centres, centres, indexing="ij")
    voxels = ((x**2 + y**2 + z**2).sqrt() < 0.35).float().expand(n, res, res, res).contiguous()
    surf = torch.randn(n, points, 3, generator=g)
    surf = 0.35 * surf / surf.norm(dim=-1, keepdim=True)
    return {"images": images, "voxels": voxels, "points": surf}


def _make_step(kind: str, n: int, image_size: int, res: int, n_points: int, ico_level: int):
    def make():
        torch.manual_seed(0)
        config = TrainConfig(type=kind, voxel_res=res, n_points=n_points, ico_level=ico_level, n_queries=n_points)
        model = SingleViewModel(**config.model_config()).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        batch = _batch(n, image_size, res, 5000 if n_points > 64 else 64)

        def step():
            loss = training_loss(model, model, batch, config)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return loss

        return step

    return make


def cases() -> list[Case]:
    out = [
        Case(f"train step {kind} batch 16 137px", _make_step(kind, 16, 137, 32, 2048, 4), repeats=3)
        for kind in MODEL_TYPES
    ]
    out.append(Case("train step point batch 2 32px (tiny)", _make_step("point", 2, 32, 8, 16, 1), repeats=2,
                    tiny=True))
    return out
