"""The surfaces' occupancy grid: which cells it marks, the ray ranges it gives (against a dense march), and renders
with it against renders without it; checkpoints from before the grid still load."""

from __future__ import annotations

import pytest
import torch

from inverse3d.tasks.surface.render import (OCCUPANCY_WIDTHS, SurfaceModel, SurfaceOptions, _occupied_range,
                                            render_rays)
from tests.reference import surface as ref


def _sphere_model(resolution: int = 16, beta: float = 0.02, n_samples: int = 64) -> SurfaceModel:
    torch.manual_seed(0)
    opts = SurfaceOptions(method="volsdf", sdf="mlp", mlp_layers=1, mlp_width=4, feature_dim=3, appearance_width=8,
                          appearance_layers=1, n_samples=n_samples, n_importance=0, beta=beta, skip_weight=0.0,
                          occupancy_resolution=resolution)
    model = SurfaceModel(opts, ([-1.0] * 3, [1.0] * 3), 1.0, 5.0)
    model.sdf = ref.SphereSDF(0.6)
    return model


def test_update_marks_the_cells_near_the_surface():
    model = _sphere_model()
    occ = model.occupancy
    assert occ.occupancy_fraction() == 1.0  # before any update nothing is skipped
    assert model.update_occupancy(step=0) and not model.update_occupancy(step=1)
    cells = torch.arange(occ.n_cells)
    centres = occ.cell_points(cells, jitter=False)
    margin = 0.5 * float(occ.cell_size.norm()) + OCCUPANCY_WIDTHS * 0.02
    expected = (centres.norm(dim=-1) - 0.6).abs() <= margin
    assert torch.equal(occ.binary.view(-1), expected)
    assert 0.05 < occ.occupancy_fraction() < 0.6  # a shell: far corners and the deep inside are empty


def _random_rays(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    origins = torch.randn(n, 3, generator=g)
    origins = 3.0 * origins / origins.norm(dim=-1, keepdim=True)
    targets = 0.9 * (2 * torch.rand(n, 3, generator=g) - 1)
    return origins, targets - origins


def test_ray_ranges_cover_every_occupied_cell_a_dense_march_meets():
    from inverse3d.models.fields import OccupancyGrid
    from inverse3d.renderer.implicit.utils import ray_box_range

    occ = OccupancyGrid(([-1.0] * 3, [1.0] * 3), 12)
    g = torch.Generator().manual_seed(1)
    occ.binary.copy_(torch.rand(occ.resolution, generator=g) < 0.02)
    origins, directions = _random_rays(300, seed=2)
    t_near, t_far = ray_box_range(origins, directions, occ.bounds_lo, occ.bounds_hi, 0.1, 10.0)
    lo, hi, live = _occupied_range(occ, origins, directions, t_near, t_far)
    assert live is not None and 0 < int(live.sum()) < 300
    coarse = (t_far - t_near)[:, 0] / (2 * 12)  # the spacing of the range's march
    D = 4000  # the reference: a dense march along each ray
    ts = t_near + (t_far - t_near) * (torch.arange(D) + 0.5) / D  # (R, D)
    points = origins[:, None] + ts[..., None] * directions[:, None]
    cell, inside = occ.cell_indices(points)
    hit = inside & occ.binary.view(-1)[cell]
    for r in range(300):
        if not bool(hit[r].any()):
            assert not bool(live[r])
            continue
        t_hit = ts[r][hit[r]]
        # cells the ray crosses for at least two coarse spacings lie inside the range
        ids, counts = torch.unique(cell[r][hit[r]], return_counts=True)
        long = ids[counts * (t_far[r, 0] - t_near[r, 0]) / D >= 2 * coarse[r]]
        wide = t_hit[torch.isin(cell[r][hit[r]], long)]
        if wide.numel():
            assert bool(live[r])
            assert float(lo[r]) <= float(wide.min()) + 1e-6 and float(hi[r]) >= float(wide.max()) - 1e-6
        if bool(live[r]):  # and the range is tight: within two spacings of the occupied stretch
            assert float(lo[r]) >= float(t_hit.min()) - 2 * float(coarse[r]) - 1e-6
            assert float(hi[r]) <= float(t_hit.max()) + 2 * float(coarse[r]) + 1e-6
    # nothing occupied, or everything: no ray is skipped and the box range is kept
    for value in (False, True):
        occ.binary.fill_(value)
        lo2, hi2, live2 = _occupied_range(occ, origins, directions, t_near, t_far)
        assert live2 is None and torch.equal(lo2, t_near) and torch.equal(hi2, t_far)


@pytest.mark.parametrize("with_gradients", [False, True])
def test_render_with_the_grid_matches_the_render_without(with_gradients):
    model = _sphere_model(beta=0.01, n_samples=96)
    origins = torch.tensor([[0.0, 0.0, 3.0], [0.3, 0.2, 3.0], [0.0, 0.9, 3.0], [0.85, 0.85, 3.0], [3.0, 3.0, 3.0],
                            [0.1, -0.4, 3.0]])
    directions = torch.tensor([[0.0, 0.0, -1.0], [0.1, -0.05, -1.0], [0.0, 0.0, -1.0], [0.0, 0.0, -1.0],
                               [0.0, 0.0, -1.0], [-0.05, 0.1, -1.0]])
    bg = torch.tensor([0.2, 0.4, 0.6])
    model.update_occupancy(step=0)
    grid = model.occupancy
    with_grid = render_rays(model, origins, directions, background=bg, with_gradients=with_gradients)
    model.occupancy = None
    plain = render_rays(model, origins, directions, background=bg, with_gradients=with_gradients)
    model.occupancy = grid
    # rays 2-4 miss the sphere (ray 3 passes its corner cells only, ray 4 misses the box): the background exactly
    for r in (3, 4):
        torch.testing.assert_close(with_grid["rgb"][r], bg)
        assert float(with_grid["opacity"][r]) == 0.0
    for r in (0, 1, 2, 5):
        assert float(with_grid["opacity"][r]) == pytest.approx(float(plain["opacity"][r]), abs=2e-3)
        assert float(with_grid["depth"][r]) == pytest.approx(float(plain["depth"][r]), abs=2e-2)
        torch.testing.assert_close(with_grid["rgb"][r], plain["rgb"][r], atol=2e-2, rtol=0)
    assert float(with_grid["opacity"][0]) > 0.99 and float(with_grid["opacity"][2]) < 1e-3
    # fewer samples are evaluated: the skipped rays' are not, and the others' lie in a shorter range
    assert with_grid["gradients"].shape[0] < plain["gradients"].shape[0]
    assert with_grid["sdf"].shape == plain["sdf"].shape
    if with_gradients:
        assert with_grid["rgb"].requires_grad


def test_no_live_ray_renders_the_background():
    model = _sphere_model()
    model.update_occupancy(step=0)
    origins = torch.tensor([[0.95, 0.95, 3.0], [3.0, 3.0, 3.0]])
    directions = torch.tensor([[0.0, 0.0, -1.0], [0.0, 0.0, -1.0]])
    out = render_rays(model, origins, directions, background=torch.ones(3), with_gradients=True)
    torch.testing.assert_close(out["rgb"], torch.ones(2, 3))
    assert out["gradients"].shape == (0, 3) and out["sdf"].shape == (2, 64)


def test_bad_resolution():
    with pytest.raises(ValueError, match="--occupancy-resolution"):
        SurfaceOptions(occupancy_resolution=1).check()
