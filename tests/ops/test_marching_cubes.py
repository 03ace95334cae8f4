"""marching_cubes: a sphere's SDF gives vertices at the radius, outward faces, PyTorch3D's coordinate modes."""

from __future__ import annotations

import pytest
import torch
import trimesh
from conftest import DEVICES

from inverse3d.ops import grid_points, marching_cubes, voxelize_meshes
from inverse3d.structures import Meshes


def _sphere_sdf(shape, radius: float, center=(0.0, 0.0, 0.0), bounds=(-0.5, 0.5), align="cells") -> torch.Tensor:
    p = grid_points(shape, bounds=bounds, align=align, dtype=torch.float64)
    return (p - torch.tensor(center, dtype=torch.float64)).norm(dim=-1) - radius


@pytest.mark.parametrize("res", [16, 33])
def test_sphere_vertices_at_radius_outward_closed(res: int) -> None:
    radius = 0.3
    verts, faces = marching_cubes(_sphere_sdf(res, radius)[None].float(), 0.0, bounds=(-0.5, 0.5))
    v, f = verts[0], faces[0]
    cell = 1.0 / res
    # Linear interpolation of an exact distance along grid edges: error well under a tenth of a cell.
    assert (v.norm(dim=1) - radius).abs().max() < 0.1 * cell
    tm = trimesh.Trimesh(v.double().numpy(), f.numpy(), process=False)
    assert tm.is_watertight and tm.is_winding_consistent and tm.euler_number == 2
    mesh = Meshes(verts=verts, faces=faces)
    normals = mesh.faces_normals_packed()
    assert ((normals * v[f].mean(dim=1)).sum(dim=1) > 0).all()
    assert abs(tm.volume - 4 / 3 * torch.pi * radius**3) < 0.03 * 4 / 3 * torch.pi * radius**3


def test_inside_above_for_occupancies() -> None:
    occupancy = 1.0 - _sphere_sdf(20, 0.3).clamp(-0.05, 0.05) * 10  # high inside
    v, f = marching_cubes(occupancy[None], 1.0, bounds=(-0.5, 0.5), inside="above")
    n = torch.cross(v[0][f[0][:, 1]] - v[0][f[0][:, 0]], v[0][f[0][:, 2]] - v[0][f[0][:, 0]], dim=1)
    assert ((n * v[0][f[0]].mean(dim=1)).sum(dim=1) > 0).all()


def test_axis_order_and_world_units() -> None:
    # D=10 (z), H=14 (y), W=18 (x) over a non-cubic box, sphere off-centre along x only.
    shape, bounds = (10, 14, 18), ((-1.0, -0.5, -0.4), (1.0, 0.5, 0.4))
    sdf = _sphere_sdf(shape, 0.25, center=(0.4, 0.0, 0.0), bounds=bounds)
    v = marching_cubes(sdf[None], 0.0, bounds=bounds)[0][0]
    centre = (v.amax(0) + v.amin(0)) / 2
    torch.testing.assert_close(centre, torch.tensor([0.4, 0.0, 0.0], dtype=torch.float64), atol=0.03, rtol=0)
    assert v.dtype == torch.float64


def test_local_and_index_coordinates_match_pytorch3d() -> None:
    sdf = _sphere_sdf((6, 8, 10), 0.3).float()[None]
    local = marching_cubes(sdf, 0.0)[0][0]  # PyTorch3D default: [-1, 1] from the first to the last sample
    index = marching_cubes(sdf, 0.0, return_local_coords=False)[0][0]
    sizes = torch.tensor([10.0, 8.0, 6.0])  # (W, H, D) for (x, y, z)
    torch.testing.assert_close(local, index * 2 / (sizes - 1) - 1)
    assert index.min() >= 0 and (index <= sizes - 1).all()
    nodes = marching_cubes(sdf, 0.0, bounds=(-1.0, 1.0), align="nodes")[0][0]
    torch.testing.assert_close(nodes, local)


def test_isolevel_none_uses_mid_range() -> None:
    sdf = _sphere_sdf(12, 0.3).float()[None]
    level = float((sdf.max() + sdf.min()) / 2)
    a = marching_cubes(sdf)[0][0]
    b = marching_cubes(sdf, level)[0][0]
    torch.testing.assert_close(a, b)


def test_no_surface_gives_empty_tensors() -> None:
    vol = torch.stack([torch.ones(5, 5, 5), _sphere_sdf(5, 0.3).float()])
    verts, faces = marching_cubes(vol, 0.0, bounds=(-0.5, 0.5))
    assert verts[0].shape == (0, 3) and faces[0].shape == (0, 3) and faces[0].dtype == torch.int64
    assert verts[1].shape[0] > 0
    assert Meshes(verts=verts, faces=faces).num_faces_per_mesh()[0] == 0


def test_roundtrip_with_voxelize() -> None:
    # The mesh of a sphere's SDF, voxelised on the same cells, is the SDF's inside (away from the surface).
    sdf = _sphere_sdf(16, 0.35).float()
    verts, faces = marching_cubes(sdf[None], 0.0, bounds=(-0.5, 0.5))
    occ = voxelize_meshes(Meshes(verts=verts, faces=faces), 16)[0]
    far = sdf.abs() > 0.02
    assert torch.equal(occ.bool()[far], (sdf < 0)[far])


@pytest.mark.parametrize("device", DEVICES)
def test_device(device: str) -> None:
    sdf = _sphere_sdf(8, 0.3).float()[None].to(device)
    verts, faces = marching_cubes(sdf, 0.0)
    assert verts[0].device.type == device and faces[0].device.type == device


@pytest.mark.parametrize(
    "vol, kwargs, match",
    [
        (torch.zeros(1, 1, 4, 4), {}, "D, H, W >= 2"),
        (torch.zeros(4, 4), {}, "N, D, H, W"),
        (torch.full((1, 3, 3, 3), float("nan")), {}, "NaN"),
        (torch.zeros(1, 3, 3, 3), {"inside": "in"}, "inside"),
        (torch.zeros(1, 3, 3, 3), {"align": "corner"}, "align"),
    ],
)
def test_bad_input(vol, kwargs, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        marching_cubes(vol, 0.0, **kwargs)


def test_public_names_are_the_functions() -> None:
    # Importing a submodule named like its function must not shadow the lazily exported function.
    import importlib

    importlib.import_module("inverse3d.utils.surfaces")
    import inverse3d.ops as ops
    import inverse3d.utils as utils

    assert callable(ops.marching_cubes) and callable(ops.cubify) and callable(utils.ico_sphere)
