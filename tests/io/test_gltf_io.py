"""load_glb on scenes the tests write with trimesh: a textured quad, coloured boxes, node transforms, bad files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import trimesh
from PIL import Image

from inverse3d.io import MeshFileError, load_glb
from inverse3d.io.errors import MeshFileNotFoundError

QUAD_V = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=float)
QUAD_F = np.array([[0, 1, 2], [0, 2, 3]])
QUAD_UV = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)


def textured_quad(image: np.ndarray) -> trimesh.Trimesh:
    material = trimesh.visual.material.PBRMaterial(
        baseColorTexture=Image.fromarray((image * 255).round().astype(np.uint8)))
    visual = trimesh.visual.TextureVisuals(uv=QUAD_UV, material=material)
    return trimesh.Trimesh(QUAD_V, QUAD_F, visual=visual, process=False)


def coloured_box(rgba) -> trimesh.Trimesh:
    box = trimesh.creation.box()
    box.visual.vertex_colors = rgba
    return box


def sample(image: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    grid = torch.stack([uv[:, 0] * 2 - 1, 1 - uv[:, 1] * 2], -1)[None, None]
    return F.grid_sample(image.permute(2, 0, 1)[None], grid, align_corners=True)[0, :, 0].T


def test_textured_quad(tmp_path):
    image = np.random.default_rng(0).random((8, 16, 3))
    path = tmp_path / "quad.glb"
    textured_quad(image).export(path)
    mesh = load_glb(path)
    assert mesh.verts_packed().shape == (4, 3) and mesh.faces_packed().shape == (2, 3)
    tex = mesh.textures
    assert type(tex).__name__ == "TexturesUV"
    maps = tex.maps_padded()[0]
    assert maps.shape == (8, 16, 3)
    np.testing.assert_allclose(maps.numpy(), image, atol=0.5 / 255 + 1e-6)
    # The corner with uv (0, 1) shows the image's top-left pixel, as in OBJ / PyTorch3D conventions.
    corner = (mesh.verts_packed() == torch.tensor([0.0, 1.0, 0.0])).all(1).nonzero()[0, 0]
    face, slot = (mesh.faces_packed() == corner).nonzero()[0]
    uv = tex.verts_uvs_padded()[0][tex.faces_uvs_padded()[0][face, slot]]
    torch.testing.assert_close(sample(maps, uv[None]), maps[0, 0][None], atol=1e-5, rtol=0)


def test_coloured_box_with_node_transform(tmp_path):
    scene = trimesh.Scene()
    scene.add_geometry(coloured_box([255, 0, 0, 255]), transform=trimesh.transformations.translation_matrix([3, 0, 0]))
    path = tmp_path / "box.glb"
    scene.export(path)
    mesh = load_glb(path)
    assert type(mesh.textures).__name__ == "TexturesVertex"
    torch.testing.assert_close(mesh.textures.verts_features_packed(), torch.tensor([1.0, 0, 0]).expand(8, 3))
    torch.testing.assert_close(mesh.verts_packed().min(0).values, torch.tensor([2.5, -0.5, -0.5]))
    torch.testing.assert_close(mesh.verts_packed().max(0).values, torch.tensor([3.5, 0.5, 0.5]))


def test_material_base_colour(tmp_path):
    box = trimesh.creation.box()
    box.visual = trimesh.visual.TextureVisuals(
        material=trimesh.visual.material.PBRMaterial(baseColorFactor=[0, 255, 0, 255]))
    path = tmp_path / "green.glb"
    trimesh.Scene(box).export(path)
    mesh = load_glb(path)
    torch.testing.assert_close(mesh.textures.verts_features_packed(), torch.tensor([0.0, 1, 0]).expand(8, 3))


def test_scene_joined_textured_and_coloured(tmp_path):
    image = np.random.default_rng(1).random((6, 6, 3))
    scene = trimesh.Scene()
    scene.add_geometry(textured_quad(image), transform=trimesh.transformations.translation_matrix([5, 0, 0]))
    scene.add_geometry(coloured_box([0, 0, 255, 255]))
    path = tmp_path / "scene.glb"
    scene.export(path)
    mesh = load_glb(path)
    assert mesh.verts_packed().shape == (12, 3) and mesh.faces_packed().shape == (14, 3)
    assert float(mesh.verts_packed()[:, 0].max()) == pytest.approx(6.0)
    tex = mesh.textures
    uv = tex.verts_uvs_padded()[0][tex.faces_uvs_padded()[0]]  # (F, 3, 2)
    colours = sample(tex.maps_padded()[0], uv.mean(1))  # colour at each face centroid
    verts = mesh.verts_packed()[mesh.faces_packed()].mean(1)
    box_faces = verts[:, 0] < 2
    torch.testing.assert_close(colours[box_faces], torch.tensor([0.0, 0, 1]).expand(int(box_faces.sum()), 3),
                               atol=1e-6, rtol=0)
    quad_colours = colours[~box_faces]
    assert quad_colours.shape == (2, 3) and not torch.allclose(quad_colours, torch.tensor([0.0, 0, 1]))


def test_bad_glb(tmp_path):
    with pytest.raises(MeshFileNotFoundError, match="gone.glb"):
        load_glb(tmp_path / "gone.glb")
    junk = tmp_path / "junk.glb"
    junk.write_bytes(b"glTF not really")
    with pytest.raises(MeshFileError, match=r"junk\.glb: cannot parse glTF"):
        load_glb(junk)
    points = tmp_path / "points.glb"
    trimesh.Scene(trimesh.PointCloud(np.random.rand(5, 3))).export(points)
    with pytest.warns(UserWarning, match="without triangles"), pytest.raises(MeshFileError, match="no triangle"):
        load_glb(points)
