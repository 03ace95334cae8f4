"""voxel_grid: the one index-to-world mapping (cells and nodes), its inverse, and the (z, y, x) axis order."""

from __future__ import annotations

import pytest
import torch

from inverse3d.ops.voxel_grid import bounds_tensor, grid_points, index_to_world, world_to_index


def test_cells_default_cube() -> None:
    p = grid_points(4)
    assert p.shape == (4, 4, 4, 3)
    torch.testing.assert_close(p[0, 0, 0], torch.tensor([-0.375, -0.375, -0.375]))
    torch.testing.assert_close(p[3, 2, 1], torch.tensor([-0.125, 0.125, 0.375]))  # x from w, y from h, z from d


def test_nodes_is_linspace() -> None:
    p = grid_points((3, 4, 5), bounds=(-1.0, 1.0), align="nodes")
    torch.testing.assert_close(p[0, 0, :, 0], torch.linspace(-1, 1, 5))
    torch.testing.assert_close(p[0, :, 0, 1], torch.linspace(-1, 1, 4))
    torch.testing.assert_close(p[:, 0, 0, 2], torch.linspace(-1, 1, 3))


@pytest.mark.parametrize("align", ["cells", "nodes"])
def test_roundtrip_per_axis_bounds(align: str) -> None:
    shape, bounds = (5, 6, 7), ((0.0, -2.0, 1.0), (1.0, 2.0, 4.0))
    idx = torch.rand(10, 3, dtype=torch.float64) * 4
    world = index_to_world(idx, shape, bounds, align)
    torch.testing.assert_close(world_to_index(world, shape, bounds, align), idx)
    torch.testing.assert_close(
        index_to_world(torch.tensor([[0.0, 0.0, 0.0]]), shape, bounds, align).flatten(),
        grid_points(shape, bounds, align)[0, 0, 0],
    )


def test_bounds_and_errors() -> None:
    assert bounds_tensor((-1, 2)).tolist() == [[-1, -1, -1], [2, 2, 2]]
    with pytest.raises(ValueError, match="bounds"):
        bounds_tensor((1.0, 1.0))
    with pytest.raises(ValueError, match="align"):
        grid_points(3, align="corner")
    with pytest.raises(ValueError, match="nodes"):
        grid_points((1, 2, 2), align="nodes")
    with pytest.raises(ValueError, match="index"):
        index_to_world(torch.zeros(2), (2, 2, 2))
