"""Texture maps of ``TexturesUV`` drawn with the mesh's uv positions marked (for aligning maps and uvs)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def _chosen_centers(texture, texture_index: int, subsample: int | None) -> np.ndarray:
    """(P, 2) pixel (column, row) of the uvs of mesh ``texture_index``, at most ``subsample`` of them at random."""
    centers = texture.centers_for_image(index=texture_index).detach().cpu().numpy()
    if subsample is not None and centers.shape[0] > subsample:
        centers = centers[np.random.choice(centers.shape[0], subsample, replace=False)]
    return centers


def texturesuv_image_matplotlib(
    texture,
    *,
    texture_index: int = 0,
    radius: float = 1,
    color=(1.0, 0.0, 0.0),
    subsample: int | None = 10000,
    origin: str = "upper",
) -> None:
    """Shows one map of a ``TexturesUV`` on the current matplotlib axes with a circle at each uv position.

    Args:
        texture: a ``TexturesUV`` of one mesh (its map: (H, W, C) float in [0, 1]).
        texture_index: which map of the batch to show.
        radius: circle radius in pixels.
        color: any matplotlib colour for the circles.
        subsample: at most this many uvs (chosen at random) are circled; None for all, including uvs no face uses.
        origin: "upper" (as ``texturesuv_image_PIL``) or "lower", as ``matplotlib.pyplot.imshow``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle

    image = texture.maps_padded()[texture_index].detach().cpu().numpy()  # (H, W, C)
    axes = plt.gca()
    axes.imshow(image, origin=origin)
    for x, y in _chosen_centers(texture, texture_index, subsample):
        # clip_on=False shows uvs outside [0, 1] outside the image
        axes.add_patch(Circle((float(x), float(y)), radius, color=color, clip_on=False))


def texturesuv_image_PIL(
    texture,
    *,
    texture_index: int = 0,
    radius: float = 1,
    color: Any = "red",
    subsample: int | None = 10000,
):
    """One map of a ``TexturesUV`` as a PIL image with a filled disc at each uv position.

    Args: as ``texturesuv_image_matplotlib``; ``color`` is any PIL colour.
    Returns:
        ``PIL.Image.Image`` of the (H, W) map (values in [0, 1] scaled to 0..255, clipped), discs drawn on top.
    """
    from PIL import Image, ImageDraw

    maps = texture.maps_padded()[texture_index].detach().cpu()  # (H, W, C)
    array = (maps.clamp(0, 1) * 255).round().to(dtype=torch.uint8).numpy()
    if array.shape[-1] == 1:
        array = array[..., 0]
    image = Image.fromarray(array)
    draw = ImageDraw.Draw(image)
    for x, y in _chosen_centers(texture, texture_index, subsample):
        draw.ellipse([(x - radius, y - radius), (x + radius, y + radius)], fill=color)
    return image
