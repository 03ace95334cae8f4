"""Ready-made SDF scenes: the course's torus and a scene of many primitives combined by CSG."""

from __future__ import annotations

import math

import torch

from inverse3d.renderer.sdf.primitives import (
    Box,
    Capsule,
    Cylinder,
    Difference,
    Plane,
    SmoothUnion,
    Sphere,
    Torus,
    Union,
)

_PALETTE = (
    (0.90, 0.35, 0.30),
    (0.95, 0.70, 0.25),
    (0.40, 0.75, 0.40),
    (0.30, 0.55, 0.90),
    (0.65, 0.40, 0.85),
    (0.30, 0.80, 0.80),
)


def _rot_x(angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rot_y(angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def torus_scene(major_radius: float = 0.35, minor_radius: float = 0.15, tilt_degrees: float = 60.0) -> Torus:
    """The course's torus (around its local z axis) tilted by ``tilt_degrees`` about x: its axis becomes
    (0, sin, cos) of the tilt, so that cameras above the scene (positive elevation) see into its hole."""
    return Torus(major_radius, minor_radius, rotation=_rot_x(-math.radians(tilt_degrees)), color=(0.85, 0.55, 0.3))


def many_primitives_scene(n_ring: int = 12, ground: bool = True) -> Union:
    """A scene of ``n_ring + 14`` primitives (26 by default), about 2.4 units wide.

    A torus around a smooth union of a sphere and a box in the middle, a ring of ``n_ring`` alternating spheres,
    boxes (rotated), cylinders and capsules around it, four pillars with rings (cylinders and tori), a box with a
    spherical bite (difference) on top, and a ground plane at y = -0.3 (``ground``; else a thin floor box, faster
    to trace: no ray grazes an infinite plane).

    Returns:
        a ``Union`` module, points (..., 3) -> (..., 1), with per-primitive ``colors``.
    """
    if n_ring < 1:
        raise ValueError(f"many_primitives_scene: n_ring must be >= 1, got {n_ring}")
    shapes = [
        Torus(0.3, 0.06, rotation=_rot_x(math.pi / 2), color=_PALETTE[1]),
        SmoothUnion(
            Sphere(0.16, center=(0.0, 0.0, 0.0), color=_PALETTE[3]),
            Box((0.1, 0.1, 0.1), center=(0.0, -0.16, 0.0), color=_PALETTE[4]),
            k=0.08,
        ),
        Difference(
            Box((0.1, 0.1, 0.1), center=(0.0, 0.3, 0.0), rotation=_rot_y(math.pi / 4), color=_PALETTE[2]),
            Sphere(0.12, center=(0.0, 0.4, 0.1), color=_PALETTE[0]),
        ),
    ]
    for i in range(n_ring):
        angle = 2 * math.pi * i / n_ring
        center = (0.62 * math.cos(angle), -0.18, 0.62 * math.sin(angle))
        color = _PALETTE[i % len(_PALETTE)]
        kind = i % 4
        if kind == 0:
            shapes.append(Sphere(0.1, center=center, color=color))
        elif kind == 1:
            shapes.append(Box((0.08, 0.08, 0.08), center=center, rotation=_rot_y(angle) @ _rot_x(0.5), color=color))
        elif kind == 2:
            shapes.append(Cylinder(0.07, 0.1, center=center, rotation=_rot_x(math.pi / 2), color=color))
        else:
            shapes.append(Capsule((-0.08, 0.0, 0.0), (0.08, 0.0, 0.0), 0.06, center=center, rotation=_rot_y(-angle),
                                  color=color))
    for j in range(4):
        angle = math.pi / 4 + j * math.pi / 2
        x, z = 0.95 * math.cos(angle), 0.95 * math.sin(angle)
        shapes.append(Cylinder(0.05, 0.3, center=(x, 0.0, z), rotation=_rot_x(math.pi / 2), color=(0.85, 0.85, 0.8)))
        shapes.append(Torus(0.08, 0.025, center=(x, 0.3, z), rotation=_rot_x(math.pi / 2), color=_PALETTE[j]))
    if ground:
        shapes.append(Plane((0.0, 1.0, 0.0), center=(0.0, -0.3, 0.0), color=(0.75, 0.75, 0.72)))
    else:  # a bounded floor: rays past the scene leave quickly instead of grazing an infinite plane
        shapes.append(Box((1.2, 0.02, 1.2), center=(0.0, -0.32, 0.0), color=(0.75, 0.75, 0.72)))
    return Union(shapes)


def count_primitives(shape) -> int:
    """Number of primitive leaves (not CSG nodes) in an SDF module tree."""
    from inverse3d.renderer.sdf.primitives import Primitive
    from inverse3d.renderer.sdf.mesh_sdf import MeshSDF

    return sum(isinstance(m, (Primitive, MeshSDF)) for m in shape.modules())
