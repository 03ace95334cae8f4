"""Sphere tracing of signed distance functions, normals by autograd, Phong shading with our lights and materials.

Stages (each usable alone)::

    points, mask = sphere_tracing(sdf, origins, directions)      # (R, 3), (R, 1) bool
    normals = sdf_normals(sdf, points)                            # (R, 3) unit, by autograd
    rgb = shade_points(points, normals, albedo, lights, materials, camera_center)   # Phong, as the mesh shaders
    fragments = SphereTracingRenderer(cameras, image_size)(sdf)  # SDFFragments: images of all of the above

``sdf`` is any callable mapping (..., 3) world points to (..., 1) or (...,) signed distances (an ``SDFShape`` of
``inverse3d.renderer.sdf``, an SDF network of ``inverse3d.models.fields``, a lambda).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from inverse3d.renderer.sdf.primitives import _check_points

SDFCallable = Callable[[torch.Tensor], torch.Tensor]


def _evaluate(sdf: SDFCallable, points: torch.Tensor) -> torch.Tensor:
    """sdf at points (M, 3) -> (M,), accepting (M, 1) or (M,) outputs."""
    out = sdf(points)
    if not isinstance(out, torch.Tensor) or out.shape not in ((points.shape[0],), (points.shape[0], 1)):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"the SDF must map points (M, 3) to (M, 1) or (M,), got {got}")
    return out.reshape(-1)


def sphere_tracing(
    implicit_fn: SDFCallable,
    origins: torch.Tensor,
    directions: torch.Tensor,
    max_iters: int = 64,
    far: float | torch.Tensor = 10.0,
    eps: float = 1e-4,
    near: float | torch.Tensor = 0.0,
    step_scale: float = 1.0,
    chunk_size: int = 1 << 16,
) -> tuple[torch.Tensor, torch.Tensor]:
    """March each ray by the SDF value until it is below ``eps`` (a hit) or beyond ``far`` (a miss).

    All rays advance together; each iteration evaluates the SDF only at the rays still marching, ``chunk_size``
    points at a time. Runs without autograd (the hit points are recomputed by the caller where gradients are
    needed, e.g. ``sdf_normals``).

    Args:
        implicit_fn: SDF, (M, 3) -> (M, 1) or (M,).
        origins: (..., 3) ray origins, world coordinates.
        directions: (..., 3) ray directions (normalised here; distances along the ray are world units).
        max_iters: marching steps; rays still marching after them are misses.
        far: largest distance from the origin along the ray; rays beyond it are misses. A float, or (...,) per ray.
        eps: a ray hits when the SDF at its point falls below ``eps`` (also when it starts inside a shape).
        near: distance along the ray where marching starts, a float or (...,) per ray (``ray_box_intersection``
            gives both for rays clipped to a box; a ray with ``near > far`` is a miss without any evaluation).
        step_scale: each step is ``step_scale * sdf`` (< 1 for fields that overestimate distances, e.g. networks
            early in training or smooth unions).
        chunk_size: largest number of points evaluated at once.

    Returns:
        points: (..., 3) where each ray stopped (the hit point for hits), ``origins.dtype``.
        mask: (..., 1) bool, True for hits.
    """
    _check_points(origins, "sphere_tracing")
    _check_points(directions, "sphere_tracing")
    if origins.shape != directions.shape:
        raise ValueError(
            f"sphere_tracing: origins {tuple(origins.shape)} and directions {tuple(directions.shape)} must match"
        )
    if max_iters < 1 or chunk_size < 1 or not eps > 0 or not step_scale > 0:
        raise ValueError(
            f"sphere_tracing: need max_iters >= 1, chunk_size >= 1, eps > 0, step_scale > 0; got "
            f"{max_iters}, {chunk_size}, {eps}, {step_scale}"
        )
    batch = origins.shape[:-1]
    o = origins.detach().reshape(-1, 3)
    d = torch.nn.functional.normalize(directions.detach().reshape(-1, 3), dim=-1)
    n_rays = o.shape[0]
    t = _per_ray(near, batch, o, "near")  # (R,)
    far_t = _per_ray(far, batch, o, "far")
    hit = torch.zeros(n_rays, dtype=torch.bool, device=o.device)
    active = t <= far_t
    with torch.no_grad():
        for _ in range(max_iters):
            idx = active.nonzero().squeeze(1)  # (A,) rays still marching
            if idx.numel() == 0:
                break
            p = o[idx] + t[idx, None] * d[idx]  # (A, 3)
            dist = torch.cat([_evaluate(implicit_fn, p[s : s + chunk_size]) for s in range(0, p.shape[0], chunk_size)])
            dist = dist.to(t.dtype)
            done = dist < eps
            t_new = t[idx] + torch.where(done, torch.zeros_like(dist), step_scale * dist)
            t[idx] = t_new
            hit[idx[done]] = True
            stop = done | (t_new > far_t[idx]) | ~torch.isfinite(t_new)
            active[idx[stop]] = False
    t = torch.minimum(t, far_t)
    points = o + t[:, None] * d
    return points.reshape(*batch, 3), hit.reshape(*batch, 1)


def _per_ray(value: float | torch.Tensor, batch: torch.Size, like: torch.Tensor, name: str) -> torch.Tensor:
    """A float or a (...,) tensor of per-ray distances -> (R,) in ``like``'s dtype and device."""
    if isinstance(value, torch.Tensor):
        if value.shape != batch:
            raise ValueError(f"sphere_tracing: {name} must be a float or one value per ray {tuple(batch)}, got "
                             f"{tuple(value.shape)}")
        return value.detach().reshape(-1).to(like.dtype).clone()
    if value != value:
        raise ValueError(f"sphere_tracing: {name} is NaN")
    return torch.full((like.shape[0],), float(value), dtype=like.dtype, device=like.device)


def ray_box_intersection(
    origins: torch.Tensor, directions: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Where rays enter and leave the axis-aligned box [lo, hi] (slab method), in units of the unit directions.

    Args:
        origins, directions: (..., 3) rays (directions normalised here); lo, hi: (3,) box corners.

    Returns:
        near (...,) (>= 0: a ray starting inside enters at 0) and far (...,); ``near > far`` for rays that miss.
    """
    d = torch.nn.functional.normalize(directions, dim=-1)
    lo = torch.as_tensor(lo, dtype=origins.dtype, device=origins.device)
    hi = torch.as_tensor(hi, dtype=origins.dtype, device=origins.device)
    inv = 1.0 / torch.where(d == 0, torch.full_like(d, 1e-30), d)
    t0, t1 = (lo - origins) * inv, (hi - origins) * inv  # (..., 3)
    near = torch.minimum(t0, t1).amax(dim=-1).clamp(min=0.0)
    far = torch.maximum(t0, t1).amin(dim=-1)
    return near, far


def sdf_normals(sdf: SDFCallable, points: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
    """Unit outward normals, the normalised autograd gradient of the SDF: points (..., 3) -> (..., 3)."""
    _check_points(points, "sdf_normals")
    with torch.enable_grad():
        x = points.detach().requires_grad_(True)
        values = sdf(x)
        (grad,) = torch.autograd.grad(values.sum(), x, create_graph=create_graph)
    return torch.nn.functional.normalize(grad, dim=-1)


def _batch_rows(value: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A (N|1, C) property -> (N|1, 1, C) to broadcast against (N, P, C)."""
    return value.to(device=like.device, dtype=like.dtype)[:, None, :]


def shade_points(
    points: torch.Tensor,
    normals: torch.Tensor,
    albedo: torch.Tensor,
    lights: Any,
    materials: Any,
    camera_center: torch.Tensor,
) -> torch.Tensor:
    """Phong shading of surface points, as the mesh shaders do it (PyTorch3D's lighting model).

    ``rgb = (ambient_m * ambient_l + diffuse_m * diffuse_l(n, p)) * albedo + specular_m * specular_l(n, p, camera)``

    Args:
        points: (N, P, 3) world positions; normals: (N, P, 3) unit; albedo: (N, P, 3) or broadcastable colours.
        lights: ``PointLights`` / ``DirectionalLights`` / ``AmbientLights`` with N or 1 elements.
        materials: ``Materials`` with N or 1 elements.
        camera_center: (N, 3) or (1, 3) camera positions (for the specular term).

    Returns:
        (N, P, 3) colours (not clamped).
    """
    if points.dim() != 3 or points.shape[-1] != 3 or normals.shape != points.shape:
        raise ValueError(
            f"shade_points: points and normals must both be (N, P, 3), got {tuple(points.shape)} and "
            f"{tuple(normals.shape)}"
        )
    ambient = _batch_rows(materials.ambient_color, points) * _batch_rows(lights.ambient_color, points)
    diffuse = _batch_rows(materials.diffuse_color, points) * lights.diffuse(normals=normals, points=points)
    shininess = materials.shininess.to(points.device, points.dtype)
    camera_center = camera_center.to(points.device, points.dtype)
    specular = _batch_rows(materials.specular_color, points) * lights.specular(
        normals=normals, points=points, camera_position=camera_center, shininess=shininess
    )
    return (ambient + diffuse) * albedo + specular


@dataclass(frozen=True)
class SDFFragments:
    """What ``SphereTracingRenderer`` produces, per camera and pixel.

    Fields:
        points: (N, H, W, 3) where each ray stopped (the surface point for hits), world coordinates.
        mask: (N, H, W, 1) bool, True where the ray hit the surface.
        depth: (N, H, W, 1) view-space z of the hit (0 where missed).
        normals: (N, H, W, 3) unit world normals at hits (0 where missed).
        images: (N, H, W, 4) RGBA: shaded colour over ``background``, alpha = mask.
    """

    points: torch.Tensor
    mask: torch.Tensor
    depth: torch.Tensor
    normals: torch.Tensor
    images: torch.Tensor


class SphereTracingRenderer(nn.Module):
    """Renders an SDF from cameras by sphere tracing, with autograd normals and Phong shading.

    Args:
        cameras: a camera batch of N (``FoVPerspectiveCameras`` etc.); can be replaced per call.
        image_size: H or (H, W).
        lights: our lights (default: a white ``PointLights`` above and in front of the origin).
        materials: our ``Materials`` (default: PyTorch3D's defaults).
        max_iters, far, eps, near, step_scale, chunk_size: of ``sphere_tracing`` (``near``/``far`` measured from
            the camera centre along each pixel's unit ray).
        background: (3,) RGB where rays miss.
        bounds: optional (lo (3,), hi (3,)) box holding the surface: rays are traced only inside it (faster for
            networks, whose values outside their box mean nothing).

    ``forward(sdf, cameras=None, lights=None, materials=None, albedo=None) -> SDFFragments``; ``albedo`` is a
    callable (M, 3) -> (M, 3) of colours at surface points (default: ``sdf.colors`` if the SDF has it, else
    white). Relighting: call again with other ``lights`` (or reuse a ``SDFFragments`` with ``shade``).
    """

    def __init__(
        self,
        cameras: Any = None,
        image_size: int | tuple[int, int] = 128,
        lights: Any = None,
        materials: Any = None,
        max_iters: int = 64,
        far: float = 10.0,
        eps: float = 1e-4,
        near: float = 0.0,
        step_scale: float = 1.0,
        chunk_size: int = 1 << 16,
        background: tuple[float, float, float] = (1.0, 1.0, 1.0),
        bounds: Any = None,
    ) -> None:
        super().__init__()
        h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        if h < 1 or w < 1:
            raise ValueError(f"SphereTracingRenderer: image_size must be >= 1, got {image_size!r}")
        self.cameras, self.lights, self.materials = cameras, lights, materials
        self.image_size = (int(h), int(w))
        self.trace_kwargs = dict(
            max_iters=max_iters, far=far, eps=eps, near=near, step_scale=step_scale, chunk_size=chunk_size
        )
        self.background = tuple(float(c) for c in background)
        self.bounds = None
        if bounds is not None:
            lo, hi = (torch.as_tensor(b, dtype=torch.float32).reshape(-1) for b in bounds)
            if lo.shape != (3,) or hi.shape != (3,) or not bool((lo < hi).all()):
                raise ValueError(
                    f"SphereTracingRenderer: bounds must be (lo (3,), hi (3,)) with lo < hi, got {bounds!r}"
                )
            self.bounds = (lo, hi)

    def rays(self, cameras: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixel-centre rays of each camera: origins (N, H, W, 3), unit directions (N, H, W, 3)."""
        from inverse3d.renderer.implicit import NDCMultinomialRaysampler

        h, w = self.image_size
        sampler = NDCMultinomialRaysampler(
            image_width=w, image_height=h, n_pts_per_ray=1, min_depth=1.0, max_depth=1.0, unit_directions=True
        )
        bundle = sampler(cameras)
        return bundle.origins, bundle.directions

    def forward(
        self,
        sdf: SDFCallable,
        cameras: Any = None,
        lights: Any = None,
        materials: Any = None,
        albedo: SDFCallable | None = None,
    ) -> SDFFragments:
        cameras = cameras if cameras is not None else self.cameras
        if cameras is None:
            raise ValueError("SphereTracingRenderer: no cameras given (pass cameras= here or to the constructor)")
        origins, directions = self.rays(cameras)  # (N, H, W, 3)
        kwargs = dict(self.trace_kwargs)
        if self.bounds is not None:
            near, far = ray_box_intersection(origins, directions, *self.bounds)
            kwargs["near"] = torch.maximum(near, torch.full_like(near, float(kwargs["near"])))
            kwargs["far"] = torch.minimum(far, torch.full_like(far, float(kwargs["far"])))
        points, mask = sphere_tracing(sdf, origins, directions, **kwargs)
        n, h, w = points.shape[:3]
        flat, hit = points.reshape(-1, 3), mask.reshape(-1)
        normals = torch.zeros_like(flat)
        if bool(hit.any()):
            normals[hit] = sdf_normals(sdf, flat[hit])
        normals = normals.reshape(n, h, w, 3)
        view = cameras.get_world_to_view_transform().transform_points(points.reshape(n, -1, 3))
        depth = torch.where(mask, view[..., 2:].reshape(n, h, w, 1), torch.zeros_like(mask, dtype=points.dtype))
        images = self.shade(points, normals, mask, cameras, sdf, lights, materials, albedo)
        return SDFFragments(points=points, mask=mask, depth=depth, normals=normals, images=images)

    def shade(
        self,
        points: torch.Tensor,
        normals: torch.Tensor,
        mask: torch.Tensor,
        cameras: Any,
        sdf: Any = None,
        lights: Any = None,
        materials: Any = None,
        albedo: SDFCallable | None = None,
    ) -> torch.Tensor:
        """Phong-shaded RGBA images (N, H, W, 4) from traced points / normals / mask (N, H, W, 3|3|1)."""
        from inverse3d.renderer import Materials, PointLights

        device = points.device
        lights = lights if lights is not None else self.lights
        materials = materials if materials is not None else self.materials
        if lights is None:
            lights = PointLights(location=((2.0, 3.0, 4.0),), device=device)
        if materials is None:
            materials = Materials(device=device)
        n, h, w = points.shape[:3]
        flat, hit = points.reshape(-1, 3), mask.reshape(-1)
        colors = torch.ones_like(flat)
        if albedo is None and hasattr(sdf, "colors"):
            albedo = sdf.colors
        if albedo is not None and bool(hit.any()):
            with torch.no_grad():
                colors[hit] = albedo(flat[hit]).to(flat.dtype)
        rgb = shade_points(
            points.reshape(n, -1, 3),
            normals.reshape(n, -1, 3),
            colors.reshape(n, -1, 3),
            lights,
            materials,
            cameras.get_camera_center(),
        ).reshape(n, h, w, 3)
        bg = torch.tensor(self.background, dtype=points.dtype, device=device)
        rgb = torch.where(mask, rgb.clamp(0.0, 1.0), bg)
        return torch.cat([rgb, mask.to(rgb.dtype)], dim=-1)
