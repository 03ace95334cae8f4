"""Images read for meshes (texture maps) and RGB-D frames, with a pixel budget checked before decoding.

A PNG of 12000 x 12000 zeros is 17 KB on disk and 432 MB once decoded as RGB (1.7 GB as float32): a
"decompression bomb". Every image inverse3d decodes for a mesh first has its size read from the file's header
(``PIL.Image.open`` reads only the header) and is refused above a budget of pixels:

- default ``DEFAULT_MAX_TEXTURE_PIXELS`` = 64 Mpx (64 * 2**20 = 67,108,864 pixels, e.g. 8192 x 8192);
- the environment variable ``INVERSE3D_MAX_TEXTURE_PIXELS`` replaces the default (a number such as ``268435456``
  or ``2.5e8``);
- the ``max_texture_pixels`` keyword of the loaders (``load_obj``, ``load_objs_as_meshes``, ``load_glb``,
  ``load_mesh``, ``load_rgbd``) replaces both.

Mesh loaders turn a refused texture into a warning naming the file and its size, and fall back to a plain
colour; RGB-D frames (which cannot fall back) raise ``ImageTooLargeError``.
"""

from __future__ import annotations

import io
import os
import re
import threading
import warnings
from typing import Optional, Union

import numpy as np
import torch

from inverse3d.io.errors import MeshFileError

DEFAULT_MAX_TEXTURE_PIXELS = 64 * 2**20
ENV_MAX_TEXTURE_PIXELS = "INVERSE3D_MAX_TEXTURE_PIXELS"

_PIL_LIMIT_LOCK = threading.Lock()
ImageSource = Union[str, os.PathLike, bytes]


class ImageTooLargeError(MeshFileError):
    """An image whose header declares more pixels than the budget; nothing was decoded.

    Attributes (besides MeshFileError's): width, height (None when only the pixel count is known), pixels, budget.
    """

    def __init__(self, name: object, width: Optional[int], height: Optional[int], pixels: int, budget: int,
                 option: str = "max_texture_pixels") -> None:
        self.width, self.height, self.pixels, self.budget = width, height, pixels, budget
        size = f"{width}x{height} = " if width is not None else ""
        super().__init__(name, f"image of {size}{pixels:,} pixels is over the budget of {budget:,} pixels "
                               f"({option}, or the environment variable {ENV_MAX_TEXTURE_PIXELS})")


def max_texture_pixels(value: Optional[int] = None) -> int:
    """The pixel budget: ``value`` when given, else ``$INVERSE3D_MAX_TEXTURE_PIXELS``, else 64 Mpx.

    Raises:
        ValueError (one line) for a budget that is not a positive whole number.
    """
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not np.isfinite(value) or value < 1 or value != int(value):
            raise ValueError(f"max_texture_pixels must be a positive whole number of pixels, got {value!r}")
        return int(value)
    text = os.environ.get(ENV_MAX_TEXTURE_PIXELS, "").strip()
    if not text:
        return DEFAULT_MAX_TEXTURE_PIXELS
    try:
        number = float(text)
    except ValueError:
        number = float("nan")
    if not np.isfinite(number) or number < 1 or number != int(number):
        raise ValueError(f"environment variable {ENV_MAX_TEXTURE_PIXELS}={text!r}: expected a positive whole "
                         f"number of pixels, e.g. {DEFAULT_MAX_TEXTURE_PIXELS}")
    return int(number)


def _source_name(source: ImageSource, name: Optional[str]) -> str:
    if name is not None:
        return name
    return os.fspath(source) if isinstance(source, (str, os.PathLike)) else "<image bytes>"


def open_image(source: ImageSource, budget: int, name: Optional[str] = None, option: str = "max_texture_pixels"):
    """Opens an image lazily (header only) and checks its size against ``budget`` pixels.

    Args:
        source: a path, or the file's bytes.
        budget: the most pixels allowed (see ``max_texture_pixels``).
        name: what to call the image in messages (default: the path).
        option: the keyword that sets the budget, named in the message.
    Returns:
        an open ``PIL.Image`` (nothing decoded yet); close it, or use it as a context manager.
    Raises:
        ImageTooLargeError above the budget; MeshFileError when the file is not an image PIL can read.
    """
    from PIL import Image, UnidentifiedImageError

    label = _source_name(source, name)
    fp = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our budget decides, below
            try:
                image = Image.open(fp)
            except Image.DecompressionBombError as err:  # over twice PIL's own limit: header says so
                match = re.search(r"\((\d+) pixels\)", str(err))
                pixels = int(match.group(1)) if match else 2 * int(Image.MAX_IMAGE_PIXELS or 0) + 1
                if pixels <= budget:  # a budget above PIL's limit, set on purpose: read the header regardless
                    image = _open_beyond_pil_limit(fp)
                else:
                    raise ImageTooLargeError(label, None, None, pixels, budget, option) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        if isinstance(err, MeshFileError):
            raise
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err).splitlines()[0]
        raise MeshFileError(label, f"cannot be read as an image ({reason})") from None
    width, height = image.size
    if width * height > budget:
        image.close()
        raise ImageTooLargeError(label, width, height, width * height, budget, option)
    return image


def _open_beyond_pil_limit(fp):
    from PIL import Image

    if hasattr(fp, "seek"):
        fp.seek(0)
    with _PIL_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            return Image.open(fp)
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def image_size(source: ImageSource, budget: Optional[int] = None, name: Optional[str] = None) -> tuple[int, int]:
    """(width, height) read from the image's header, without decoding; raises as ``open_image``."""
    with open_image(source, max_texture_pixels(budget), name) as image:
        return image.size


def read_image(source: ImageSource, budget: Optional[int] = None, name: Optional[str] = None) -> torch.Tensor:
    """An image as an (H, W, 3) float32 tensor in [0, 1] (alpha dropped, greyscale expanded).

    Args:
        source: a path or the file's bytes.
        budget: pixel budget (None: ``max_texture_pixels()``), checked from the header before decoding.
    Raises:
        ImageTooLargeError, MeshFileError (unreadable or corrupt image).
    """
    label = _source_name(source, name)
    with open_image(source, max_texture_pixels(budget), label) as image:
        try:
            rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
        except (OSError, SyntaxError, ValueError) as err:  # truncated or corrupt pixel data
            raise MeshFileError(label, f"cannot be read as an image ({str(err).splitlines()[0]})") from None
    return torch.from_numpy(np.ascontiguousarray(rgb))


def placeholder_png(rgb: tuple[int, int, int] = (128, 128, 128)) -> bytes:
    """A 1x1 PNG of one colour (what a refused texture is replaced by where a file must hold an image)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (1, 1), rgb).save(out, format="PNG")
    return out.getvalue()

