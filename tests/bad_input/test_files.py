"""Bad and hostile input files: every row of CASES is one input, with the substring its one-line message must hold.

Rows whose input is refused but still loads (references leaving the mesh's folder, decompression bombs) end in a
warning; all other rows end in a one-line error that starts with the file's path (or, for the CLI rows, in
``inverse3d: error: PATH: ...`` on stderr and exit status 2).
"""

from __future__ import annotations

import builtins
import io
import json
import os
import struct
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from PIL import Image

from inverse3d.io import load_glb, load_mesh, load_obj, load_objs_as_meshes, load_ply, load_pointcloud, load_rgbd
from inverse3d.io.ply_io import save_ply

CASES = [
    # OBJ
    ("0-byte .obj (load_obj)", "no vertices (an empty file); not an OBJ mesh"),
    ("random bytes .obj (load_objs_as_meshes)", "not an OBJ file: it holds binary data"),
    ("text that is not an OBJ, named .obj (load_mesh)", "no vertices (no 'v' lines)"),
    ("a folder where an .obj is expected (load_obj)", "is a directory, expected a mesh file"),
    ("unreadable .obj: permission denied (load_mesh)", "permission denied"),
    ("OBJ line with a word for a number, in a file not named .obj", "vertex value is not a number"),
    ("OBJ 'mtllib /etc/passwd' (absolute path)", "mtllib '/etc/passwd' is outside the mesh's folder"),
    ("OBJ 'mtllib ../x.mtl'", "mtllib '../x.mtl' is outside the mesh's folder"),
    ("OBJ mtllib through a symlink out of the folder", "mtllib 'link.mtl' is outside the mesh's folder"),
    ("MTL 'map_Kd /abs/t.png'", "of material 'a' is outside the mesh's folder"),
    ("MTL 'map_Kd ../t.png'", "texture image '../t.png' of material 'a' is outside the mesh's folder"),
    ("non-MTL file with Kd garbage, read with allow_external_files",
     "line 2: malformed Kd statement (expected numbers)"),
    ("12000x12000 PNG texture (17 KB) of an OBJ", "image of 12000x12000 = 144,000,000 pixels is over the budget"),
    ("texture over INVERSE3D_MAX_TEXTURE_PIXELS", "over the budget of 100 pixels"),
    ("INVERSE3D_MAX_TEXTURE_PIXELS not a number", "environment variable INVERSE3D_MAX_TEXTURE_PIXELS='lots'"),
    # PLY
    ("truncated ASCII PLY", "truncated: the data ends after 2 of 3 vertex rows"),
    ("ASCII PLY vertex row missing a value", "vertex 2 has 2 values, the header declares 3 properties"),
    ("ASCII PLY face list longer than its length", "face 0 has 5 values where its list lengths call for 4"),
    ("ASCII PLY face list shorter than its length", "face 0 has 3 values where its list lengths call for 4"),
    ("ASCII PLY face with 2 vertices", "face 0 has 2 vertices (at least 3 needed)"),
    ("ASCII PLY face index out of range", "face index 9 out of range (3 vertices)"),
    ("ASCII PLY word instead of a number", "vertex 1: 'x' is not a number"),
    ("binary PLY cut in its vertex data", "truncated: the header declares 10 vertex, 5 face"),
    ("binary PLY cut in its face data", "binary data does not match the header"),
    ("PLY header declaring 10^10 vertices in a small file", "truncated: the header declares 10000000000 vertex"),
    ("PLY header with a malformed element line", "malformed PLY header line 'element vertex many'"),
    ("unreadable .ply: permission denied (load_ply)", "permission denied"),
    ("a folder where a .ply is expected (load_mesh)", "is a directory, expected a mesh file"),
    # GLB / glTF
    ("0-byte .glb", "cannot parse glTF"),
    ("truncated .glb", "cannot parse glTF (truncated GLB"),
    ("a folder where a .glb is expected", "is a directory, expected a mesh file"),
    ("12000x12000 PNG embedded in a GLB", "texture image 0 refused: image of 12000x12000 = 144,000,000 pixels"),
    ("glTF image URI outside its folder", "texture image 0 ('../t.png') is outside the file's folder"),
    ("glTF buffer URI outside its folder", "buffer 0 ('../q.bin') is outside the file's folder"),
    # other mesh formats and point clouds
    ("0-byte .stl (load_mesh)", "is empty (0 bytes)"),
    ("random bytes .npz point cloud", "not a NumPy .npz archive (it does not start as one"),
    ("pickled objects in a .npy point cloud", "holds pickled Python objects, which inverse3d never loads"),
    ("0-byte .npy point cloud", "is empty (0 bytes), not a .npy file"),
    ("a folder where a point cloud is expected", "is a directory, expected a point cloud file"),
    # RGB-D
    ("random bytes colour image (load_rgbd)", "cannot be read as an image"),
    ("12000x12000 colour image (load_rgbd)", "image of 12000x12000 = 144,000,000 pixels is over the budget"),
    ("a folder where a depth map is expected (load_rgbd)", "is a directory, expected a depth file"),
    ("random bytes depth .npy (load_rgbd)", "not a NumPy array (it does not start as one"),
    ("pickled objects in a depth .npy (load_rgbd)", "holds pickled Python objects"),
    ("unreadable intrinsics JSON: permission denied (load_rgbd)", "permission denied"),
    # the command line
    ("CLI: inverse3d info on a random-bytes .obj", "not an OBJ file: it holds binary data"),
    ("CLI: inverse3d render of a truncated ASCII PLY", "truncated: the data ends after"),
]

BUILDERS: dict[str, tuple[Callable, str]] = {}


def case(description: str, outcome: str = "error"):
    """Registers the builder of a CASES row: ``fn(tmp_path, monkeypatch) -> (path named in the message, call)``;
    ``outcome`` is "error" (the call raises), "warning" (it loads with a warning) or "cli" (exit status 2)."""
    def register(fn):
        BUILDERS[description] = (fn, outcome)
        return fn
    return register


# ------------------------------------------------------------------------------------------------ helpers

QUAD = "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nf 1/1 2/2 3/3 4/4\n"
PLY_HEADER = ("ply\nformat ascii 1.0\nelement vertex {nv}\nproperty float x\nproperty float y\nproperty float z\n"
              "element face {nf}\nproperty list uchar int vertex_indices\nend_header\n")
TRIANGLE = "0 0 0\n1 0 0\n0 1 0\n"


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def noise(n: int = 3000) -> bytes:
    return np.random.default_rng(0).integers(0, 256, n, dtype=np.uint8).tobytes()


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, format="PNG")
    return out.getvalue()


def ascii_ply(path: Path, verts: str, faces: str, nv: int, nf: int) -> Path:
    return write(path, PLY_HEADER.format(nv=nv, nf=nf) + verts + faces)


def binary_ply(path: Path) -> bytes:
    save_ply(path, torch.rand(10, 3), torch.randint(0, 10, (5, 3)))
    return path.read_bytes()


def textured_obj(folder: Path, map_ref: str = "t.png") -> Path:
    write(folder / "m.mtl", f"newmtl a\nKd 0.2 0.4 0.6\nmap_Kd {map_ref}\n")
    return write(folder / "m.obj", "mtllib m.mtl\nusemtl a\n" + QUAD)


def deny_reading(path: Path, monkeypatch) -> None:
    """Makes ``path`` unreadable: chmod 000, or (as root, who reads anything) a patched ``open`` that raises
    PermissionError for it, as the OS would."""
    if os.geteuid() != 0:
        path.chmod(0)
        return
    target = os.path.abspath(path)
    real_open, real_access = builtins.open, os.access

    def fake_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and os.path.abspath(os.fspath(file)) == target:
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    def fake_access(p, mode, *args, **kwargs):
        return False if os.path.abspath(os.fspath(p)) == target else real_access(p, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(io, "open", fake_open)
    monkeypatch.setattr(os, "access", fake_access)


def quad_gltf(image: dict, image_bytes: bytes = b"", buffer_uri: str | None = None) -> tuple[dict, bytes]:
    """(glTF document, binary buffer) of a textured quad whose images[0] is ``image`` (bufferView 3: image_bytes)."""
    arrays = [np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float32).tobytes(),
              np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32).tobytes(),
              np.array([0, 1, 2, 0, 2, 3], np.uint32).tobytes(), image_bytes]
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


def glb_bytes(doc: dict, blob: bytes) -> bytes:
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    chunks = struct.pack("<II", len(text), 0x4E4F534A) + text + struct.pack("<II", len(blob), 0x004E4942) + blob
    return b"glTF" + struct.pack("<II", 2, 12 + len(chunks)) + chunks


# ------------------------------------------------------------------------------------------------ OBJ


@case("0-byte .obj (load_obj)")
def _(tmp, mp):
    path = write(tmp / "empty.obj", b"")
    return path, lambda: load_obj(path)


@case("random bytes .obj (load_objs_as_meshes)")
def _(tmp, mp):
    path = write(tmp / "noise.obj", noise())
    return path, lambda: load_objs_as_meshes([path])


@case("text that is not an OBJ, named .obj (load_mesh)")
def _(tmp, mp):
    path = write(tmp / "notes.obj", "root:x:0:0:root:/root:/bin/bash\n")
    return path, lambda: load_mesh(path)


@case("a folder where an .obj is expected (load_obj)")
def _(tmp, mp):
    (tmp / "d.obj").mkdir()
    return tmp / "d.obj", lambda: load_obj(tmp / "d.obj")


@case("unreadable .obj: permission denied (load_mesh)")
def _(tmp, mp):
    path = write(tmp / "m.obj", QUAD)
    deny_reading(path, mp)
    return path, lambda: load_mesh(path)


@case("OBJ line with a word for a number, in a file not named .obj")
def _(tmp, mp):
    path = write(tmp / "shadow", "v 1 hunter2 0\n")
    return path, lambda: load_obj(path)


@case("OBJ 'mtllib /etc/passwd' (absolute path)", "warning")
def _(tmp, mp):
    path = write(tmp / "m.obj", "mtllib /etc/passwd\nusemtl a\n" + QUAD)
    return path, lambda: load_mesh(path)


@case("OBJ 'mtllib ../x.mtl'", "warning")
def _(tmp, mp):
    write(tmp / "x.mtl", "newmtl a\nKd 1 0 0\n")
    path = write(tmp / "mesh" / "m.obj", "mtllib ../x.mtl\nusemtl a\n" + QUAD)
    return path, lambda: load_objs_as_meshes([path])


@case("OBJ mtllib through a symlink out of the folder", "warning")
def _(tmp, mp):
    write(tmp / "x.mtl", "newmtl a\nKd 1 0 0\n")
    (tmp / "mesh").mkdir()
    (tmp / "mesh" / "link.mtl").symlink_to(tmp / "x.mtl")
    path = write(tmp / "mesh" / "m.obj", "mtllib link.mtl\nusemtl a\n" + QUAD)
    return path, lambda: load_obj(path)


@case("MTL 'map_Kd /abs/t.png'", "warning")
def _(tmp, mp):
    write(tmp / "t.png", png(2, 2))
    path = textured_obj(tmp / "mesh", str(tmp / "t.png"))
    return path, lambda: load_mesh(path)


@case("MTL 'map_Kd ../t.png'", "warning")
def _(tmp, mp):
    write(tmp / "t.png", png(2, 2))
    path = textured_obj(tmp / "mesh", "../t.png")
    return path, lambda: load_obj(path)


@case("non-MTL file with Kd garbage, read with allow_external_files")
def _(tmp, mp):
    secret = write(tmp / "passwd", "newmtl a\nKd 1 hunter2 0\n")
    path = write(tmp / "mesh" / "m.obj", f"mtllib {secret}\nusemtl a\n" + QUAD)
    return secret, lambda: load_mesh(path, allow_external_files=True)


@case("12000x12000 PNG texture (17 KB) of an OBJ", "warning")
def _(tmp, mp):
    write(tmp / "t.png", png(12000, 12000, mode="1"))
    path = textured_obj(tmp)
    return path, lambda: load_mesh(path)


@case("texture over INVERSE3D_MAX_TEXTURE_PIXELS", "warning")
def _(tmp, mp):
    write(tmp / "t.png", png(20, 10))
    mp.setenv("INVERSE3D_MAX_TEXTURE_PIXELS", "100")
    path = textured_obj(tmp)
    return path, lambda: load_objs_as_meshes([path])


@case("INVERSE3D_MAX_TEXTURE_PIXELS not a number")
def _(tmp, mp):
    write(tmp / "t.png", png(2, 2))
    mp.setenv("INVERSE3D_MAX_TEXTURE_PIXELS", "lots")
    path = textured_obj(tmp)
    return None, lambda: load_mesh(path)


# ------------------------------------------------------------------------------------------------ PLY


@case("truncated ASCII PLY")
def _(tmp, mp):
    path = ascii_ply(tmp / "t.ply", "0 0 0\n1 0 0\n", "", 3, 1)
    return path, lambda: load_ply(path)


@case("ASCII PLY vertex row missing a value")
def _(tmp, mp):
    path = ascii_ply(tmp / "v.ply", "0 0 0\n1 0 0\n0 1\n", "3 0 1 2\n", 3, 1)
    return path, lambda: load_mesh(path)


@case("ASCII PLY face list longer than its length")
def _(tmp, mp):
    path = ascii_ply(tmp / "f.ply", TRIANGLE, "3 0 1 2 0\n", 3, 1)
    return path, lambda: load_ply(path)


@case("ASCII PLY face list shorter than its length")
def _(tmp, mp):
    path = ascii_ply(tmp / "f.ply", TRIANGLE, "3 0 1\n", 3, 1)
    return path, lambda: load_ply(path)


@case("ASCII PLY face with 2 vertices")
def _(tmp, mp):
    path = ascii_ply(tmp / "f.ply", TRIANGLE, "2 0 1\n", 3, 1)
    return path, lambda: load_ply(path)


@case("ASCII PLY face index out of range")
def _(tmp, mp):
    path = ascii_ply(tmp / "f.ply", TRIANGLE, "3 0 1 9\n", 3, 1)
    return path, lambda: load_mesh(path)


@case("ASCII PLY word instead of a number")
def _(tmp, mp):
    path = ascii_ply(tmp / "w.ply", "0 0 0\n1 x 0\n0 1 0\n", "3 0 1 2\n", 3, 1)
    return path, lambda: load_ply(path)


@case("binary PLY cut in its vertex data")
def _(tmp, mp):
    data = binary_ply(tmp / "b.ply")
    path = write(tmp / "cut.ply", data[: data.index(b"end_header\n") + 51])
    return path, lambda: load_ply(path)


@case("binary PLY cut in its face data")
def _(tmp, mp):
    path = write(tmp / "cut.ply", binary_ply(tmp / "b.ply")[:-5])
    return path, lambda: load_mesh(path)


@case("PLY header declaring 10^10 vertices in a small file")
def _(tmp, mp):
    data = binary_ply(tmp / "b.ply").replace(b"element vertex 10\n", b"element vertex 10000000000\n")
    path = write(tmp / "huge.ply", data)
    return path, lambda: load_ply(path)


@case("PLY header with a malformed element line")
def _(tmp, mp):
    path = write(tmp / "h.ply", "ply\nformat ascii 1.0\nelement vertex many\nend_header\n")
    return path, lambda: load_ply(path)


@case("unreadable .ply: permission denied (load_ply)")
def _(tmp, mp):
    path = ascii_ply(tmp / "m.ply", TRIANGLE, "3 0 1 2\n", 3, 1)
    deny_reading(path, mp)
    return path, lambda: load_ply(path)


@case("a folder where a .ply is expected (load_mesh)")
def _(tmp, mp):
    (tmp / "d.ply").mkdir()
    return tmp / "d.ply", lambda: load_mesh(tmp / "d.ply")


# ------------------------------------------------------------------------------------------------ GLB / glTF


@case("0-byte .glb")
def _(tmp, mp):
    path = write(tmp / "e.glb", b"")
    return path, lambda: load_mesh(path)


@case("truncated .glb")
def _(tmp, mp):
    data = glb_bytes(*quad_gltf({"bufferView": 3}, png(2, 2)))
    path = write(tmp / "cut.glb", data[: len(data) // 2])
    return path, lambda: load_glb(path)


@case("a folder where a .glb is expected")
def _(tmp, mp):
    (tmp / "d.glb").mkdir()
    return tmp / "d.glb", lambda: load_glb(tmp / "d.glb")


@case("12000x12000 PNG embedded in a GLB", "warning")
def _(tmp, mp):
    path = write(tmp / "bomb.glb", glb_bytes(*quad_gltf({"bufferView": 3}, png(12000, 12000, mode="1"))))
    return path, lambda: load_mesh(path)


@case("glTF image URI outside its folder", "warning")
def _(tmp, mp):
    write(tmp / "t.png", png(2, 2))
    doc, blob = quad_gltf({"uri": "../t.png"}, buffer_uri="q.bin")
    write(tmp / "mesh" / "q.bin", blob)
    path = write(tmp / "mesh" / "q.gltf", json.dumps(doc))
    return path, lambda: load_mesh(path)


@case("glTF buffer URI outside its folder")
def _(tmp, mp):
    doc, blob = quad_gltf({"bufferView": 3}, png(2, 2), buffer_uri="../q.bin")
    write(tmp / "q.bin", blob)
    path = write(tmp / "mesh" / "q.gltf", json.dumps(doc))
    return path, lambda: load_glb(path)


# ------------------------------------------------------------------------------------------------ others


@case("0-byte .stl (load_mesh)")
def _(tmp, mp):
    path = write(tmp / "e.stl", b"")
    return path, lambda: load_mesh(path)


@case("random bytes .npz point cloud")
def _(tmp, mp):
    path = write(tmp / "r.npz", noise())
    return path, lambda: load_pointcloud(path)


@case("pickled objects in a .npy point cloud")
def _(tmp, mp):
    np.save(tmp / "p.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return tmp / "p.npy", lambda: load_pointcloud(tmp / "p.npy")


@case("0-byte .npy point cloud")
def _(tmp, mp):
    path = write(tmp / "e.npy", b"")
    return path, lambda: load_pointcloud(path)


@case("a folder where a point cloud is expected")
def _(tmp, mp):
    (tmp / "d.npz").mkdir()
    return tmp / "d.npz", lambda: load_pointcloud(tmp / "d.npz")


def rgbd_frame(tmp: Path) -> tuple[Path, Path]:
    import imageio.v3 as iio

    iio.imwrite(tmp / "color.png", np.zeros((6, 8, 3), np.uint8))
    iio.imwrite(tmp / "depth.png", np.full((6, 8), 1000, np.uint16))
    return tmp / "color.png", tmp / "depth.png"


@case("random bytes colour image (load_rgbd)")
def _(tmp, mp):
    _, depth = rgbd_frame(tmp)
    path = write(tmp / "noise.png", noise())
    return path, lambda: load_rgbd(path, depth)


@case("12000x12000 colour image (load_rgbd)")
def _(tmp, mp):
    _, depth = rgbd_frame(tmp)
    path = write(tmp / "bomb.png", png(12000, 12000, mode="1"))
    return path, lambda: load_rgbd(path, depth)


@case("a folder where a depth map is expected (load_rgbd)")
def _(tmp, mp):
    color, _ = rgbd_frame(tmp)
    (tmp / "d.npy").mkdir()
    return tmp / "d.npy", lambda: load_rgbd(color, tmp / "d.npy")


@case("random bytes depth .npy (load_rgbd)")
def _(tmp, mp):
    color, _ = rgbd_frame(tmp)
    path = write(tmp / "depth.npy", noise())
    return path, lambda: load_rgbd(color, path)


@case("pickled objects in a depth .npy (load_rgbd)")
def _(tmp, mp):
    color, _ = rgbd_frame(tmp)
    np.save(tmp / "d.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return tmp / "d.npy", lambda: load_rgbd(color, tmp / "d.npy")


@case("unreadable intrinsics JSON: permission denied (load_rgbd)")
def _(tmp, mp):
    color, depth = rgbd_frame(tmp)
    path = write(tmp / "k.json", json.dumps({"fx": 1, "fy": 1, "cx": 4, "cy": 3}))
    deny_reading(path, mp)
    return path, lambda: load_rgbd(color, depth, intrinsics=path)


# ------------------------------------------------------------------------------------------------ CLI


def cli(argv: list[str]) -> Callable:
    from inverse3d.cli.main import entrypoint

    return lambda: entrypoint(argv)


@case("CLI: inverse3d info on a random-bytes .obj", "cli")
def _(tmp, mp):
    path = write(tmp / "noise.obj", noise())
    return path, cli(["info", str(path)])


@case("CLI: inverse3d render of a truncated ASCII PLY", "cli")
def _(tmp, mp):
    path = ascii_ply(tmp / "t.ply", "0 0 0\n1 0 0\n", "", 3, 1)
    return path, cli(["render", str(path), "-o", str(tmp / "out.gif"), "--frames", "2", "--size", "16",
                      "--no-progress", "--device", "cpu"])


# ------------------------------------------------------------------------------------------------ the test


def test_every_row_has_a_builder():
    assert [d for d, _ in CASES] == list(dict.fromkeys(d for d, _ in CASES))  # no duplicates
    assert {d for d, _ in CASES} == set(BUILDERS)


@pytest.mark.parametrize("description,expected", CASES, ids=[d for d, _ in CASES])
def test_bad_input(description, expected, tmp_path, monkeypatch, capsys):
    build, outcome = BUILDERS[description]
    path, call = build(tmp_path, monkeypatch)
    if outcome == "warning":
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()  # still loads
        messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        hits = [m for m in messages if expected in m]
        assert hits, f"no warning with {expected!r} in {messages}"
        assert hits[0].startswith(str(path) + ":") and "\n" not in hits[0]
    elif outcome == "cli":
        with pytest.raises(SystemExit) as exit_:
            call()
        err = capsys.readouterr().err.strip()
        assert exit_.value.code == 2 and err.startswith(f"inverse3d: error: {path}") and expected in err, err
        assert "\n" not in err and "Traceback" not in err
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises((ValueError, OSError)) as err:
                call()
        message = str(err.value)
        assert expected in message, message
        assert "\n" not in message and "hunter2" not in message and "root:x" not in message
        if path is not None:
            assert message.startswith(str(path)), message
