"""Slow, obvious versions of the camera and transform maths, one point at a time, in float64 Python.

Used as oracles by tests/transforms and tests/renderer camera tests. Nothing here is batched or clever.
"""

from __future__ import annotations

import math

import numpy as np


def naive_transform_point(point, matrix):
    """[x, y, z, 1] @ M (4x4 nested lists or array), then divide by w. Returns a 3-tuple."""
    hom = [float(point[0]), float(point[1]), float(point[2]), 1.0]
    out = [sum(hom[k] * float(matrix[k][j]) for k in range(4)) for j in range(4)]
    return (out[0] / out[3], out[1] / out[3], out[2] / out[3])


def naive_transform_points(points, matrix):
    """Applies ``naive_transform_point`` to each row of ``points`` (P, 3); returns an (P, 3) array."""
    return np.array([naive_transform_point(p, matrix) for p in points])


def world_to_view(point, R, T):
    """X_view = X_world @ R + T for one point (row-vector convention)."""
    return tuple(sum(float(point[k]) * float(R[k][j]) for k in range(3)) + float(T[j]) for j in range(3))


def pinhole_ndc(point_world, R, T, fx, fy, px, py):
    """PerspectiveCameras in NDC: x_ndc = fx X/Z + px, y_ndc = fy Y/Z + py, third value 1/Z."""
    x, y, z = world_to_view(point_world, R, T)
    return (fx * x / z + px, fy * y / z + py, 1.0 / z)


def fov_perspective_ndc(point_world, R, T, fov_deg, znear, zfar, aspect_ratio=1.0):
    """FoVPerspectiveCameras: x, y divided by z tan(fov/2) (x also by the aspect ratio); depth
    zfar (z - znear) / ((zfar - znear) z), so znear -> 0, zfar -> 1."""
    x, y, z = world_to_view(point_world, R, T)
    t = math.tan(math.radians(fov_deg) / 2.0)
    return (x / (z * t * aspect_ratio), y / (z * t), zfar * (z - znear) / ((zfar - znear) * z))


def ndc_to_screen(x_ndc, y_ndc, height, width):
    """NDC (+X left, +Y up, shorter side spans [-1, 1]) -> continuous pixel coordinates (column, row),
    pixel (0, 0) the top-left corner, pixel i spanning [i, i + 1]."""
    s = min(height, width) / 2.0
    return (width / 2.0 - s * x_ndc, height / 2.0 - s * y_ndc)


def pixel_centre_ndc_x(i, width):
    """NDC x of the centre of pixel column i in a square image of width W (CONVENTIONS.md)."""
    return 1.0 - (2 * i + 1) / width


def look_at_camera_centre(dist, elev_deg, azim_deg):
    """CONVENTIONS.md: (dist cos(elev) sin(azim), dist sin(elev), dist cos(elev) cos(azim))."""
    e, a = math.radians(elev_deg), math.radians(azim_deg)
    return (dist * math.cos(e) * math.sin(a), dist * math.sin(e), dist * math.cos(e) * math.cos(a))


def opencv_project(point_world, R, tvec, K):
    """OpenCV pinhole projection without distortion: x_cam = R X + t, u = fx x/z + cx, v = fy y/z + cy."""
    xc = [sum(float(R[j][k]) * float(point_world[k]) for k in range(3)) + float(tvec[j]) for j in range(3)]
    u = float(K[0][0]) * xc[0] / xc[2] + float(K[0][2])
    v = float(K[1][1]) * xc[1] / xc[2] + float(K[1][2])
    return (u, v)
