"""load_glb on scenes the tests write with trimesh: a textured quad, coloured boxes, node transforms, bad files."""

from __future__ import annotations

import io
import json

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


# ------------------------------------------------------------------------------------------------ hostile files


def png_bytes(width: int, height: int, mode: str = "RGB", colour=0) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def quad_gltf(image: dict, image_bytes: bytes = b"", buffer_uri: str | None = None) -> tuple[dict, bytes]:
    """(glTF document, binary buffer) of a textured quad; ``image`` is the images[0] entry (bufferView 3 holds
    ``image_bytes``)."""
    arrays = [QUAD_V.astype(np.float32).tobytes(), QUAD_UV.astype(np.float32).tobytes(),
              QUAD_F.astype(np.uint32).tobytes(), image_bytes]
    views, blob = [], b""
    for a in arrays:
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": len(a)})
        blob += a + b"\0" * (-len(a) % 4)
    buffer = {"byteLength": len(blob)} | ({"uri": buffer_uri} if buffer_uri else {})
    doc = {"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
           "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "TEXCOORD_0": 1}, "indices": 2, "material": 0}]}],
           "materials": [{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}],
           "textures": [{"source": 0}], "images": [image], "bufferViews": views, "buffers": [buffer],
           "accessors": [{"bufferView": 0, "componentType": 5126, "count": 4, "type": "VEC3",
                          "min": [0, 0, 0], "max": [1, 1, 0]},
                         {"bufferView": 1, "componentType": 5126, "count": 4, "type": "VEC2"},
                         {"bufferView": 2, "componentType": 5125, "count": 6, "type": "SCALAR"}]}
    return doc, blob


def write_glb(path, doc: dict, blob: bytes):
    from inverse3d.io.gltf_io import _join_glb

    path.write_bytes(_join_glb(doc, blob))
    return path


def test_decompression_bomb_in_a_glb_is_refused_from_its_header(tmp_path, monkeypatch):
    from PIL import ImageFile

    bomb = png_bytes(12000, 12000, mode="1")
    assert len(bomb) < 40_000
    path = write_glb(tmp_path / "bomb.glb", *quad_gltf({"bufferView": 3, "mimeType": "image/png"}, bomb))
    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size) or real_load(self))
    with pytest.warns(UserWarning, match=r"bomb\.glb: texture image 0 refused: image of 12000x12000 = 144,000,000 "
                                         r"pixels is over the budget of 67,108,864 pixels.*grey"):
        mesh = load_glb(path)
    assert (12000, 12000) not in decoded
    assert torch.allclose(mesh.textures.maps_padded(), torch.full((1, 1, 1, 3), 128 / 255))
    small = write_glb(tmp_path / "small.glb", *quad_gltf({"bufferView": 3}, png_bytes(20, 10, colour=(255, 0, 0))))
    assert load_glb(small).textures.maps_padded().shape == (1, 10, 20, 3)
    with pytest.warns(UserWarning, match=r"20x10 = 200 pixels is over the budget of 100 pixels"):
        load_glb(small, max_texture_pixels=100)


def test_gltf_references_stay_in_the_folder(tmp_path):
    (tmp_path / "t.png").write_bytes(png_bytes(4, 2, colour=(0, 255, 0)))
    inside = tmp_path / "mesh"
    inside.mkdir()
    doc, blob = quad_gltf({"uri": "../t.png"}, buffer_uri="quad.bin")
    (inside / "quad.bin").write_bytes(blob)
    path = inside / "quad.gltf"
    path.write_text(json.dumps(doc))
    with pytest.warns(UserWarning, match=r"quad\.gltf: texture image 0 \('\.\./t\.png'\) is outside the file's folder"):
        mesh = load_glb(path)
    assert mesh.textures.maps_padded().shape == (1, 1, 1, 3)  # the grey placeholder
    assert load_glb(path, allow_external_files=True).textures.maps_padded().shape == (1, 2, 4, 3)
    (inside / "t.png").write_bytes(png_bytes(4, 2))
    doc["images"][0]["uri"] = "t.png"
    path.write_text(json.dumps(doc))
    assert load_glb(path).textures.maps_padded().shape == (1, 2, 4, 3)

    (tmp_path / "quad.bin").write_bytes(blob)
    doc["buffers"][0]["uri"] = str(tmp_path / "quad.bin")
    (inside / "quad.bin").unlink()
    path.write_text(json.dumps(doc))
    with pytest.raises(MeshFileError, match=r"quad\.gltf: buffer 0 \(.*quad\.bin'\) is outside the file's folder"):
        load_glb(path)
    assert load_glb(path, allow_external_files=True).verts_packed().shape == (4, 3)
    doc["buffers"][0]["uri"] = "gone.bin"
    path.write_text(json.dumps(doc))
    with pytest.raises(MeshFileError, match=r"quad\.gltf: buffer 0: file .*gone\.bin not found"):
        load_glb(path)


def test_glb_bad_containers(tmp_path):
    doc, blob = quad_gltf({"bufferView": 3}, png_bytes(2, 2))
    data = write_glb(tmp_path / "q.glb", doc, blob).read_bytes()
    (tmp_path / "cut.glb").write_bytes(data[: len(data) // 2])
    with pytest.raises(MeshFileError, match=r"cut\.glb: cannot parse glTF \(truncated GLB"):
        load_glb(tmp_path / "cut.glb")
    (tmp_path / "bad.gltf").write_text("{not json")
    with pytest.raises(MeshFileError, match=r"bad\.gltf: cannot parse glTF \(not a GLB file, and not glTF JSON"):
        load_glb(tmp_path / "bad.gltf")
    (tmp_path / "noise.png").write_bytes(b"not an image")
    doc["images"][0] = {"uri": "noise.png"}
    (tmp_path / "n.gltf").write_text(json.dumps(doc | {"buffers": [{"byteLength": len(blob), "uri": "q.bin"}]}))
    (tmp_path / "q.bin").write_bytes(blob)
    with pytest.warns(UserWarning, match=r"n\.gltf: texture image 0 \('noise\.png'\) cannot be read as an image"):
        load_glb(tmp_path / "n.gltf")
    with pytest.raises(MeshFileError, match="is a directory, expected a mesh file"):
        load_glb(tmp_path)
