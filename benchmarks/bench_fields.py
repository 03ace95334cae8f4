"""Training steps of each radiance field: forward, volume rendering, MSE on random targets, backward, Adam step.

Inputs: 1024 rays from a sphere of radius 4 aimed at the NeRF-synthetic scene box [-1.5, 1.5]^3, stratified samples
between t = 2 and t = 6 (the box), random target colours; Adam (fused where PyTorch has it, which on the CPU is
several times faster than the default for grids of millions of values). Rays per second = 1024 / median step time.
On a shared 2-core machine, ``--threads 1`` gives steadier numbers: with the other core busy, a second intra-op
thread mostly waits.

- the course-style NeRF MLP step (8 x 256, 1024 rays x 128 samples), the issue's reference point;
- HashGridField (16 levels x 2 features, 2^17-entry tables, 64-wide MLPs, SH colour) and DenseGridField (96^3
  density + 12 features, 64-wide colour MLP) at their defaults, 1024 rays x 64 samples, all samples evaluated;
- the same with a 64^3 occupancy grid (a ball of radius 0.85 holding ~25% of the samples) skipping the rest;
- one occupancy-grid update over every cell (the warm-up cost) with the hash field's density;
- rendering a whole frame with the NeRF task's model (``inverse3d.tasks.nerf``: samples clipped to the scene box,
  a 64^3 occupancy grid holding a ball of radius 0.85 for the grid fields; the MLP with 64 coarse + 64 fine samples as
  the course): seconds per 128 x 128 frame for each field type, and the peak memory of an 800 x 800 frame
  (NeRF-synthetic's size), which ``render_rays_chunked`` bounds by rendering 8192 rays at a time.
"""

from __future__ import annotations

import torch

from benchmarks.harness import Case
from inverse3d.models.fields import DenseGridField, HashGridField, NeRFMLP, OccupancyGrid, evaluate_occupied
from inverse3d.models.fields import ray_sample_mask
from inverse3d.renderer.implicit.density import density_render

BOX = ((-1.5, -1.5, -1.5), (1.5, 1.5, 1.5))


def _adam(params, lr: float) -> torch.optim.Optimizer:
    try:
        return torch.optim.Adam(params, lr=lr, eps=1e-15, fused=True)
    except (RuntimeError, TypeError):  # fused Adam missing for this device / version
        return torch.optim.Adam(params, lr=lr, eps=1e-15)


def _rays(n_rays: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(origins (R, 3), unit directions (R, 3)): from a sphere of radius 4 towards points near the centre."""
    origins = torch.randn(n_rays, 3, generator=generator)
    origins = 4.0 * origins / origins.norm(dim=-1, keepdim=True)
    targets = 0.8 * (torch.rand(n_rays, 3, generator=generator) * 2 - 1)
    return origins, torch.nn.functional.normalize(targets - origins, dim=-1)


def _make_step(build, n_rays: int, n_samples: int, lr: float, occupancy_radius: float | None = None):
    """``make`` for the harness: builds the field and the rays once; each call is one training step."""

    def make():
        torch.manual_seed(0)
        g = torch.Generator().manual_seed(0)
        field = build()
        optimizer = _adam(field.parameters(), lr)
        origins, dirs = _rays(n_rays, g)
        bins = torch.linspace(2.0, 6.0, n_samples + 1)
        target = torch.rand(n_rays, 3, generator=g)
        grid = None
        if occupancy_radius is not None:
            grid = OccupancyGrid(BOX, 64)
            grid.update(lambda p: 10.0 * (p.norm(dim=-1) < occupancy_radius).float(), step=0, jitter=False)

        def step():
            # stratified samples: one uniform draw in each bin
            u = torch.rand(n_rays, n_samples, generator=g)
            lengths = bins[:-1] + (bins[1:] - bins[:-1]) * u  # (R, S)
            points = origins[:, None] + lengths[..., None] * dirs[:, None]  # (R, S, 3)
            if grid is None:
                sigma, rgb = field(points, dirs)
            else:
                sigma, rgb = evaluate_occupied(field, ray_sample_mask(grid, points), points, dirs)
            out = density_render(sigma[..., 0], rgb, lengths, dirs, background=1.0)
            loss = torch.nn.functional.mse_loss(out.features, target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return loss

        return step

    return make


def _occupancy_update(build, resolution: int):
    def make():
        torch.manual_seed(0)
        field = build()
        grid = OccupancyGrid(BOX, resolution)
        return lambda: grid.update(field.density, step=0)

    return make


def _render_frame(field_type: str, size: int, chunk: int = 8192):
    """``make``: a NeRF model of ``field_type`` (untrained, occupancy = a ball) and the rays of a size x size view
    from distance 4; each call renders the frame in chunks without autograd."""
    from inverse3d.tasks.nerf.model import FieldOptions, NeRFModel
    from inverse3d.tasks.nerf.render import render_rays_chunked

    def make():
        torch.manual_seed(0)
        options = FieldOptions(field=field_type, n_fine=64 if field_type == "mlp" else 0)
        model = NeRFModel(options, BOX, near=2.0, far=6.0).eval()
        if model.occupancy is not None:
            model.occupancy.update(lambda p: 10.0 * (p.norm(dim=-1) < 0.85).float(), step=0, jitter=False)
        # a pinhole camera at (0, 0, 4) looking at the origin, 40 degrees of view
        u = torch.linspace(-1, 1, size)
        yy, xx = torch.meshgrid(u, u, indexing="ij")
        half = torch.tan(torch.tensor(0.35))
        dirs = torch.stack([xx * half, -yy * half, -torch.ones_like(xx)], -1).reshape(-1, 3)
        dirs = torch.nn.functional.normalize(dirs, dim=-1)
        origins = torch.tensor([0.0, 0.0, 4.0]).expand_as(dirs)
        return lambda: render_rays_chunked(model, origins, dirs, background=torch.ones(3), chunk=chunk)

    return make


def cases() -> list[Case]:
    nerf = lambda: NeRFMLP(BOX)  # noqa: E731 - the course's 8 x 256 network
    hash_field = lambda: HashGridField(BOX)  # noqa: E731
    dense = lambda: DenseGridField(BOX)  # noqa: E731
    return [
        Case("fields step NeRFMLP 8x256 1024 rays x 128 (course)", _make_step(nerf, 1024, 128, 5e-4), repeats=3),
        Case("fields step NeRFMLP 8x256 1024 rays x 64", _make_step(nerf, 1024, 64, 5e-4), repeats=3),
        Case("fields step HashGridField 1024 rays x 64", _make_step(hash_field, 1024, 64, 1e-2), repeats=5),
        Case("fields step DenseGridField 1024 rays x 64", _make_step(dense, 1024, 64, 1e-1), repeats=5),
        Case("fields step HashGridField 1024x64 occupancy ~25%", _make_step(hash_field, 1024, 64, 1e-2, 0.85),
             repeats=5),
        Case("fields step DenseGridField 1024x64 occupancy ~25%", _make_step(dense, 1024, 64, 1e-1, 0.85),
             repeats=5),
        Case("fields occupancy update 64^3 HashGridField", _occupancy_update(hash_field, 64), repeats=3),
        Case("fields render 128x128 frame hashgrid", _render_frame("hashgrid", 128), repeats=3),
        Case("fields render 128x128 frame grid", _render_frame("grid", 128), repeats=3),
        Case("fields render 128x128 frame mlp (64 + 64 fine samples)", _render_frame("mlp", 128), repeats=1),
        Case("fields render 800x800 frame hashgrid (peak memory)", _render_frame("hashgrid", 800), repeats=1),
        Case(
            "fields step tiny fields (tiny)",
            _make_step(lambda: HashGridField(BOX, n_levels=2, log2_hashmap_size=8, finest_resolution=32), 16, 8, 1e-2),
            repeats=2,
            tiny=True,
        ),
    ]
