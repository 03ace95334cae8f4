"""Lights for Phong shading: point, directional and ambient (PyTorch3D semantics).

A light batch holds N lights (one per image), each property a tensor of shape (N, ...). ``diffuse`` and
``specular`` take points and normals of shape (N, ..., 3) (e.g. (N, H, W, K, 3) per fragment) or packed
(P, 3), and return light colours of the same shape: (N, ..., C).
"""

from __future__ import annotations

from typing import Any

import torch

from .utils import TensorProperties


def _expand_like(prop: torch.Tensor, points: torch.Tensor, trailing: int) -> torch.Tensor:
    """Reshapes a batched property (B, *tail) to (B, 1, ..., 1, *tail) so it broadcasts against ``points``.

    Args:
        prop: (B, *tail) with ``trailing = len(tail)``; B is 1 or the batch size of ``points``.
        points: (B, ..., 3) or (P, 3).
        trailing: how many trailing dims of ``prop`` are channels (1 for colours / vectors, 0 for scalars).
    """
    if prop.dim() >= points.dim() - 1 + trailing:
        return prop
    middle = points.dim() - 1 - (prop.dim() - trailing)  # dims to insert after the batch dim
    return prop.reshape(prop.shape[0], *([1] * middle), *prop.shape[1:])


def _to(t: Any, like: torch.Tensor) -> torch.Tensor:
    """Returns ``t`` as a tensor on ``like``'s device, in a dtype that mixes with it (float64 stays float64)."""
    t = torch.as_tensor(t, device=like.device)
    if t.dim() == 0:
        t = t.reshape(1)
    return t.to(torch.promote_types(t.dtype, like.dtype) if t.is_floating_point() else like.dtype)


# ----------------------------------------------------------------------------------------------------------------
# Channels-first core. The lighting maths runs on tensors laid out (C, B, R): channel, batch element, the B-th
# element's points flattened. Every operation is then on contiguous rows, which on the CPU is several times faster
# than reducing or broadcasting over a trailing dimension of size 3. Batched properties (B, C) become (C, B, 1).
# ----------------------------------------------------------------------------------------------------------------


def _cf(x: torch.Tensor) -> torch.Tensor:
    """(B, ..., C) -> contiguous (C, B, R) with R the product of the middle dims (1 for (B, C))."""
    return x.reshape(x.shape[0], -1, x.shape[-1]).permute(2, 0, 1).contiguous()


def _from_cf(x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """(C, B, R) -> (B, ..., C) with ``shape[:-1]`` the leading dims (a view; no copy)."""
    return x.permute(1, 2, 0).reshape(*shape[:-1], x.shape[0])


def _prop_cf(prop: Any, points: torch.Tensor) -> torch.Tensor:
    """A per-batch property (B, C), or a per-point one shaped like ``points``, in the (C, B, R) layout."""
    prop = _to(prop, points)
    if prop.shape == points.shape:  # per point (for packed (P, C) input P is the batch dim of the layout)
        return _cf(prop)
    if prop.dim() != 2:
        raise ValueError(f"expected a property of shape (N, C) or {tuple(points.shape)}; got {tuple(prop.shape)}")
    return prop.t().unsqueeze(-1)  # (C, B, 1)


def _batch_cf(prop: Any, like: torch.Tensor) -> torch.Tensor:
    """A per-batch property (B, C) (or (B,) scalars) as (C, B, 1), on ``like``'s device and dtype."""
    prop = _to(prop, like)
    if prop.dim() == 1:
        return prop.reshape(1, -1, 1)
    if prop.dim() != 2:
        raise ValueError(f"expected a property of shape (N, C); got {tuple(prop.shape)}")
    return prop.t().unsqueeze(-1)


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Dot product over the channel dim of two (3, B, R) tensors -> (B, R)."""
    a0, a1, a2 = a.unbind(0)  # unbind, not a[i]: one backward stack instead of three full-size zero fills
    b0, b1, b2 = b.unbind(0) if b is not a else (a0, a1, a2)
    return torch.addcmul(torch.addcmul(a0 * b0, a1, b1), a2, b2)


def _normalize(a: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """a / max(|a|, eps) for (3, B, R); zero vectors stay zero with zero gradient."""
    return a * torch.rsqrt(_dot(a, a).clamp(min=eps * eps))


def _diffuse_cf(normals: torch.Tensor, color: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    """Lambert in the (C, B, R) layout: color (C, B|1, R|1), normals / direction (3, B|1, R|1) -> (C, B, R)."""
    cos = torch.relu(_dot(_normalize(normals), _normalize(direction)))  # (B, R)
    return color * cos


def _specular_cf(
    points: torch.Tensor,
    normals: torch.Tensor,
    direction: torch.Tensor,
    color: torch.Tensor,
    camera_position: torch.Tensor,
    shininess: torch.Tensor,
) -> torch.Tensor:
    """Phong specular term in the (C, B, R) layout; shininess is (1, B|1, 1). Returns (C, B, R)."""
    n = _normalize(normals)
    light = _normalize(direction)
    cos = _dot(n, light)  # (B, R)
    view = _normalize(camera_position - points)
    reflect = torch.addcmul(-light, n, 2.0 * cos)  # 2 <n, l> n - l, (3, B, R)
    alpha = torch.relu(_dot(view, reflect)) * (cos > 0)  # (B, R)
    # alpha ** shininess, with a zero (and a zero gradient, also for the exponent) where alpha == 0.
    lit = alpha > 0
    safe = alpha.clamp(min=torch.finfo(alpha.dtype).tiny)
    power = torch.where(lit, safe ** shininess.squeeze(0), alpha.new_zeros(()))
    return color * power


def diffuse(normals: torch.Tensor, color: Any, direction: Any) -> torch.Tensor:
    """Lambertian reflection: ``color * max(0, <n, l>)`` with n and l normalised.

    Args:
        normals: (N, ..., 3) or (P, 3) surface normals (renormalised here, so interpolated normals are fine).
        color: (N, C) or (1, C) diffuse colour of the light (or (P, C) for packed input).
        direction: direction towards the light, (N, 3) / (1, 3) for one direction per batch element, or the
            same shape as ``normals`` for one direction per point.
    Returns:
        (N, ..., C) or (P, C): the diffuse light colour reaching each point.
    """
    color_cf = _prop_cf(color, normals)
    out = _diffuse_cf(_cf(normals), color_cf, _prop_cf(direction, normals))
    return _from_cf(out, tuple(normals.shape))


def specular(
    points: torch.Tensor,
    normals: torch.Tensor,
    direction: Any,
    color: Any,
    camera_position: Any,
    shininess: Any,
) -> torch.Tensor:
    """Phong specular reflection: ``color * max(0, <v, r>) ** shininess`` where the surface faces the light.

    r = 2 <n, l> n - l is the light direction l mirrored about the normal n, v the direction to the camera.

    Args:
        points: (N, ..., 3) or (P, 3) positions of the shaded points.
        normals: same shape as ``points``.
        direction: direction towards the light, (N, 3) / (1, 3) or the same shape as ``points``.
        color: (N, C) or (1, C) specular colour of the light.
        camera_position: (N, 3) or (1, 3) camera centre, same frame as ``points``.
        shininess: (N,) or (1,) Phong exponent.
    Returns:
        (N, ..., C) or (P, C) specular light colour at each point.
    """
    if points.shape != normals.shape:
        raise ValueError(
            f"points and normals must have the same shape; got {tuple(points.shape)} and {tuple(normals.shape)}"
        )
    shininess = _to(shininess, points).reshape(1, -1, 1)
    out = _specular_cf(
        _cf(points),
        _cf(normals),
        _prop_cf(direction, points),
        _prop_cf(color, points),
        _prop_cf(camera_position, points),
        shininess,
    )
    return _from_cf(out, tuple(points.shape))


def _one_row(value: Any) -> Any:
    """A single colour or vector given flat -- a (C,) tensor or a sequence of numbers -- as one row (1, C).

    PyTorch3D would read a flat (3,) value as a batch of 3 scalars, which only works where the value happens to
    broadcast as a colour; here it is one light's colour (or position, or direction).
    """
    if torch.is_tensor(value):
        return value[None] if value.dim() == 1 else value
    if isinstance(value, (list, tuple)) and len(value) > 0 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return (tuple(value),)
    return value


def _check_colors(obj: TensorProperties, names: tuple[str, ...]) -> None:
    channels = {getattr(obj, n).shape[-1] for n in names}
    for n in names:
        t = getattr(obj, n)
        if t.dim() != 2:
            raise ValueError(f"Expected {n} to have shape (N, C); got {tuple(t.shape)}")
        if torch.isnan(t).any():
            raise ValueError(f"{n} contains NaN")
    if len(channels) != 1:
        raise ValueError(f"{', '.join(names)} must have the same number of channels; got {sorted(channels)}")


def _check_vector(obj: TensorProperties, name: str) -> None:
    t = getattr(obj, name)
    if t.dim() != 2 or t.shape[-1] != 3:
        raise ValueError(f"Expected {name} to have shape (N, 3); got {tuple(t.shape)}")
    if torch.isnan(t).any():
        raise ValueError(f"{name} contains NaN")


class DirectionalLights(TensorProperties):
    """N directional lights (one per batch element), shining from ``direction`` (a vector towards the light).

    Args:
        ambient_color, diffuse_color, specular_color: (N, 3) or (1, 3) (or 3-sequences) RGB intensities; a flat
            (3,) value is one light's.
        direction: (N, 3), (1, 3) or (3,) direction from the surface towards the light, world coordinates.
        device: where the tensors live.
    """

    def __init__(
        self,
        ambient_color: Any = ((0.5, 0.5, 0.5),),
        diffuse_color: Any = ((0.3, 0.3, 0.3),),
        specular_color: Any = ((0.2, 0.2, 0.2),),
        direction: Any = ((0, 1, 0),),
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__(
            device=device,
            ambient_color=_one_row(ambient_color),
            diffuse_color=_one_row(diffuse_color),
            specular_color=_one_row(specular_color),
            direction=_one_row(direction),
        )
        _check_colors(self, ("ambient_color", "diffuse_color", "specular_color"))
        _check_vector(self, "direction")

    def clone(self) -> "DirectionalLights":  # type: ignore[override]
        return super().clone(self.__class__(device=self.device))  # type: ignore[return-value]

    def diffuse(self, normals: torch.Tensor, points: torch.Tensor | None = None) -> torch.Tensor:
        """Returns (N, ..., 3) diffuse light at ``normals`` (N, ..., 3); ``points`` is unused."""
        return diffuse(normals=normals, color=self.diffuse_color, direction=self.direction)

    def specular(
        self, normals: torch.Tensor, points: torch.Tensor, camera_position: Any, shininess: Any
    ) -> torch.Tensor:
        """Returns (N, ..., 3) specular light at ``points`` / ``normals`` (N, ..., 3)."""
        return specular(
            points=points,
            normals=normals,
            direction=self.direction,
            color=self.specular_color,
            camera_position=camera_position,
            shininess=shininess,
        )

    def _cf_diffuse(self, normals: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Channels-first ``diffuse``: normals / points (3, B, R) -> (C, B, R)."""
        return _diffuse_cf(normals, _batch_cf(self.diffuse_color, normals), _batch_cf(self.direction, normals))

    def _cf_specular(
        self, normals: torch.Tensor, points: torch.Tensor, camera_position: torch.Tensor, shininess: torch.Tensor
    ) -> torch.Tensor:
        """Channels-first ``specular``: (3, B, R) inputs, camera (3, B|1, 1), shininess (1, B|1, 1)."""
        direction = _batch_cf(self.direction, points)
        color = _batch_cf(self.specular_color, points)
        return _specular_cf(points, normals, direction, color, camera_position, shininess)


class PointLights(TensorProperties):
    """N point lights (one per batch element) at ``location``, without attenuation (as PyTorch3D).

    Args:
        ambient_color, diffuse_color, specular_color: (N, 3) or (1, 3) (or 3-sequences) RGB intensities; a flat
            (3,) value is one light's.
        location: (N, 3), (1, 3) or (3,) position of the light, world coordinates.
        device: where the tensors live.
    """

    def __init__(
        self,
        ambient_color: Any = ((0.5, 0.5, 0.5),),
        diffuse_color: Any = ((0.3, 0.3, 0.3),),
        specular_color: Any = ((0.2, 0.2, 0.2),),
        location: Any = ((0, 1, 0),),
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__(
            device=device,
            ambient_color=_one_row(ambient_color),
            diffuse_color=_one_row(diffuse_color),
            specular_color=_one_row(specular_color),
            location=_one_row(location),
        )
        _check_colors(self, ("ambient_color", "diffuse_color", "specular_color"))
        _check_vector(self, "location")

    def clone(self) -> "PointLights":  # type: ignore[override]
        return super().clone(self.__class__(device=self.device))  # type: ignore[return-value]

    def reshape_location(self, points: torch.Tensor) -> torch.Tensor:
        """Returns the location reshaped to (N, 1, ..., 1, 3) to broadcast against ``points`` (N, ..., 3)."""
        return _expand_like(_to(self.location, points), points, 1)

    def diffuse(self, normals: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Returns (N, ..., 3) diffuse light at ``points`` with ``normals``, both (N, ..., 3)."""
        direction = self.reshape_location(points) - points
        return diffuse(normals=normals, color=self.diffuse_color, direction=direction)

    def specular(
        self, normals: torch.Tensor, points: torch.Tensor, camera_position: Any, shininess: Any
    ) -> torch.Tensor:
        """Returns (N, ..., 3) specular light at ``points`` / ``normals`` (N, ..., 3)."""
        direction = self.reshape_location(points) - points
        return specular(
            points=points,
            normals=normals,
            direction=direction,
            color=self.specular_color,
            camera_position=camera_position,
            shininess=shininess,
        )

    def _cf_diffuse(self, normals: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Channels-first ``diffuse``: normals / points (3, B, R) -> (C, B, R)."""
        direction = _batch_cf(self.location, points) - points
        return _diffuse_cf(normals, _batch_cf(self.diffuse_color, points), direction)

    def _cf_specular(
        self, normals: torch.Tensor, points: torch.Tensor, camera_position: torch.Tensor, shininess: torch.Tensor
    ) -> torch.Tensor:
        """Channels-first ``specular``: (3, B, R) inputs, camera (3, B|1, 1), shininess (1, B|1, 1)."""
        direction = _batch_cf(self.location, points) - points
        color = _batch_cf(self.specular_color, points)
        return _specular_cf(points, normals, direction, color, camera_position, shininess)


class AmbientLights(TensorProperties):
    """Ambient light only: no diffuse or specular term, so shading returns ``ambient_color * texture``.

    Args:
        ambient_color: (N, C), (1, C) or (C,) intensity; default white (1, 1, 1).
        device: where the tensors live.
    """

    def __init__(self, *, ambient_color: Any = None, device: str | torch.device = "cpu") -> None:
        if ambient_color is None:
            ambient_color = ((1.0, 1.0, 1.0),)
        super().__init__(device=device, ambient_color=_one_row(ambient_color))
        _check_colors(self, ("ambient_color",))

    def clone(self) -> "AmbientLights":  # type: ignore[override]
        return super().clone(self.__class__(device=self.device))  # type: ignore[return-value]

    def _zeros(self, points: torch.Tensor) -> torch.Tensor:
        channels = self.ambient_color.shape[-1]
        return points.new_zeros((*points.shape[:-1], channels))

    def diffuse(self, normals: torch.Tensor, points: torch.Tensor | None = None) -> torch.Tensor:
        """Returns zeros of shape (N, ..., C)."""
        return self._zeros(normals if points is None else points)

    def specular(
        self, normals: torch.Tensor, points: torch.Tensor, camera_position: Any, shininess: Any
    ) -> torch.Tensor:
        """Returns zeros of shape (N, ..., C)."""
        return self._zeros(points)

    def _cf_diffuse(self, normals: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        return points.new_zeros((self.ambient_color.shape[-1], *points.shape[1:]))

    def _cf_specular(
        self, normals: torch.Tensor, points: torch.Tensor, camera_position: Any, shininess: Any
    ) -> torch.Tensor:
        return points.new_zeros((self.ambient_color.shape[-1], *points.shape[1:]))
