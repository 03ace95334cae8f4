"""Where Meshes / Pointclouds / list_to_padded behaved differently from PyTorch3D 0.7.9: now the same."""

from __future__ import annotations

import pytest
import torch

from inverse3d.renderer import TexturesAtlas, TexturesUV, TexturesVertex
from inverse3d.structures import Meshes, Pointclouds
from inverse3d.structures.utils import list_to_padded


def _quad_meshes(textures):
    verts = [torch.rand(4, 3), torch.rand(5, 3)]
    faces = [torch.tensor([[0, 1, 2], [0, 2, 3]]), torch.tensor([[0, 1, 2], [2, 3, 4], [0, 3, 4]])]
    return Meshes(verts, faces, textures=textures)


@pytest.mark.parametrize("kind", ["vertex", "uv", "atlas"])
def test_meshes_extend_returns_independent_copies(kind):
    if kind == "vertex":
        tex = TexturesVertex([torch.rand(4, 3), torch.rand(5, 3)])
        data = lambda t: t.verts_features_list()  # noqa: E731
    elif kind == "uv":
        tex = TexturesUV([torch.rand(4, 4, 3), torch.rand(2, 3, 3)],
                         [torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, 3, dtype=torch.long)],
                         [torch.rand(1, 2), torch.rand(1, 2)])
        data = lambda t: t.maps_list()  # noqa: E731
    else:
        tex = TexturesAtlas([torch.rand(2, 2, 2, 3), torch.rand(3, 2, 2, 3)])
        data = lambda t: t.atlas_list()  # noqa: E731
    meshes = _quad_meshes(tex)
    before = [t.clone() for t in data(meshes.textures)]
    ext = meshes.extend(3)
    assert len(ext) == 6
    ext.verts_list()[0].add_(1.0)
    ext.faces_list()[0][0, 0] = 3
    data(ext.textures)[0].add_(1.0)
    # the other copies and the original are untouched, as with PyTorch3D's extend
    torch.testing.assert_close(ext.verts_list()[1], meshes.verts_list()[0])
    assert ext.faces_list()[1][0, 0] == 0 and meshes.faces_list()[0][0, 0] == 0
    torch.testing.assert_close(data(ext.textures)[1], before[0])
    torch.testing.assert_close(data(meshes.textures)[0], before[0])


@pytest.mark.parametrize("padded", [False, True])
def test_pointclouds_extend_returns_independent_copies(padded):
    if padded:
        clouds = Pointclouds(torch.rand(2, 5, 3), normals=torch.rand(2, 5, 3), features=torch.rand(2, 5, 4))
    else:
        clouds = Pointclouds([torch.rand(5, 3), torch.rand(2, 3)], normals=[torch.rand(5, 3), torch.rand(2, 3)],
                             features=[torch.rand(5, 4), torch.rand(2, 4)])
    original = [t.clone() for t in (clouds.points_list()[0], clouds.normals_list()[0], clouds.features_list()[0])]
    ext = clouds.extend(2)
    for view in (ext.points_list(), ext.normals_list(), ext.features_list()):
        view[0].add_(1.0)
    for copy, orig, now in zip((ext.points_list()[1], ext.normals_list()[1], ext.features_list()[1]), original,
                               (clouds.points_list()[0], clouds.normals_list()[0], clouds.features_list()[0])):
        torch.testing.assert_close(copy, orig)
        torch.testing.assert_close(now, orig)


def test_num_edges_per_mesh_is_int32():
    meshes = _quad_meshes(None)
    assert meshes.num_edges_per_mesh().dtype == torch.int32
    assert meshes.num_edges_per_mesh().tolist() == [5, 8]
    assert meshes.mesh_to_edges_packed_first_idx().dtype == torch.int64
    assert meshes.mesh_to_edges_packed_first_idx().tolist() == [0, 5]


def test_empty_pointclouds_have_no_normals_or_features():
    clouds = Pointclouds([], normals=[], features=[])
    assert len(clouds) == 0
    assert clouds.normals_list() is None and clouds.features_list() is None
    assert clouds.normals_padded() is None and clouds.features_packed() is None
    padded = Pointclouds(torch.zeros(0, 4, 3), normals=torch.zeros(0, 4, 3))
    assert padded.normals_list() is None
    # a batch of empty clouds with (0, C) inputs keeps them, as PyTorch3D
    kept = Pointclouds([torch.zeros(0, 3)], features=[torch.zeros(0, 2)])
    assert kept.features_list()[0].shape == (0, 2)


def test_per_cloud_none_features_for_empty_clouds():
    clouds = Pointclouds([torch.rand(3, 3), torch.zeros(0, 3), torch.rand(2, 3)],
                         features=[torch.rand(3, 2), None, torch.rand(2, 2)], normals=[torch.rand(3, 3), None,
                                                                                      torch.rand(2, 3)])
    assert [tuple(f.shape) for f in clouds.features_list()] == [(3, 2), (0, 2), (2, 2)]
    assert clouds.features_padded().shape == (3, 3, 2) and clouds.normals_packed().shape == (5, 3)
    assert Pointclouds([torch.zeros(0, 3)], features=[None]).features_list() is None  # nothing useful
    with pytest.raises(ValueError, match=r"features\[0\] is None but cloud 0 has 3 points"):
        Pointclouds([torch.rand(3, 3)], features=[None])


def test_inside_box_broadcasts_as_pytorch3d():
    clouds = Pointclouds([torch.rand(6, 3) * 2 - 0.5, torch.rand(4, 3) * 2 - 0.5])
    box = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    pts = clouds.points_packed()
    inside = ((pts >= 0) & (pts <= 1)).all(dim=1)
    for b in (box, box[None], box[None].expand(2, 2, 3)):
        assert torch.equal(clouds.inside_box(b), inside)
    per_cloud = torch.stack([box, box * 0.5])
    expected = torch.cat([inside[:6], ((pts[6:] >= 0) & (pts[6:] <= 0.5)).all(dim=1)])
    assert torch.equal(clouds.inside_box(per_cloud), expected)
    with pytest.raises(ValueError, match="incompatible with pointcloud size"):
        clouds.inside_box(box[None].expand(3, 2, 3))
    with pytest.raises(ValueError, match=r"must be of shape \(2, 3\) or \(N, 2, 3\)"):
        clouds.inside_box(box.reshape(6))
    with pytest.raises(ValueError, match="minima must not exceed maxima"):
        clouds.inside_box(box.flip(0))


def test_list_to_padded_pads_to_the_non_empty_entries():
    # PyTorch3D 0.7.9's rule: the padded size is the largest size of each dimension over the entries with at
    # least one row; empty entries (0, ...) are placed as all padding whatever their other sizes.
    x = [torch.zeros(0, 5), torch.ones(2, 3), torch.tensor([]), torch.ones(1, 4)]
    out = list_to_padded(x, pad_value=-1.0)
    assert out.shape == (4, 2, 4)
    assert (out[0] == -1).all() and (out[2] == -1).all() and (out[1, :2, :3] == 1).all() and (out[3, 0] == 1).all()
    assert list_to_padded(x, pad_size=[3, 6]).shape == (4, 3, 6)
    # all entries empty: PyTorch3D fails on an empty max(); the sizes of the entries are used here
    assert list_to_padded([torch.zeros(0, 3), torch.zeros(0, 3)]).shape == (2, 0, 3)
