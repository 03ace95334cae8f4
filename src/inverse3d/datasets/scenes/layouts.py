"""Camera positions of a ``CameraLayout`` as OpenGL camera-to-world matrices (NeRF-synthetic's convention).

Angles follow ``look_at_view_transform`` (CONVENTIONS.md): a camera at elevation ``e`` and azimuth ``a`` (degrees)
sits at ``look_at + radius * (cos e sin a, sin e, cos e cos a)``, so azimuth 0 is on the +Z side, +Y is up.

- ``"hemisphere"`` / ``"sphere"``: stratified over the (upper half of the) sphere: view ``i`` has its height drawn in
  the ``i``-th of ``n`` equal-area bands and its azimuth on a golden-angle spiral with a random start, so that even a
  handful of views see the object from all around, and every seed gives other views.
- ``"ring"``: ``n`` azimuths evenly spaced at the layout's elevation, starting at a random phase.
- ``"forward"``: positions drawn uniformly over a patch facing the scene from azimuth 0 at the layout's elevation, of
  half-width ``FORWARD_PATCH[0] * radius`` and half-height ``FORWARD_PATCH[1] * radius``, as a hand-held capture.

Every camera looks at ``look_at`` with +Y up (a camera straight above or below gets -Z as its image's up instead).
"""

from __future__ import annotations

import math

import numpy as np

from inverse3d.datasets.scenes.spec import CameraLayout

GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))
FORWARD_PATCH = (0.18, 0.08)
KINDS = ("sphere", "hemisphere", "forward", "ring")


def look_at_c2w(eyes, target, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """OpenGL camera-to-world matrices of cameras at ``eyes`` looking at ``target``.

    Args:
        eyes: (N, 3) camera centres; target: (3,) or (N, 3) points looked at; up: (3,) the world's up direction.
    Returns:
        (N, 4, 4) float64: columns are the camera's right (+X), up (+Y) and backward (+Z, away from the target) axes
        and its centre. Where the viewing direction is parallel to ``up``, the image's up is world -Z.
    """
    eyes = np.asarray(eyes, dtype=np.float64).reshape(-1, 3)
    target = np.broadcast_to(np.asarray(target, dtype=np.float64), eyes.shape)
    forward = target - eyes  # (N, 3)
    norm = np.linalg.norm(forward, axis=1, keepdims=True)
    if np.any(norm < 1e-12):
        raise ValueError("a camera sits on the point it looks at")
    forward = forward / norm
    up = np.broadcast_to(np.asarray(up, dtype=np.float64), eyes.shape)
    right = np.cross(forward, up)
    degenerate = np.linalg.norm(right, axis=1) < 1e-9
    if degenerate.any():  # looking straight along `up`: pick -Z as the image's up
        right[degenerate] = np.cross(forward[degenerate], np.array([0.0, 0.0, -1.0]))
    right = right / np.linalg.norm(right, axis=1, keepdims=True)
    cam_up = np.cross(right, forward)
    c2w = np.zeros((len(eyes), 4, 4))
    c2w[:, :3, 0], c2w[:, :3, 1], c2w[:, :3, 2], c2w[:, :3, 3] = right, cam_up, -forward, eyes
    c2w[:, 3, 3] = 1.0
    return c2w


def spherical_positions(elevation, azimuth, radius: float, look_at=(0.0, 0.0, 0.0)) -> np.ndarray:
    """(N, 3) camera centres at ``elevation`` / ``azimuth`` (degrees, (N,) each) and ``radius`` around ``look_at``."""
    e, a = np.radians(np.asarray(elevation, dtype=np.float64)), np.radians(np.asarray(azimuth, dtype=np.float64))
    direction = np.stack([np.cos(e) * np.sin(a), np.sin(e), np.cos(e) * np.cos(a)], axis=-1)
    return np.asarray(look_at, dtype=np.float64) + radius * direction


def layout_c2w(layout: CameraLayout, n: int, seed: int = 0) -> np.ndarray:
    """``n`` views of ``layout`` (module docstring), the same for the same ``seed``.

    Returns:
        (n, 4, 4) float64 OpenGL camera-to-world matrices.
    Raises:
        ValueError: an unknown kind, a non-positive radius, or a negative ``n``.
    """
    if layout.kind not in KINDS:
        raise ValueError(f"unknown camera layout kind {layout.kind!r}; choose one of {', '.join(KINDS)}")
    if not (math.isfinite(layout.radius) and layout.radius > 0):
        raise ValueError(f"camera layout radius must be positive; got {layout.radius}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"number of views must be a non-negative int; got {n!r}")
    rng = np.random.default_rng([int(seed), KINDS.index(layout.kind)])
    i = np.arange(n)
    if layout.kind in ("sphere", "hemisphere"):
        lowest = -1.0 if layout.kind == "sphere" else 0.0
        height = 1.0 - (1.0 - lowest) * (i + rng.uniform(0.0, 1.0, n)) / max(n, 1)  # sin(elevation), stratified
        elevation = np.degrees(np.arcsin(np.clip(height, -1.0, 1.0)))
        azimuth = np.degrees(rng.uniform(0.0, 2 * math.pi) + GOLDEN_ANGLE * i)
        eyes = spherical_positions(elevation, azimuth, layout.radius, layout.look_at)
    elif layout.kind == "ring":
        azimuth = rng.uniform(0.0, 360.0 / max(n, 1)) + 360.0 * i / max(n, 1)
        eyes = spherical_positions(np.full(n, layout.elevation), azimuth, layout.radius, layout.look_at)
    else:  # forward: a patch across the line of sight from azimuth 0
        centre = spherical_positions(layout.elevation, 0.0, layout.radius, layout.look_at)
        frame = look_at_c2w(centre[None], layout.look_at)[0]
        right, up = frame[:3, 0], frame[:3, 1]
        u = rng.uniform(-1.0, 1.0, n) * FORWARD_PATCH[0] * layout.radius
        v = rng.uniform(-1.0, 1.0, n) * FORWARD_PATCH[1] * layout.radius
        eyes = centre + u[:, None] * right + v[:, None] * up
    return look_at_c2w(eyes, layout.look_at)
