"""Shaders on hand-made fragments of tiny meshes: values against loops, overrides, gradients."""

from __future__ import annotations

import pytest
import torch
from reference import shading as ref

from inverse3d.renderer import (
    AmbientLights,
    BlendParams,
    DirectionalLights,
    FoVPerspectiveCameras,
    HardDepthShader,
    HardFlatShader,
    HardGouraudShader,
    HardNormalShader,
    HardPhongShader,
    Materials,
    PerspectiveCameras,
    PointLights,
    SoftGouraudShader,
    SoftPhongShader,
    SoftSilhouetteShader,
    TexturesVertex,
)
from inverse3d.renderer.mesh.rasterizer import Fragments
from inverse3d.structures import Meshes

F64 = torch.float64


def tiny_mesh(dtype=F64, verts=None, colors=None):
    """Two triangles of a bent quad, each vertex with its own colour."""
    if verts is None:
        verts = torch.tensor([[-1.0, -1.0, 0.0], [1.0, -1.0, 0.2], [1.0, 1.0, 0.0], [-1.0, 1.0, -0.3]], dtype=dtype)
    if colors is None:
        colors = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]], dtype=dtype)
    faces = torch.tensor([[0, 2, 1], [0, 3, 2]])  # normals towards -z, facing the cameras at z < 0
    return Meshes([verts], [faces], textures=TexturesVertex([colors]))


def tiny_fragments(N=1, H=2, W=3, K=2, dtype=F64, num_faces=2, empty=0.25):
    p2f = torch.randint(0, num_faces, (N, H, W, K))
    for n in range(N):
        p2f[n] += n * num_faces
    p2f[torch.rand(N, H, W, K) < empty] = -1
    p2f[0, 0, 0] = torch.arange(K) % num_faces  # at least one covered pixel
    bary = torch.rand(N, H, W, K, 3, dtype=dtype) + 0.1
    bary = bary / bary.sum(-1, keepdim=True)
    zbuf = (torch.rand(N, H, W, K, dtype=dtype) + 2.0).sort(-1).values
    dists = (torch.rand(N, H, W, K, dtype=dtype) - 0.5) * 2e-2
    return Fragments(p2f, zbuf, bary, dists)


def camera(dtype=F64):
    return FoVPerspectiveCameras(R=torch.eye(3, dtype=dtype)[None], T=torch.tensor([[0.1, -0.2, 3.0]], dtype=dtype))


def reference_phong_colors(mesh, frags, light_loc, cam_center, ambient=0.5, diffuse=0.3, specular=0.2, shin=64.0):
    """Per-fragment Phong colours from the reference formula (loops)."""
    verts, faces = mesh.verts_packed(), mesh.faces_packed()
    normals = mesh.verts_normals_packed()
    colors = mesh.textures.verts_features_packed()
    pts = ref.interpolate_face_attributes(frags.pix_to_face, frags.bary_coords, verts[faces])
    nrm = ref.interpolate_face_attributes(frags.pix_to_face, frags.bary_coords, normals[faces])
    tex = ref.interpolate_face_attributes(frags.pix_to_face, frags.bary_coords, colors[faces])
    out = torch.zeros_like(tex)
    N, H, W, K = frags.pix_to_face.shape
    for n in range(N):
        for y in range(H):
            for x in range(W):
                for k in range(K):
                    if frags.pix_to_face[n, y, x, k] < 0:
                        continue
                    out[n, y, x, k] = torch.tensor(
                        ref.phong_point(
                            pts[n, y, x, k].tolist(), nrm[n, y, x, k].tolist(), light_loc, cam_center,
                            [ambient] * 3, [diffuse] * 3, [specular] * 3, shin, tex[n, y, x, k].tolist(),
                        )  # fmt: skip
                    )
    return out


def test_hard_phong_matches_reference():
    mesh, frags, cams = tiny_mesh(), tiny_fragments(K=2), camera()
    light = [0.3, 0.5, -2.0]
    shader = HardPhongShader(cameras=cams, lights=PointLights(location=[light]), blend_params=BlendParams(background_color=(0, 0, 0)))
    out = shader(frags, mesh)
    colors = reference_phong_colors(mesh, frags, light, cams.get_camera_center()[0].tolist())
    expected = ref.hard_rgb_blend(colors, frags.pix_to_face, (0.0, 0.0, 0.0))
    assert out.shape == (1, 2, 3, 4)
    torch.testing.assert_close(out, expected)


def test_soft_phong_matches_reference_and_uses_camera_depth_range():
    mesh, frags = tiny_mesh(), tiny_fragments(K=3)
    cams = FoVPerspectiveCameras(znear=0.5, zfar=10.0, R=torch.eye(3, dtype=F64)[None], T=torch.tensor([[0.0, 0.0, 3.0]], dtype=F64))
    params = BlendParams(sigma=1e-2, gamma=1e-1)
    out = SoftPhongShader(cameras=cams, blend_params=params)(frags, mesh)
    colors = reference_phong_colors(mesh, frags, [0.0, 1.0, 0.0], [0.0, 0.0, -3.0])
    expected = ref.softmax_rgb_blend(
        colors, frags.pix_to_face, frags.dists, frags.zbuf, 1e-2, 1e-1, (1.0, 1.0, 1.0), znear=0.5, zfar=10.0
    )
    torch.testing.assert_close(out, expected)


def test_kwargs_override_constructor_arguments():
    mesh, frags, cams = tiny_mesh(), tiny_fragments(), camera()
    shader = HardPhongShader(cameras=cams)
    default = shader(frags, mesh)
    dark = shader(frags, mesh, lights=AmbientLights(ambient_color=[[0.0, 0.0, 0.0]]))
    covered = frags.pix_to_face[..., 0] >= 0
    assert (dark[..., :3][covered] == 0).all() and not torch.equal(default, dark)
    green_bg = shader(frags, mesh, blend_params=BlendParams(background_color=(0.0, 1.0, 0.0)))
    assert (green_bg[~covered][:, :3] == torch.tensor([0.0, 1.0, 0.0], dtype=F64)).all()
    shiny = shader(frags, mesh, materials=Materials(ambient_color=[[0.2, 0.2, 0.2]]))
    assert not torch.equal(shiny, default)
    with pytest.raises(ValueError, match="Cameras must be specified"):
        HardPhongShader()(frags, mesh)
    assert torch.equal(HardPhongShader()(frags, mesh, cameras=cams), default)


def test_ambient_only_gives_texture_times_ambient():
    mesh, frags, cams = tiny_mesh(), tiny_fragments(K=1), camera()
    out = HardPhongShader(cameras=cams, lights=AmbientLights(ambient_color=[[0.5, 0.5, 0.5]]))(frags, mesh)
    tex = mesh.sample_textures(frags)[..., 0, :]
    covered = frags.pix_to_face[..., 0] >= 0
    torch.testing.assert_close(out[..., :3][covered], 0.5 * tex[covered])


def test_gouraud_equals_phong_on_a_flat_face_with_directional_light():
    verts = torch.tensor([[-1.0, -1.0, 0.0], [1.0, -1.0, 0.0], [1.0, 1.0, 0.0], [-1.0, 1.0, 0.0]], dtype=F64)
    mesh, frags, cams = tiny_mesh(verts=verts), tiny_fragments(K=1), camera()
    lights = DirectionalLights(direction=[[0.3, 0.2, -1.0]], specular_color=[[0.0, 0.0, 0.0]])
    phong = HardPhongShader(cameras=cams, lights=lights)(frags, mesh)
    gouraud = HardGouraudShader(cameras=cams, lights=lights)(frags, mesh)
    flat_mesh = tiny_mesh(verts=verts, colors=torch.full((4, 3), 0.7, dtype=F64))
    flat = HardFlatShader(cameras=cams, lights=lights)(frags, flat_mesh)
    phong_flat = HardPhongShader(cameras=cams, lights=lights)(frags, flat_mesh)
    torch.testing.assert_close(gouraud, phong)
    torch.testing.assert_close(flat, phong_flat)
    soft = SoftGouraudShader(cameras=cams, lights=lights)(frags, mesh)
    assert soft.shape == (1, 2, 3, 4)


def test_flat_shading_is_constant_per_face():
    mesh, cams = tiny_mesh(colors=torch.full((4, 3), 0.8, dtype=F64)), camera()
    p2f = torch.zeros(1, 2, 2, 1, dtype=torch.long)
    bary = torch.rand(1, 2, 2, 1, 3, dtype=F64)
    bary = bary / bary.sum(-1, keepdim=True)
    frags = Fragments(p2f, torch.ones(1, 2, 2, 1, dtype=F64), bary, torch.zeros(1, 2, 2, 1, dtype=F64))
    out = HardFlatShader(cameras=cams)(frags, mesh)
    assert torch.allclose(out, out[0, :1, :1].expand_as(out))


def test_gouraud_needs_vertex_textures():
    mesh = tiny_mesh()
    mesh.textures = None
    with pytest.raises(ValueError, match="TexturesVertex"):
        HardGouraudShader(cameras=camera())(tiny_fragments(), mesh)
    with pytest.raises(ValueError, match="no textures"):
        HardPhongShader(cameras=camera())(tiny_fragments(), mesh)


def test_depth_and_normal_shaders():
    verts = torch.tensor([[-1.0, -1.0, 0.0], [1.0, -1.0, 0.0], [1.0, 1.0, 0.0], [-1.0, 1.0, 0.0]], dtype=F64)
    mesh, frags = tiny_mesh(verts=verts), tiny_fragments(K=2)
    cams = FoVPerspectiveCameras(zfar=50.0, R=torch.eye(3, dtype=F64)[None], T=torch.tensor([[0.0, 0.0, 3.0]], dtype=F64))
    depth = HardDepthShader(cameras=cams)(frags, mesh)
    covered = frags.pix_to_face[..., 0] >= 0
    assert depth.shape == (1, 2, 3, 1)
    torch.testing.assert_close(depth[..., 0][covered], frags.zbuf[..., 0][covered])
    assert (depth[..., 0][~covered] == 50.0).all()
    # Without a zfar on the cameras (PerspectiveCameras) the background is 100, as in PyTorch3D.
    plain = PerspectiveCameras(R=torch.eye(3, dtype=F64)[None], T=torch.tensor([[0.0, 0.0, 3.0]], dtype=F64))
    assert (HardDepthShader()(frags, mesh, cameras=plain)[..., 0][~covered] == 100.0).all()
    normals = HardNormalShader(blend_params=BlendParams(background_color=(0.0, 0.0, 0.0)))(frags, mesh)
    n = mesh.faces_normals_packed()[0]  # the quad is flat: every vertex normal is the face normal
    torch.testing.assert_close(normals[..., :3][covered], ((n + 1) / 2).expand(int(covered.sum()), 3))
    assert (normals[..., 3][~covered] == 0).all() and (normals[..., :3][~covered] == 0).all()


def test_batch_with_per_image_lights_equals_single_renders():
    m1 = tiny_mesh()
    m2 = tiny_mesh(verts=m1.verts_packed() * 0.5 + 0.1, colors=torch.rand(4, 3, dtype=F64))
    batch = Meshes([m1.verts_packed(), m2.verts_packed()], [m1.faces_packed()] * 2,
                   textures=TexturesVertex([m1.textures.verts_features_packed(), m2.textures.verts_features_packed()]))  # fmt: skip
    frags = tiny_fragments(N=2, K=2)
    locs = torch.tensor([[0.0, 1.0, -2.0], [1.0, 0.0, -3.0]], dtype=F64)
    cams = FoVPerspectiveCameras(R=torch.eye(3, dtype=F64).expand(2, 3, 3), T=torch.tensor([[0.0, 0, 3], [0.5, 0, 4]], dtype=F64))
    mats = Materials(shininess=torch.tensor([10.0, 30.0]))
    for cls in (HardPhongShader, SoftPhongShader, HardGouraudShader, HardFlatShader):
        shader = cls(cameras=cams, lights=PointLights(location=locs), materials=mats)
        out = shader(frags, batch)
        for i, mesh in enumerate((m1, m2)):
            one = Fragments(
                (frags.pix_to_face[i : i + 1] - 2 * i).clamp(min=-1), frags.zbuf[i : i + 1],
                frags.bary_coords[i : i + 1], frags.dists[i : i + 1],
            )  # fmt: skip
            single = cls(cameras=cams[i], lights=PointLights(location=locs[i : i + 1]),
                         materials=Materials(shininess=mats.shininess[i : i + 1]))(one, mesh)  # fmt: skip
            torch.testing.assert_close(out[i : i + 1], single, msg=cls.__name__)


def test_gradcheck_soft_phong():
    frags = tiny_fragments(H=2, W=2, K=2)
    verts0 = tiny_mesh().verts_packed().clone()
    colors0 = torch.rand(4, 3, dtype=F64)
    cams = camera()
    lights = PointLights(location=[[0.5, 1.0, -2.0]])

    def fn(verts, colors, dists, zbuf):
        mesh = tiny_mesh(verts=verts, colors=colors)
        f = Fragments(frags.pix_to_face, zbuf, frags.bary_coords, dists)
        shader = SoftPhongShader(cameras=cams, lights=lights, materials=Materials(shininess=4.0),
                                 blend_params=BlendParams(sigma=1e-2, gamma=1e-1))  # fmt: skip
        return shader(f, mesh)

    inputs = (verts0.requires_grad_(True), colors0.requires_grad_(True), frags.dists.clone().requires_grad_(True),
              frags.zbuf.clone().requires_grad_(True))  # fmt: skip
    assert torch.autograd.gradcheck(fn, inputs)


def test_gradcheck_soft_silhouette():
    frags = tiny_fragments(H=2, W=3, K=3)
    mesh = tiny_mesh()

    def fn(dists):
        return SoftSilhouetteShader(BlendParams(sigma=1e-2))(Fragments(frags.pix_to_face, frags.zbuf, frags.bary_coords, dists), mesh)

    dists = frags.dists.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(fn, (dists,))
    out = fn(dists)
    assert out.shape == (1, 2, 3, 4) and (out[..., :3] == 1).all()
    assert torch.equal(SoftSilhouetteShader()(frags, mesh, blend_params=BlendParams(sigma=1e-2)), out.detach())
