"""PyTorch3D's texture features: TexturesAtlas, TexturesUV with several maps per mesh (maps_ids),
TexturesUV.centers_for_image, and the packed layout of maps in join_scene (pack_rectangles)."""

from __future__ import annotations

import random

import pytest
import torch
from reference import textures as ref

from inverse3d.renderer import (AmbientLights, FoVPerspectiveCameras, HardFlatShader, MeshRasterizer, MeshRenderer,
                                RasterizationSettings, TexturesAtlas, TexturesUV, look_at_view_transform)
from inverse3d.renderer.mesh.rasterizer import Fragments
from inverse3d.renderer.mesh.utils import (PackedRectangle, PackedRectangles, Rectangle, pack_rectangles,
                                           pack_unique_rectangles)
from inverse3d.structures import Meshes, join_meshes_as_scene
from inverse3d.utils import ico_sphere

F64 = torch.float64


def fragments_for(faces_per_mesh, H=3, W=4, K=2, dtype=F64, seed=0, spread=1.0):
    """Fragments of N images, image n pointing at random packed faces of mesh n (some empty)."""
    g = torch.Generator().manual_seed(seed)
    first = [sum(faces_per_mesh[:i]) for i in range(len(faces_per_mesh))]
    p2f = torch.stack([torch.randint(0, f, (H, W, K), generator=g) + s for f, s in zip(faces_per_mesh, first)])
    p2f[torch.rand(p2f.shape, generator=g) < 0.2] = -1
    bary = torch.rand(*p2f.shape, 3, generator=g, dtype=dtype) ** spread
    bary = bary / bary.sum(-1, keepdim=True)
    z = torch.rand(p2f.shape, generator=g, dtype=dtype)
    return Fragments(pix_to_face=p2f, zbuf=z, bary_coords=bary, dists=z)


# ------------------------------------------------------------------------------------------------ TexturesAtlas
@pytest.mark.parametrize("R", [1, 2, 5])
def test_atlas_sampling_matches_loop(R):
    atlas = [torch.rand(4, R, R, 3, dtype=F64), torch.rand(3, R, R, 3, dtype=F64)]
    tex = TexturesAtlas(atlas)
    frags = fragments_for([4, 3], spread=3.0)  # barycentrics near the corners and edges too
    out = tex.sample_textures(frags)
    torch.testing.assert_close(out, ref.atlas_sample(tex.atlas_packed(), frags.pix_to_face, frags.bary_coords))
    assert (out[frags.pix_to_face < 0] == 0).all()
    # padded input gives the same (sizes set by Meshes)
    padded = TexturesAtlas(tex.atlas_padded())
    padded._num_faces_per_mesh = [4, 3]
    torch.testing.assert_close(padded.sample_textures(frags), out)


def test_atlas_corners_gradients_and_batch_operations():
    atlas = torch.rand(2, 3, 4, 4, 3, dtype=F64)
    tex = TexturesAtlas(atlas)
    corners = tex.faces_verts_textures_packed()  # (6, 3, 3): cells at bary (1, 0), (0, 1), (0, 0)
    torch.testing.assert_close(corners[:, 0], atlas.reshape(6, 4, 4, 3)[:, 0, -1])
    torch.testing.assert_close(corners[:, 1], atlas.reshape(6, 4, 4, 3)[:, -1, 0])
    torch.testing.assert_close(corners[:, 2], atlas.reshape(6, 4, 4, 3)[:, 0, 0])
    frags = fragments_for([3, 3])
    a = atlas.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: TexturesAtlas(t).sample_textures(frags), (a,))

    ext = tex.extend(2)
    assert len(ext) == 4 and ext._num_faces_per_mesh == [3, 3, 3, 3]
    torch.testing.assert_close(ext.atlas_list()[1], atlas[0])
    ext.atlas_list()[0].zero_()  # independent copies
    assert ext.atlas_list()[1].abs().sum() > 0 and atlas.abs().sum() > 0 and tex.atlas_list()[0].abs().sum() > 0
    torch.testing.assert_close(tex[1].atlas_padded()[0], atlas[1])
    joined = tex.join_batch([TexturesAtlas([torch.rand(5, 4, 4, 3, dtype=F64)])])
    assert joined._num_faces_per_mesh == [3, 3, 5] and joined.atlas_padded().shape == (3, 5, 4, 4, 3)
    assert joined.join_scene().atlas_packed().shape == (11, 4, 4, 3)
    assert tex.clone().atlas_padded().data_ptr() != atlas.data_ptr()
    assert not TexturesAtlas(a).detach().atlas_padded().requires_grad
    sub = tex.submeshes(None, [[torch.tensor([0, 2])], [torch.tensor([1])]])
    assert sub._num_faces_per_mesh == [2, 1]
    torch.testing.assert_close(sub.atlas_list()[0], atlas[0, [0, 2]])
    assert tex.check_shapes(2, 10, 3) and not tex.check_shapes(2, 10, 4)
    with pytest.raises(ValueError, match="same value of R"):
        TexturesAtlas([torch.rand(2, 3, 3, 3), torch.rand(2, 4, 4, 3)])
    with pytest.raises(ValueError, match=r"\(N, F, R, R, C\)"):
        TexturesAtlas(torch.rand(2, 3, 4, 3))
    with pytest.raises(ValueError, match="TexturesAtlas"):
        tex.join_batch([TexturesUV([torch.rand(2, 2, 3)], [torch.zeros(1, 3, dtype=torch.long)], [torch.rand(1, 2)])])


def test_atlas_renders_on_meshes():
    sphere = ico_sphere(1)
    F = sphere.faces_packed().shape[0]
    colours = torch.rand(F, 3)
    mesh = Meshes(sphere.verts_list(), sphere.faces_list(),
                  textures=TexturesAtlas([colours[:, None, None].expand(F, 3, 3, 3)]))
    R, T = look_at_view_transform(2.7, 10, 20)
    cameras = FoVPerspectiveCameras(R=R, T=T)
    rasterizer = MeshRasterizer(cameras, RasterizationSettings(image_size=32))
    image = MeshRenderer(rasterizer, HardFlatShader(cameras=cameras, lights=AmbientLights()))(mesh.extend(2))
    frags = rasterizer(mesh)
    covered = frags.pix_to_face[0, ..., 0] >= 0
    torch.testing.assert_close(image[0, ..., :3][covered], colours[frags.pix_to_face[0, ..., 0][covered]])
    torch.testing.assert_close(image[1], image[0])


# ------------------------------------------------------------------------------------------- several maps per mesh
def _multi(align_corners=True, mode="bilinear", padded=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    faces = [3, 4]
    maps = [torch.rand(3, 5, 6, 2, generator=g, dtype=F64), torch.rand(2, 4, 7, 2, generator=g, dtype=F64)]
    ids = [torch.tensor([2, 0, 1]), torch.tensor([1, 1, 0, 1])]
    faces_uvs = [torch.randint(0, 5, (f, 3), generator=g) for f in faces]
    verts_uvs = [torch.rand(5, 2, generator=g, dtype=F64) for _ in faces]
    if padded:  # one size for all meshes
        maps = [torch.rand(3, 5, 6, 2, generator=g, dtype=F64) for _ in faces]
        tex = TexturesUV(torch.stack(maps), faces_uvs, verts_uvs, maps_ids=torch.stack([
            torch.tensor([2, 0, 1, 0]), torch.tensor([1, 2, 0, 1])]), align_corners=align_corners,
            sampling_mode=mode)
        ids = [torch.tensor([2, 0, 1]), torch.tensor([1, 2, 0, 1])]
        tex._num_faces_per_mesh = faces
        tex._maps_ids_list = None
    else:
        tex = TexturesUV(maps, faces_uvs, verts_uvs, maps_ids=ids, align_corners=align_corners, sampling_mode=mode)
    return tex, maps, ids, faces_uvs, verts_uvs, faces


@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padded", [False, True])
def test_maps_ids_sampling_matches_loop(align_corners, mode, padded):
    tex, maps, ids, faces_uvs, verts_uvs, faces = _multi(align_corners, mode, padded)
    frags = fragments_for(faces)
    out = tex.sample_textures(frags)
    expected = ref.multi_map_sample(maps, ids, faces_uvs, verts_uvs, frags.pix_to_face, frags.bary_coords, faces,
                                    align_corners, mode)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=1e-6)
    # the face corners sample the face's map too
    corners = tex.faces_verts_textures_packed()
    for n, first in ((0, 0), (1, 3)):
        for f in range(faces[n]):
            for j in range(3):
                uv = verts_uvs[n][faces_uvs[n][f, j]].tolist()
                want = ref.sample_uv(maps[n][int(ids[n][f])], uv[0], uv[1], align_corners, mode)
                torch.testing.assert_close(corners[first + f, j], want, atol=1e-6, rtol=1e-6)


def test_maps_ids_one_map_gradients_and_batch_operations():
    # M = 1 (where PyTorch3D's depth coordinate 2 id / (M - 1) - 1 divides by zero) samples that map.
    maps = torch.rand(1, 1, 4, 4, 3, dtype=F64)
    uvs = torch.rand(1, 3, 2, dtype=F64)
    faces_uvs = torch.tensor([[[0, 1, 2]]])
    one = TexturesUV(maps, faces_uvs, uvs, maps_ids=torch.zeros(1, 1, dtype=torch.long))
    plain = TexturesUV(maps[:, 0], faces_uvs, uvs)
    frags = fragments_for([1])
    torch.testing.assert_close(one.sample_textures(frags), plain.sample_textures(frags))

    tex, maps_l, ids, faces_uvs_l, verts_uvs_l, faces = _multi()
    frags = fragments_for(faces, H=2, W=2, K=1)
    m = [x.clone().requires_grad_(True) for x in maps_l]
    v = [x.clone().requires_grad_(True) for x in verts_uvs_l]

    def fn(m0, m1, v0, v1):
        return TexturesUV([m0, m1], faces_uvs_l, [v0, v1], maps_ids=ids).sample_textures(frags)

    assert torch.autograd.gradcheck(fn, (*m, *v))

    ext = tex.extend(2)
    assert len(ext) == 4 and [i.tolist() for i in ext.maps_ids_list()] == [[2, 0, 1]] * 2 + [[1, 1, 0, 1]] * 2
    ext.maps_ids_list()[0][0] = 1
    assert ext.maps_ids_list()[1][0] == 2 and ids[0][0] == 2  # independent copies
    assert tex[1].maps_ids_list()[0].tolist() == [1, 1, 0, 1] and tex[1].maps_list()[0].shape == (2, 4, 7, 2)
    assert tex.maps_ids_padded().tolist() == [[2, 0, 1, 0], [1, 1, 0, 1]]
    assert tex.maps_padded().shape == (2, 3, 5, 7, 2)
    joined = tex.join_batch([tex[0]])
    assert len(joined) == 3 and joined.maps_ids_list()[2].tolist() == [2, 0, 1]
    sub = tex.submeshes(None, [[torch.tensor([0, 2])], [torch.tensor([3])]])
    assert [i.tolist() for i in sub.maps_ids_list()] == [[2, 1], [1]]
    torch.testing.assert_close(tex.clone().sample_textures(fragments_for(faces)),
                               tex.sample_textures(fragments_for(faces)))
    with pytest.raises(NotImplementedError, match="join_scene does not support multiple maps"):
        tex.join_scene()
    with pytest.raises(NotImplementedError, match="multiple maps"):
        tex[0].centers_for_image(0)
    with pytest.raises(ValueError, match="maps_ids of mesh 1 name maps 0..2 but the mesh has 2 maps"):
        TexturesUV(maps_l, faces_uvs_l, verts_uvs_l, maps_ids=[ids[0], torch.tensor([1, 2, 0, 1])])
    with pytest.raises(ValueError, match="same number of faces"):
        TexturesUV(maps_l, faces_uvs_l, verts_uvs_l, maps_ids=[ids[0], torch.tensor([1, 0])])
    with pytest.raises(ValueError, match=r"\(M, H, W, C\)"):
        TexturesUV([x[0] for x in maps_l], faces_uvs_l, verts_uvs_l, maps_ids=ids)


# ------------------------------------------------------------------------------------------- centers_for_image
@pytest.mark.parametrize("align_corners", [True, False])
def test_centers_for_image(align_corners):
    uvs = torch.rand(7, 2)
    tex = TexturesUV([torch.rand(5, 8, 3)], [torch.zeros(1, 3, dtype=torch.long)], [uvs], align_corners=align_corners)
    torch.testing.assert_close(tex.centers_for_image(0), ref.texel_centres(uvs, 5, 8, align_corners))
    with pytest.raises(ValueError, match="only supports plotting textures for one mesh"):
        tex.extend(2).centers_for_image(0)


# ------------------------------------------------------------------------------------------- packing of maps
def test_pack_rectangles_layouts():
    # Worked by hand from the algorithm: the largest first, the second on top of it, then each one to the right of
    # those above the first where it fits (as is, else turned), otherwise on top of the stack.
    assert pack_rectangles([(10, 4), (6, 8), (3, 3)]) == PackedRectangles(
        (10, 13), [PackedRectangle(0, 0, False, True), PackedRectangle(0, 4, True, True),
                   PackedRectangle(0, 10, False, True)])
    assert pack_rectangles([(10, 2), (6, 3), (4, 1), (4, 1)]) == PackedRectangles(
        (10, 5), [PackedRectangle(0, 0, False, True), PackedRectangle(0, 2, False, True),
                  PackedRectangle(6, 3, False, True), PackedRectangle(6, 2, False, True)])
    with pytest.raises(ValueError, match="Cannot pack less than two boxes"):
        pack_rectangles([(3, 3)])
    same = pack_unique_rectangles([Rectangle(4, 5, 7), Rectangle(4, 5, 7), Rectangle(4, 5, 7)])
    assert same == PackedRectangles((4, 5), [PackedRectangle(0, 0, False, True), PackedRectangle(0, 0, False, False),
                                             PackedRectangle(0, 0, False, False)])
    mixed = pack_unique_rectangles([Rectangle(10, 4, 1), Rectangle(6, 8, 2), Rectangle(10, 4, 1)])
    assert mixed.locations[2] == mixed.locations[0]._replace(is_first=False) and mixed.locations[0].is_first


def test_pack_rectangles_never_overlap():
    rng = random.Random(0)
    for _ in range(200):
        sizes = [(rng.randint(1, 30), rng.randint(1, 30)) for _ in range(rng.randint(2, 9))]
        total, locations = pack_rectangles(sizes)
        placed = []
        for (a, b), loc in zip(sizes, locations):
            w, h = (b, a) if loc.flipped else (a, b)  # extent along x, y
            assert loc.is_first and 0 <= loc.x and loc.x + w <= total[0] and 0 <= loc.y and loc.y + h <= total[1]
            placed.append((loc.x, loc.y, w, h))
        assert not ref.rectangles_overlap(placed), sizes


@pytest.mark.parametrize("align_corners,padding", [(True, "border"), (False, "border"), (False, "zeros")])
def test_join_scene_layout_and_samples(align_corners, padding):
    g = torch.Generator().manual_seed(1)
    shared = torch.rand(6, 8, 3, generator=g)  # stored turned (6 < 8), and used by two meshes
    maps = [torch.rand(10, 4, 3, generator=g), shared, torch.rand(3, 3, 3, generator=g), shared]
    faces_uvs = [torch.randint(0, 6, (5, 3), generator=g) for _ in maps]
    verts_uvs = [torch.rand(6, 2, generator=g) * 0.9 + 0.05 for _ in maps]
    tex = TexturesUV(maps, faces_uvs, verts_uvs, align_corners=align_corners, padding_mode=padding)
    joined = tex.join_scene()
    border = 0 if align_corners else 2
    plan = pack_unique_rectangles([Rectangle(m.shape[0] + border, m.shape[1] + border, id(m)) for m in maps])
    assert tuple(joined.maps_list()[0].shape[:2]) == plan.total_size
    assert plan.locations[1].flipped and plan.locations[3] == plan.locations[1]._replace(is_first=False)
    # Sampling the joined map at the remapped uvs gives what each map gave.
    frags = fragments_for([5] * 4, H=4, W=4, K=2)
    scene = Fragments(frags.pix_to_face.reshape(1, 16, 4, 2).contiguous(), frags.zbuf.reshape(1, 16, 4, 2),
                      frags.bary_coords.reshape(1, 16, 4, 2, 3).to(torch.float32), frags.dists.reshape(1, 16, 4, 2))
    separate = tex.sample_textures(Fragments(frags.pix_to_face, frags.zbuf, frags.bary_coords.to(torch.float32),
                                             frags.dists)).reshape(1, 16, 4, 2, 3)
    covered = scene.pix_to_face >= 0
    torch.testing.assert_close(joined.sample_textures(scene)[covered], separate[covered], atol=1e-5, rtol=0)


def test_join_meshes_as_scene_uses_the_packed_layout():
    sphere = ico_sphere(0)
    F = sphere.faces_packed().shape[0]
    maps = [torch.rand(4, 9, 3), torch.rand(7, 5, 3)]
    meshes = Meshes([sphere.verts_packed()] * 2, [sphere.faces_packed()] * 2,
                    textures=TexturesUV(maps, [torch.randint(0, 3, (F, 3))] * 2, [torch.rand(3, 2)] * 2))
    scene = join_meshes_as_scene(meshes)
    plan = pack_rectangles([(4, 9), (7, 5)])
    assert tuple(scene.textures.maps_list()[0].shape[:2]) == plan.total_size
