"""Textures: interpolation and bilinear sampling against loops, batching operations, atlases, errors."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES
from reference import shading as ref

from inverse3d.renderer import TexturesUV, TexturesVertex, interpolate_face_attributes
from inverse3d.renderer.mesh.rasterizer import Fragments
from inverse3d.renderer.mesh.textures import pack_uv_maps


def fragments_for(faces_per_mesh, H=3, W=4, K=2, dtype=torch.float64, device="cpu"):
    """Fragments of N images, image n pointing at random packed faces of mesh n (some empty)."""
    first = [sum(faces_per_mesh[:i]) for i in range(len(faces_per_mesh))]
    p2f = torch.stack(
        [torch.randint(0, f, (H, W, K)) + s for f, s in zip(faces_per_mesh, first)]
    ).to(device)
    p2f[torch.rand(p2f.shape, device=device) < 0.2] = -1
    bary = torch.rand(*p2f.shape, 3, dtype=dtype, device=device)
    bary = bary / bary.sum(-1, keepdim=True)
    z = torch.rand(p2f.shape, dtype=dtype, device=device)
    return Fragments(pix_to_face=p2f, zbuf=z, bary_coords=bary, dists=z)


# ---------------------------------------------------------------------------------------------- interpolation
@pytest.mark.parametrize("device", DEVICES)
def test_interpolate_face_attributes_matches_loop(device):
    frags = fragments_for([5, 3], device=device)
    attrs = torch.randn(8, 3, 4, dtype=torch.float64, device=device)
    out = interpolate_face_attributes(frags.pix_to_face, frags.bary_coords, attrs)
    expected = ref.interpolate_face_attributes(frags.pix_to_face.cpu(), frags.bary_coords.cpu(), attrs.cpu())
    torch.testing.assert_close(out.cpu(), expected)
    assert (out[frags.pix_to_face < 0] == 0).all()


def test_interpolate_face_attributes_gradcheck_and_errors():
    frags = fragments_for([4], H=2, W=2, K=2)
    bary = frags.bary_coords.clone().requires_grad_(True)
    attrs = torch.randn(4, 3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda b, a: interpolate_face_attributes(frags.pix_to_face, b, a), (bary, attrs))
    with pytest.raises(ValueError, match=r"\(F, 3, D\)"):
        interpolate_face_attributes(frags.pix_to_face, bary, torch.rand(4, 2, 2))
    with pytest.raises(ValueError, match="barycentric"):
        interpolate_face_attributes(frags.pix_to_face, bary[..., :2], attrs)
    with pytest.raises(ValueError, match="only 2 faces"):
        interpolate_face_attributes(frags.pix_to_face.clamp(max=3).fill_(3), bary, attrs[:2])


# ---------------------------------------------------------------------------------------------- TexturesVertex
@pytest.mark.parametrize("padded", [False, True])
def test_textures_vertex_sample(padded):
    feats = [torch.rand(4, 3, dtype=torch.float64), torch.rand(5, 3, dtype=torch.float64)]
    faces = [torch.randint(0, 4, (3, 3)), torch.randint(0, 5, (2, 3))]
    if padded:
        tex = TexturesVertex(torch.nn.utils.rnn.pad_sequence(feats, batch_first=True))
        tex._num_verts_per_mesh = [4, 5]  # what Meshes sets
    else:
        tex = TexturesVertex(feats)
    faces_packed = torch.cat([faces[0], faces[1] + 4])
    frags = fragments_for([3, 2])
    out = tex.sample_textures(frags, faces_packed=faces_packed)
    packed = torch.cat(feats)
    expected = ref.interpolate_face_attributes(frags.pix_to_face, frags.bary_coords, packed[faces_packed])
    torch.testing.assert_close(out, expected)
    assert tex.faces_verts_textures_packed(faces_packed).shape == (5, 3, 3)


def test_textures_vertex_batch_operations():
    feats = [torch.rand(4, 3), torch.rand(2, 3)]
    tex = TexturesVertex(feats)
    assert torch.equal(tex.verts_features_padded()[1, 2:], torch.zeros(2, 3))
    ext = tex.extend(2)
    assert len(ext) == 4 and torch.equal(ext.verts_features_list()[1], feats[0])
    assert torch.equal(ext.verts_features_list()[2], feats[1])
    assert torch.equal(tex[1].verts_features_list()[0], feats[1])
    assert len(tex[[1, 0]]) == 2 and len(tex[torch.tensor([True, False])]) == 1
    joined = tex.join_batch([TexturesVertex([torch.rand(3, 3)])])
    assert joined._num_verts_per_mesh == [4, 2, 3]
    assert tex.join_scene().verts_features_packed().shape == (6, 3)
    c = tex.clone()
    c.verts_features_list()[0].add_(1)
    assert not torch.equal(c.verts_features_list()[0], feats[0])
    assert tex.check_shapes(2, 4, 10) and not tex.check_shapes(2, 5, 10)
    with pytest.raises(ValueError, match="faces_packed"):
        tex.sample_textures(fragments_for([1, 1]))
    with pytest.raises(ValueError, match="NaN"):
        TexturesVertex([torch.tensor([[float("nan"), 0.0, 0.0]])])
    with pytest.raises(ValueError, match=r"\(N, V, C\)"):
        TexturesVertex(torch.rand(4, 3))


# ---------------------------------------------------------------------------------------------- TexturesUV
def _uv_inputs(sizes, faces_per_mesh, n_uvs=6, dtype=torch.float64, device="cpu"):
    maps = [torch.rand(h, w, 3, dtype=dtype, device=device) for h, w in sizes]
    verts_uvs = [torch.rand(n_uvs, 2, dtype=dtype, device=device) for _ in sizes]
    faces_uvs = [torch.randint(0, n_uvs, (f, 3), device=device) for f in faces_per_mesh]
    return maps, faces_uvs, verts_uvs


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("align_corners", [True, False])
def test_textures_uv_bilinear_matches_loop(device, align_corners):
    maps, faces_uvs, verts_uvs = _uv_inputs([(5, 7), (5, 7)], [3, 4], device=device)
    tex = TexturesUV(torch.stack(maps), torch.stack([faces_uvs[0], faces_uvs[1][:3]]), torch.stack(verts_uvs),
                     align_corners=align_corners)  # fmt: skip
    frags = fragments_for([3, 3], device=device)
    out = tex.sample_textures(frags)
    expected = ref.textures_uv_sample(
        [m.cpu() for m in maps], [faces_uvs[0].cpu(), faces_uvs[1][:3].cpu()], [v.cpu() for v in verts_uvs],
        frags.pix_to_face.cpu(), frags.bary_coords.cpu(), [3, 3], align_corners,
    )  # fmt: skip
    assert out.shape == (2, 3, 4, 2, 3)
    torch.testing.assert_close(out.cpu(), expected)


def test_textures_uv_maps_of_different_sizes_in_one_batch():
    maps, faces_uvs, verts_uvs = _uv_inputs([(4, 6), (9, 3), (4, 6)], [3, 2, 4])
    tex = TexturesUV(maps, faces_uvs, verts_uvs)
    frags = fragments_for([3, 2, 4])
    out = tex.sample_textures(frags)
    expected = ref.textures_uv_sample(maps, faces_uvs, verts_uvs, frags.pix_to_face, frags.bary_coords, [3, 2, 4])
    torch.testing.assert_close(out, expected)
    # Each map is sampled at its own size: the padded (resized) view is only for PyTorch3D compatibility.
    assert tex.maps_padded().shape == (3, 9, 6, 3)
    assert [tuple(m.shape) for m in tex.maps_list()] == [(4, 6, 3), (9, 3, 3), (4, 6, 3)]


def test_uv_convention_v_up():
    # Image with a red top row and a blue bottom row: v = 1 samples the top, v = 0 the bottom.
    image = torch.zeros(2, 2, 3)
    image[0, :, 0] = 1.0
    image[1, :, 2] = 1.0
    verts_uvs = torch.tensor([[[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]])
    faces_uvs = torch.tensor([[[0, 1, 2]]])
    tex = TexturesUV(image[None], faces_uvs, verts_uvs)
    bary = torch.eye(3)[None, None, :2, None]  # pixel 0 = corner 0 (v=1), pixel 1 = corner 1 (v=1)
    bary = torch.cat([bary, torch.tensor([0.0, 0.0, 1.0]).view(1, 1, 1, 1, 3)], dim=2)  # pixel 2 = corner 2 (v=0)
    frags = Fragments(torch.zeros(1, 1, 3, 1, dtype=torch.long), torch.ones(1, 1, 3, 1), bary, torch.ones(1, 1, 3, 1))
    out = tex.sample_textures(frags)[0, 0, :, 0]
    assert out.tolist() == [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]


def test_textures_uv_nearest_and_gradients():
    maps, faces_uvs, verts_uvs = _uv_inputs([(4, 5)], [3])
    frags = fragments_for([3], H=2, W=2, K=1)
    tex = TexturesUV(maps, faces_uvs, verts_uvs, sampling_mode="nearest")
    out = tex.sample_textures(frags)
    for idx in [(0, 0, 0, 0), (0, 1, 1, 0)]:
        f = int(frags.pix_to_face[idx])
        if f < 0:
            continue
        uv = (frags.bary_coords[idx][:, None] * verts_uvs[0][faces_uvs[0][f]]).sum(0)
        torch.testing.assert_close(out[idx], ref.sample_uv(maps[0], float(uv[0]), float(uv[1]), mode="nearest"))
    # gradients reach the map and the uvs (bilinear)
    image = maps[0].clone().requires_grad_(True)
    uvs = verts_uvs[0].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda m, v: TexturesUV([m], faces_uvs, [v]).sample_textures(frags), (image, uvs), atol=1e-6
    )


def test_textures_uv_sees_in_place_edits_of_its_maps():
    maps, faces_uvs, verts_uvs = _uv_inputs([(4, 6)], [3])
    tex = TexturesUV(maps, faces_uvs, verts_uvs)
    frags = fragments_for([3])
    assert tex.sample_textures(frags).abs().sum() > 0
    maps[0].zero_()
    assert tex.sample_textures(frags).abs().sum() == 0


def test_textures_uv_batch_operations():
    maps, faces_uvs, verts_uvs = _uv_inputs([(4, 6), (8, 8)], [3, 2])
    tex = TexturesUV(maps, faces_uvs, verts_uvs)
    ext = tex.extend(3)
    assert len(ext) == 6 and ext._num_faces_per_mesh == [3, 3, 3, 2, 2, 2]
    assert [tuple(m.shape[:2]) for m in ext.maps_list()] == [(4, 6)] * 3 + [(8, 8)] * 3
    one = tex[1]
    assert len(one) == 1 and torch.equal(one.maps_list()[0], maps[1])
    joined = tex.join_batch([tex[0]])
    assert len(joined) == 3 and joined._num_faces_per_mesh == [3, 2, 3]
    frags = fragments_for([3, 2, 3])
    expected = ref.textures_uv_sample(
        maps + maps[:1], faces_uvs + faces_uvs[:1], verts_uvs + verts_uvs[:1], frags.pix_to_face, frags.bary_coords, [3, 2, 3]
    )
    torch.testing.assert_close(joined.sample_textures(frags), expected)
    fv = tex.faces_verts_textures_packed()
    assert fv.shape == (5, 3, 3)
    uv = verts_uvs[1][faces_uvs[1][1, 2]]
    torch.testing.assert_close(fv[4, 2], ref.sample_uv(maps[1], float(uv[0]), float(uv[1])))
    c = tex.clone()
    assert c.maps_list()[0] is not maps[0] and torch.equal(c.maps_list()[0], maps[0])
    d = TexturesUV([maps[0].clone().requires_grad_(True)], faces_uvs[:1], verts_uvs[:1]).detach()
    assert not d.maps_list()[0].requires_grad
    assert tex.check_shapes(2, 100, 3) and not tex.check_shapes(2, 100, 4)
    with pytest.raises(ValueError, match="padding_mode"):
        tex.join_batch([TexturesUV(maps[:1], faces_uvs[:1], verts_uvs[:1], padding_mode="zeros")])


@pytest.mark.parametrize("align_corners", [True, False])
def test_join_scene_samples_the_same_texels(align_corners):
    maps, faces_uvs, verts_uvs = _uv_inputs([(4, 6), (9, 3), (5, 5)], [3, 2, 4])
    verts_uvs = [v.clamp(0.02, 0.98) for v in verts_uvs]
    tex = TexturesUV(maps, faces_uvs, verts_uvs, align_corners=align_corners)
    scene = tex.join_scene()
    assert len(scene) == 1 and len(scene.maps_list()) == 1
    frags = fragments_for([3, 2, 4], H=2, W=3, K=2)
    before = tex.sample_textures(frags)  # (3, H, W, K, C): image n sees mesh n
    # The scene is one mesh holding all packed faces: render every image's faces in one image.
    scene_frags = Fragments(
        frags.pix_to_face.permute(1, 0, 2, 3).reshape(1, 2, 9, 2),
        frags.zbuf.permute(1, 0, 2, 3).reshape(1, 2, 9, 2),
        frags.bary_coords.permute(1, 0, 2, 3, 4).reshape(1, 2, 9, 2, 3),
        frags.dists.permute(1, 0, 2, 3).reshape(1, 2, 9, 2),
    )
    after = scene.sample_textures(scene_frags).reshape(2, 3, 3, 2, 3).permute(1, 0, 2, 3, 4)
    valid = frags.pix_to_face >= 0
    torch.testing.assert_close(after[valid], before[valid])


def test_pack_uv_maps_stores_identical_maps_once_and_keeps_gradients():
    image = torch.rand(4, 4, 3)
    other = torch.rand(2, 3, 3, requires_grad=True)
    atlas, uvs = pack_uv_maps([image, image.clone(), other], [torch.rand(2, 2)] * 3)
    assert atlas.shape[0] * atlas.shape[1] < 2 * 16 + 6
    atlas.sum().backward()
    assert torch.equal(other.grad, torch.ones(2, 3, 3))


def test_textures_uv_bad_inputs_raise():
    maps, faces_uvs, verts_uvs = _uv_inputs([(4, 6)], [3])
    with pytest.raises(ValueError, match="NaN"):
        TexturesUV([maps[0] * float("nan")], faces_uvs, verts_uvs)
    with pytest.raises(ValueError, match="verts_uvs"):
        TexturesUV(maps, faces_uvs, [torch.rand(4, 3)])
    with pytest.raises(ValueError, match="index uv"):
        TexturesUV(maps, [faces_uvs[0] + 100], verts_uvs)
    with pytest.raises(ValueError, match="one texture map per mesh"):
        TexturesUV(maps * 2, faces_uvs, verts_uvs)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        TexturesUV(maps[0], faces_uvs[0][None], verts_uvs[0][None])
    with pytest.raises(ValueError, match="padding_mode"):
        TexturesUV(maps, faces_uvs, verts_uvs, padding_mode="wrap")
    with pytest.raises(ValueError, match="batch size"):
        TexturesUV(maps, faces_uvs, verts_uvs).sample_textures(fragments_for([3, 3]))
