"""Saving images and frame sequences: PNG/JPEG stills, image grids, looping GIFs, MP4 videos, PNG folders.

Images are channels-last, ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)``, as tensors or arrays: floats in [0, 1]
(clipped) or uint8. Frame sequences are ``(T, H, W, 3)``, or any iterable of ``(H, W, 3)`` frames: they are
written one at a time, so a long sequence rendered lazily never sits in memory at once.

Every output is written safely: a file goes to a temporary sibling unique to the process and is renamed into place,
and a GIF, MP4 or PNG folder is locked (``inverse3d.io.outputs.OutputLock``) while it is written, so two processes
writing the same output fail at once instead of interleaving.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import torch

ArrayLike = torch.Tensor | np.ndarray

VIDEO_SUFFIXES = (".gif", ".mp4")


def to_uint8(image: ArrayLike) -> np.ndarray:
    """Returns ``image`` as a uint8 NumPy array of the same shape (floats are taken in [0, 1] and clipped)."""
    if torch.is_tensor(image):
        image = image.detach().cpu()
        image = image.float().numpy() if image.dtype in (torch.float16, torch.bfloat16) else image.numpy()
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.bool_:
        return image.astype(np.uint8) * 255
    if np.issubdtype(image.dtype, np.floating):
        if np.isnan(image).any():
            raise ValueError("image contains NaN")
        return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if np.issubdtype(image.dtype, np.integer):
        return np.clip(image, 0, 255).astype(np.uint8)
    raise ValueError(f"cannot make an image of dtype {image.dtype}")


def zoom(image: ArrayLike, factor: int) -> ArrayLike:
    """Nearest-neighbour enlargement, for showing small renders larger: each pixel becomes a ``factor`` x ``factor``
    block.

    Args:
        image: (..., H, W, C) tensor or array, channels-last (a stack of frames too).
        factor: a whole number >= 1.
    Returns:
        (..., factor * H, factor * W, C), a tensor (same dtype and device) for a tensor, else an array.
    """
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"zoom: factor must be a whole number >= 1; got {factor!r}")
    if torch.is_tensor(image):
        return image.repeat_interleave(factor, dim=-3).repeat_interleave(factor, dim=-2)
    return np.asarray(image).repeat(factor, axis=-3).repeat(factor, axis=-2)


def _check_image(image: np.ndarray) -> None:
    if image.ndim == 3 and image.shape[-1] == 1:
        return
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[-1] in (3, 4))):
        raise ValueError(f"an image must have shape (H, W), (H, W, 3) or (H, W, 4); got {tuple(image.shape)}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image is empty: shape {tuple(image.shape)}")


def save_image(path: str | Path, image: ArrayLike) -> Path:
    """Writes one image (PNG, JPEG, ... by suffix) and returns its path.

    The image goes to a temporary sibling first and is renamed into place, so a reader never sees half a file.

    Args:
        path: output file; parent folders are created.
        image: (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), float in [0, 1] or uint8.
    """
    import imageio.v3 as iio

    from inverse3d.io.outputs import atomic_write

    path = _nonempty_path(path)
    img = to_uint8(image)
    _check_image(img)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if path.suffix.lower() in (".jpg", ".jpeg") and img.ndim == 3 and img.shape[-1] == 4:
        img = img[..., :3]
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda tmp: iio.imwrite(tmp, img, extension=path.suffix))


def _nonempty_path(path: str | os.PathLike) -> Path:
    """``path`` as a Path; an empty string (which ``Path`` would read as the current folder) is an error."""
    if not os.fspath(path).strip():
        raise ValueError("empty output path")
    return Path(path)


def image_grid(
    images: Sequence[ArrayLike], ncols: int | None = None, pad: int = 2, background: int = 255
) -> torch.Tensor:
    """Tiles images into one picture, row by row.

    Args:
        images: a list of (H_i, W_i[, C_i]) images (or a (B, H, W, C) batch); smaller ones are centred in
            cells of the largest size; grey and RGB images are promoted to the largest channel count.
        ncols: images per row (default: about the square root of the count).
        pad: pixels between cells and around the grid.
        background: grey level (0-255) of the padding; alpha is 255.
    Returns:
        (H, W, C) uint8 tensor.
    """
    imgs = [to_uint8(im) for im in images]
    if not imgs:
        raise ValueError("image_grid needs at least one image")
    for im in imgs:
        _check_image(im)
    imgs = [im[..., None] if im.ndim == 2 else im for im in imgs]
    C = max(im.shape[-1] for im in imgs)
    promoted = []
    for im in imgs:
        if im.shape[-1] == 1:
            im = np.repeat(im, 3 if C >= 3 else 1, axis=-1)
        if im.shape[-1] == 3 and C == 4:
            im = np.concatenate([im, np.full(im.shape[:2] + (1,), 255, np.uint8)], axis=-1)
        promoted.append(im)
    n = len(promoted)
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    if ncols < 1:
        raise ValueError(f"ncols must be positive; got {ncols}")
    nrows = int(np.ceil(n / ncols))
    ch = max(im.shape[0] for im in promoted)
    cw = max(im.shape[1] for im in promoted)
    grid = np.full((nrows * (ch + pad) + pad, ncols * (cw + pad) + pad, C), background, np.uint8)
    if C == 4:
        grid[..., 3] = 255
    for k, im in enumerate(promoted):
        r, c = divmod(k, ncols)
        y = pad + r * (ch + pad) + (ch - im.shape[0]) // 2
        x = pad + c * (cw + pad) + (cw - im.shape[1]) // 2
        grid[y : y + im.shape[0], x : x + im.shape[1]] = im
    return torch.from_numpy(grid)


FRAME_NAME = re.compile(r"frame_\d+\.png")  # the files of a PNG-folder output


def save_frames(frames: ArrayLike | Iterable[ArrayLike], path: str | Path, fps: float = 15) -> Path:
    """Writes a frame sequence, the format chosen by the suffix of ``path``, and returns ``path``.

    - ``.gif``: an animated GIF that loops forever (each frame with its own 256-colour palette);
    - ``.mp4``: an H.264 video (needs ``imageio-ffmpeg``); odd sizes are padded by one pixel;
    - no suffix (or an existing folder): a folder of ``frame_0000.png``, ``frame_0001.png``, ...; the
      ``frame_*.png`` files of an earlier run in that folder are removed first, so none is left over (and the
      frames of this run, should it fail part way).

    Frames are written one at a time: an iterable (e.g. a generator that renders them) is consumed lazily, and
    memory does not grow with the number of frames. The suffix and ``fps`` are checked before the first frame is
    asked for. The output is locked while it is written (``OutputInUseError`` if another process writes it) and
    files appear under their final names only when complete.

    Args:
        frames: (T, H, W, 3) (or 4 channels; alpha is kept only in PNG frames) float in [0, 1] or uint8, or an
            iterable of (H, W, 3) / (H, W, 4) frames of one size.
        fps: frames per second.
    """
    from inverse3d.io.outputs import OutputLock

    path = _nonempty_path(path)
    if not (isinstance(fps, (int, float)) and 0 < fps < float("inf")):
        raise ValueError(f"fps must be a positive number; got {fps!r}")
    suffix = path.suffix.lower()
    folder = path.is_dir() or suffix == ""
    if not folder and suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"unsupported output {path.name!r}: use .gif, .mp4, or a folder (no suffix) for PNG frames")
    stream = _frame_stream(frames)
    created = [d for d in ((path,) if folder else ()) + tuple(path.parents) if not d.exists()]  # deepest first
    try:
        with OutputLock(path, is_dir=folder):
            first = next(stream)  # the first frame exists before anything of an earlier run is touched
            if folder:
                _write_png_folder(path, first, stream)
            else:
                _write_video(path, suffix, first, stream, fps)
    except BaseException as err:
        for d in created:  # folders made for an output that failed before any frame was written
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
        if isinstance(err, OSError) and err.filename is None and err.errno:  # a write on a full disk names no file
            raise OSError(err.errno, err.strerror or os.strerror(err.errno), str(path)) from err
        raise
    return path


def _frame_stream(frames: ArrayLike | Iterable[ArrayLike]) -> Iterator[np.ndarray]:
    """Validated uint8 (H, W, C) frames, one at a time; raises ValueError on a bad shape or an empty sequence."""
    if isinstance(frames, (torch.Tensor, np.ndarray)):
        if frames.ndim != 4 or frames.shape[-1] not in (3, 4) or frames.shape[0] == 0:
            raise ValueError(f"frames must have shape (T, H, W, 3) with T >= 1; got {tuple(frames.shape)}")
        if 0 in frames.shape[1:3]:
            raise ValueError(f"frames are empty: shape {tuple(frames.shape)}")
        frames = iter(frames)
    elif not isinstance(frames, Iterable):
        raise ValueError(f"frames must be a (T, H, W, 3) tensor or array, or an iterable of frames; got "
                         f"{type(frames).__name__}")

    def stream() -> Iterator[np.ndarray]:
        shape = None
        for t, frame in enumerate(frames):
            frame = to_uint8(frame)
            if shape is None:
                if frame.ndim != 3 or frame.shape[-1] not in (3, 4) or 0 in frame.shape[:2]:
                    raise ValueError(f"frames must have shape (H, W, 3) or (H, W, 4); got {tuple(frame.shape)}")
                shape = frame.shape
            elif frame.shape != shape:
                raise ValueError(f"frame {t} has shape {tuple(frame.shape)}; the first has {tuple(shape)}")
            yield frame
        if shape is None:
            raise ValueError("frames must have shape (T, H, W, 3) with T >= 1; got no frame")

    return stream()


def _write_png_folder(folder: Path, first: np.ndarray, rest: Iterator[np.ndarray]) -> None:
    """``frame_0000.png``, ... into ``folder``, after removing the ``frame_*.png`` files of an earlier run; if writing
    fails part way, the frames already written are removed too."""
    for old in folder.iterdir():
        if FRAME_NAME.fullmatch(old.name) and not old.is_dir():
            old.unlink()
    written = []
    try:
        for t, frame in enumerate(_chain(first, rest)):
            written.append(save_image(folder / f"frame_{t:04d}.png", frame))
    except BaseException:  # an incomplete sequence is removed, as a GIF or MP4 that fails is never renamed in
        for path in written:
            path.unlink(missing_ok=True)
        raise


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest


def _write_video(path: Path, suffix: str, first: np.ndarray, rest: Iterator[np.ndarray], fps: float) -> None:
    """A GIF or MP4 through a temporary sibling unique to this process, renamed into place when complete."""
    from inverse3d.io.outputs import temp_path

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    tmp = tmp.with_name(tmp.name + suffix)  # writers pick the format from the suffix
    try:
        frames = (frame[..., :3] for frame in _chain(first, rest))
        if suffix == ".gif":
            _write_gif(frames, tmp, fps)
        else:
            _write_mp4(frames, tmp, fps)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_gif(frames: Iterable[np.ndarray], path: Path, fps: float) -> None:
    """An animated, endlessly looping GIF written frame by frame (Pillow's own writer keeps every frame)."""
    from PIL import GifImagePlugin, Image

    delay_ms = 1000.0 / fps
    with open(path, "wb") as f:
        for t, frame in enumerate(frames):
            image = Image.fromarray(np.ascontiguousarray(frame), "RGB")
            if t == 0:
                H, W = frame.shape[:2]
                if max(H, W) > 0xFFFF:
                    raise ValueError(f"a GIF is at most 65535 pixels wide and high; got {W} x {H}")
                # Logical screen without a global colour table (each frame has its own), then the loop extension.
                f.write(b"GIF89a" + W.to_bytes(2, "little") + H.to_bytes(2, "little") + b"\x70\x00\x00")
                f.write(b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")
            paletted = image.convert("P", palette=Image.Palette.ADAPTIVE)
            for chunk in GifImagePlugin.getdata(paletted, (0, 0), duration=delay_ms, include_color_table=True):
                f.write(chunk)
        f.write(b";")


def _write_mp4(frames: Iterable[np.ndarray], path: Path, fps: float) -> None:
    try:
        import imageio_ffmpeg  # noqa: F401
        import imageio.v2 as iio2
    except ImportError as err:  # optional at import time, required here
        raise ImportError("writing MP4 needs imageio-ffmpeg: pip install imageio-ffmpeg") from err
    writer = None
    try:
        for frame in frames:
            H, W, _ = frame.shape
            if H % 2 or W % 2:  # H.264 in yuv420p needs even sizes
                frame = np.pad(frame, ((0, H % 2), (0, W % 2), (0, 0)), mode="edge")
            if writer is None:
                writer = iio2.get_writer(path, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                                         macro_block_size=2, pixelformat="yuv420p",
                                         output_params=["-movflags", "+faststart"])
            writer.append_data(frame)
    finally:
        if writer is not None:
            writer.close()
