"""cubify: closed boxes, the same oriented squares as a naive loop, PyTorch3D's alignments, world units."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
import trimesh
from conftest import DEVICES
from reference.cubify import cubify_naive

from inverse3d.ops import cubify, voxelize_meshes


def _square_keys(verts: torch.Tensor, faces: torch.Tensor) -> Counter:
    """Each triangle of a voxel mesh lies in one unit square: key = (square's min corner, max corner, normal)."""
    tri = verts[faces].double()  # (F, 3, 3)
    lo = tri.amin(dim=1).round().long()
    hi = tri.amax(dim=1).round().long()
    normal = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=1).sign().long()
    return Counter(tuple(row) for row in torch.cat([lo, hi, normal], dim=1).tolist())


def _to_corner_units(verts: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    D, H, W = shape
    return (verts.double() + 1) * 0.5 * torch.tensor([W, H, D], dtype=torch.float64)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_full_grid_is_a_closed_box(n: int) -> None:
    mesh = cubify(torch.ones(1, n, n, n), 0.5, align="corner")
    verts, faces = mesh.get_mesh_verts_faces(0)
    assert faces.shape == (6 * n * n * 2, 3)
    assert verts.shape == ((n + 1) ** 3 - (n - 1) ** 3, 3)  # only surface corners are kept
    tm = trimesh.Trimesh(verts.numpy(), faces.numpy(), process=False)
    assert tm.is_watertight and tm.is_winding_consistent and tm.euler_number == 2
    assert abs(tm.volume - 8.0) < 1e-5  # [-1, 1]^3, outward
    assert verts.min() == -1 and verts.max() == 1


@pytest.mark.parametrize("shape", [(3, 3, 3), (2, 4, 5), (6, 5, 4)])
@pytest.mark.parametrize("density", [0.3, 0.7])
def test_matches_naive_loop(shape: tuple[int, int, int], density: float) -> None:
    voxels = torch.rand(3, *shape)
    mesh = cubify(voxels, 1 - density, align="corner")
    for i in range(3):
        verts, faces = mesh.get_mesh_verts_faces(i)
        ref_verts, ref_faces = cubify_naive(voxels[i], 1 - density)
        ours = _to_corner_units(verts, shape)
        assert faces.shape == ref_faces.shape and verts.shape == ref_verts.shape
        assert _square_keys(ours, faces) == _square_keys(ref_verts, ref_faces)
        assert set(map(tuple, ours.round().long().tolist())) == set(map(tuple, ref_verts.long().tolist()))
        if faces.numel():
            assert faces.max() == verts.shape[0] - 1 and faces.min() == 0  # every vertex used


def test_interior_faces_removed_and_vertices_merged() -> None:
    voxels = torch.zeros(1, 1, 1, 2)
    voxels[0, 0, 0, :] = 1  # two voxels side by side along x
    verts, faces = cubify(voxels, 0.5).get_mesh_verts_faces(0)
    assert verts.shape == (12, 3) and faces.shape == (20, 3)


def test_threshold_is_inclusive_and_bool_input() -> None:
    voxels = torch.tensor([[[[0.5, 0.49]]]])
    assert cubify(voxels, 0.5).num_faces_per_mesh().tolist() == [12]
    assert cubify(voxels > 0.4, 0.5).num_faces_per_mesh().tolist() == [20]


def test_alignments_single_voxel() -> None:
    # PyTorch3D's test: voxel (0, 0, 0) of a 2^3 grid under "topleft" spans [-1, 1].
    voxels = torch.zeros(1, 2, 2, 2)
    voxels[0, 0, 0, 0] = 1
    spans = {"topleft": (-1.0, 1.0), "corner": (-1.0, 0.0), "center": (-2.0, 0.0), "world": (-0.5, 0.0)}
    for align, (lo, hi) in spans.items():
        v = cubify(voxels, 0.5, align=align).verts_packed()
        assert v.shape == (8, 3)
        assert set(v.flatten().tolist()) == {lo, hi}, align


def test_axis_order_x_from_w() -> None:
    voxels = torch.zeros(1, 2, 3, 4)  # D=2 (z), H=3 (y), W=4 (x)
    voxels[0, 1, 2, 3] = 1  # last voxel on every axis
    v = cubify(voxels, 0.5, align="world").verts_packed()
    torch.testing.assert_close(v.amin(0), torch.tensor([0.25, 1 / 6, 0.0]))
    torch.testing.assert_close(v.amax(0), torch.tensor([0.5, 0.5, 0.5]))


def test_world_roundtrip_through_voxelize() -> None:
    voxels = (torch.rand(2, 8, 7, 6) > 0.5).float()
    bounds = ((-1.0, -0.5, 0.0), (1.0, 0.5, 2.0))
    mesh = cubify(voxels, 0.5, align="world", bounds=bounds)
    back = voxelize_meshes(mesh, (8, 7, 6), bounds=bounds)
    torch.testing.assert_close(back, voxels)


def test_feats_become_vertex_colours() -> None:
    voxels = torch.zeros(1, 1, 1, 2)
    voxels[0, 0, 0, :] = 1
    feats = torch.zeros(1, 3, 1, 1, 2)
    feats[0, :, 0, 0, 0] = torch.tensor([1.0, 0.0, 0.0])
    feats[0, :, 0, 0, 1] = torch.tensor([0.0, 0.0, 1.0])
    mesh = cubify(voxels, 0.5, feats=feats, align="corner")
    colours = mesh.textures.verts_features_packed()
    x = mesh.verts_packed()[:, 0]
    torch.testing.assert_close(colours[x == -1], torch.tensor([1.0, 0, 0]).expand(4, 3))
    torch.testing.assert_close(colours[x == 0], torch.tensor([0.5, 0, 0.5]).expand(4, 3))
    torch.testing.assert_close(colours[x == 1], torch.tensor([0.0, 0, 1]).expand(4, 3))


def test_empty_grids() -> None:
    voxels = torch.zeros(2, 3, 3, 3)
    voxels[1, 1, 1, 1] = 1
    mesh = cubify(voxels, 0.5)
    assert mesh.num_faces_per_mesh().tolist() == [0, 12]
    assert mesh.num_verts_per_mesh().tolist() == [0, 8]
    assert cubify(torch.zeros(2, 4, 4, 4), 0.5).isempty()
    assert len(cubify(torch.zeros(0, 4, 4, 4), 0.5)) == 0


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_device_and_dtype(device: str, dtype: torch.dtype) -> None:
    voxels = torch.rand(2, 4, 4, 4, dtype=dtype, device=device)
    mesh = cubify(voxels, 0.5, align="world")
    assert mesh.verts_packed().device.type == device and mesh.verts_packed().dtype == dtype


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: cubify(torch.rand(4, 4, 4), 0.5), "N, D, H, W"),
        (lambda: cubify(torch.rand(1, 2, 2, 2), 0.5, align="middle"), "align"),
        (lambda: cubify(torch.full((1, 2, 2, 2), float("nan")), 0.5), "NaN"),
        (lambda: cubify(torch.rand(1, 2, 2, 2), 0.5, feats=torch.rand(1, 3, 2, 2)), "feats"),
    ],
)
def test_bad_input(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
