"""End-to-end mesh rendering: golden images, textures through join_meshes_as_scene, several materials,
soft-silhouette gradients with respect to the vertices.

Golden images live in tests/renderer/golden/; set INVERSE3D_REGEN_GOLDEN=1 to rewrite them (then look at them).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from inverse3d.renderer import (
    AmbientLights,
    BlendParams,
    FoVPerspectiveCameras,
    HardPhongShader,
    MeshRasterizer,
    MeshRenderer,
    MeshRendererWithFragments,
    PointLights,
    RasterizationSettings,
    SoftPhongShader,
    SoftSilhouetteShader,
    TexturesUV,
    TexturesVertex,
)
from inverse3d.structures import Meshes, join_meshes_as_scene
from inverse3d.utils import ico_sphere

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("INVERSE3D_REGEN_GOLDEN") == "1"


def seed_camera(dtype=torch.float32):
    """The course's camera: R = I, T = (0, 0, 3), 60 degrees (it sits at z = -3 looking along +z)."""
    return FoVPerspectiveCameras(R=torch.eye(3, dtype=dtype)[None], T=torch.tensor([[0.0, 0.0, 3.0]], dtype=dtype), fov=60)


def renderer(size, shader=None, **raster):
    settings = RasterizationSettings(image_size=size, **raster)
    return MeshRenderer(MeshRasterizer(raster_settings=settings), shader or HardPhongShader())


def check_golden(name: str, image: torch.Tensor, tol: float = 0.01) -> None:
    """Compares an (H, W, 3) image in [0, 1] with golden/<name>.png by mean absolute difference."""
    path = GOLDEN / f"{name}.png"
    rgb = (image.detach().clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8)
    if REGEN:
        GOLDEN.mkdir(exist_ok=True)
        iio.imwrite(path, rgb)
    if not path.is_file():
        pytest.fail(f"missing golden image {path}; run with INVERSE3D_REGEN_GOLDEN=1 to create it")
    golden = iio.imread(path).astype(np.float64) / 255
    assert golden.shape == rgb.shape, f"{name}: golden image is {golden.shape}, render is {rgb.shape}"
    diff = np.abs(golden - rgb / 255.0)
    assert diff.mean() < tol, f"{name}: mean abs difference {diff.mean():.4f} >= {tol}"
    assert (diff.max(-1) > 0.25).mean() < 0.01, f"{name}: more than 1% of pixels differ by > 0.25"


def coloured_sphere(level=3):
    sphere = ico_sphere(level)
    verts = sphere.verts_packed()
    return Meshes([verts], [sphere.faces_packed()], textures=TexturesVertex([(verts + 1) / 2]))


def uv_sphere_textures(mesh, maps):
    """TexturesUV with spherical uvs (one uv per vertex) for each mesh of a batch."""
    uvs = []
    for v in mesh.verts_list():
        c = v - v.mean(0)
        c = c / c.norm(dim=1, keepdim=True)
        uvs.append(torch.stack([torch.atan2(c[:, 0], c[:, 2]) / (2 * math.pi) + 0.5, torch.asin(c[:, 1].clamp(-1, 1)) / math.pi + 0.5], 1))
    return TexturesUV(maps, mesh.faces_list(), uvs)


def test_golden_coloured_sphere_hard_phong():
    mesh = coloured_sphere(3)
    lights = PointLights(location=[[1.0, 1.0, -3.0]])
    image = renderer(64)(mesh, cameras=seed_camera(), lights=lights)
    assert image.shape == (1, 64, 64, 4)
    assert image[0, 0, 0].tolist() == [1.0, 1.0, 1.0, 0.0]  # background: white, alpha 0
    assert image[0, 32, 32, 3] == 1.0
    check_golden("sphere_hard_phong_64", image[0, ..., :3])


def test_golden_cow_seed_setup(cow_obj):
    from inverse3d.io import load_objs_as_meshes

    mesh = load_objs_as_meshes([cow_obj])
    assert isinstance(mesh.textures, TexturesUV)
    lights = PointLights(location=[[0.0, 0.0, -3.0]])
    image = renderer(96)(mesh, cameras=seed_camera(), lights=lights)
    check_golden("cow_seed_camera_96", image[0, ..., :3])


def test_renderer_with_fragments_and_kwargs():
    mesh = coloured_sphere(1)
    r = MeshRendererWithFragments(MeshRasterizer(raster_settings=RasterizationSettings(image_size=16)), HardPhongShader())
    images, fragments = r(mesh, cameras=seed_camera(), blend_params=BlendParams(background_color=(0.0, 0.0, 0.0)))
    empty = fragments.pix_to_face[..., 0] < 0
    assert empty.any() and (~empty).any()
    assert (images[..., :3][empty] == 0).all() and (images[..., 3][empty] == 0).all()
    assert (images[..., 3][~empty] == 1).all()


def test_textures_survive_join_meshes_as_scene():
    left = ico_sphere(2)
    right = ico_sphere(2)
    verts = [left.verts_packed() * 0.5 + torch.tensor([0.6, 0.0, 0.0]), right.verts_packed() * 0.5 - torch.tensor([0.6, 0.0, 0.0])]
    batch = Meshes(verts, [left.faces_packed(), right.faces_packed()])
    maps = [torch.rand(8, 16, 3), torch.rand(32, 8, 3)]  # different sizes in one batch
    batch = Meshes(verts, batch.faces_list(), textures=uv_sphere_textures(batch, maps))
    scene = join_meshes_as_scene(batch)
    assert isinstance(scene.textures, TexturesUV) and len(scene.textures.maps_list()) == 1
    r = renderer(48, HardPhongShader(lights=AmbientLights()))
    cams = seed_camera()
    scene_image = r(scene, cameras=cams)[0]
    singles = [r(batch[i], cameras=cams)[0] for i in range(2)]
    for i, single in enumerate(singles):
        covered = (single[..., 3] == 1) & (singles[1 - i][..., 3] == 0)
        assert covered.sum() > 50
        torch.testing.assert_close(scene_image[covered], single[covered], atol=1e-4, rtol=0)


def test_several_materials_of_one_obj(tmp_path):
    from inverse3d.io import load_objs_as_meshes

    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    green = np.zeros((8, 2, 3), np.uint8)
    green[..., 1] = 255
    iio.imwrite(tmp_path / "red.png", red)
    iio.imwrite(tmp_path / "green.png", green)
    (tmp_path / "two.mtl").write_text("newmtl r\nKd 1 1 1\nmap_Kd red.png\nnewmtl g\nKd 1 1 1\nmap_Kd green.png\n")
    (tmp_path / "two.obj").write_text(
        "mtllib two.mtl\nv -1 -1 0\nv 1 -1 0\nv 1 1 0\nv -1 1 0\nvt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\n"
        "usemtl r\nf 1/1 3/3 2/2\nusemtl g\nf 1/1 4/4 3/3\n"
    )
    mesh = load_objs_as_meshes([tmp_path / "two.obj"])
    r = MeshRendererWithFragments(
        MeshRasterizer(raster_settings=RasterizationSettings(image_size=24)), HardPhongShader(lights=AmbientLights())
    )
    images, fragments = r(mesh, cameras=seed_camera())
    face = fragments.pix_to_face[0, ..., 0]
    rgb = images[0, ..., :3]
    torch.testing.assert_close(rgb[face == 0], torch.tensor([1.0, 0.0, 0.0]).expand(int((face == 0).sum()), 3))
    torch.testing.assert_close(rgb[face == 1], torch.tensor([0.0, 1.0, 0.0]).expand(int((face == 1).sum()), 3))


def test_silhouette_gradient_reaches_vertices():
    """gradcheck of a soft silhouette through the rasteriser with respect to the vertex positions."""
    faces = torch.tensor([[0, 1, 2]])
    sigma = 1e-2
    settings = RasterizationSettings(image_size=6, blur_radius=math.log(1 / 1e-4 - 1) * sigma, faces_per_pixel=2)
    r = MeshRenderer(MeshRasterizer(raster_settings=settings), SoftSilhouetteShader(BlendParams(sigma=sigma)))
    cams = seed_camera(torch.float64)

    def alpha(verts):
        return r(Meshes([verts], [faces]), cameras=cams)[..., 3]

    verts = torch.tensor([[-0.8, -0.7, 0.0], [0.9, -0.6, 0.1], [0.1, 0.85, -0.1]], dtype=torch.float64, requires_grad=True)
    out = alpha(verts)
    assert 0 < out.mean() < 1
    out.sum().backward()
    assert verts.grad.abs().sum() > 0 and torch.isfinite(verts.grad).all()
    assert torch.autograd.gradcheck(alpha, (verts,), atol=1e-4)


def test_soft_phong_gradient_reaches_vertex_colours():
    mesh = coloured_sphere(1)
    colours = mesh.textures.verts_features_packed().clone().requires_grad_(True)
    mesh = Meshes(mesh.verts_list(), mesh.faces_list(), textures=TexturesVertex([colours]))
    sigma = 1e-4
    settings = RasterizationSettings(image_size=16, blur_radius=math.log(1 / 1e-4 - 1) * sigma, faces_per_pixel=4)
    image = renderer(16, SoftPhongShader(blend_params=BlendParams(sigma=sigma)), blur_radius=settings.blur_radius,
                     faces_per_pixel=4)(mesh, cameras=seed_camera())  # fmt: skip
    image[..., :3].sum().backward()
    assert colours.grad.abs().sum() > 0
