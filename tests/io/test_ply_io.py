"""load_ply / save_ply / load_pointcloud: round trips (binary and ASCII), polygons, colours and normals, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import DEVICES

from inverse3d.io import MeshFileError, load_ply, load_pointcloud, save_ply
from inverse3d.io.errors import MeshFileNotFoundError
from inverse3d.io.ply_io import read_ply

HEADER = """ply
format ascii 1.0
element vertex {nv}
property float x
property float y
property float z
element face {nf}
property list uchar int vertex_indices
end_header
"""


def ascii_ply(tmp_path: Path, verts: str, faces: str, nv: int, nf: int, name: str = "m.ply") -> Path:
    path = tmp_path / name
    path.write_text(HEADER.format(nv=nv, nf=nf) + verts + faces)
    return path


@pytest.mark.parametrize("ascii", [False, True])
def test_round_trip_mesh(tmp_path, ascii):
    verts = torch.rand(6, 3)
    faces = torch.tensor([[0, 1, 2], [2, 3, 4], [4, 5, 0]])
    normals = F.normalize(torch.rand(6, 3), dim=1)
    colors = torch.rand(6, 3)
    path = tmp_path / "m.ply"
    save_ply(path, verts, faces, verts_normals=normals, ascii=ascii, colors=colors)
    v, f = load_ply(path)
    assert v.dtype == torch.float32 and f.dtype == torch.int64
    torch.testing.assert_close(v, verts, atol=1e-6, rtol=0)
    assert torch.equal(f, faces)
    ply = read_ply(path)
    np.testing.assert_allclose(ply["normals"], normals.numpy(), atol=1e-6)
    np.testing.assert_allclose(ply["colors"], colors.numpy(), atol=0.5 / 255 + 1e-9)


def test_round_trip_pointcloud_and_decimal_places(tmp_path):
    verts = torch.rand(5, 3)
    path = tmp_path / "p.ply"
    save_ply(path, verts, ascii=True, decimal_places=2)
    assert "element face" not in path.read_text()
    v, f = load_ply(path)
    assert f.shape == (0, 3)
    torch.testing.assert_close(v, verts, atol=0.005 + 1e-6, rtol=0)


def test_polygons_are_fan_triangulated_in_file_order(tmp_path):
    path = ascii_ply(tmp_path, "0 0 0\n1 0 0\n1 1 0\n0 1 0\n2 2 0\n", "4 0 1 2 3\n3 0 1 4\n", 5, 2)
    _, faces = load_ply(path)
    assert faces.tolist() == [[0, 1, 2], [0, 2, 3], [0, 1, 4]]


def test_file_object(tmp_path):
    path = tmp_path / "m.ply"
    save_ply(path, torch.rand(3, 3), torch.tensor([[0, 1, 2]]))
    with open(path, "rb") as fb:
        v, f = load_ply(fb)
    assert v.shape == (3, 3) and f.tolist() == [[0, 1, 2]]


def test_bad_ply_files(tmp_path):
    with pytest.raises(MeshFileNotFoundError, match="gone.ply: no such file"):
        load_ply(tmp_path / "gone.ply")
    not_ply = tmp_path / "x.ply"
    not_ply.write_text("hello")
    with pytest.raises(MeshFileError, match=r"x\.ply: not a PLY file"):
        load_ply(not_ply)
    truncated = ascii_ply(tmp_path, "0 0 0\n1 0 0\n", "", 3, 0, "t.ply")
    with pytest.raises(MeshFileError, match=r"t\.ply: truncated: the data ends after 2 of 3 vertex rows"):
        load_ply(truncated)
    nan = ascii_ply(tmp_path, "0 0 0\n1 nan 0\n0 1 0\n", "3 0 1 2\n", 3, 1, "n.ply")
    with pytest.raises(MeshFileError, match=r"n\.ply: vertex 1 has a non-finite coordinate"):
        load_ply(nan)
    out = ascii_ply(tmp_path, "0 0 0\n1 0 0\n0 1 0\n", "3 0 1 7\n", 3, 1, "o.ply")
    with pytest.raises(MeshFileError, match=r"o\.ply: face index 7 out of range \(3 vertices\)"):
        load_ply(out)
    short = ascii_ply(tmp_path, "0 0 0\n1 0 0\n0 1 0\n", "2 0 1\n", 3, 1, "s.ply")
    with pytest.raises(MeshFileError, match=r"s\.ply: face 0 has 2 vertices"):
        load_ply(short)
    junk = ascii_ply(tmp_path, "0 0 0\n1 x 0\n0 1 0\n", "3 0 1 2\n", 3, 1, "j.ply")
    with pytest.raises(MeshFileError, match=r"j\.ply line 11: vertex 1: 'x' is not a number"):
        load_ply(junk)


def test_save_ply_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="verts"):
        save_ply(tmp_path / "a.ply", torch.rand(3, 4))
    with pytest.raises(ValueError, match="outside"):
        save_ply(tmp_path / "a.ply", torch.rand(3, 3), torch.tensor([[0, 1, 5]]))
    with pytest.raises(ValueError, match="NaN"):
        save_ply(tmp_path / "a.ply", torch.full((3, 3), float("inf")))
    with pytest.raises(ValueError, match="rows"):
        save_ply(tmp_path / "a.ply", torch.rand(3, 3), colors=torch.rand(2, 3))


@pytest.mark.parametrize("device", DEVICES)
def test_load_pointcloud_ply_with_colours_and_normals(tmp_path, device):
    points, normals, colors = torch.rand(20, 3), F.normalize(torch.rand(20, 3), dim=1), torch.rand(20, 3)
    save_ply(tmp_path / "c.ply", points, verts_normals=normals, colors=colors)
    cloud = load_pointcloud(tmp_path / "c.ply", device=device)
    assert cloud.points_packed().device.type == device
    torch.testing.assert_close(cloud.points_packed().cpu(), points, atol=1e-6, rtol=0)
    torch.testing.assert_close(cloud.normals_packed().cpu(), normals, atol=1e-6, rtol=0)
    torch.testing.assert_close(cloud.features_packed().cpu(), colors, atol=0.5 / 255 + 1e-6, rtol=0)


def test_load_pointcloud_npz_and_npy(tmp_path):
    xyz = np.random.rand(10, 3)
    rgb = np.random.randint(0, 256, (10, 3)).astype(np.uint8)
    np.savez(tmp_path / "a.npz", xyz=xyz, rgb=rgb, normals=xyz / np.linalg.norm(xyz, axis=1, keepdims=True))
    cloud = load_pointcloud(tmp_path / "a.npz")
    np.testing.assert_allclose(cloud.points_packed().numpy(), xyz, atol=1e-6)
    np.testing.assert_allclose(cloud.features_packed().numpy(), rgb / 255.0, atol=1e-6)
    assert cloud.normals_packed() is not None
    np.savez(tmp_path / "f.npz", points=xyz, features=np.ones((10, 5)))
    assert load_pointcloud(tmp_path / "f.npz").features_packed().shape == (10, 5)
    np.save(tmp_path / "b.npy", np.concatenate([xyz, rgb / 255.0], axis=1))
    cloud = load_pointcloud(tmp_path / "b.npy")
    np.testing.assert_allclose(cloud.features_packed().numpy(), rgb / 255.0, atol=1e-6)
    np.save(tmp_path / "c.npy", xyz)
    assert load_pointcloud(tmp_path / "c.npy").features_packed() is None


def test_load_pointcloud_bad_files(tmp_path):
    np.savez(tmp_path / "k.npz", pts=np.zeros((3, 3)))
    with pytest.raises(MeshFileError, match=r"k\.npz: has no 'points' or 'xyz'"):
        load_pointcloud(tmp_path / "k.npz")
    np.save(tmp_path / "s.npy", np.zeros((3, 4)))
    with pytest.raises(MeshFileError, match=r"s\.npy: expected an \(N, 3\) or \(N, 6\)"):
        load_pointcloud(tmp_path / "s.npy")
    np.save(tmp_path / "n.npy", np.array([[0, 0, 0], [np.nan, 0, 0]]))
    with pytest.raises(MeshFileError, match=r"n\.npy: point 1 has a non-finite"):
        load_pointcloud(tmp_path / "n.npy")
    np.save(tmp_path / "e.npy", np.zeros((0, 3)))
    with pytest.raises(MeshFileError, match=r"e\.npy: has no points"):
        load_pointcloud(tmp_path / "e.npy")
    np.savez(tmp_path / "m.npz", points=np.zeros((3, 3)), colors=np.zeros((2, 3)))
    with pytest.raises(MeshFileError, match=r"m\.npz: 'colors' should have shape \(3, C\)"):
        load_pointcloud(tmp_path / "m.npz")
    (tmp_path / "x.xyz").write_text("0 0 0\n")
    with pytest.raises(MeshFileError, match="unsupported point cloud suffix"):
        load_pointcloud(tmp_path / "x.xyz")
    with pytest.raises(MeshFileNotFoundError):
        load_pointcloud(tmp_path / "gone.npz")
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(MeshFileError, match=r"bad\.npz: not a NumPy \.npz archive"):
        load_pointcloud(tmp_path / "bad.npz")


BAD_ASCII = [  # (vertex lines, face lines, nv, nf, expected message)
    ("0 0 0\n1 0 0\n1 1\n", "3 0 1 2\n", 3, 1, r"line 12: vertex 2 has 2 values, the header declares 3 properties"),
    ("0 0 0\n1 0 0\n1 1 0 7\n", "3 0 1 2\n", 3, 1, r"line 12: vertex 2 has 4 values, the header declares 3"),
    ("0 0 0\n1 0 0\n1 1 0\n", "4 0 1 2\n", 3, 1, r"line 13: face 0 has 4 values where its list lengths call for 5"),
    ("0 0 0\n1 0 0\n1 1 0\n", "3 0 1 2 0\n", 3, 1, r"line 13: face 0 has 5 values where its list lengths call for 4"),
    ("0 0 0\n1 0 0\n1 1 0\n", "3 0 1 2\n3 0 1\n", 3, 2, r"line 14: face 1 has 3 values where"),
    ("0 0 0\n1 0 0\n1 1 0\n", "3 0 1 2\n", 3, 2, r"truncated: the data ends after 1 of 2 face rows"),
    ("0 0 0\n1 0 0\n1 1 0\n", "2.5 0 1 2\n", 3, 1, r"line 13: face 0: list length 2.5 is not a whole number"),
    ("0 0 0\n1 0 0\n1 1 0\n", "3 0 1 9\n", 3, 1, r"face index 9 out of range \(3 vertices\)"),
    ("0 0 0\n1 0 0\n1 1 0\n", "3 0 -1 2\n", 3, 1, r"face index -1 out of range"),
]


@pytest.mark.parametrize("verts,faces,nv,nf,message", BAD_ASCII)
def test_bad_ascii_ply_names_the_file_and_line(tmp_path, verts, faces, nv, nf, message):
    path = ascii_ply(tmp_path, verts, faces, nv, nf, "bad.ply")
    with pytest.raises(MeshFileError, match=r"bad\.ply.*" + message) as err:
        load_ply(path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


def test_ascii_ply_blank_lines_and_crlf_are_fine(tmp_path):
    path = ascii_ply(tmp_path, "0 0 0\r\n\n1 0 0\r\n1 1 0\r\n", "\n3 0 1 2\r\n", 3, 1)
    verts, faces = load_ply(path)
    assert verts.shape == (3, 3) and faces.tolist() == [[0, 1, 2]]


def test_truncated_binary_ply(tmp_path):
    save_ply(tmp_path / "b.ply", torch.rand(10, 3), torch.randint(0, 10, (5, 3)))
    data = (tmp_path / "b.ply").read_bytes()
    body = data.index(b"end_header\n") + len(b"end_header\n")
    (tmp_path / "short.ply").write_bytes(data[: body + 40])
    with pytest.raises(MeshFileError, match=r"short\.ply: truncated: the header declares 10 vertex, 5 face, which need "
                                            r"at least 125 bytes of data, but the file holds 40"):
        load_ply(tmp_path / "short.ply")
    (tmp_path / "cut.ply").write_bytes(data[:-3])
    with pytest.raises(MeshFileError, match=r"cut\.ply: binary data does not match the header"):
        load_ply(tmp_path / "cut.ply")
    huge = data.replace(b"element vertex 10", b"element vertex 10000000000")
    (tmp_path / "huge.ply").write_bytes(huge)
    with pytest.raises(MeshFileError, match=r"huge\.ply: truncated: the header declares 10000000000 vertex"):
        load_ply(tmp_path / "huge.ply")


def test_malformed_ply_header(tmp_path):
    (tmp_path / "h.ply").write_text("ply\nformat ascii 1.0\nelement vertex many\nend_header\n")
    with pytest.raises(MeshFileError, match=r"h\.ply line 3: malformed PLY header line 'element vertex many'"):
        load_ply(tmp_path / "h.ply")
    (tmp_path / "f.ply").write_text("ply\nelement vertex 0\nend_header\n")
    with pytest.raises(MeshFileError, match=r"f\.ply: PLY header has no format line"):
        load_ply(tmp_path / "f.ply")


def test_bad_point_cloud_arrays(tmp_path):
    np.save(tmp_path / "s.npy", np.array([["a", "b", "c"]]))
    with pytest.raises(MeshFileError, match=r"s\.npy: points should be numbers"):
        load_pointcloud(tmp_path / "s.npy")
    (tmp_path / "e.npz").write_bytes(b"")
    with pytest.raises(MeshFileError, match=r"e\.npz: is empty \(0 bytes\)"):
        load_pointcloud(tmp_path / "e.npz")
    (tmp_path / "r.npz").write_bytes(np.random.default_rng(0).bytes(500))
    with pytest.raises(MeshFileError, match=r"r\.npz: not a NumPy \.npz archive \(it does not start as one") as err:
        load_pointcloud(tmp_path / "r.npz")
    assert "\n" not in str(err.value)
    (tmp_path / "d.npz").mkdir()
    with pytest.raises(MeshFileError, match=r"d\.npz: is a directory, expected a point cloud file"):
        load_pointcloud(tmp_path / "d.npz")
