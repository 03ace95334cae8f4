"""Saving images and frame sequences: PNG/JPEG stills, image grids, looping GIFs, MP4 videos, PNG folders.

Images are channels-last, ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)``, as tensors or arrays: floats in [0, 1]
(clipped) or uint8. Frame sequences are ``(T, H, W, 3)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

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


def _check_image(image: np.ndarray) -> None:
    if image.ndim == 3 and image.shape[-1] == 1:
        return
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[-1] in (3, 4))):
        raise ValueError(f"an image must have shape (H, W), (H, W, 3) or (H, W, 4); got {tuple(image.shape)}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image is empty: shape {tuple(image.shape)}")


def save_image(path: str | Path, image: ArrayLike) -> Path:
    """Writes one image (PNG, JPEG, ... by suffix) and returns its path.

    Args:
        path: output file; parent folders are created.
        image: (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), float in [0, 1] or uint8.
    """
    import imageio.v3 as iio

    path = Path(path)
    img = to_uint8(image)
    _check_image(img)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if path.suffix.lower() in (".jpg", ".jpeg") and img.ndim == 3 and img.shape[-1] == 4:
        img = img[..., :3]
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, img)
    return path


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


def save_frames(frames: ArrayLike | Sequence[ArrayLike], path: str | Path, fps: float = 15) -> Path:
    """Writes a frame sequence, the format chosen by the suffix of ``path``, and returns ``path``.

    - ``.gif``: an animated GIF that loops forever;
    - ``.mp4``: an H.264 video (needs ``imageio-ffmpeg``); odd sizes are padded by one pixel;
    - no suffix (or an existing folder): a folder of ``frame_0000.png``, ``frame_0001.png``, ...

    Args:
        frames: (T, H, W, 3) (or 4 channels; alpha is kept only in PNG frames) float in [0, 1] or uint8.
        fps: frames per second.
    """
    path = Path(path)
    if isinstance(frames, (torch.Tensor, np.ndarray)):
        video = to_uint8(frames)
    else:
        video = np.stack([to_uint8(f) for f in frames])
    if video.ndim != 4 or video.shape[-1] not in (3, 4) or video.shape[0] == 0:
        raise ValueError(f"frames must have shape (T, H, W, 3) with T >= 1; got {tuple(video.shape)}")
    if fps <= 0:
        raise ValueError(f"fps must be positive; got {fps}")
    suffix = path.suffix.lower()
    if path.is_dir() or suffix == "":
        path.mkdir(parents=True, exist_ok=True)
        for t, frame in enumerate(video):
            save_image(path / f"frame_{t:04d}.png", frame)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".gif":
        import imageio.v3 as iio

        iio.imwrite(path, video[..., :3], extension=".gif", duration=1000.0 / fps, loop=0)
        return path
    if suffix == ".mp4":
        _write_mp4(video[..., :3], path, fps)
        return path
    raise ValueError(f"unsupported output {path.name!r}: use .gif, .mp4, or a folder (no suffix) for PNG frames")


def _write_mp4(video: np.ndarray, path: Path, fps: float) -> None:
    try:
        import imageio_ffmpeg  # noqa: F401
        import imageio.v2 as iio2
    except ImportError as err:  # optional at import time, required here
        raise ImportError("writing MP4 needs imageio-ffmpeg: pip install imageio-ffmpeg") from err
    T, H, W, _ = video.shape
    if H % 2 or W % 2:  # H.264 in yuv420p needs even sizes
        video = np.pad(video, ((0, 0), (0, H % 2), (0, W % 2), (0, 0)), mode="edge")
    writer = iio2.get_writer(path, format="FFMPEG", mode="I", fps=fps, codec="libx264", macro_block_size=2,
                             pixelformat="yuv420p", output_params=["-movflags", "+faststart"])
    try:
        for frame in video:
            writer.append_data(frame)
    finally:
        writer.close()
