"""load_obj / load_objs_as_meshes / save_obj: the cow, parser features against a naive reference, materials and
textures, every bad-file case, and round trips."""

from __future__ import annotations

import io
import random
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import DEVICES
from PIL import Image
from reference.obj_io import parse_obj_naive

from inverse3d.io import MeshFileError, load_mesh, load_obj, load_objs_as_meshes, save_obj
from inverse3d.io.errors import MeshFileNotFoundError
from inverse3d.io.obj_io import pack_texture_maps
from inverse3d.renderer import TexturesAtlas

QUAD = """v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0
vt 0 0
vt 1 0
vt 1 1
vt 0 1
vn 0 0 1
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def write_png(path: Path, rgb: np.ndarray) -> None:
    Image.fromarray((np.asarray(rgb) * 255).round().astype(np.uint8)).save(path)


# ------------------------------------------------------------------------------------------------ the cow


def test_cow_counts_and_texture(cow_obj):
    verts, faces, aux = load_obj(cow_obj)
    assert verts.shape == (2930, 3) and verts.dtype == torch.float32
    assert faces.verts_idx.shape == (5856, 3) and faces.verts_idx.dtype == torch.int64
    assert aux.verts_uvs.shape == (3225, 2)
    assert faces.textures_idx.shape == (5856, 3) and int(faces.textures_idx.min()) >= 0
    assert int(faces.textures_idx.max()) < 3225 and int(faces.verts_idx.max()) < 2930
    assert (faces.normals_idx == -1).all() and aux.normals is None  # the cow has no vn lines
    assert (faces.materials_idx == 0).all()
    (name, image), = aux.texture_images.items()
    assert name == "material_1" and image.shape == (1024, 1024, 3) and image.dtype == torch.float32
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    colors = aux.material_colors["material_1"]
    assert torch.equal(colors["diffuse_color"], torch.ones(3))
    assert torch.equal(colors["shininess"], torch.tensor([10.0]))


def test_cow_matches_naive_reference(cow_obj):
    ref = parse_obj_naive(cow_obj.read_text())
    verts, faces, aux = load_obj(cow_obj, load_textures=False)
    np.testing.assert_allclose(verts.numpy(), ref["verts"], rtol=0, atol=1e-6)
    assert np.array_equal(faces.verts_idx.numpy(), ref["faces_v"])
    assert np.array_equal(faces.textures_idx.numpy(), ref["faces_t"])
    assert aux.material_colors is None and aux.texture_images is None


def test_cow_as_meshes(cow_obj):
    mesh = load_objs_as_meshes([cow_obj])
    assert mesh.verts_packed().shape == (2930, 3) and mesh.faces_packed().shape == (5856, 3)
    assert type(mesh.textures).__name__ == "TexturesUV"
    assert mesh.textures.maps_padded().shape == (1, 1024, 1024, 3)
    assert mesh.textures.verts_uvs_padded().shape == (1, 3225, 2)
    two = load_objs_as_meshes([cow_obj, cow_obj])
    assert len(two) == 2 and two.textures.maps_padded().shape == (2, 1024, 1024, 3)


# ------------------------------------------------------------------------------------------------ parser


def random_obj(rng: random.Random) -> str:
    """An OBJ with interleaved elements, polygons, every corner format, negative indices and materials."""
    out, nv, nt, nn = [], 0, 0, 0
    for _ in range(rng.randint(20, 40)):
        r = rng.random()
        if r < 0.3 or nv < 3:
            out.append(f"{rng.choice(['v', '  v', 'v'])} {rng.uniform(-1, 1):.5f}\t{rng.uniform(-1, 1):.5f} "
                       f"{rng.uniform(-1, 1):.5e}")
            nv += 1
        elif r < 0.4:
            out.append(f"vt {rng.random():.4f} {rng.random():.4f}")
            nt += 1
        elif r < 0.5:
            out.append(f"vn {rng.uniform(-1, 1):.4f} {rng.uniform(-1, 1):.4f} {rng.uniform(-1, 1):.4f} # normal")
            nn += 1
        elif r < 0.55:
            out.append(f"usemtl mat{rng.randint(0, 2)}")
        elif r < 0.6:
            out.append(rng.choice(["# comment", "", "g group", "s off", "o object"]))
        else:
            k = rng.randint(3, 6)
            formats = ["v"] + (["v/vt"] if nt else []) + (["v//vn"] if nn else []) + (["v/vt/vn"] if nt and nn else [])
            fmt = rng.choice(formats)

            def idx(n):
                i = rng.randint(1, n)
                return str(i) if rng.random() < 0.6 else str(i - n - 1)  # negative: relative to defined so far

            corners = []
            for _ in range(k):
                c = idx(nv)
                if fmt == "v/vt":
                    c += "/" + idx(nt)
                elif fmt == "v//vn":
                    c += "//" + idx(nn)
                elif fmt == "v/vt/vn":
                    c += "/" + idx(nt) + "/" + idx(nn)
                corners.append(c)
            out.append("f " + " ".join(corners))
    return rng.choice(["\n", "\r\n"]).join(out) + "\n"


@pytest.mark.parametrize("seed", range(12))
def test_random_files_match_naive_reference(seed):
    text = random_obj(random.Random(seed))
    ref = parse_obj_naive(text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "usemtl without mtllib"
        verts, faces, aux = load_obj(io.BytesIO(text.encode()), load_textures=False)
    np.testing.assert_allclose(verts.numpy(), ref["verts"], rtol=1e-6, atol=1e-6)
    assert np.array_equal(faces.verts_idx.numpy(), ref["faces_v"])
    assert np.array_equal(faces.textures_idx.numpy(), ref["faces_t"])
    assert np.array_equal(faces.normals_idx.numpy(), ref["faces_n"])
    assert np.array_equal(faces.materials_idx.numpy(), ref["faces_mat"])
    for got, key in ((aux.verts_uvs, "uvs"), (aux.normals, "normals")):
        if len(ref[key]):
            np.testing.assert_allclose(got.numpy(), ref[key], rtol=1e-6, atol=1e-6)
        else:
            assert got is None


def test_polygon_fan_triangulation_and_formats():
    text = QUAD + "f 1/1/1 2/2/1 3/3/1 4/4/1\nf -4//1 -3//1 -2//1\nf 1 2 3\n"
    verts, faces, aux = load_obj(io.StringIO(text))
    assert faces.verts_idx.tolist() == [[0, 1, 2], [0, 2, 3], [0, 1, 2], [0, 1, 2]]
    assert faces.textures_idx.tolist() == [[0, 1, 2], [0, 2, 3], [-1, -1, -1], [-1, -1, -1]]
    assert faces.normals_idx.tolist() == [[0, 0, 0], [0, 0, 0], [0, 0, 0], [-1, -1, -1]]
    assert faces.materials_idx.tolist() == [-1, -1, -1, -1]
    assert aux.normals.shape == (1, 3) and aux.verts_uvs.shape == (4, 2)


def test_negative_indices_are_relative_to_the_line():
    text = "v 0 0 0\nv 1 0 0\nv 0 1 0\nf -3 -2 -1\nv 5 5 5\nf -4 -3 -1\n"
    _, faces, _ = load_obj(io.StringIO(text))
    assert faces.verts_idx.tolist() == [[0, 1, 2], [0, 1, 3]]


def test_vertex_colour_columns_tolerated(tmp_path):
    text = "v 0 0 0 1 0 0\nv 1 0 0 0 1 0\nv 0 1 0 0 0 1\nf 1 2 3\n"
    verts, faces, _ = load_obj(io.StringIO(text))
    assert verts.tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0]]
    mesh = load_objs_as_meshes([write(tmp_path, "c.obj", text)])
    assert type(mesh.textures).__name__ == "TexturesVertex"
    assert mesh.textures.verts_features_packed().tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]


def test_file_objects_and_paths_agree(tmp_path):
    path = write(tmp_path, "q.obj", QUAD + "f 1 2 3 4\n")
    a = load_obj(path)
    b = load_obj(str(path))
    with open(path, "rb") as fb:
        c = load_obj(fb)
    with open(path) as ft:
        d = load_obj(ft)
    for other in (b, c, d):
        assert torch.equal(a[0], other[0]) and torch.equal(a[1].verts_idx, other[1].verts_idx)


@pytest.mark.parametrize("device", DEVICES)
def test_device(device, tmp_path):
    verts, faces, aux = load_obj(write(tmp_path, "q.obj", QUAD + "f 1/1 2/2 3/3\n"), device=device)
    assert verts.device.type == device and faces.verts_idx.device.type == device
    assert aux.verts_uvs.device.type == device


def test_file_without_faces_loads_empty_but_cannot_be_a_mesh(tmp_path):
    path = write(tmp_path, "pts.obj", "v 0 0 0\nv 1 1 1\n")
    verts, faces, aux = load_obj(path)
    assert verts.shape == (2, 3) and faces.verts_idx.shape == (0, 3) and faces.materials_idx.shape == (0,)
    with pytest.raises(MeshFileError, match=r"pts\.obj: has no faces \(2 vertices\)"):
        load_objs_as_meshes([path])


# ------------------------------------------------------------------------------------------------ bad files


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.obj"
    for call in (lambda: load_obj(missing), lambda: load_objs_as_meshes([missing])):
        with pytest.raises(MeshFileNotFoundError, match="nope.obj: no such file") as err:
            call()
        assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, MeshFileError)
        assert str(missing) in str(err.value)


BAD = [
    ("v 0 0 0\nv 1 zero 0\nv 0 1 0\nf 1 2 3\n", r"bad\.obj line 2: vertex value 'zero' is not a number"),
    ("v 0 0\n", r"bad\.obj line 1: vertex needs 3 values, got 2"),
    ("v 0 0 0\nv 1 0 0\nv 0 1 0\n\nf 1 2\n", r"bad\.obj line 5: face needs at least 3 vertices, got 2"),
    ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n", r"bad\.obj line 4: face vertex index 0 is invalid"),
    ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1.5 2 3\n", r"line 4: face value '1.5' is not an integer index"),
    ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1/x 2/1 3/1\n", r"line 4: face value 'x' is not an integer index"),
    ("v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nf 1/1 2 3\n", r"line 5: face mixes corner formats"),
    ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1/// 2 3\n", r"line 4: face corner '1///' is not"),
    ("v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", r"bad\.obj line 1: vertex has a non-finite value"),
    ("v 0 0 0\nv 1 inf 0\nv 0 1 0\nf 1 2 3\n", r"bad\.obj line 2: vertex has a non-finite value"),
    ("v 0 0 0\nvt nan 0\n", r"line 2: texture coordinate has a non-finite value"),
    ("v 0 0 0\nusemtl\n", r"line 2: usemtl without a material name"),
]


@pytest.mark.parametrize("text,message", BAD)
def test_bad_files_name_file_and_line(tmp_path, text, message):
    path = write(tmp_path, "bad.obj", text)
    with pytest.raises(MeshFileError, match=message) as err:
        load_obj(path)
    assert str(path) in str(err.value)


OUT_OF_RANGE = [
    ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4000\n", r"bad\.obj line 4: face vertex index 4000 out of range \(3 vertices\)",
     (0, 2), 3999),
    ("v 0 0 0\nf -2 1 1\nv 1 0 0\n", r"bad\.obj line 2: face vertex index -2 out of range \(1 vertices defined before",
     (0, 0), -1),
    ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1/1 2/1 3/1\n", r"line 4: face texture coordinate index 1 out of range \(0 ",
     None, None),
    ("v 0 0 0\nv 1 0 0\nv 0 1 0\nvn 0 0 1\nf 1//2 2//1 3//1\n", r"line 5: face normal index 2 out of range",
     None, None),
]


@pytest.mark.parametrize("text,message,where,value", OUT_OF_RANGE)
def test_out_of_range_indices_warn_in_load_obj_and_fail_to_make_meshes(tmp_path, text, message, where, value):
    # PyTorch3D's load_obj warns "Faces have invalid indices" and returns the indices; so do we (naming the first).
    path = write(tmp_path, "bad.obj", text)
    with pytest.warns(UserWarning, match="Faces have invalid indices: .*" + message):
        _, faces, _ = load_obj(path)
    if where is not None:
        assert int(faces.verts_idx[where]) == value
    # A Meshes whose faces point outside its vertices is garbage (PyTorch3D builds it): an error here.
    with pytest.raises(MeshFileError, match=message):
        load_objs_as_meshes([path])
    with pytest.raises(MeshFileError, match=message):  # the atlas reads the indices too
        load_obj(path, create_texture_atlas=True)


def test_bad_texture_wrap():
    with pytest.raises(ValueError, match="texture_wrap"):
        load_obj(io.StringIO(QUAD), texture_wrap="mirror")


# ------------------------------------------------------------------------------------------------ materials


def test_missing_mtl_warns_and_falls_back_to_grey(tmp_path):
    path = write(tmp_path, "m.obj", "mtllib gone.mtl\nusemtl red\n" + QUAD + "f 1 2 3 4\n")
    with pytest.warns(UserWarning, match=r"MTL file .*gone\.mtl not found"):
        verts, faces, aux = load_obj(path)
    assert aux.material_colors is None and aux.texture_images is None
    assert faces.materials_idx.tolist() == [0, 0]
    with pytest.warns(UserWarning, match="gone.mtl"):
        mesh = load_objs_as_meshes([path])
    assert torch.allclose(mesh.textures.verts_features_packed(), torch.full((4, 3), 0.5))


def test_usemtl_without_mtllib_warns(tmp_path):
    path = write(tmp_path, "m.obj", "usemtl red\n" + QUAD + "f 1 2 3\n")
    with pytest.warns(UserWarning, match="names no mtllib"):
        load_obj(path)


def test_missing_texture_warns_and_uses_diffuse_colour(tmp_path):
    write(tmp_path, "m.mtl", "newmtl skin\nKd 0.2 0.4 0.6 # bluish\nmap_Kd -s 1 1 1 textures/skin.png\n")
    path = write(tmp_path, "m.obj", "mtllib m.mtl\nusemtl skin\n" + QUAD + "f 1/1 2/2 3/3 4/4\n")
    with pytest.warns(UserWarning, match=r"texture image .*textures/skin\.png of material 'skin' not found; using its"):
        _, _, aux = load_obj(path)
    assert aux.texture_images == {}
    assert torch.allclose(aux.material_colors["skin"]["diffuse_color"], torch.tensor([0.2, 0.4, 0.6]))
    with pytest.warns(UserWarning, match="skin.png"):
        mesh = load_objs_as_meshes([path])
    assert torch.allclose(mesh.textures.verts_features_packed(), torch.tensor([0.2, 0.4, 0.6]).expand(4, 3))


def test_corrupt_texture_warns(tmp_path):
    (tmp_path / "t.png").write_bytes(b"not a png")
    write(tmp_path, "m.mtl", "newmtl a\nmap_Kd t.png\n")
    path = write(tmp_path, "m.obj", "mtllib m.mtl\nusemtl a\n" + QUAD + "f 1/1 2/2 3/3\n")
    with pytest.warns(UserWarning, match=r"t\.png of material 'a' cannot be read"):
        load_obj(path)


def test_material_missing_from_mtl_warns(tmp_path):
    write(tmp_path, "m.mtl", "newmtl a\nKd 1 0 0\n")
    path = write(tmp_path, "m.obj", "mtllib m.mtl\nusemtl b\n" + QUAD + "f 1 2 3\n")
    with pytest.warns(UserWarning, match=r"materials \['b'\] are not defined"):
        _, _, aux = load_obj(path)
    assert aux.material_colors == {}


def test_malformed_mtl_value_names_mtl_and_line(tmp_path):
    write(tmp_path, "m.mtl", "newmtl a\n\nKd 1 zero 0\n")
    path = write(tmp_path, "m.obj", "mtllib m.mtl\nusemtl a\n" + QUAD + "f 1 2 3\n")
    with pytest.raises(MeshFileError, match=r"m\.mtl line 3: malformed Kd"):
        load_obj(path)


def sample(image: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """Bilinear, align_corners=True, border: image (H, W, 3) at uv (P, 2) with v up -> (P, 3)."""
    grid = torch.stack([uv[:, 0] * 2 - 1, 1 - uv[:, 1] * 2], -1)[None, None]
    out = F.grid_sample(image.permute(2, 0, 1)[None].double(), grid.double(), align_corners=True,
                        padding_mode="border")
    return out[0, :, 0].T


def test_several_textured_materials_are_packed_without_loss(tmp_path):
    rng = np.random.default_rng(0)
    red, green = rng.random((6, 10, 3)), rng.random((9, 5, 3))
    write_png(tmp_path / "a.png", red)
    write_png(tmp_path / "b.png", green)
    write(tmp_path, "m.mtl", "newmtl A\nmap_Kd a.png\nnewmtl B\nmap_Kd b.png\nnewmtl C\nKd 0.1 0.2 0.3\n")
    text = QUAD + "vt 0.3 0.7\nmtllib m.mtl\nusemtl A\nf 1/1 2/2 3/3\nusemtl B\nf 1/4 3/3 4/5\nusemtl C\nf 1 2 4\n"
    path = write(tmp_path, "m.obj", text)
    _, faces, aux = load_obj(path)
    mesh = load_objs_as_meshes([path])
    tex = mesh.textures
    packed = tex.maps_padded()[0]
    new_fuv = tex.faces_uvs_padded()[0]
    new_uv = tex.verts_uvs_padded()[0]
    bary = torch.distributions.Dirichlet(torch.ones(3)).sample((50,)).double()  # (50, 3)
    for face, name in ((0, "A"), (1, "B")):
        old = bary @ aux.verts_uvs[faces.textures_idx[face]].double()
        new = bary @ new_uv[new_fuv[face]].double()
        expected = sample(aux.texture_images[name], old)
        torch.testing.assert_close(sample(packed, new), expected, atol=1e-5, rtol=0)
    new = bary @ new_uv[new_fuv[2]].double()
    torch.testing.assert_close(sample(packed, new), torch.tensor([0.1, 0.2, 0.3]).double().expand(50, 3),
                               atol=1e-6, rtol=0)


def test_colour_only_materials(tmp_path):
    write(tmp_path, "m.mtl", "newmtl A\nKd 1 0 0\nnewmtl B\nKd 0 0 1\n")
    path = write(tmp_path, "m.obj", "mtllib m.mtl\n" + QUAD + "usemtl A\nf 1 2 3\nusemtl B\nf 1 3 4\n")
    mesh = load_objs_as_meshes([path])
    tex = mesh.textures
    assert type(tex).__name__ == "TexturesUV"
    uv = tex.verts_uvs_padded()[0][tex.faces_uvs_padded()[0]].reshape(-1, 2)  # (6, 2)
    colours = sample(tex.maps_padded()[0], uv.double())
    torch.testing.assert_close(colours, torch.tensor([[1.0, 0, 0]] * 3 + [[0, 0, 1.0]] * 3).double())
    write(tmp_path, "one.mtl", "newmtl A\nKd 0 1 0\n")
    path = write(tmp_path, "one.obj", "mtllib one.mtl\n" + QUAD + "usemtl A\nf 1 2 3\n")
    one = load_objs_as_meshes([path]).textures
    assert type(one).__name__ == "TexturesVertex"
    assert torch.equal(one.verts_features_packed(), torch.tensor([0.0, 1.0, 0.0]).expand(4, 3))


def test_pack_texture_maps_single_colour_patch():
    packed, fuv, uv = pack_texture_maps([], torch.tensor([[0.2, 0.3, 0.4]]), torch.tensor([-1]), torch.tensor([0]),
                                        torch.zeros((1, 3), dtype=torch.int64), torch.zeros((0, 2)))
    assert fuv.tolist() == [[0, 0, 0]]
    torch.testing.assert_close(sample(packed, uv.double()), torch.tensor([[0.2, 0.3, 0.4]]).double())


def test_texture_atlas(tmp_path):
    image = np.zeros((4, 4, 3))
    image[:2] = [1.0, 0.0, 0.0]  # top half red (v near 1), bottom half blue
    image[2:] = [0.0, 0.0, 1.0]
    write_png(tmp_path / "t.png", image)
    write(tmp_path, "m.mtl", "newmtl A\nmap_Kd t.png\nnewmtl B\nKd 0 1 0\n")
    text = QUAD + "vt 0.1 0.9\nvt 0.2 0.9\nvt 0.1 0.95\nmtllib m.mtl\nusemtl A\nf 1/5 2/6 3/7\nusemtl B\nf 1 3 4\n"
    _, _, aux = load_obj(write(tmp_path, "m.obj", text), create_texture_atlas=True, texture_atlas_size=3)
    atlas = aux.texture_atlas
    assert atlas.shape == (2, 3, 3, 3)
    torch.testing.assert_close(atlas[0], torch.tensor([1.0, 0, 0]).expand(3, 3, 3))
    torch.testing.assert_close(atlas[1], torch.tensor([0.0, 1, 0]).expand(3, 3, 3))
    mesh = load_objs_as_meshes([tmp_path / "m.obj"], create_texture_atlas=True, texture_atlas_size=3)
    assert isinstance(mesh.textures, TexturesAtlas)
    torch.testing.assert_close(mesh.textures.atlas_padded()[0], atlas)


# ------------------------------------------------------------------------------------------------ save_obj


def test_save_obj_round_trip_plain(tmp_path):
    verts = torch.rand(7, 3)
    faces = torch.randint(0, 7, (9, 3))
    path = tmp_path / "out.obj"
    save_obj(path, verts, faces)
    v, f, aux = load_obj(path)
    torch.testing.assert_close(v, verts, atol=1e-6, rtol=0)
    assert torch.equal(f.verts_idx, faces) and aux.verts_uvs is None
    buf = io.StringIO()
    save_obj(buf, verts, faces, decimal_places=3)
    assert buf.getvalue().splitlines()[0] == "v " + " ".join(f"{x:.3f}" for x in verts[0].tolist())


def test_save_obj_round_trip_textured_with_normals(tmp_path):
    verts, faces = torch.rand(4, 3), torch.tensor([[0, 1, 2], [0, 2, 3]])
    normals = F.normalize(torch.rand(2, 3), dim=1)
    fn = torch.tensor([[0, 0, 1], [1, 1, 0]])
    uvs, fuv = torch.rand(5, 2), torch.tensor([[0, 1, 2], [0, 3, 4]])
    texture = torch.rand(8, 6, 3)
    path = tmp_path / "tex.obj"
    save_obj(path, verts, faces, normals=normals, faces_normals_idx=fn, verts_uvs=uvs, faces_uvs=fuv,
             texture_map=texture)
    assert (tmp_path / "tex.mtl").is_file() and (tmp_path / "tex.png").is_file()
    v, f, aux = load_obj(path)
    torch.testing.assert_close(v, verts, atol=1e-6, rtol=0)
    assert torch.equal(f.verts_idx, faces) and torch.equal(f.textures_idx, fuv) and torch.equal(f.normals_idx, fn)
    torch.testing.assert_close(aux.normals, normals, atol=1e-6, rtol=0)
    torch.testing.assert_close(aux.verts_uvs, uvs, atol=1e-6, rtol=0)
    torch.testing.assert_close(aux.texture_images["mesh"], texture, atol=0.5 / 255 + 1e-6, rtol=0)
    mesh = load_objs_as_meshes([path])
    assert mesh.textures.maps_padded().shape == (1, 8, 6, 3)


def test_save_obj_rejects_bad_input(tmp_path):
    path = tmp_path / "x.obj"
    with pytest.raises(ValueError, match="verts"):
        save_obj(path, torch.rand(3, 2), torch.zeros((1, 3), dtype=torch.int64))
    with pytest.raises(ValueError, match="NaN"):
        save_obj(path, torch.tensor([[float("nan"), 0, 0]] * 3), torch.tensor([[0, 1, 2]]))
    with pytest.raises(ValueError, match="outside"):
        save_obj(path, torch.rand(3, 3), torch.tensor([[0, 1, 3]]))
    with pytest.raises(ValueError, match="together"):
        save_obj(path, torch.rand(3, 3), torch.tensor([[0, 1, 2]]), verts_uvs=torch.rand(3, 2))
    with pytest.raises(ValueError, match="together"):
        save_obj(path, torch.rand(3, 3), torch.tensor([[0, 1, 2]]), normals=torch.rand(3, 3))


def test_line_and_point_elements_warn():
    with pytest.warns(UserWarning, match=r"skipped 2 'l'"):
        load_obj(io.StringIO(QUAD + "l 1 2\nl 2 3\nf 1 2 3\n"))


def test_batch_of_textured_and_plain_meshes(tmp_path):
    write_png(tmp_path / "t.png", np.full((4, 4, 3), 0.25))
    write(tmp_path, "t.mtl", "newmtl A\nmap_Kd t.png\n")
    textured = write(tmp_path, "t.obj", "mtllib t.mtl\nusemtl A\n" + QUAD + "f 1/1 2/2 3/3 4/4\n")
    plain = write(tmp_path, "p.obj", QUAD + "f 1 2 3\n")
    assert load_objs_as_meshes([plain]).textures is None  # no material, no colours: as PyTorch3D
    with pytest.warns(UserWarning, match="one-colour texture map"):
        batch = load_objs_as_meshes([textured, plain])
    assert len(batch) == 2 and type(batch.textures).__name__ == "TexturesUV"
    maps = batch.textures.maps_list()
    assert maps[0].shape == (4, 4, 3) and torch.allclose(maps[1], torch.tensor(0.5))


# ------------------------------------------------------------------------------------------------ hostile files


def test_empty_and_binary_files_are_not_meshes(tmp_path):
    empty = tmp_path / "empty.obj"
    empty.write_bytes(b"")
    with pytest.raises(MeshFileError, match=r"empty\.obj: no vertices \(an empty file\)"):
        load_obj(empty)
    noise = tmp_path / "noise.obj"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    for call in (load_obj, lambda p: load_objs_as_meshes([p])):
        with pytest.raises(MeshFileError, match=r"noise\.obj: not an OBJ file: it holds binary data") as err:
            call(noise)
        assert "\n" not in str(err.value)
    words = write(tmp_path, "words.obj", "hello\nworld\n")
    with pytest.raises(MeshFileError, match=r"words\.obj: no vertices \(no 'v' lines\)"):
        load_obj(words)


def test_lines_of_files_that_are_not_obj_are_never_quoted(tmp_path):
    secret = write(tmp_path, "notes.txt", "v 1 secret 0\n")
    with pytest.raises(MeshFileError, match=r"notes\.txt line 1: vertex value is not a number$") as err:
        load_obj(secret)
    assert "secret" not in str(err.value)
    long = write(tmp_path, "long.obj", "v 1 " + "x" * 5000 + " 0\n")
    with pytest.raises(MeshFileError) as err:
        load_obj(long)
    assert len(str(err.value)) < len(str(long)) + 200


def _textured(tmp_path: Path, mtl_ref: str, map_ref: str = "t.png", name: str = "m.obj") -> Path:
    write(tmp_path, "m.mtl", f"newmtl a\nKd 0.2 0.4 0.6\nmap_Kd {map_ref}\n")
    return write(tmp_path, name, f"mtllib {mtl_ref}\nusemtl a\n" + QUAD + "f 1/1 2/2 3/3 4/4\n")


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_mtllib_outside_the_folder_is_refused_unless_allowed(tmp_path, how):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "o.mtl").write_text("newmtl a\nKd 1 0 0\n")
    inside = tmp_path / "mesh"
    inside.mkdir()
    ref = {"absolute": str(outside / "o.mtl"), "dotdot": "../outside/o.mtl", "symlink": "link.mtl"}[how]
    if how == "symlink":
        (inside / "link.mtl").symlink_to(outside / "o.mtl")
    path = write(inside, "m.obj", f"mtllib {ref}\nusemtl a\n" + QUAD + "f 1 2 3 4\n")
    with pytest.warns(UserWarning, match=rf"m\.obj: mtllib '{re.escape(ref)}' is outside the mesh's folder .*refused "
                                         r"\(pass allow_external_files=True"):
        mesh = load_mesh(path)
    assert torch.allclose(mesh.textures.verts_features_packed(), torch.full((4, 3), 0.5))  # grey
    _, _, aux = load_obj(path, allow_external_files=True)
    assert torch.equal(aux.material_colors["a"]["diffuse_color"], torch.tensor([1.0, 0.0, 0.0]))
    mesh = load_objs_as_meshes([path], allow_external_files=True)
    assert torch.allclose(mesh.textures.verts_features_packed(), torch.tensor([1.0, 0, 0]).expand(4, 3))
    mesh = load_mesh(path, allow_external_files=True)
    assert torch.allclose(mesh.textures.verts_features_packed(), torch.tensor([1.0, 0, 0]).expand(4, 3))


def test_texture_outside_the_folder_is_refused_unless_allowed(tmp_path):
    write_png(tmp_path / "t.png", np.ones((2, 2, 3)))
    inside = tmp_path / "mesh"
    inside.mkdir()
    path = _textured(inside, "m.mtl", map_ref=str(tmp_path / "t.png"))
    with pytest.warns(UserWarning, match=r"texture image '.*t\.png' of material 'a' is outside the mesh's folder"):
        _, _, aux = load_obj(path)
    assert aux.texture_images == {}
    _, _, aux = load_obj(path, allow_external_files=True)
    assert aux.texture_images["a"].shape == (2, 2, 3)


def test_absolute_path_falls_back_to_the_file_in_the_folder(tmp_path):
    write_png(tmp_path / "t.png", np.ones((2, 2, 3)))
    path = _textured(tmp_path, "m.mtl", map_ref="C:\\Users\\bob\\t.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, _, aux = load_obj(path)
    assert aux.texture_images["a"].shape == (2, 2, 3)


def test_an_external_file_that_is_not_an_mtl_is_never_quoted(tmp_path):
    (tmp_path / "passwd").write_text("newmtl a\nKd 1 hunter2 0\n")
    inside = tmp_path / "mesh"
    inside.mkdir()
    path = write(inside, "m.obj", f"mtllib {tmp_path / 'passwd'}\nusemtl a\n" + QUAD + "f 1 2 3\n")
    with pytest.raises(MeshFileError, match=r"passwd line 2: malformed Kd statement \(expected numbers\)") as err:
        load_obj(path, allow_external_files=True)
    assert "hunter2" not in str(err.value)


def test_decompression_bomb_texture_is_refused_from_its_header(tmp_path, monkeypatch):
    from PIL import ImageFile

    Image.new("1", (12000, 12000)).save(tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size < 40_000
    path = _textured(tmp_path, "m.mtl")
    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size) or real_load(self))
    with pytest.warns(UserWarning, match=r"t\.png of material 'a' refused: image of 12000x12000 = 144,000,000 pixels "
                                         r"is over the budget of 67,108,864 pixels.*using its diffuse colour Kd"):
        mesh = load_mesh(path)
    assert decoded == []  # only the header was read
    assert torch.allclose(mesh.textures.verts_features_packed(), torch.tensor([0.2, 0.4, 0.6]).expand(4, 3))


def test_texture_budget_keyword_and_environment(tmp_path, monkeypatch):
    write_png(tmp_path / "t.png", np.ones((10, 20, 3)))
    path = _textured(tmp_path, "m.mtl")
    with pytest.warns(UserWarning, match=r"10 = 200 pixels is over the budget of 199 pixels"):
        _, _, aux = load_obj(path, max_texture_pixels=199)
    assert aux.texture_images == {}
    _, _, aux = load_obj(path, max_texture_pixels=200)
    assert aux.texture_images["a"].shape == (10, 20, 3)
    monkeypatch.setenv("INVERSE3D_MAX_TEXTURE_PIXELS", "150")
    with pytest.warns(UserWarning, match="over the budget of 150 pixels"):
        load_objs_as_meshes([path])
    assert load_objs_as_meshes([path], max_texture_pixels=1000).textures.maps_padded().shape == (1, 10, 20, 3)
    monkeypatch.setenv("INVERSE3D_MAX_TEXTURE_PIXELS", "many")
    with pytest.raises(ValueError, match="INVERSE3D_MAX_TEXTURE_PIXELS='many'"):
        load_obj(path)
    with pytest.raises(ValueError, match="max_texture_pixels must be a positive whole number"):
        load_obj(path, max_texture_pixels=0)


def test_packed_map_over_the_budget_uses_mean_colours(tmp_path):
    write_png(tmp_path / "tall.png", np.full((64, 1, 3), 0.2))
    write_png(tmp_path / "wide.png", np.full((1, 64, 3), 0.8))
    write(tmp_path, "m.mtl", "newmtl a\nmap_Kd tall.png\nnewmtl b\nmap_Kd wide.png\n")
    path = write(tmp_path, "m.obj", "mtllib m.mtl\n" + QUAD + "usemtl a\nf 1/1 2/2 3/3\nusemtl b\nf 1/1 3/3 4/4\n")
    assert load_objs_as_meshes([path], max_texture_pixels=10_000).textures.maps_padded().shape[1:3] == (64, 65)
    with pytest.warns(UserWarning, match=r"packing the texture images of materials \['a', 'b'\]"):
        mesh = load_objs_as_meshes([path], max_texture_pixels=1000)
    colours = mesh.textures.maps_padded()[0].reshape(-1, 3)
    assert torch.allclose(colours.min(0).values, torch.full((3,), 0.2), atol=0.01)
    assert torch.allclose(colours.max(0).values, torch.full((3,), 0.8), atol=0.01)
