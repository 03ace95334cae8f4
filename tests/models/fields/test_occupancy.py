"""Occupancy grid: exact cells for an analytic sphere, no sample inside the sphere dropped, the update schedule,
the moving maximum, masks from ray samples or a RayBundle, and masked evaluation of a field."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES
from reference.fields import occupied_cells_naive

from inverse3d.models.fields import DenseGridField, OccupancyGrid, evaluate_occupied, ray_sample_mask
from inverse3d.renderer.implicit import RayBundle

BOX = ((-1.0, -1.0, -1.0), (1.0, 1.0, 1.0))


def _ball(radius: float, value: float = 10.0, centre=(0.1, -0.2, 0.05)):
    c = torch.tensor(centre)

    def density(p):
        return (value * ((p - c.to(p)).norm(dim=-1) < radius).to(p.dtype))[..., None]

    return density


@pytest.mark.parametrize("device", DEVICES)
def test_centre_evaluation_marks_exactly_the_cells_passing_the_threshold(device):
    grid = OccupancyGrid(BOX, 8).to(device)
    density = _ball(0.55)
    assert grid.update(density, step=0, jitter=False)
    got = {tuple(ijk) for ijk in grid.binary.nonzero().tolist()}
    expected = occupied_cells_naive(density, BOX[0], BOX[1], 8, threshold=0.01)
    assert got == expected and 0 < len(got) < 8**3
    # values stored are the densities at the centres
    assert set(grid.density_ema.unique().tolist()) == {0.0, 10.0}


def test_threshold_is_capped_by_the_mean():
    grid = OccupancyGrid(BOX, 4)
    # a faint ball: 0.005 < 0.01, but above the mean value, so still occupied
    grid.update(_ball(0.6, value=0.005), step=0, jitter=False)
    assert 0 < grid.binary.sum() < 64
    grid2 = OccupancyGrid(BOX, 4)
    grid2.update(lambda p: torch.zeros(p.shape[0]), step=0, jitter=False)
    assert grid2.binary.sum() == 0


def test_mask_never_drops_samples_inside_the_sphere():
    res, radius = 16, 0.4
    grid = OccupancyGrid(BOX, res)
    # the density is positive within one cell diagonal of the sphere, so every cell touching it sees it
    diag = 2.0 / res * 3**0.5
    g = torch.Generator().manual_seed(0)
    for step in range(0, 64, 16):
        grid.update(_ball(radius + diag), step=step, warmup_steps=32, generator=g)
    centre = torch.tensor([0.1, -0.2, 0.05])
    origins = torch.randn(256, 3)
    origins = 3 * origins / origins.norm(dim=-1, keepdim=True)
    targets = centre + 0.3 * torch.randn(256, 3)
    dirs = torch.nn.functional.normalize(targets - origins, dim=-1)
    lengths = torch.linspace(0.5, 5.0, 200).expand(256, 200)
    bundle = RayBundle(origins=origins, directions=dirs, lengths=lengths, xys=torch.zeros(256, 2))
    mask = ray_sample_mask(grid, bundle)
    points = origins[:, None] + lengths[..., None] * dirs[:, None]
    inside = (points - centre).norm(dim=-1) < radius
    assert inside.sum() > 1000
    assert mask[inside].all()
    assert torch.equal(mask, ray_sample_mask(grid, points))
    assert mask.float().mean() < 0.5  # and it does skip


def test_update_schedule_and_random_subset():
    grid = OccupancyGrid(BOX, 8)
    calls = []

    def density(p):
        calls.append(p.shape[0])
        return torch.ones(p.shape[0])

    assert not grid.update(density, step=5, update_every=4)
    assert calls == []
    assert grid.update(density, step=8, update_every=4, warmup_steps=16, chunk_size=100)
    assert sum(calls) == 512 and max(calls) == 100  # all cells during the warm-up, in chunks
    calls.clear()
    assert grid.update(density, step=16, update_every=4, warmup_steps=16)
    assert sum(calls) == 2 * 128  # a quarter uniform plus a quarter among the occupied cells


def test_moving_maximum_decays_visited_cells():
    grid = OccupancyGrid(BOX, 2)
    grid.update(lambda p: torch.full((p.shape[0],), 1.0), step=0, jitter=False)
    assert torch.equal(grid.density_ema, torch.ones(2, 2, 2))
    grid.update(lambda p: torch.full((p.shape[0],), 0.5), step=1, decay=0.9, update_every=1, jitter=False)
    torch.testing.assert_close(grid.density_ema, torch.full((2, 2, 2), 0.9))
    grid.update(lambda p: torch.full((p.shape[0],), 2.0), step=2, decay=0.9, update_every=1, jitter=False)
    torch.testing.assert_close(grid.density_ema, torch.full((2, 2, 2), 2.0))


def test_jittered_points_stay_in_their_cells():
    grid = OccupancyGrid(BOX, (3, 4, 5))
    cells = torch.arange(grid.n_cells)
    points = grid.cell_points(cells, jitter=True)
    flat, inside = grid.cell_indices(points)
    assert inside.all() and torch.equal(flat, cells)


def test_occupied_points_and_faces():
    grid = OccupancyGrid(BOX, 4)
    grid.binary.zero_()
    grid.binary[3, 3, 3] = True
    pts = torch.tensor([[1.0, 1.0, 1.0], [0.9, 0.6, 0.51], [0.4, 0.6, 0.6], [1.01, 0.9, 0.9]])
    assert grid.occupied(pts).tolist() == [True, True, False, False]
    assert grid.occupied(pts.view(2, 2, 3)).shape == (2, 2)


def test_starts_fully_occupied_and_state_dict_round_trip():
    grid = OccupancyGrid(BOX, 4)
    assert grid.occupancy_fraction() == 1.0
    grid.update(_ball(0.5), step=0, jitter=False)
    other = OccupancyGrid(BOX, 4)
    other.load_state_dict(grid.state_dict())
    assert torch.equal(other.binary, grid.binary)
    assert torch.equal(other.density_ema, grid.density_ema)


def test_evaluate_occupied_matches_full_evaluation_on_the_mask():
    field = DenseGridField(BOX, 5, color_mode="sh", sh_degree=2, density_activation="relu", init_density=1.0)
    points = torch.rand(6, 9, 3) * 2 - 1
    dirs = torch.nn.functional.normalize(torch.randn(6, 3), dim=-1)
    mask = torch.rand(6, 9) > 0.5
    sigma, rgb = evaluate_occupied(field, mask, points, dirs)
    full_sigma, full_rgb = field(points, dirs)
    torch.testing.assert_close(sigma[mask], full_sigma[mask])
    torch.testing.assert_close(rgb[mask], full_rgb[mask])
    assert (sigma[~mask] == 0).all() and (rgb[~mask] == 0).all()
    (sigma.sum() + rgb.sum()).backward()
    assert field.feature_grid.grad.abs().sum() > 0
    none = torch.zeros(6, 9, dtype=torch.bool)
    s0, r0 = evaluate_occupied(field, none, points, dirs)
    assert s0.shape == (6, 9, 1) and r0.shape == (6, 9, 3) and s0.abs().sum() == 0


def test_rejects_bad_input():
    with pytest.raises(ValueError, match=">= 2"):
        OccupancyGrid(BOX, 1)
    with pytest.raises(ValueError, match="lo < hi"):
        OccupancyGrid(((0, 0, 0), (0, 1, 1)), 4)
    grid = OccupancyGrid(BOX, 4)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        grid.occupied(torch.rand(3, 2))
    with pytest.raises(ValueError, match="decay"):
        grid.update(_ball(0.5), step=0, decay=1.5)
    with pytest.raises(ValueError, match="NaN"):
        grid.update(lambda p: torch.full((p.shape[0],), float("nan")), step=0)
    with pytest.raises(ValueError, match="mask"):
        evaluate_occupied(DenseGridField(BOX, 3, color_mode="rgb"), torch.ones(4, dtype=torch.bool), torch.rand(5, 3))
