"""Full images from a per-ray renderer in bounded memory: the rays of a few pixels at a time.

A NeRF-style field evaluated at every sample of every pixel at once needs H x W x P points and their activations
(an 800 x 800 image with 128 samples: 82 million points). ``render_image_chunked`` makes the rays of
``chunk_rays`` pixels at a time (the same rays ``NDCMultinomialRaysampler`` makes), renders them and writes the
result into the image, so the working memory is that of one chunk plus the output image.
"""

from __future__ import annotations

from typing import Callable, Sequence, Union

import torch

from inverse3d.renderer.implicit.raysampling import _check_cameras, _camera_dtype, _xy_to_ray_bundle
from inverse3d.renderer.implicit.utils import RayBundle

__all__ = ["render_image_chunked"]


def render_image_chunked(
    renderer_fn: Callable[[RayBundle], torch.Tensor],
    cameras,
    image_size: Union[int, Sequence[int]],
    *,
    n_pts_per_ray: int,
    min_depth: float,
    max_depth: float,
    chunk_rays: int = 16384,
    unit_directions: bool = False,
    stratified_sampling: bool = False,
) -> torch.Tensor:
    """Renders whole images through the pixel centres of ``image_size`` (NDC, CONVENTIONS.md), chunk by chunk.

    Args:
        renderer_fn: maps a ``RayBundle`` with origins (B, R, 3), directions (B, R, 3), lengths (B, R, P) and
            xys (B, R, 2) to per-ray outputs (B, R, C), e.g.
            ``lambda rays: raymarcher(*field(ray_bundle=rays), ray_bundle=rays)``.
        cameras: B cameras.
        image_size: (H, W), or one int for square images.
        n_pts_per_ray, min_depth, max_depth, unit_directions, stratified_sampling: the rays, as for
            ``NDCMultinomialRaysampler``.
        chunk_rays: rays per call of ``renderer_fn``, over all B cameras (at least one pixel per call).
    Returns:
        (B, H, W, C) images; pixel [b, i, j] is the output for the ray of camera b through the centre of row i,
        column j, the same ray that ``NDCMultinomialRaysampler`` gives there.

    Memory stays bounded only without autograd: call it under ``torch.no_grad()`` to render, or with small
    images when gradients are needed (every chunk's graph is then kept).
    """
    from inverse3d.renderer.mesh.rasterize_meshes import pixel_centres_ndc
    from inverse3d.renderer.utils import check_image_size

    if not callable(renderer_fn):
        raise ValueError("render_image_chunked: renderer_fn must be callable")
    H, W = check_image_size(image_size)
    if isinstance(chunk_rays, bool) or not isinstance(chunk_rays, int) or chunk_rays < 1:
        raise ValueError(f"render_image_chunked: chunk_rays must be a positive int, got {chunk_rays!r}")
    _check_cameras(cameras, "render_image_chunked")
    batch_size = cameras.R.shape[0]
    device, dtype = cameras.device, _camera_dtype(cameras)
    xs = pixel_centres_ndc(W, H, device, dtype)  # (W,) NDC x of each column
    ys = pixel_centres_ndc(H, W, device, dtype)  # (H,) NDC y of each row
    xy = torch.stack((xs[None, :].expand(H, W), ys[:, None].expand(H, W)), dim=-1).reshape(H * W, 2)

    pixels_per_chunk = max(1, chunk_rays // max(batch_size, 1))
    image = None  # (B, H W, C), filled in place without autograd
    pieces = []  # the chunks' outputs when they carry gradients
    for start in range(0, H * W, pixels_per_chunk):
        xys = xy[start : start + pixels_per_chunk].expand(batch_size, -1, -1)  # (B, R, 2)
        rays = _xy_to_ray_bundle(
            cameras, xys, min_depth, max_depth, n_pts_per_ray, unit_directions, stratified_sampling
        )
        out = renderer_fn(rays)
        if not torch.is_tensor(out) or out.ndim != 3 or out.shape[:2] != xys.shape[:2]:
            shape = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
            raise ValueError(
                f"render_image_chunked: renderer_fn must return (B, R, C) with (B, R) = {tuple(xys.shape[:2])}, "
                f"got {shape}"
            )
        if out.requires_grad:
            pieces.append(out)
            continue
        if image is None:
            image = out.new_empty((batch_size, H * W, out.shape[-1]))
        image[:, start : start + out.shape[1]] = out
    if pieces:
        if image is not None:
            raise ValueError("render_image_chunked: renderer_fn returned outputs with and without gradients")
        image = torch.cat(pieces, dim=1)
    return image.reshape(batch_size, H, W, -1)
