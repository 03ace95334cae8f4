"""Blending by splatting (PyTorch3D's ``SplatterBlender``; Cole et al., "Differentiable Surface Rendering via
Non-Differentiable Sampling", ICCV 2021).

Each rasterised fragment (pixel p, layer k) is a small Gaussian splat centred at the screen position of its surface
point, which the shader computes by interpolating the face's vertices with the (detached) barycentrics. In the
forward pass that position is the pixel centre; in the backward pass it moves with the vertices, so gradients reach
vertex positions even through a non-differentiable rasteriser. Every fragment splats its RGBA colour onto the 3 x 3
pixels around it. A receiving pixel q sorts the incoming splats into three buffers by depth -- in front of q's
visible surface, on it, or behind it -- normalises each buffer by its total weight (at least 1) and composites the
three over the background colour.

Semantics follow PyTorch3D 0.7.9 exactly, including two of its conventions:

- Direction d (0..8) stands for the neighbour offset (column, row) = (d // 3 - 1, d % 3 - 1) for the splat itself,
  while the depth comparison that decides the buffer of that splat looks at the neighbour (row, column) =
  (d // 3 - 1, d % 3 - 1) (PyTorch3D takes it from ``unfold``, which orders the window row-major). The two agree on
  the diagonals and the centre and are transposed on the four edge neighbours.
- Neighbours outside the image count as depth 0 in that comparison (``unfold``'s zero padding); they send no splats.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F

from .blending import BlendParams, _background

# (column, row) offset of each of the nine splat directions, as PyTorch3D enumerates them.
_OFFSETS = [(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)]
# A splat kernel's total weight is normalised to 1 + this (Sec. 3.3.1 of the paper: keeps gradients flowing
# through the normalisation of interior pixels).
_KERNEL_EPSILON = 0.05


def splat_kernel_normalization(sigma: float) -> float:
    """(1 + 0.05) / (sum of the Gaussian kernel exp(-|o|^2 / (2 sigma^2)) over the 3 x 3 offsets o).

    Raises:
        ValueError: sigma <= 0.
    """
    sigma = float(sigma)
    if not sigma > 0.0:
        raise ValueError("Only positive standard deviations make sense.")
    total = sum(torch.exp(torch.tensor(-(a * a + b * b) / (2.0 * sigma * sigma), dtype=torch.float64)).item()
                for a, b in _OFFSETS)
    return (1.0 + _KERNEL_EPSILON) / total


def _shift(t: torch.Tensor, dr: int, dc: int, fill: float) -> torch.Tensor:
    """out[:, r, c] = t[:, r + dr, c + dc], ``fill`` outside the image. t: (N, H, W, ...)."""
    H, W = t.shape[1], t.shape[2]
    pad = [0, 0] * (t.dim() - 3) + [1, 1, 1, 1]  # F.pad lists the last dimension first
    padded = F.pad(t, pad, value=fill)  # (N, H + 2, W + 2, ...)
    return padded[:, 1 + dr: 1 + dr + H, 1 + dc: 1 + dc + W]


def occlusion_layers(depth: torch.Tensor) -> torch.Tensor:
    """For every pixel q and direction d, which layer of the neighbour in direction d lies on q's visible surface.

    Args:
        depth: (N, H, W, K) screen depth of each fragment (background fragments at 1).
    Returns:
        (N, H, W, 9) long. With P the neighbour's K depths and Q q's: if some Q[j] is closer to P[0] than any P[i]
        is to Q[0], the value is -j (P's top layer lies on q's layer j, so every splat of P is behind q's surface);
        otherwise it is the i whose P[i] is closest to Q[0] (P's layers above i are in front, below i behind).
        Ties go to the smaller layer. The neighbour of direction d is at (row, column) offset
        (d // 3 - 1, d % 3 - 1), with depth 0 beyond the image (see the module docstring).
    """
    q_top = depth[..., :1]  # (N, H, W, 1)
    out = []
    for d in range(9):
        p = _shift(depth, d // 3 - 1, d % 3 - 1, 0.0)  # (N, H, W, K)
        q_dist, q_idx = (p - q_top).abs().min(dim=-1)  # P's layer nearest q's top
        p_dist, p_idx = (p[..., :1] - depth).abs().min(dim=-1)  # q's layer nearest P's top
        out.append(torch.where(p_dist < q_dist, -p_idx, q_idx))
    return torch.stack(out, dim=-1)


def splat_blend(
    colors: torch.Tensor,
    pixel_coords_screen: torch.Tensor,
    background_mask: torch.Tensor,
    sigma: float,
    background_color: torch.Tensor,
) -> torch.Tensor:
    """Splats and composites fragments given in screen space (the part of ``SplatterBlender`` after projection).

    Args:
        colors: (N, H, W, K, 3) colour of each fragment.
        pixel_coords_screen: (N, H, W, K, 3) unflipped screen coordinates of each fragment's surface point (x
            decreasing to the right, y decreasing downwards: pixel (row, col) centred at (-col - 0.5, -row - 0.5))
            and its depth.
        background_mask: (N, H, W, K) bool, True for empty fragments.
        sigma: the splat's standard deviation in pixels (0.5 in PyTorch3D).
        background_color: (3,) colour behind everything.
    Returns:
        (N, H, W, 4) RGBA; alpha 0 on the background. Differentiable with respect to colors and
        pixel_coords_screen.
    """
    N, H, W, K, C = colors.shape
    dtype, device = colors.dtype, colors.device
    bg = background_mask[..., None]  # (N, H, W, K, 1)
    coords = torch.where(bg, torch.ones((), dtype=pixel_coords_screen.dtype, device=device), pixel_coords_screen)
    rgba = torch.cat([colors, torch.ones_like(colors[..., :1])], dim=-1)
    rgba = torch.where(bg, torch.zeros((), dtype=dtype, device=device), rgba)  # (N, H, W, K, 4)

    layers = occlusion_layers(coords[..., 2])  # (N, H, W, 9)
    frac = torch.floor(coords[..., :2]) - coords[..., :2] + 0.5  # (N, H, W, K, 2): pixel centre minus position
    scale = rgba[..., 3] * splat_kernel_normalization(sigma)  # (N, H, W, K): alpha times the kernel's norm
    k_ids = torch.arange(K, device=device)
    rgba1 = torch.cat([rgba, torch.ones_like(rgba[..., :1])], dim=-1)  # (N, H, W, K, 5): colour, alpha, 1
    # buffers[..., :4, b] colour and [..., 4, b] weight of buffer b: 0 in front, 1 on the surface, 2 behind
    buffers = colors.new_zeros((N, H, W, 5, 3))
    for d, (a, b) in enumerate(_OFFSETS):
        dist2 = (frac[..., 0] + a) ** 2 + (frac[..., 1] + b) ** 2  # (N, H, W, K) from position to q's centre
        weight = torch.exp(-dist2 / (2.0 * sigma * sigma)) * scale
        sent = rgba1 * weight[..., None]  # (N, H, W, K, 5) at the sender: weighted RGBA and the weight
        received = _shift(sent, b, a, 0.0)  # at q: from the sender at (row + b, col + a)
        o = layers[..., d, None]  # (N, H, W, 1)
        which = torch.stack([o > k_ids, o == k_ids, o < k_ids], dim=-1).to(dtype)  # (N, H, W, K, 3)
        buffers = buffers + torch.einsum("nhwkc,nhwkb->nhwcb", received, which)

    colour, weight = buffers[..., :4, :], buffers[..., 4:, :]
    colour = colour / torch.clamp(weight, min=1.0)  # (N, H, W, 4, 3)
    out = torch.cat([background_color.to(device=device, dtype=dtype), colors.new_zeros(1)])  # (4,)
    for b in (2, 1, 0):  # behind, on, in front: each over what is below
        out = colour[..., b] + (1.0 - colour[..., 3:4, b]) * out
    return out


class SplatterBlender(torch.nn.Module):
    """RGBA blending by splatting (PyTorch3D's ``SplatterBlender``); see the module docstring.

    Args:
        input_shape: (N, H, W, K) of the fragments (kept for PyTorch3D compatibility; any shape is accepted).
        device: where the blender's constants live (kept for compatibility).
    """

    def __init__(self, input_shape: Sequence[int], device: Any = "cpu") -> None:
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        self.device = torch.device(device)

    def to(self, device: Any, *args: Any, **kwargs: Any) -> "SplatterBlender":  # type: ignore[override]
        self.device = torch.device(device)
        return self

    def forward(
        self,
        colors: torch.Tensor,
        pixel_coords_cameras: torch.Tensor,
        cameras: Any,
        background_mask: torch.Tensor,
        blend_params: BlendParams,
    ) -> torch.Tensor:
        """Splats the fragments' colours.

        Args:
            colors: (N, H, W, K, 3) RGB of each fragment.
            pixel_coords_cameras: (N, H, W, K, 3) world position of each fragment's surface point, interpolated
                from the face's vertices with the barycentrics (so gradients reach the vertices).
            cameras: the cameras that produced the fragments (projects the positions to the screen).
            background_mask: (N, H, W, K) bool, True for empty fragments (``pix_to_face < 0``).
            blend_params: uses ``sigma`` (splat standard deviation in pixels; 0.5 expected) and
                ``background_color``.
        Returns:
            (N, H, W, 4) RGBA, alpha 0 on the background.
        """
        N, H, W, K, _ = colors.shape
        screen = cameras.transform_points_screen(
            pixel_coords_cameras.reshape(N, -1, 3), image_size=(H, W), with_xyflip=False
        ).reshape(N, H, W, K, 3)
        background = _background(blend_params, colors)
        return splat_blend(colors, screen.to(colors.dtype), background_mask, blend_params.sigma, background)
