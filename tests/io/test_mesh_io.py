"""load_mesh (dispatch by suffix), describe_file (inverse3d info), and MeshFileError itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from inverse3d.io import MeshFileError, describe_file, load_mesh, save_obj, save_ply
from inverse3d.io.errors import MeshFileNotFoundError
from inverse3d.io.mesh_io import format_description


def test_mesh_file_error_message_and_types(tmp_path):
    err = MeshFileError("cow.obj", "face index 4000 out of range (2930 vertices)", line=12)
    assert str(err) == "cow.obj line 12: face index 4000 out of range (2930 vertices)"
    assert isinstance(err, ValueError) and err.path == "cow.obj" and err.line == 12
    missing = MeshFileNotFoundError(tmp_path / "x.obj")
    assert isinstance(missing, FileNotFoundError) and isinstance(missing, MeshFileError)
    assert str(missing) == f"{tmp_path / 'x.obj'}: no such file"


def sphere():
    return trimesh.creation.icosphere(subdivisions=1)


@pytest.mark.parametrize("suffix", [".obj", ".ply", ".glb", ".off", ".stl"])
def test_load_mesh_dispatch(tmp_path, suffix):
    s = sphere()
    path = tmp_path / f"s{suffix}"
    s.export(path)
    mesh = load_mesh(path)
    assert mesh.faces_packed().shape == (80, 3)
    # STL stores triangles without shared vertices; the others keep the 42 vertices
    assert mesh.verts_packed().shape == ((240 if suffix == ".stl" else 42), 3)
    torch.testing.assert_close(mesh.verts_packed().norm(dim=1), torch.ones(len(mesh.verts_packed())), atol=1e-5,
                               rtol=0)


def test_load_mesh_ply_colours(tmp_path):
    save_ply(tmp_path / "c.ply", torch.rand(3, 3), torch.tensor([[0, 1, 2]]), colors=torch.tensor([[1.0, 0, 0]] * 3))
    mesh = load_mesh(tmp_path / "c.ply")
    torch.testing.assert_close(mesh.textures.verts_features_packed(), torch.tensor([[1.0, 0, 0]] * 3))


def test_load_mesh_errors(tmp_path):
    with pytest.raises(MeshFileNotFoundError, match="gone.obj"):
        load_mesh(tmp_path / "gone.obj")
    (tmp_path / "m.fbx").write_text("x")
    with pytest.raises(MeshFileError, match=r"m\.fbx: unsupported mesh format '\.fbx'"):
        load_mesh(tmp_path / "m.fbx")
    save_ply(tmp_path / "p.ply", torch.rand(4, 3))
    with pytest.raises(MeshFileError, match=r"p\.ply: has no faces \(4 vertices\); it is a point cloud"):
        load_mesh(tmp_path / "p.ply")
    with pytest.raises(MeshFileError, match="is a directory, expected a mesh file"):
        load_mesh(tmp_path)


def test_describe_cow(cow_obj):
    info = describe_file(cow_obj)
    assert info["kind"] == "mesh" and info["vertices"] == 2930 and info["faces"] == 5856
    assert info["has_uvs"] and not info["has_normals"]
    assert info["textures"] == [{"material": "material_1", "width": 1024, "height": 1024}]
    assert info["watertight"] is True
    assert len(info["bounds"]["min"]) == 3 and all(a < b for a, b in zip(info["bounds"]["min"], info["bounds"]["max"]))
    text = format_description(info)
    assert "2930" in text and "1024x1024" in text


def test_describe_generated_meshes(tmp_path):
    s = sphere()
    save_obj(tmp_path / "s.obj", torch.tensor(s.vertices, dtype=torch.float32), torch.tensor(s.faces))
    info = describe_file(tmp_path / "s.obj")
    assert (info["vertices"], info["faces"], info["watertight"], info["has_uvs"]) == (42, 80, True, False)
    np.testing.assert_allclose(info["bounds"]["min"], s.vertices.min(0), atol=1e-5)
    # An open mesh is not watertight; a triangle soup of a closed mesh is, once positions are merged.
    save_obj(tmp_path / "open.obj", torch.tensor(s.vertices, dtype=torch.float32), torch.tensor(s.faces[:-1]))
    assert describe_file(tmp_path / "open.obj")["watertight"] is False
    s.export(tmp_path / "s.stl")
    stl = describe_file(tmp_path / "s.stl")
    assert stl["vertices"] == 240 and stl["watertight"] is True
    s.export(tmp_path / "s.glb")
    glb = describe_file(tmp_path / "s.glb")
    assert glb["faces"] == 80 and glb["watertight"] is True and glb["textures"] == []


def test_describe_pointclouds(tmp_path):
    pts = np.random.rand(30, 3)
    save_ply(tmp_path / "p.ply", torch.tensor(pts, dtype=torch.float32), colors=torch.rand(30, 3))
    info = describe_file(tmp_path / "p.ply")
    assert info["kind"] == "pointcloud" and info["points"] == 30 and info["has_colors"] and not info["has_normals"]
    np.testing.assert_allclose(info["bounds"]["max"], pts.max(0), atol=1e-6)
    np.savez(tmp_path / "p.npz", points=pts, normals=pts)
    info = describe_file(tmp_path / "p.npz")
    assert info["points"] == 30 and info["has_normals"] and not info["has_colors"]
    np.save(tmp_path / "p.npy", pts)
    assert describe_file(tmp_path / "p.npy")["points"] == 30
    assert "points: 30" in format_description(info)
    (tmp_path / "x.abc").write_text("")
    with pytest.raises(MeshFileError, match="unsupported file format"):
        describe_file(tmp_path / "x.abc")


def test_load_mesh_bad_content_is_one_line(tmp_path):
    for name, data in [("e.stl", b""), ("e.off", b""), ("r.off", bytes(range(256)) * 4), ("e.obj", b""),
                       ("r.obj", bytes(range(256)) * 4), ("e.ply", b""), ("e.glb", b"")]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(MeshFileError) as err:
            load_mesh(tmp_path / name)
        assert str(err.value).startswith(str(tmp_path / name) + ":") and "\n" not in str(err.value), err.value


def test_load_mesh_and_describe_pass_the_safety_options(tmp_path):
    from PIL import Image

    outside = tmp_path / "t.png"
    Image.new("RGB", (4, 4)).save(outside)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "m.mtl").write_text(f"newmtl a\nmap_Kd {outside}\n")
    path = tmp_path / "m" / "m.obj"
    path.write_text("mtllib m.mtl\nusemtl a\nv 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nf 1/1 2/2 3/3\n")
    with pytest.warns(UserWarning, match="outside the mesh's folder"):
        assert describe_file(path)["textures"] == []
    assert describe_file(path, allow_external_files=True)["textures"][0]["width"] == 4
    assert load_mesh(path, allow_external_files=True).textures.maps_padded().shape == (1, 4, 4, 3)
    with pytest.warns(UserWarning, match="over the budget of 15 pixels"):
        load_mesh(path, allow_external_files=True, max_texture_pixels=15)
