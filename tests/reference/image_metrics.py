"""Naive image metrics: PSNR from its formula and SSIM as a Python loop over windows, channels and pixels."""

from __future__ import annotations

import math


def psnr_naive(pred, target, mask=None, data_range: float = 1.0) -> float:
    """pred, target: (H, W, C) nested lists or arrays; mask: (H, W) of 0/1 or None. PSNR in dB."""
    h, w, c = len(pred), len(pred[0]), len(pred[0][0])
    total, count = 0.0, 0.0
    for i in range(h):
        for j in range(w):
            m = 1.0 if mask is None else float(mask[i][j])
            for k in range(c):
                total += m * (float(pred[i][j][k]) - float(target[i][j][k])) ** 2
                count += m
    mse = total / count
    return math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)


def ssim_naive(pred, target, mask=None, data_range: float = 1.0, window_size: int = 11, sigma: float = 1.5) -> float:
    """SSIM of one (H, W, C) pair: for every channel and every window lying wholly inside the image, the Gaussian
    weighted means, variances and covariance, then the SSIM formula; averaged over windows (whose centre is masked)
    and channels."""
    h, w, c = len(pred), len(pred[0]), len(pred[0][0])
    r = window_size // 2
    g = [math.exp(-((t - r) ** 2) / (2 * sigma**2)) for t in range(window_size)]
    s = sum(g)
    g = [v / s for v in g]
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    total, count = 0.0, 0.0
    for k in range(c):
        for ci in range(r, h - r):
            for cj in range(r, w - r):
                m = 1.0 if mask is None else float(mask[ci][cj])
                if m == 0:
                    continue
                mx = my = exx = eyy = exy = 0.0
                for a in range(window_size):
                    for b in range(window_size):
                        wt = g[a] * g[b]
                        x = float(pred[ci - r + a][cj - r + b][k])
                        y = float(target[ci - r + a][cj - r + b][k])
                        mx += wt * x
                        my += wt * y
                        exx += wt * x * x
                        eyy += wt * y * y
                        exy += wt * x * y
                vx, vy, cxy = exx - mx * mx, eyy - my * my, exy - mx * my
                value = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
                total += m * value
                count += m
    return total / count
