"""Naive splatting blend (PyTorch3D's SplatterBlender after projection): loops over pixels, directions and layers.

Decisions (which buffer a splat goes to) use Python floats; weights and colours are torch scalars, so autograd
gives reference gradients. Conventions, as PyTorch3D 0.7.9 computes them:
- direction d = 0..8 has offset (a, b) = (d // 3 - 1, d % 3 - 1): the splat reaching pixel (row, col) in direction d
  comes from the sender at (row + b, col + a), with weight exp(-|centre_frac + (a, b)|^2 / (2 sigma^2));
- the depth comparison deciding that splat's buffer looks at the neighbour (row + a, col + b), depth 0 outside.
"""

from __future__ import annotations

import math

import torch


def splat_blend_naive(colors, coords, background_mask, sigma, background):
    """colors (N, H, W, K, 3), coords (N, H, W, K, 3) unflipped screen xy + depth, background_mask (N, H, W, K),
    background (3,) -> (N, H, W, 4)."""
    N, H, W, K, _ = colors.shape
    norm = 1.05 / sum(math.exp(-(a * a + b * b) / (2 * sigma * sigma)) for a in (-1, 0, 1) for b in (-1, 0, 1))

    def fragment(n, r, c, k):
        """(x, y, depth, rgba) of a fragment; background fragments sit at 1 with zero colour."""
        if bool(background_mask[n, r, c, k]):
            one = torch.ones((), dtype=coords.dtype)
            return one, one, 1.0, torch.zeros(4, dtype=colors.dtype)
        x, y, z = coords[n, r, c, k]
        return x, y, float(z.detach()), torch.cat([colors[n, r, c, k], torch.ones(1, dtype=colors.dtype)])

    def depths(n, r, c):
        if 0 <= r < H and 0 <= c < W:
            return [fragment(n, r, c, k)[2] for k in range(K)]
        return [0.0] * K

    def first_min(values):
        best = 0
        for i, v in enumerate(values):
            if v < values[best]:
                best = i
        return best

    out = torch.zeros(N, H, W, 4, dtype=colors.dtype)
    for n in range(N):
        for r in range(H):
            for c in range(W):
                q = depths(n, r, c)
                buffers = [torch.zeros(5, dtype=colors.dtype) for _ in range(3)]
                for d in range(9):
                    a, b = d // 3 - 1, d % 3 - 1
                    p = depths(n, r + a, c + b)  # the neighbour of the depth test
                    to_q_top = [abs(pi - q[0]) for pi in p]
                    to_p_top = [abs(p[0] - qj) for qj in q]
                    i, j = first_min(to_q_top), first_min(to_p_top)
                    layer_on_surface = -j if to_p_top[j] < to_q_top[i] else i
                    sr, sc = r + b, c + a  # the sender
                    if not (0 <= sr < H and 0 <= sc < W):
                        continue
                    for k in range(K):
                        x, y, _, rgba = fragment(n, sr, sc, k)
                        fx = math.floor(float(x.detach())) - x + 0.5
                        fy = math.floor(float(y.detach())) - y + 0.5
                        weight = torch.exp(-((fx + a) ** 2 + (fy + b) ** 2) / (2 * sigma * sigma)) * rgba[3] * norm
                        which = 0 if layer_on_surface > k else (1 if layer_on_surface == k else 2)
                        buffers[which] = buffers[which] + torch.cat([rgba * weight, weight.reshape(1)])
                colour = torch.cat([background.to(colors.dtype), torch.zeros(1, dtype=colors.dtype)])
                for which in (2, 1, 0):
                    buf = buffers[which]
                    scale = buf[4] if float(buf[4].detach()) > 1.0 else torch.ones((), dtype=colors.dtype)
                    layer = buf[:4] / scale
                    colour = layer + (1.0 - layer[3]) * colour
                out[n, r, c] = colour
    return out
