"""inverse3d.io.images (pixel budget read from image headers) and inverse3d.io.references (files a mesh refers to)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from inverse3d.io import MeshFileError
from inverse3d.io.images import (
    DEFAULT_MAX_TEXTURE_PIXELS,
    ImageTooLargeError,
    image_size,
    max_texture_pixels,
    read_image,
)
from inverse3d.io.references import is_within, resolve_reference


def png(width: int, height: int, mode: str = "1") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, format="PNG")
    return out.getvalue()


def test_budget_sources(monkeypatch):
    monkeypatch.delenv("INVERSE3D_MAX_TEXTURE_PIXELS", raising=False)
    assert max_texture_pixels() == DEFAULT_MAX_TEXTURE_PIXELS == 64 * 2**20
    monkeypatch.setenv("INVERSE3D_MAX_TEXTURE_PIXELS", "2.5e8")
    assert max_texture_pixels() == 250_000_000 and max_texture_pixels(10) == 10
    for bad in (0, -1, 1.5, True, "9", float("inf")):
        with pytest.raises(ValueError, match="max_texture_pixels must be a positive whole number"):
            max_texture_pixels(bad)


def test_beyond_pils_own_limit():
    data = png(20000, 10000)  # 200 Mpx: PIL refuses to open it at all (DecompressionBombError)
    with pytest.raises(ImageTooLargeError, match=r"<image bytes>: image of 200,000,000 pixels is over the budget"):
        image_size(data)
    assert image_size(data, budget=300_000_000) == (20000, 10000)  # a budget set on purpose above PIL's limit
    assert Image.MAX_IMAGE_PIXELS == 89478485  # PIL's global is left as it was


def test_read_image_errors(tmp_path):
    (tmp_path / "cut.png").write_bytes(png(64, 64, "RGB")[:60])
    with pytest.raises(MeshFileError, match=r"cut\.png: cannot be read as an image") as err:
        read_image(tmp_path / "cut.png")
    assert "\n" not in str(err.value)
    assert read_image(png(3, 2, "RGB")).shape == (2, 3, 3)


def test_resolve_reference(tmp_path):
    root = tmp_path / "mesh"
    (root / "sub").mkdir(parents=True)
    (root / "a.mtl").write_text("")
    (tmp_path / "out.mtl").write_text("")
    assert resolve_reference(root, root, "a.mtl") == (root / "a.mtl", False)
    assert resolve_reference(root, root / "sub", "../a.mtl") == (root / "sub" / "../a.mtl", False)
    assert resolve_reference(root, root, "../out.mtl") == (None, True)
    assert resolve_reference(root, root, str(tmp_path / "out.mtl")) == (None, True)
    assert resolve_reference(root, root, "../out.mtl", allow_external=True).path == root / "../out.mtl"
    assert resolve_reference(root, root, "/elsewhere/a.mtl") == (root / "a.mtl", False)  # same name inside
    assert resolve_reference(root, root, "missing.mtl") == (root / "missing.mtl", False)  # the caller: not found
    assert resolve_reference(root, root, "/etc/missing.mtl") == (None, True)  # refused whether or not it exists
    (root / "link").symlink_to(tmp_path)
    assert resolve_reference(root, root, "link/out.mtl") == (None, True)
    assert not is_within(root / "link", root) and is_within(root / "sub", root)
