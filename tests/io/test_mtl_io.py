"""io.mtl_io: load_mtl (texture references resolved inside the folder, oversized images skipped) and the per-face
texture atlas (make_material_atlas against a loop, make_mesh_texture_atlas's rules, TexturesAtlas from OBJ)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inverse3d.io import load_obj, load_objs_as_meshes
from inverse3d.io.mtl_io import load_mtl, make_material_atlas, make_mesh_texture_atlas
from inverse3d.renderer import TexturesAtlas

COW = Path(__file__).resolve().parents[3] / "shared" / "data" / "cow" / "cow.obj"


def _png(path: Path, array: np.ndarray) -> Path:
    Image.fromarray((array * 255).round().astype(np.uint8)).save(path)
    return path


def _bilinear_zeros(image, u, v):
    """image (H, W, C) sampled at uv with align_corners=True, zero outside, row 0 at v = 0."""
    H, W, C = image.shape
    x, y = u * (W - 1), v * (H - 1)
    x0, y0 = math.floor(x), math.floor(y)
    out = torch.zeros(C, dtype=image.dtype)
    for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
        for xx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
            if 0 <= yy < H and 0 <= xx < W:
                out += image[yy, xx] * wx * wy
    return out


def material_atlas_naive(image, faces_verts_uvs, R):
    """Cell (y, x) of face f: the image at the uv of the centroid of its small triangle."""
    F = faces_verts_uvs.shape[0]
    out = torch.zeros(F, R, R, image.shape[-1], dtype=image.dtype)
    for f in range(F):
        for y in range(R):
            for x in range(R):
                if x + y < R:
                    w0, w1 = (x + 1 / 3) / R, (y + 1 / 3) / R
                else:
                    w0, w1 = (R - 1 - x + 2 / 3) / R, (R - 1 - y + 2 / 3) / R
                w = (w0, w1, 1 - w0 - w1)
                u = sum(w[j] * float(faces_verts_uvs[f, j, 0]) for j in range(3))
                v = sum(w[j] * float(faces_verts_uvs[f, j, 1]) for j in range(3))
                out[f, y, x] = _bilinear_zeros(image, u, v)
    return out


@pytest.mark.parametrize("R", [1, 2, 4])
def test_make_material_atlas_matches_loop(R):
    g = torch.Generator().manual_seed(R)
    image = torch.rand(5, 7, 3, generator=g, dtype=torch.float64)
    uvs = torch.rand(6, 3, 2, generator=g, dtype=torch.float64) * 1.2 - 0.1  # some outside [0, 1]: zeros there
    torch.testing.assert_close(make_material_atlas(image, uvs, R), material_atlas_naive(image, uvs, R))
    image.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda im: make_material_atlas(im, uvs[:2], 2), (image,))


def test_make_mesh_texture_atlas_rules():
    image = torch.zeros(4, 4, 3)
    image[:2] = torch.tensor([1.0, 0.0, 0.0])  # rows 0-1 red: v near 1 (the top of the image)
    image[2:] = torch.tensor([0.0, 0.0, 1.0])
    props = {"tex": {}, "green": {"diffuse_color": torch.tensor([0.0, 1.0, 0.0])}, "plain": {}}
    names = np.array(["tex", "green", "plain", "", "missing"])
    faces_uvs = torch.tensor([[0, 1, 2]] * 5)
    verts_uvs = torch.tensor([[0.1, 0.9], [0.2, 0.9], [0.1, 0.95]])
    atlas = make_mesh_texture_atlas(props, {"tex": image}, names, faces_uvs, verts_uvs, 3, "repeat")
    assert atlas.shape == (5, 3, 3, 3) and atlas.dtype == torch.float32
    torch.testing.assert_close(atlas[0], torch.tensor([1.0, 0, 0]).expand(3, 3, 3))
    torch.testing.assert_close(atlas[1], torch.tensor([0.0, 1, 0]).expand(3, 3, 3))
    # no Kd, no material, a material the library lacks: white, as PyTorch3D
    assert (atlas[2:] == 1).all()
    # uvs outside [0, 1]: "repeat" warns and wraps all of them; "clamp" clamps; None leaves them (zeros outside)
    outside = verts_uvs + torch.tensor([1.0, 0.0])
    with pytest.warns(UserWarning, match="outside the range"):
        wrapped = make_mesh_texture_atlas(props, {"tex": image}, names, faces_uvs, outside, 3, "repeat")
    torch.testing.assert_close(wrapped, atlas)
    clamped = make_mesh_texture_atlas(props, {"tex": image}, names, faces_uvs, outside, 3, "clamp")
    assert (clamped[0] == torch.tensor([1.0, 0, 0])).all()
    far = verts_uvs + torch.tensor([2.0, 0.0])
    left = make_mesh_texture_atlas(props, {"tex": image}, names, faces_uvs, far, 3, None)
    assert (left[0] == 0).all()
    # a uv of exactly 1 is inside: no wrap (it would move to 0)
    edge = torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    kept = make_mesh_texture_atlas(props, {"tex": image}, names, faces_uvs, edge, 1, "repeat")
    torch.testing.assert_close(kept[0, 0, 0], image[0, -1])
    assert (make_mesh_texture_atlas({}, {}, names, faces_uvs, verts_uvs, 2, "repeat") == 1).all()


def test_load_mtl_resolves_textures_inside_the_folder(tmp_path):
    folder = tmp_path / "mesh"
    folder.mkdir()
    _png(folder / "inside.png", np.full((2, 2, 3), 0.5))
    _png(tmp_path / "outside.png", np.full((2, 2, 3), 0.25))
    mtl = folder / "m.mtl"
    mtl.write_text("newmtl a\nKd 1 0 0\nmap_Kd inside.png\nnewmtl b\nmap_Kd ../outside.png\n"
                   f"newmtl c\nmap_Kd {tmp_path / 'outside.png'}\nnewmtl d\nmap_Kd gone.png\n")
    with pytest.warns(UserWarning) as record:
        props, images = load_mtl(mtl, material_names=["a", "b", "c", "d"], data_dir=folder)
    messages = " | ".join(str(w.message) for w in record)
    assert set(images) == {"a"} and images["a"].shape == (2, 2, 3)
    torch.testing.assert_close(props["a"]["diffuse_color"], torch.tensor([1.0, 0.0, 0.0]))
    assert "'../outside.png' of material 'b' is outside" in messages and "allow_external_files=True" in messages
    assert "of material 'c' is outside" in messages and "Texture file does not exist" in messages
    _, images = load_mtl(mtl, material_names=["a", "b", "c"], data_dir=folder, allow_external_files=True)
    assert set(images) == {"a", "b", "c"}
    torch.testing.assert_close(images["b"], torch.full((2, 2, 3), 64 / 255))


def test_load_mtl_skips_oversized_images(tmp_path):
    _png(tmp_path / "big.png", np.zeros((20, 30, 3)))
    (tmp_path / "m.mtl").write_text("newmtl a\nmap_Kd big.png\n")
    with pytest.warns(UserWarning, match="big.png of material 'a' skipped: image of 30x20 = 600 pixels is over"):
        _, images = load_mtl(tmp_path / "m.mtl", material_names=["a"], data_dir=tmp_path, max_texture_pixels=100)
    assert images == {}


@pytest.mark.skipif(not COW.is_file(), reason="needs ../shared/data/cow (the seed's cow)")
def test_cow_with_a_texture_atlas():
    with pytest.warns(UserWarning, match="outside the range"):  # the cow's uvs go beyond [0, 1], as PyTorch3D says
        mesh = load_objs_as_meshes([COW], create_texture_atlas=True, texture_atlas_size=2)
    assert isinstance(mesh.textures, TexturesAtlas) and mesh.textures.atlas_padded().shape == (1, 5856, 2, 2, 3)
    with pytest.warns(UserWarning, match="outside the range"):
        _, _, aux = load_obj(COW, create_texture_atlas=True, texture_atlas_size=2)
    torch.testing.assert_close(mesh.textures.atlas_padded()[0], aux.texture_atlas)
    assert 0.3 < float(aux.texture_atlas.mean()) < 0.95
