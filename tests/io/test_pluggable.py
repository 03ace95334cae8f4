"""IO (PyTorch3D's pluggable loader/saver): OBJ, PLY, OFF and GLB round trips, point clouds, registration, errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from inverse3d.io import IO, MeshFileError
from inverse3d.io.experimental_gltf_io import MeshGlbFormat, load_meshes
from inverse3d.io.mtl_io import load_mtl
from inverse3d.io.off_io import read_off
from inverse3d.io.pluggable_formats import MeshFormatInterpreter, PointcloudFormatInterpreter, endswith
from inverse3d.renderer import TexturesUV, TexturesVertex
from inverse3d.structures import Meshes, Pointclouds
from inverse3d.utils import ico_sphere


def _coloured_sphere() -> Meshes:
    sphere = ico_sphere(1)
    verts = sphere.verts_list()[0]
    return Meshes([verts], sphere.faces_list(), textures=TexturesVertex([(verts + 1) / 2]))


def _corner_values(mesh: Meshes) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Face-corner positions (F, 3, 3), UVs (F, 3, 2) and the map of a one-mesh TexturesUV mesh: the same for any
    split of the vertices."""
    tex = mesh.textures
    faces = mesh.faces_list()[0]
    uv = tex.verts_uvs_list()[0][tex.faces_uvs_list()[0]]
    return mesh.verts_list()[0][faces], uv, tex.maps_padded()[0]


@pytest.mark.parametrize("suffix", [".obj", ".ply", ".off", ".glb"])
def test_mesh_round_trip_geometry(tmp_path, suffix):
    mesh = _coloured_sphere()
    io = IO()
    path = tmp_path / f"sphere{suffix}"
    io.save_mesh(mesh, path)
    back = io.load_mesh(path)
    assert isinstance(back, Meshes) and len(back) == 1
    torch.testing.assert_close(back.verts_list()[0], mesh.verts_list()[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(back.faces_list()[0], mesh.faces_list()[0])
    colours = mesh.textures.verts_features_list()[0]
    if suffix == ".obj":  # OBJ has no vertex colours (PyTorch3D's save_obj drops them too)
        assert back.textures is None
    else:
        assert isinstance(back.textures, TexturesVertex)
        tol = 1e-5 if suffix == ".off" else 0.5 / 255 + 1e-6  # PLY and GLB store 8-bit colours
        torch.testing.assert_close(back.textures.verts_features_list()[0], colours, atol=tol, rtol=0)
    no_tex = io.load_mesh(path, include_textures=False)
    assert no_tex.textures is None
    torch.testing.assert_close(no_tex.verts_list()[0], back.verts_list()[0])


@pytest.mark.parametrize("suffix", [".obj", ".glb"])
def test_textured_round_trip(tmp_path, cow_obj, suffix):
    io = IO()
    cow = io.load_mesh(cow_obj)
    assert isinstance(cow.textures, TexturesUV)
    path = tmp_path / f"cow{suffix}"
    io.save_mesh(cow, path)
    back = io.load_mesh(path)
    assert isinstance(back.textures, TexturesUV)
    positions, uvs, image = _corner_values(cow)
    positions2, uvs2, image2 = _corner_values(back)
    torch.testing.assert_close(positions2, positions, atol=1e-5, rtol=0)
    torch.testing.assert_close(uvs2, uvs, atol=1e-5, rtol=0)
    assert image2.shape == image.shape
    assert float((image2 - image).abs().max()) <= 0.5 / 255 + 1e-6
    if suffix == ".glb":  # glTF stores UVs per vertex: one vertex per (position, UV) pair
        assert back.verts_list()[0].shape[0] >= cow.verts_list()[0].shape[0]
    assert io.load_mesh(path, include_textures=False).textures is None


def test_obj_save_without_textures(tmp_path, cow_obj):
    io = IO()
    cow = io.load_mesh(cow_obj)
    io.save_mesh(cow, tmp_path / "plain.obj", include_textures=False, decimal_places=3)
    assert not (tmp_path / "plain.mtl").exists()
    first_vertex = next(line for line in (tmp_path / "plain.obj").read_text().splitlines() if line.startswith("v "))
    assert all(len(x.split(".")[1]) == 3 for x in first_vertex.split()[1:])


def test_ply_binary_flag_and_normals(tmp_path):
    sphere = ico_sphere(1)
    normals = F.normalize(torch.randn(42, 3), dim=1)
    mesh = Meshes(sphere.verts_list(), sphere.faces_list(), verts_normals=[normals])
    io = IO()
    io.save_mesh(mesh, tmp_path / "a.ply", binary=False)
    io.save_mesh(mesh, tmp_path / "b.ply")
    assert b"format ascii" in (tmp_path / "a.ply").read_bytes()[:100]
    assert b"format binary_little_endian" in (tmp_path / "b.ply").read_bytes()[:100]
    for name in ("a.ply", "b.ply"):
        back = io.load_mesh(tmp_path / name)
        assert back.has_verts_normals()
        torch.testing.assert_close(back.verts_normals_list()[0], normals, atol=1e-5, rtol=0)


def test_off_reader_follows_pytorch3d(tmp_path):
    path = tmp_path / "quad.off"
    path.write_text(
        "# a comment\nOFF\n5 2 0\n"
        "0 0 0 255 0 0\n1 0 0 0 255 0\n1 1 0 0 0 255\n0 1 0 255 255 255\n0.5 0.5 1 0 0 0\n"
        "4 0 1 2 3 # a quad\n3 0 1 4\n"
    )
    off = read_off(path)
    # polygons fan-triangulated, first triangles of all faces, then the second ones (PyTorch3D's order)
    assert off["faces"].tolist() == [[0, 1, 2], [0, 1, 4], [0, 2, 3]]
    assert off["verts_colors"][1].tolist() == [0.0, 1.0, 0.0]  # integer colours are 0..255
    mesh = IO().load_mesh(path)
    assert mesh.faces_list()[0].shape == (3, 3) and isinstance(mesh.textures, TexturesVertex)
    face_colours = tmp_path / "faces.off"
    face_colours.write_text("OFF 3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2 0.5 0.5 0.5\n")
    with pytest.warns(UserWarning, match="TexturesAtlas"):
        assert IO().load_mesh(face_colours).textures is None
    bad = tmp_path / "bad.off"
    bad.write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n")
    with pytest.raises(MeshFileError, match="out of range"):
        IO().load_mesh(bad)
    short = tmp_path / "short.off"
    short.write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n")
    with pytest.raises(MeshFileError, match="ends after"):
        IO().load_mesh(short)


def test_glb_format_helpers(tmp_path):
    mesh = _coloured_sphere()
    IO().save_mesh(mesh, tmp_path / "s.glb")
    ((name, loaded),) = load_meshes(tmp_path / "s.glb")
    assert name is None and loaded.verts_list()[0].shape == (42, 3)
    # registering PyTorch3D's experimental format again (as its docs say to) is harmless
    io = IO()
    io.register_meshes_format(MeshGlbFormat())
    assert io.load_mesh(tmp_path / "s.glb").faces_list()[0].shape == (80, 3)


@pytest.mark.parametrize("binary", [None, False])
def test_pointcloud_round_trip(tmp_path, binary):
    points = torch.rand(20, 3)
    normals = F.normalize(torch.randn(20, 3), dim=1)
    colours = torch.rand(20, 3)
    io = IO()
    io.save_pointcloud(Pointclouds([points], normals=[normals], features=[colours]), tmp_path / "p.ply", binary=binary)
    back = io.load_pointcloud(tmp_path / "p.ply")
    assert isinstance(back, Pointclouds) and len(back) == 1
    torch.testing.assert_close(back.points_list()[0], points, atol=1e-5, rtol=0)
    torch.testing.assert_close(back.normals_list()[0], normals, atol=1e-5, rtol=0)
    torch.testing.assert_close(back.features_list()[0], colours, atol=0.5 / 255 + 1e-6, rtol=0)
    io.save_pointcloud(Pointclouds([points]), tmp_path / "bare.ply")
    bare = io.load_pointcloud(tmp_path / "bare.ply")
    assert bare.normals_list() is None or bare.normals_packed() is None
    with pytest.warns(UserWarning, match="4 channels"):
        io.save_pointcloud(Pointclouds([points], features=[torch.rand(20, 4)]), tmp_path / "f4.ply")


def test_registration_order_and_custom_formats(tmp_path):
    calls = []

    class Fake(MeshFormatInterpreter):
        def read(self, path, include_textures, device, path_manager, **kwargs):
            calls.append(("read", kwargs))
            return _coloured_sphere() if endswith(path, (".fake", ".obj")) else None

        def save(self, data, path, path_manager, binary, **kwargs):
            calls.append(("save", binary))
            return endswith(path, (".fake",))

    io = IO()
    io.register_meshes_format(Fake())
    io.save_mesh(_coloured_sphere(), tmp_path / "x.fake", binary=True)
    assert calls[-1] == ("save", True)
    assert io.load_mesh(tmp_path / "x.obj", extra=1).verts_packed().shape == (42, 3)  # the newest format wins
    assert calls[-1] == ("read", {"extra": 1})
    bare = IO(include_default_formats=False)
    with pytest.raises(ValueError, match="No mesh interpreter found"):
        bare.load_mesh(tmp_path / "x.obj")
    with pytest.raises(ValueError, match="No point cloud interpreter found"):
        bare.load_pointcloud(tmp_path / "x.ply")
    with pytest.raises(ValueError, match="Invalid interpreter"):
        io.register_meshes_format(object())
    with pytest.raises(ValueError, match="Invalid interpreter"):
        io.register_pointcloud_format(Fake())
    assert isinstance(PointcloudFormatInterpreter(), PointcloudFormatInterpreter)


def test_errors(tmp_path):
    io = IO()
    two = Meshes([torch.rand(3, 3)] * 2, [torch.tensor([[0, 1, 2]])] * 2)
    with pytest.raises(ValueError, match="single mesh"):
        io.save_mesh(two, tmp_path / "a.obj")
    with pytest.raises(ValueError, match="Meshes object expected"):
        io.save_mesh(torch.rand(3, 3), tmp_path / "a.obj")
    with pytest.raises(ValueError, match="No mesh interpreter found to write"):
        io.save_mesh(_coloured_sphere(), tmp_path / "a.xyz")
    with pytest.raises(ValueError, match="No mesh interpreter found to read"):
        io.load_mesh(tmp_path / "a.xyz")
    with pytest.raises(ValueError, match="Pointclouds object expected"):
        io.save_pointcloud(_coloured_sphere(), tmp_path / "p.ply")
    with pytest.raises(ValueError, match="single point cloud"):
        io.save_pointcloud(Pointclouds([torch.rand(4, 3)] * 2), tmp_path / "p.ply")
    with pytest.raises(FileNotFoundError):
        io.load_mesh(tmp_path / "missing.obj")


def test_path_manager_gives_local_paths(tmp_path, cow_obj):
    class PathManager:
        def __init__(self):
            self.asked = []

        def get_local_path(self, path):
            self.asked.append(path)
            return str(cow_obj) if path == "manifold://bucket/cow.obj" else path

    manager = PathManager()
    mesh = IO(path_manager=manager).load_mesh("manifold://bucket/cow.obj")
    assert manager.asked == ["manifold://bucket/cow.obj"]
    assert mesh.verts_packed().shape == (2930, 3)
    IO(path_manager=object()).save_mesh(mesh, tmp_path / "cow.ply")  # managers without get_local_path: ignored
    assert (tmp_path / "cow.ply").is_file()


def test_load_mtl(cow_dir):
    props, images = load_mtl(cow_dir / "cow.mtl", material_names=["material_1"], data_dir=cow_dir)
    assert set(props) == {"material_1"} and set(images) == {"material_1"}
    assert props["material_1"]["diffuse_color"].shape == (3,)
    assert images["material_1"].shape == (1024, 1024, 3)
    assert 0.0 <= float(images["material_1"].min()) and float(images["material_1"].max()) <= 1.0
    # no usemtl and one material in the library: that one
    props, _ = load_mtl(cow_dir / "cow.mtl", material_names=[], data_dir=cow_dir)
    assert list(props) == ["material_1"]
    with pytest.warns(UserWarning, match="does not exist"):
        _, images = load_mtl(cow_dir / "cow.mtl", material_names=["material_1"], data_dir=Path("/nonexistent"))
    assert images == {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_mtl(cow_dir / "cow.mtl", material_names=["other"], data_dir=cow_dir) == ({}, {})
