"""The course's PyTorch3D code (../shared/seed) runs unchanged after replacing ``pytorch3d`` by ``inverse3d``."""

import numpy as np
import pytest
import torch

import inverse3d
import inverse3d.io
import inverse3d.renderer
import inverse3d.structures
import inverse3d.transforms

pytorch3d = inverse3d  # the only change a course notebook needs


def test_world_to_view_matrix_as_printed_in_the_seed():
    R = torch.eye(3).unsqueeze(0)
    T = torch.tensor([[0, 0, 3]])
    cameras = pytorch3d.renderer.FoVPerspectiveCameras(R=R, T=T, fov=60)
    expected = torch.tensor([[[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 3, 1]]])
    torch.testing.assert_close(cameras.get_world_to_view_transform().get_matrix(), expected)


def test_seed_relative_rotation():
    rot = pytorch3d.transforms.euler_angles_to_matrix(torch.tensor([0, np.pi / 2, 0]), "XYZ")
    torch.testing.assert_close(rot, torch.tensor([[0.0, 0, 1], [0, 1, 0], [-1, 0, 0]]), atol=1e-6, rtol=0)


def test_seed_cow_render(cow_obj):
    import matplotlib.pyplot as plt

    vertices, face_props, text_props = pytorch3d.io.load_obj(cow_obj)
    faces = face_props.verts_idx
    faces_uvs = face_props.textures_idx
    verts_uvs = text_props.verts_uvs
    texture_map = plt.imread(cow_obj.parent / "cow_texture.png")
    textures = pytorch3d.renderer.TexturesUV(
        maps=torch.tensor(np.array([texture_map])), faces_uvs=faces_uvs.unsqueeze(0), verts_uvs=verts_uvs.unsqueeze(0)
    )
    meshes = pytorch3d.structures.Meshes(verts=vertices.unsqueeze(0), faces=faces.unsqueeze(0), textures=textures)
    R = torch.eye(3).unsqueeze(0)
    T = torch.tensor([[0, 0, 3]])
    cameras = pytorch3d.renderer.FoVPerspectiveCameras(R=R, T=T, fov=60)
    raster_settings = pytorch3d.renderer.RasterizationSettings(image_size=64)
    rasterizer = pytorch3d.renderer.MeshRasterizer(raster_settings=raster_settings)
    shader = pytorch3d.renderer.HardPhongShader(device="cpu")
    renderer = pytorch3d.renderer.MeshRenderer(rasterizer=rasterizer, shader=shader)
    lights = pytorch3d.renderer.PointLights(location=[[0, 0, -3]])
    image = renderer(meshes, cameras=cameras, lights=lights)
    assert image.shape == (1, 64, 64, 4)
    alpha = image[0, ..., 3]
    assert 0.05 < alpha.mean() < 0.5  # the cow, seen head-on from 3 units, covers part of the frame
    rgb = image[0, ..., :3][alpha > 0]
    assert rgb.std() > 0.02  # textured, not flat
    assert torch.all(image[0, ..., :3][alpha == 0] == 1)  # white background


def test_seed_triangle_with_vertex_colours():
    vertices = torch.tensor([[-1, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=torch.float32)
    faces = torch.tensor([[0, 1, 2]], dtype=torch.int64)
    texture_rgb = torch.ones_like(vertices.unsqueeze(0)) * torch.tensor([0.7, 0.7, 1])
    mesh = pytorch3d.structures.Meshes(
        verts=vertices.unsqueeze(0), faces=faces.unsqueeze(0), textures=pytorch3d.renderer.TexturesVertex(texture_rgb)
    )
    R, T = pytorch3d.renderer.look_at_view_transform(dist=3, elev=0, azim=0)
    cameras = pytorch3d.renderer.FoVPerspectiveCameras(R=R, T=T)
    renderer = pytorch3d.renderer.MeshRenderer(
        rasterizer=pytorch3d.renderer.MeshRasterizer(
            cameras=cameras, raster_settings=pytorch3d.renderer.RasterizationSettings(image_size=32)
        ),
        shader=pytorch3d.renderer.HardPhongShader(cameras=cameras, lights=pytorch3d.renderer.PointLights(location=[[0, 0, 3]])),
    )
    image = renderer(mesh)
    alpha = image[0, ..., 3]
    # The triangle spans y in [0, 1]: the upper half of the image is covered, the bottom rows are not.
    assert alpha[:16].sum() > 0 and alpha[-4:].sum() == 0
    centre = image[0, 12, 16, :3]
    assert centre[2] > centre[0]  # bluish vertex colour
