"""Turntables of normalised shapes with fixed cameras, so a target and a prediction are framed the same way.

Shapes live in [-0.5, 0.5]^3 (CONVENTIONS.md), so every view looks at the origin from the distance at which the
sphere of radius 0.5 fills the field of view; the object's own bounding sphere is not used (a half-fitted shape or
a stray point does not change the framing). An object that cannot be drawn (a voxel grid with nothing occupied,
an empty mesh) gives white frames instead of an error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

SHAPE_RADIUS = 0.5


def _cameras(azims: torch.Tensor, elev: float, fov: float) -> tuple[torch.Tensor, torch.Tensor]:
    from inverse3d.viz.turntable import turntable_cameras

    R, T = [], []
    for a in azims.tolist():
        r, t = turntable_cameras(torch.zeros(3), SHAPE_RADIUS, n_frames=1, elev=elev, fov=fov, azim_start=a)
        R.append(r)
        T.append(t)
    return torch.cat(R), torch.cat(T)


def render_shape_views(
    obj: Any, azims: torch.Tensor | list[float], image_size: int = 128, elev: float = 20.0, fov: float = 60.0,
    **style: Any,
) -> np.ndarray:
    """Renders ``obj`` (anything ``inverse3d.viz.turntable.render_views`` takes) from cameras at the given azimuths
    (degrees) around the origin. Returns (T, S, S, 3) uint8; white frames when there is nothing to draw."""
    from inverse3d.viz.turntable import render_views

    azims = torch.as_tensor(azims, dtype=torch.float32).reshape(-1)
    R, T = _cameras(azims, elev, fov)
    try:
        frames = render_views(obj, R, T, fov=fov, image_size=image_size, **style)
    except ValueError as err:
        if "nothing to render" not in str(err) and "empty" not in str(err):
            raise
        return np.full((len(azims), image_size, image_size, 3), 255, np.uint8)
    return frames.numpy()


def shape_turntable(
    obj: Any, n_frames: int = 24, image_size: int = 128, elev: float = 20.0, **style: Any
) -> np.ndarray:
    """(n_frames, S, S, 3) uint8 turntable of ``obj`` with the fixed framing of this module."""
    azims = torch.arange(n_frames, dtype=torch.float32) * (360.0 / n_frames) + 30.0
    return render_shape_views(obj, azims, image_size, elev, **style)
