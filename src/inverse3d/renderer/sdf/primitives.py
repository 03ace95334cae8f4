"""Signed distance functions of primitives and their CSG combinations, on (..., 3) points, differentiable.

Plain functions (``sdf_sphere``, ``sdf_box``, ...) take points (..., 3) in the primitive's own frame and return
distances (...,), negative inside. Axially symmetric primitives (torus, cylinder) use the local z axis, like
``inverse3d.utils.torus``. The formulas are the standard exact ones (Inigo Quilez's catalogue); a box's distance
inside is the distance to the nearest face, exact as well. CSG of exact SDFs by min / max is exact outside the
result and a bound inside (the usual caveat); ``smooth_union`` is a bound everywhere.

Modules (``Sphere``, ``Box``, ``Torus``, ``Capsule``, ``Cylinder``, ``Plane``, ``Union``, ``Intersection``,
``Difference``, ``SmoothUnion``; every primitive takes ``center`` and ``rotation``) map world
points (..., 3) -> (..., 1) like the SDF networks of ``inverse3d.models.fields.sdf``, so a renderer takes either.
A primitive placed at ``center`` with ``rotation`` R (3, 3) (columns: the local axes in world coordinates) evaluates
its local SDF at ``(p - center) @ R``; rotations keep distances, so the result is still exact.
Each module also has ``colors(points) -> (..., 3)``: the albedo of the primitive that the SDF value comes from.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import torch
from torch import nn

# ----------------------------------------------------------------------------------------------------------------
# Functions on local coordinates: points (..., 3) -> (...,)


def _length(x: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(x, dim=-1)


def sdf_sphere(points: torch.Tensor, radius) -> torch.Tensor:
    """Sphere of ``radius`` at the origin: ``|p| - radius``. points (..., 3) -> (...,)."""
    return _length(points) - radius


def sdf_box(points: torch.Tensor, half_size) -> torch.Tensor:
    """Axis-aligned box with half extents ``half_size`` (3,) at the origin. points (..., 3) -> (...,)."""
    q = points.abs() - torch.as_tensor(half_size, dtype=points.dtype, device=points.device)  # (..., 3)
    outside = _length(q.clamp(min=0.0))
    inside = q.amax(dim=-1).clamp(max=0.0)
    return outside + inside


def sdf_torus(points: torch.Tensor, major_radius, minor_radius) -> torch.Tensor:
    """Torus around the z axis: ring radius ``major_radius`` (R), tube radius ``minor_radius`` (r).

    ``sqrt((|p_xy| - R)^2 + p_z^2) - r``; points (..., 3) -> (...,).
    """
    ring = _length(points[..., :2]) - major_radius
    return torch.sqrt(ring * ring + points[..., 2] ** 2) - minor_radius


def sdf_capsule(points: torch.Tensor, a, b, radius) -> torch.Tensor:
    """Capsule: points within ``radius`` of the segment from ``a`` (3,) to ``b`` (3,). points (..., 3) -> (...,)."""
    a = torch.as_tensor(a, dtype=points.dtype, device=points.device)
    b = torch.as_tensor(b, dtype=points.dtype, device=points.device)
    pa, ba = points - a, b - a
    h = ((pa * ba).sum(-1) / (ba * ba).sum(-1).clamp(min=1e-12)).clamp(0.0, 1.0)  # (...,)
    return _length(pa - h[..., None] * ba) - radius


def sdf_cylinder(points: torch.Tensor, radius, half_height) -> torch.Tensor:
    """Capped cylinder around the z axis, ``|z| <= half_height``, ``|p_xy| <= radius``. points (..., 3) -> (...,)."""
    d = torch.stack([_length(points[..., :2]) - radius, points[..., 2].abs() - half_height], dim=-1)  # (..., 2)
    return d.amax(dim=-1).clamp(max=0.0) + _length(d.clamp(min=0.0))


def sdf_plane(points: torch.Tensor, normal, offset=0.0) -> torch.Tensor:
    """Half-space ``p . n <= offset`` with unit ``normal`` (3,) (normalised here). points (..., 3) -> (...,)."""
    n = torch.as_tensor(normal, dtype=points.dtype, device=points.device)
    n = n / _length(n).clamp(min=1e-12)
    return (points * n).sum(-1) - offset


def sdf_union(*distances: torch.Tensor) -> torch.Tensor:
    """``min`` of any number of same-shaped distance tensors."""
    return torch.stack(distances, dim=0).amin(dim=0)


def sdf_intersection(*distances: torch.Tensor) -> torch.Tensor:
    """``max`` of any number of same-shaped distance tensors."""
    return torch.stack(distances, dim=0).amax(dim=0)


def sdf_difference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a`` minus ``b``: ``max(a, -b)``."""
    return torch.maximum(a, -b)


def smooth_union_weight(a: torch.Tensor, b: torch.Tensor, k: float) -> torch.Tensor:
    """Blend weight of ``a`` in ``smooth_union``: ``clamp(0.5 + 0.5 (b - a) / k, 0, 1)``."""
    return (0.5 + 0.5 * (b - a) / k).clamp(0.0, 1.0)


def sdf_smooth_union(a: torch.Tensor, b: torch.Tensor, k: float) -> torch.Tensor:
    """Polynomial smooth minimum with blend radius ``k > 0``: ``mix(b, a, h) - k h (1 - h)``."""
    if not k > 0:
        raise ValueError(f"sdf_smooth_union: k must be > 0, got {k}")
    h = smooth_union_weight(a, b, k)
    return b + h * (a - b) - k * h * (1.0 - h)


# ----------------------------------------------------------------------------------------------------------------
# Modules on world coordinates: points (..., 3) -> (..., 1)


def _check_points(points: torch.Tensor, name: str) -> None:
    if not isinstance(points, torch.Tensor) or points.dim() < 1 or points.shape[-1] != 3:
        shape = tuple(points.shape) if isinstance(points, torch.Tensor) else type(points).__name__
        raise ValueError(f"{name}: points must be a tensor of shape (..., 3), got {shape}")
    if not points.is_floating_point():
        raise ValueError(f"{name}: points must be floating point, got {points.dtype}")


def _vector(value, name: str, owner: str) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=torch.float32).detach().clone()
    if t.shape != (3,) or not bool(torch.isfinite(t).all()):
        raise ValueError(f"{owner}: {name} must be 3 finite numbers, got {value!r}")
    return t


def _positive(value, name: str, owner: str) -> float:
    v = float(value)
    if not v > 0 or v != v or v == float("inf"):
        raise ValueError(f"{owner}: {name} must be a finite number > 0, got {value!r}")
    return v


class SDFShape(nn.Module):
    """Base of the SDF modules: ``forward(points (..., 3)) -> (..., 1)`` and ``colors(points) -> (..., 3)``."""

    def distance(self, points: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """(..., 3) world points -> (...,) signed distance."""
        raise NotImplementedError

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """(..., 3) world points -> (..., 1) signed distance (negative inside)."""
        _check_points(points, type(self).__name__)
        return self.distance(points)[..., None]

    def colors(self, points: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """(..., 3) world points -> (..., 3) albedo of the part that the SDF at each point comes from."""
        raise NotImplementedError


class Primitive(SDFShape):
    """A primitive placed in the world.

    Args:
        center: (3,) world position of the local origin.
        rotation: (3, 3) rotation whose columns are the local x, y, z axes in world coordinates (None: identity).
        color: (3,) RGB albedo in [0, 1].
    """

    def __init__(self, center: Sequence = (0.0, 0.0, 0.0), rotation=None, color: Sequence = (0.8, 0.8, 0.8)):
        super().__init__()
        name = type(self).__name__
        self.register_buffer("center", _vector(center, "center", name))
        rot = torch.eye(3) if rotation is None else torch.as_tensor(rotation, dtype=torch.float32).detach().clone()
        if rot.shape != (3, 3) or not bool(torch.isfinite(rot).all()):
            raise ValueError(f"{name}: rotation must be a finite (3, 3) matrix, got {tuple(rot.shape)}")
        if not torch.allclose(rot.T @ rot, torch.eye(3), atol=1e-4):
            raise ValueError(f"{name}: rotation must be orthonormal (R^T R = I)")
        self.register_buffer("rotation", rot)
        self.register_buffer("color", _vector(color, "color", name))
        self._identity = bool(torch.equal(rot, torch.eye(3)))

    def _apply(self, fn, recurse=True):  # keeps ``_identity`` right if a rotation is changed by .to()-like ops
        out = super()._apply(fn, recurse)
        self._identity = bool(torch.equal(self.rotation.cpu(), torch.eye(3, dtype=self.rotation.dtype)))
        return out

    def to_local(self, points: torch.Tensor) -> torch.Tensor:
        """World points (..., 3) -> local coordinates (..., 3): ``(p - center) @ rotation``."""
        shifted = points - self.center.to(points.dtype)
        return shifted if self._identity else shifted @ self.rotation.to(points.dtype)

    def local_distance(self, local: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def distance(self, points: torch.Tensor) -> torch.Tensor:
        return self.local_distance(self.to_local(points))

    def colors(self, points: torch.Tensor) -> torch.Tensor:
        return self.color.to(points.dtype).expand(*points.shape[:-1], 3)


class Sphere(Primitive):
    """Sphere of ``radius`` (``sdf_sphere``)."""

    def __init__(self, radius: float = 0.5, **placement):
        super().__init__(**placement)
        self.radius = _positive(radius, "radius", "Sphere")

    def local_distance(self, local):
        return sdf_sphere(local, self.radius)


class Box(Primitive):
    """Box with half extents ``half_size`` (3,) along the local axes (``sdf_box``)."""

    def __init__(self, half_size: Sequence = (0.25, 0.25, 0.25), **placement):
        super().__init__(**placement)
        hs = _vector(half_size, "half_size", "Box")
        if not bool((hs > 0).all()):
            raise ValueError(f"Box: half_size must be > 0 on every axis, got {hs.tolist()}")
        self.register_buffer("half_size", hs)

    def local_distance(self, local):
        return sdf_box(local, self.half_size.to(local.dtype))


class Torus(Primitive):
    """Torus around the local z axis (``sdf_torus``)."""

    def __init__(self, major_radius: float = 0.35, minor_radius: float = 0.15, **placement):
        super().__init__(**placement)
        self.major_radius = _positive(major_radius, "major_radius", "Torus")
        self.minor_radius = _positive(minor_radius, "minor_radius", "Torus")

    def local_distance(self, local):
        return sdf_torus(local, self.major_radius, self.minor_radius)


class Capsule(Primitive):
    """Capsule around the local segment ``a`` -> ``b`` (``sdf_capsule``)."""

    def __init__(
        self, a: Sequence = (0.0, 0.0, -0.25), b: Sequence = (0.0, 0.0, 0.25), radius: float = 0.1, **placement
    ):
        super().__init__(**placement)
        self.register_buffer("a", _vector(a, "a", "Capsule"))
        self.register_buffer("b", _vector(b, "b", "Capsule"))
        self.radius = _positive(radius, "radius", "Capsule")

    def local_distance(self, local):
        return sdf_capsule(local, self.a.to(local.dtype), self.b.to(local.dtype), self.radius)


class Cylinder(Primitive):
    """Capped cylinder around the local z axis (``sdf_cylinder``)."""

    def __init__(self, radius: float = 0.2, half_height: float = 0.25, **placement):
        super().__init__(**placement)
        self.radius = _positive(radius, "radius", "Cylinder")
        self.half_height = _positive(half_height, "half_height", "Cylinder")

    def local_distance(self, local):
        return sdf_cylinder(local, self.radius, self.half_height)


class Plane(Primitive):
    """Half-space below the plane through ``center`` with local normal ``normal`` (``sdf_plane``, offset 0)."""

    def __init__(self, normal: Sequence = (0.0, 1.0, 0.0), **placement):
        super().__init__(**placement)
        n = _vector(normal, "normal", "Plane")
        if float(n.norm()) == 0.0:
            raise ValueError("Plane: normal must be non-zero")
        self.register_buffer("normal", n / n.norm())

    def local_distance(self, local):
        return sdf_plane(local, self.normal.to(local.dtype))


class _Combination(SDFShape):
    """A CSG node over child shapes (anything with ``distance`` and ``colors``)."""

    def __init__(self, shapes: Iterable[SDFShape], minimum: int = 1):
        super().__init__()
        self.shapes = nn.ModuleList(shapes)
        if len(self.shapes) < minimum:
            raise ValueError(f"{type(self).__name__}: needs at least {minimum} shapes, got {len(self.shapes)}")

    def _distances(self, points: torch.Tensor) -> torch.Tensor:
        """(K, ...) the children's distances."""
        return torch.stack([s.distance(points) for s in self.shapes], dim=0)

    def _pick_colors(self, points: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
        """Colour of child ``which`` (...,) long at each point -> (..., 3)."""
        colors = torch.stack([s.colors(points) for s in self.shapes], dim=0)  # (K, ..., 3)
        return colors.gather(0, which[None, ..., None].expand(1, *which.shape, 3))[0]


class Union(_Combination):
    """``min`` over the children (``sdf_union``); the colour is the nearest child's."""

    def distance(self, points):
        return self._distances(points).amin(dim=0)

    def colors(self, points):
        with torch.no_grad():
            which = self._distances(points).argmin(dim=0)
        return self._pick_colors(points, which)


class Intersection(_Combination):
    """``max`` over the children (``sdf_intersection``); the colour is that of the child giving the max."""

    def distance(self, points):
        return self._distances(points).amax(dim=0)

    def colors(self, points):
        with torch.no_grad():
            which = self._distances(points).argmax(dim=0)
        return self._pick_colors(points, which)


class Difference(_Combination):
    """The first shape minus the second (``sdf_difference``); the colour of the cut surface is the second's."""

    def __init__(self, shape: SDFShape, cutter: SDFShape):
        super().__init__([shape, cutter], minimum=2)

    def distance(self, points):
        return sdf_difference(self.shapes[0].distance(points), self.shapes[1].distance(points))

    def colors(self, points):
        with torch.no_grad():
            a, b = self.shapes[0].distance(points), self.shapes[1].distance(points)
            which = (-b > a).long()
        return self._pick_colors(points, which)


class SmoothUnion(_Combination):
    """Smooth union of two shapes with blend radius ``k`` (``sdf_smooth_union``); colours blend likewise."""

    def __init__(self, a: SDFShape, b: SDFShape, k: float = 0.1):
        super().__init__([a, b], minimum=2)
        self.k = _positive(k, "k", "SmoothUnion")

    def distance(self, points):
        return sdf_smooth_union(self.shapes[0].distance(points), self.shapes[1].distance(points), self.k)

    def colors(self, points):
        with torch.no_grad():
            h = smooth_union_weight(self.shapes[0].distance(points), self.shapes[1].distance(points), self.k)
        ca, cb = self.shapes[0].colors(points), self.shapes[1].colors(points)
        return cb + h[..., None] * (ca - cb)
