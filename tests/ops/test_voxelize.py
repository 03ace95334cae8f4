"""voxelize_meshes: ray parity against the winding number and analytic shapes; rays through edges; batches."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES
from reference.voxelize import occupancy_naive

from inverse3d.ops import grid_points, voxelize_meshes
from inverse3d.structures import Meshes, join_meshes_as_batch
from inverse3d.utils import cube, ico_sphere, torus


def _moved(mesh: Meshes, scale: float, shift=(0.0, 0.0, 0.0)) -> Meshes:
    return Meshes(verts=[mesh.verts_packed() * scale + torch.tensor(shift)], faces=[mesh.faces_packed()])


@pytest.mark.parametrize("which", ["sphere", "torus"])
def test_matches_winding_number(which: str) -> None:
    if which == "sphere":
        mesh = _moved(ico_sphere(2), 0.4, (0.03, -0.05, 0.02))
    else:
        mesh = _moved(torus(0.12, 0.3, 12, 20), 1.0)
    res = 12
    occ = voxelize_meshes(mesh, res)
    pts = grid_points(res).reshape(-1, 3)
    ref = occupancy_naive(mesh.verts_packed(), mesh.faces_packed(), pts).view(res, res, res)
    assert occ.shape == (1, res, res, res)
    assert torch.equal(occ[0].bool(), ref)


def test_sphere_vs_analytic() -> None:
    radius, res = 0.4, 24
    occ = voxelize_meshes(_moved(ico_sphere(4), radius), res)[0]
    r = grid_points(res).norm(dim=-1)
    analytic = r < radius
    # Level 4 is within 0.1% of the sphere: samples away from that band agree exactly.
    band = (r - radius).abs() < 2e-3 * radius
    assert torch.equal(occ.bool()[~band], analytic[~band])
    assert occ.sum() > 0


def test_rays_through_edges_and_vertices() -> None:
    # Sample columns at +-0.0625, +-0.1875, ...: the cube's top/bottom diagonals pass right through the columns
    # with x == y, and its side faces are seen edge-on by the columns at +-0.3125.
    res, half = 8, 0.3125
    occ = voxelize_meshes(cube(2 * half), res)[0].bool()
    p = grid_points(res)
    strictly_in = (p.abs() < half - 1e-6).all(dim=-1)
    on_side = ((p.abs() - half).abs() < 1e-6).any(dim=-1)
    assert torch.equal(occ[~on_side], strictly_in[~on_side])


def test_batch_per_axis_bounds_and_shape() -> None:
    meshes = join_meshes_as_batch([_moved(cube(1.0), 1.0, (0.5, 0.0, 0.0)), _moved(ico_sphere(1), 0.3)])
    bounds = ((0.0, -1.0, -1.0), (1.0, 1.0, 1.0))
    occ = voxelize_meshes(meshes, (8, 12, 4), bounds=bounds)
    assert occ.shape == (2, 8, 12, 4)
    p = grid_points((8, 12, 4), bounds=bounds)
    expected0 = (p[..., 0] < 1.0) & (p[..., 1].abs() < 0.5) & (p[..., 2].abs() < 0.5)
    assert torch.equal(occ[0].bool(), expected0)
    ref1 = occupancy_naive(meshes[1].verts_packed(), meshes[1].faces_packed(), p.reshape(-1, 3)).view(8, 12, 4)
    assert torch.equal(occ[1].bool(), ref1)


def test_small_chunks_give_the_same_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    import inverse3d.ops.voxelize as vox

    mesh = _moved(ico_sphere(2), 0.45)
    full = voxelize_meshes(mesh, 16)
    monkeypatch.setattr(vox, "_MAX_PAIRS", 40)
    assert torch.equal(voxelize_meshes(mesh, 16), full)


def test_outside_bounds_and_empty() -> None:
    far = _moved(cube(0.2), 1.0, (3.0, 0.0, 0.0))
    assert voxelize_meshes(far, 8).sum() == 0
    empty = Meshes(verts=[torch.zeros(0, 3)], faces=[torch.zeros(0, 3, dtype=torch.int64)])
    assert voxelize_meshes(empty, 4).shape == (1, 4, 4, 4)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_device_dtype(device: str, dtype: torch.dtype) -> None:
    mesh = _moved(ico_sphere(1), 0.4)
    mesh = Meshes(verts=[mesh.verts_packed().to(device, dtype)], faces=[mesh.faces_packed().to(device)])
    occ = voxelize_meshes(mesh, 8)
    assert occ.device.type == device and occ.dtype == dtype


def test_bad_input() -> None:
    mesh = ico_sphere(0)
    with pytest.raises(ValueError, match="resolution"):
        voxelize_meshes(mesh, 0)
    with pytest.raises(ValueError, match="bounds"):
        voxelize_meshes(mesh, 4, bounds=(1.0, -1.0))
