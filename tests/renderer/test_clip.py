"""clip_faces and convert_clipped_rasterization_to_original_faces: PyTorch3D's four cases, a face-by-face oracle,
gradients, ragged batches and agreement with the rasteriser's own near-plane clipping."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES
from reference.clip import clip_faces_naive, convert_naive

from inverse3d.renderer.mesh import (
    ClipFrustum,
    ClippedFaces,
    clip_faces,
    convert_clipped_rasterization_to_original_faces,
)
from inverse3d.renderer.mesh.rasterize_meshes import rasterize_face_verts
from inverse3d.structures import Meshes

# the frustum of PyTorch3D's own clipping tests (triangles already "projected", no perspective correction)
TEST_FRUSTUM = dict(left=-1, right=1, top=-1, bottom=1, perspective_correct=False, z_clip_value=1e-2, cull=True)


def _clip_meshes(meshes: Meshes, **frustum) -> ClippedFaces:
    face_verts = meshes.verts_packed()[meshes.faces_packed()]
    return clip_faces(
        face_verts, meshes.mesh_to_faces_packed_first_idx(), meshes.num_faces_per_mesh(), ClipFrustum(**frustum)
    )


def _one_face(verts, device="cpu") -> Meshes:
    return Meshes([torch.tensor(verts, dtype=torch.float32, device=device)], [torch.tensor([[0, 1, 2]], device=device)])


@pytest.mark.parametrize("device", DEVICES)
def test_case_1_unchanged_returns_inputs(device):
    meshes = _one_face([[0.0, 0.0, 1.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], device)
    out = _clip_meshes(meshes, **TEST_FRUSTUM)
    torch.testing.assert_close(out.face_verts, meshes.verts_packed()[meshes.faces_packed()])
    assert out.mesh_to_face_first_idx.tolist() == [0] and out.num_faces_per_mesh.tolist() == [1]
    for name in ("faces_clipped_to_unclipped_idx", "faces_clipped_to_conversion_idx", "clipped_faces_neighbor_idx",
                 "barycentric_conversion"):
        assert getattr(out, name) is None, name
    p2f = torch.tensor([[[[0, -1]]]], device=device)
    bary = torch.rand(1, 1, 1, 2, 3, device=device)
    same = convert_clipped_rasterization_to_original_faces(p2f, bary, out)
    assert same[0] is p2f and same[1] is bary


@pytest.mark.parametrize("device", DEVICES)
def test_case_2_behind_is_culled(device):
    out = _clip_meshes(_one_face([[-1.0, 0.0, -1.0], [0.0, 1.0, -1.0], [1.0, 0.0, -1.0]], device), **TEST_FRUSTUM)
    assert out.face_verts.shape == (0, 3, 3)
    assert out.mesh_to_face_first_idx.tolist() == [0] and out.num_faces_per_mesh.tolist() == [0]
    assert out.faces_clipped_to_unclipped_idx.shape == (0,)
    assert out.faces_clipped_to_unclipped_idx.dtype == torch.int64
    assert out.barycentric_conversion is None and out.clipped_faces_neighbor_idx is None
    assert out.faces_clipped_to_conversion_idx is None


@pytest.mark.parametrize("device", DEVICES)
def test_case_3_two_behind_gives_a_smaller_triangle(device):
    """Numbers of PyTorch3D's test_case_3."""
    out = _clip_meshes(_one_face([[-1.0, 0.0, -1.0], [0.0, 0.0, 1.0], [1.0, 0.0, -1.0]], device), **TEST_FRUSTUM)
    want = torch.tensor([[[0.4950, 0.0, 0.0100], [-0.4950, 0.0, 0.0100], [0.0, 0.0, 1.0]]], device=device)
    conv = torch.tensor([[[0.0, 0.4950, 0.0], [0.5050, 0.5050, 1.0], [0.4950, 0.0, 0.0]]], device=device)
    torch.testing.assert_close(out.face_verts, want)
    torch.testing.assert_close(out.barycentric_conversion, conv)
    assert out.faces_clipped_to_unclipped_idx.tolist() == [0]
    assert out.faces_clipped_to_conversion_idx.tolist() == [0]
    assert out.clipped_faces_neighbor_idx.tolist() == [-1]
    assert out.num_faces_per_mesh.tolist() == [1]


@pytest.mark.parametrize("device", DEVICES)
def test_case_4_one_behind_gives_two_triangles(device):
    """Numbers of PyTorch3D's test_case_4: the quadrilateral split into t1 = (p4, p2, p5), t2 = (p5, p2, p3)."""
    out = _clip_meshes(_one_face([[0.0, 0.0, -1.0], [-1.0, 0.0, 1.0], [1.0, 0.0, 1.0]], device), **TEST_FRUSTUM)
    want = torch.tensor(
        [
            [[-0.5050, 0.0, 0.0100], [-1.0, 0.0, 1.0], [0.5050, 0.0, 0.0100]],
            [[0.5050, 0.0, 0.0100], [-1.0, 0.0, 1.0], [1.0, 0.0, 1.0]],
        ],
        device=device,
    )
    conv = torch.tensor(
        [
            [[0.4950, 0.0, 0.4950], [0.5050, 1.0, 0.0], [0.0, 0.0, 0.5050]],
            [[0.4950, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5050, 0.0, 1.0]],
        ],
        device=device,
    )
    torch.testing.assert_close(out.face_verts, want)
    torch.testing.assert_close(out.barycentric_conversion, conv)
    assert out.num_faces_per_mesh.tolist() == [2]
    assert out.faces_clipped_to_unclipped_idx.tolist() == [0, 0]
    assert out.clipped_faces_neighbor_idx.tolist() == [1, 0]
    assert out.faces_clipped_to_conversion_idx.tolist() == [0, 1]


def _mixture(device="cpu") -> Meshes:
    """PyTorch3D's test_mixture_of_cases: mesh 0 has cases 2, 4, 4, 3, 1; mesh 1 one case 4 face."""
    v0 = torch.tensor(
        [[-1.0, 0.0, -1.0], [0.0, 1.0, -1.0], [1.0, 0.0, -1.0], [0.0, -1.0, -1.0], [-1.0, 0.5, 0.5],
         [1.0, 1.0, 1.0], [0.0, -1.0, 1.0], [-1.0, 0.5, -0.5], [1.0, 1.0, -1.0], [-1.0, 0.0, 1.0],
         [0.0, 1.0, 1.0], [1.0, 0.0, 1.0]],
        device=device,
    )
    f0 = torch.tensor([[0, 1, 2], [3, 4, 5], [5, 4, 3], [6, 7, 8], [9, 10, 11]], device=device)
    v1 = torch.tensor([[0.0, -1.0, -1.0], [-1.0, 0.5, 0.5], [1.0, 1.0, 1.0]], device=device)
    return Meshes([v0, v1], [f0, torch.tensor([[0, 1, 2]], device=device)])


@pytest.mark.parametrize("device", DEVICES)
def test_mixture_of_cases_indexing(device):
    out = _clip_meshes(_mixture(device), **TEST_FRUSTUM)
    assert out.face_verts.shape == (8, 3, 3)
    assert out.clipped_faces_neighbor_idx.tolist() == [1, 0, 3, 2, -1, -1, 7, 6]
    assert out.faces_clipped_to_unclipped_idx.tolist() == [1, 1, 2, 2, 3, 4, 5, 5]
    assert out.mesh_to_face_first_idx.tolist() == [0, 6]
    assert out.num_faces_per_mesh.tolist() == [6, 2]
    # conversion rows: case 3 faces, then the t1 halves, then the t2 halves
    assert out.faces_clipped_to_conversion_idx.tolist() == [1, 4, 2, 5, 0, -1, 3, 6]
    for name in ("mesh_to_face_first_idx", "num_faces_per_mesh", "faces_clipped_to_unclipped_idx",
                 "faces_clipped_to_conversion_idx", "clipped_faces_neighbor_idx"):
        assert getattr(out, name).dtype == torch.int64, name


def _random_faces(F: int, gen: torch.Generator, dtype=torch.float64) -> torch.Tensor:
    """(F, 3, 3) faces with x, y in [-1.5, 1.5] and depths spread on both sides of 0.1, none within 0.02 of it."""
    fv = torch.rand(F, 3, 3, generator=gen, dtype=dtype) * 3 - 1.5
    z = torch.rand(F, 3, generator=gen, dtype=dtype) * 1.2 - 0.2
    z = torch.where((z - 0.1).abs() < 0.02, z + 0.05, z)
    fv[:, :, 2] = z
    return fv


def _compare(out: ClippedFaces, want: dict) -> None:
    dtype = out.face_verts.dtype
    torch.testing.assert_close(out.face_verts.cpu(), torch.tensor(want["face_verts"], dtype=dtype).reshape(-1, 3, 3))
    for name in ("mesh_to_face_first_idx", "num_faces_per_mesh", "faces_clipped_to_unclipped_idx",
                 "faces_clipped_to_conversion_idx", "clipped_faces_neighbor_idx"):
        got = getattr(out, name)
        assert (got is None) == (want[name] is None), name
        if got is not None:
            assert got.tolist() == want[name], name
    if want["barycentric_conversion"] is None:
        assert out.barycentric_conversion is None
    else:
        want_conversion = torch.tensor(want["barycentric_conversion"], dtype=dtype)
        torch.testing.assert_close(out.barycentric_conversion.cpu(), want_conversion)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("perspective_correct", [False, True])
@pytest.mark.parametrize("cull", [False, True])
def test_matches_face_by_face_reference(device, perspective_correct, cull):
    """Ragged batch with an empty mesh in the middle and at the end, against the naive loop."""
    gen = torch.Generator().manual_seed(3)
    num = torch.tensor([7, 0, 12, 5, 0])
    fv = _random_faces(int(num.sum()), gen)
    first = torch.cumsum(num, 0) - num
    frustum = ClipFrustum(left=-1, right=1, top=-1, bottom=1, znear=None, zfar=0.9,
                          perspective_correct=perspective_correct, cull=cull, z_clip_value=0.1)
    out = clip_faces(fv.to(device), first.to(device), num.to(device), frustum)
    want = clip_faces_naive(fv, first, num, frustum)
    assert want["barycentric_conversion"] is not None and len(want["face_verts"]) > 0  # every case present
    _compare(out, want)
    assert out.num_faces_per_mesh.sum() == out.face_verts.shape[0]


def test_culling_only_and_per_axis_culling():
    """Without z clipping, faces are dropped only when all three vertices are outside the same plane."""
    fv = torch.tensor(
        [
            [[-2.0, 0.0, 1.0], [-3.0, 0.5, 1.0], [-1.5, -0.5, 1.0]],  # all left of x = -1: culled
            [[-2.0, 0.0, 1.0], [3.0, 0.5, 1.0], [0.0, 5.0, 1.0]],  # spans the frustum: kept
            [[0.0, 0.0, 1.0], [0.5, 2.0, 1.0], [-0.5, 3.0, 1.0]],  # crosses y = 1: kept
            [[0.0, 0.0, 5.0], [0.5, 0.0, 6.0], [0.0, 0.5, 7.0]],  # beyond zfar: culled
            [[2.0, 2.0, 2.0], [0.0, 0.0, 1.0], [0.1, 0.0, 1.0]],  # vertex 0 outside on every axis: kept
        ]
    )
    frustum = ClipFrustum(left=-1, right=1, top=-1, bottom=1, znear=0.5, zfar=4.0)
    out = clip_faces(fv, torch.tensor([0, 2]), torch.tensor([2, 3]), frustum)
    assert out.faces_clipped_to_unclipped_idx.tolist() == [1, 2, 4]
    torch.testing.assert_close(out.face_verts, fv[[1, 2, 4]])
    assert out.mesh_to_face_first_idx.tolist() == [0, 1] and out.num_faces_per_mesh.tolist() == [1, 2]
    assert out.barycentric_conversion is None and out.clipped_faces_neighbor_idx is None
    _compare(out, clip_faces_naive(fv, torch.tensor([0, 2]), torch.tensor([2, 3]), frustum))
    kept = clip_faces(fv, torch.tensor([0]), torch.tensor([5]), ClipFrustum(left=-1, right=1, cull=False))
    assert kept.face_verts is fv and kept.faces_clipped_to_unclipped_idx is None


def test_empty_inputs():
    empty = torch.zeros(0, 3, 3)
    frustum = ClipFrustum(left=-1, right=1, z_clip_value=0.1)
    out = clip_faces(empty, torch.zeros(2, dtype=torch.int64), torch.zeros(2, dtype=torch.int64), frustum)
    assert out.face_verts.shape == (0, 3, 3) and out.num_faces_per_mesh.tolist() == [0, 0]
    # everything culled, the mesh at the end empty
    fv = torch.tensor([[[0.0, 0.0, -1.0], [1.0, 0.0, -1.0], [0.0, 1.0, -1.0]]])
    out = clip_faces(fv, torch.tensor([0, 1]), torch.tensor([1, 0]), frustum)
    assert out.face_verts.shape == (0, 3, 3)
    assert out.mesh_to_face_first_idx.tolist() == [0, 0] and out.num_faces_per_mesh.tolist() == [0, 0]
    p2f = torch.full((2, 3, 3, 1), -1)
    bary = torch.full((2, 3, 3, 1, 3), -1.0)
    got_p2f, got_bary = convert_clipped_rasterization_to_original_faces(p2f, bary, out)
    assert (got_p2f == -1).all() and (got_bary == -1).all()


@pytest.mark.parametrize("device", DEVICES)
def test_convert_matches_reference(device):
    gen = torch.Generator().manual_seed(5)
    num = torch.tensor([6, 4])
    fv = _random_faces(10, gen)
    frustum = ClipFrustum(z_clip_value=0.1, perspective_correct=True)
    out = clip_faces(fv.to(device), torch.tensor([0, 6], device=device), num.to(device), frustum)
    Fc = out.face_verts.shape[0]
    p2f = torch.randint(-1, Fc, (2, 4, 5, 3), generator=gen)
    bary = torch.rand(2, 4, 5, 3, 3, generator=gen, dtype=torch.float64)
    got_p2f, got_bary = convert_clipped_rasterization_to_original_faces(p2f.to(device), bary.to(device), out)
    want_p2f, want_bary = convert_naive(
        p2f, bary, out.faces_clipped_to_unclipped_idx.tolist(), out.barycentric_conversion.tolist(),
        out.faces_clipped_to_conversion_idx.tolist(),
    )
    assert (got_p2f.cpu() == want_p2f).all()
    torch.testing.assert_close(got_bary.cpu(), want_bary)
    assert (got_p2f < 10).all() and ((got_p2f >= 0) == (p2f.to(device) >= 0)).all()


@pytest.mark.parametrize("perspective_correct", [False, True])
def test_gradcheck_clipped_positions_and_conversion(perspective_correct):
    gen = torch.Generator().manual_seed(7)
    fv0 = _random_faces(6, gen)
    # depths that give every case: 1 (in front), 3 (two behind), 4 (one behind, at each corner), 2 (all behind)
    behind = torch.tensor([[0, 0, 0], [1, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 0], [1, 1, 1]], dtype=torch.bool)
    fv0[:, :, 2] = torch.where(behind, -fv0[:, :, 2].abs() * 0.2, 0.3 + fv0[:, :, 2].abs())
    first, num = torch.tensor([0, 4]), torch.tensor([4, 2])
    frustum = ClipFrustum(z_clip_value=0.1, perspective_correct=perspective_correct, cull=False)
    cases = clip_faces(fv0, first, num, frustum)
    assert cases.barycentric_conversion is not None and (cases.clipped_faces_neighbor_idx >= 0).any()
    Fc = cases.face_verts.shape[0]
    p2f = torch.randint(-1, Fc, (1, 3, 3, 2), generator=gen)
    bary0 = torch.rand(1, 3, 3, 2, 3, generator=gen, dtype=torch.float64)

    def positions(fv):
        return clip_faces(fv, first, num, frustum).face_verts

    def converted(fv, bary):
        return convert_clipped_rasterization_to_original_faces(p2f, bary, clip_faces(fv, first, num, frustum))[1]

    fv = fv0.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(positions, (fv,))
    assert torch.autograd.gradcheck(converted, (fv, bary0.clone().requires_grad_(True)))


def test_agrees_with_rasteriser_near_plane_clipping():
    """Rasterising the clipped faces and converting back gives the rasteriser's own z-clipped result."""
    gen = torch.Generator().manual_seed(11)
    F = 8
    view = torch.rand(F, 3, 3, generator=gen, dtype=torch.float64) * 2 - 1  # view-space x, y in [-1, 1]
    view[:, :, 2] = torch.rand(F, 3, generator=gen, dtype=torch.float64) * 2.5 - 0.5
    view[:, :, 2] = torch.where(view[:, :, 2].abs() < 0.05, torch.full_like(view[:, :, 2], 0.3), view[:, :, 2])
    fv = torch.cat((view[:, :, :2] / view[:, :, 2:], view[:, :, 2:]), 2)  # projected x, y; view depth z
    face_to_mesh = torch.tensor([0] * 5 + [1] * 3)
    z_clip = 0.2
    kw = dict(image_size=16, blur_radius=0.0, faces_per_pixel=3, perspective_correct=True)
    p2f, zbuf, bary, _ = rasterize_face_verts(fv, face_to_mesh, 2, z_clip_value=z_clip, **kw)

    out = clip_faces(fv, torch.tensor([0, 5]), torch.tensor([5, 3]),
                     ClipFrustum(z_clip_value=z_clip, perspective_correct=True, cull=False))
    assert out.clipped_faces_neighbor_idx is not None and (out.clipped_faces_neighbor_idx >= 0).any()
    clipped_to_mesh = torch.repeat_interleave(torch.arange(2), out.num_faces_per_mesh)
    p2f_c, zbuf_c, bary_c, _ = rasterize_face_verts(out.face_verts, clipped_to_mesh, 2, **kw)
    p2f_u, bary_u = convert_clipped_rasterization_to_original_faces(p2f_c, bary_c, out)
    # the two halves of a split face can both cover a pixel on their shared edge: compare the nearest face only
    both = (p2f[..., 0] >= 0) & (p2f_u[..., 0] >= 0)
    assert both.sum() > 20
    assert ((p2f[..., 0] >= 0) == (p2f_u[..., 0] >= 0)).float().mean() > 0.97
    agree = both & (p2f[..., 0] == p2f_u[..., 0])
    assert agree.float().sum() / both.sum() > 0.97
    torch.testing.assert_close(bary_u[..., 0, :][agree], bary[..., 0, :][agree], atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(zbuf_c[..., 0][agree], zbuf[..., 0][agree], atol=1e-6, rtol=1e-6)
