"""File helpers shared by the scene readers and writers: atomic writes, image headers, image decoding.

Every writer goes through ``write_png`` / ``write_json`` / ``write_npy`` / ``write_bytes``, which write a temporary
sibling and rename it into place (``inverse3d.io.outputs.atomic_write``), so a reader never sees half a file.
Readers get an image's size from its header (``image_size``) at load time and decode pixels only when asked
(``read_image``), both raising ``SceneFormatError`` / ``SceneFileNotFoundError`` naming the file and frame.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inverse3d.datasets.scenes.conventions import SceneFileNotFoundError, SceneFormatError
from inverse3d.io.outputs import atomic_write

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".exr", ".webp")


def to_uint8(images: Any) -> np.ndarray:
    """(..., C) images as uint8: float arrays/tensors in [0, 1] are scaled by 255 and rounded; uint8 kept."""
    a = images.detach().cpu().numpy() if torch.is_tensor(images) else np.asarray(images)
    if a.dtype == np.uint8:
        return a
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"images must be float in [0, 1] or uint8; got dtype {a.dtype}")
    return np.clip(np.round(a.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)


def write_bytes(path: Path, data: bytes) -> Path:
    """Writes ``data`` to ``path`` atomically (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_png(path: Path, image: Any) -> Path:
    """Writes an (H, W), (H, W, 3) or (H, W, 4) image (float in [0, 1] or uint8) as an 8-bit PNG, atomically."""
    from PIL import Image

    a = to_uint8(image)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)):
        raise ValueError(f"image must be (H, W), (H, W, 3) or (H, W, 4); got {a.shape}")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(a)).save(buf, format="PNG")
    return write_bytes(path, buf.getvalue())


def write_json(path: Path, data: Any) -> Path:
    """Writes ``data`` as indented JSON, atomically."""
    return write_bytes(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))


def write_npy(path: Path, array: Any) -> Path:
    """Writes a numpy array as ``.npy``, atomically (the name is kept as given: no suffix is added)."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return write_bytes(path, buf.getvalue())


def read_json(path: Path) -> Any:
    """The parsed JSON file; ``SceneFormatError`` naming the file and line for malformed JSON."""
    path = Path(path)
    if not path.is_file():
        raise SceneFileNotFoundError(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SceneFormatError(path, f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except UnicodeDecodeError:
        raise SceneFormatError(path, "not a UTF-8 text file") from None


def image_size(path: Path, frame: object = None) -> tuple[int, int]:
    """(H, W) of an image from its header only; errors name the file and frame."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise SceneFileNotFoundError(path, "image file not found", frame)
    if path.suffix.lower() == ".npy":
        shape = _npy_shape(path, frame)
        return int(shape[0]), int(shape[1])
    try:
        with Image.open(path) as im:
            w, h = im.size
    except (UnidentifiedImageError, OSError) as e:
        raise SceneFormatError(path, f"cannot read image: {e}", frame) from None
    return int(h), int(w)


def _npy_shape(path: Path, frame: object) -> tuple[int, ...]:
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as e:
        raise SceneFormatError(path, f"cannot read .npy: {e}", frame) from None
    if arr.ndim < 2:
        raise SceneFormatError(path, f"expected an image array (H, W, ...); got shape {arr.shape}", frame)
    return tuple(arr.shape)


def read_image(path: Path, frame: object = None, raw: bool = False) -> np.ndarray:
    """Decoded image as float32 (H, W, C) in [0, 1] (C = 1, 2, 3 or 4; 8- or 16-bit files; .npy kept as stored).

    ``raw=True`` keeps integer values as stored (a 16-bit depth PNG in millimetres) instead of scaling to [0, 1].
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise SceneFileNotFoundError(path, "image file not found", frame)
    if path.suffix.lower() == ".npy":
        try:
            a = np.load(path, allow_pickle=False).astype(np.float32)
        except (ValueError, OSError) as e:
            raise SceneFormatError(path, f"cannot read .npy: {e}", frame) from None
        return a[..., None] if a.ndim == 2 else a
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif im.mode in ("CMYK", "YCbCr", "HSV", "LAB"):
                im = im.convert("RGB")
            a = np.asarray(im)
    except (UnidentifiedImageError, OSError) as e:
        raise SceneFormatError(path, f"cannot decode image: {e}", frame) from None
    if a.dtype == np.bool_ or raw:
        a = a.astype(np.float32)
    elif a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    elif a.dtype.kind in "ui":  # 16-bit files (PIL modes "I;16" and "I")
        a = a.astype(np.float32) / 65535.0
    else:
        a = a.astype(np.float32)
    return a[..., None] if a.ndim == 2 else a


def relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` in POSIX form (``./`` free), for writing into JSON files."""
    return Path(os.path.relpath(path, root)).as_posix()
