"""Slow, obvious fisheye projection (PyTorch3D's FishEyeCameras model), one point at a time in Python floats.

Unprojection is checked against a generic root finder on the forward model, not against a second Newton method.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.optimize


def naive_fisheye_project(point, focal, principal_point, radial, tangential, thin_prism,
                          use_radial=True, use_tangential=True, use_thin_prism=True):
    """One view-space point (x, y, z) -> (u, v, 1).

    radial: up to 6 coefficients k1.. of theta^2, theta^4, ...; tangential (p1, p2); thin_prism (s1, s2, s3, s4).
    """
    x, y, z = (float(c) for c in point)
    a, b = x / z, y / z
    r = math.hypot(a, b)
    theta = math.atan(r)
    poly = 1.0 + sum(float(k) * theta ** (2 * (i + 1)) for i, k in enumerate(radial))
    scale = poly * (theta / r if r >= 1e-10 else 1.0)
    xr, yr = scale * a, scale * b
    rd2 = xr * xr + yr * yr
    u, v = (xr, yr) if use_radial else (a, b)
    p1, p2 = (float(t) for t in tangential)
    if use_tangential:
        u += (2 * xr * xr + rd2) * p1 + 2 * xr * yr * p2
        v += (2 * yr * yr + rd2) * p2 + 2 * xr * yr * p1
    s1, s2, s3, s4 = (float(t) for t in thin_prism)
    if use_thin_prism:
        u += s1 * rd2 + s2 * rd2 * rd2
        v += s3 * rd2 + s4 * rd2 * rd2
    fx, fy = (float(focal[0]), float(focal[-1]))
    return (fx * u + float(principal_point[0]), fy * v + float(principal_point[1]), 1.0)


def naive_fisheye_unproject(uv, focal, principal_point, radial, tangential, thin_prism):
    """The view-space point (x, y, 1) that ``naive_fisheye_project`` maps to ``uv``, by a generic root finder."""
    def residual(ab):
        u, v, _ = naive_fisheye_project((ab[0], ab[1], 1.0), focal, principal_point, radial, tangential, thin_prism)
        return [u - uv[0], v - uv[1]]

    start = [(uv[0] - float(principal_point[0])) / float(focal[0]),
             (uv[1] - float(principal_point[1])) / float(focal[-1])]
    ab, info, ok, msg = scipy.optimize.fsolve(residual, start, full_output=True, xtol=1e-13)
    if ok != 1:
        raise RuntimeError(f"fsolve failed: {msg}")
    return np.array([ab[0], ab[1], 1.0])
