"""Parametric surfaces sampled into point clouds, implicit surfaces meshed at a level set.

A parametric surface is a function ``fn(u, v) -> (x, y, z)`` of two parameters; sampling it on a grid of
``(u, v)`` gives a point cloud (no connectivity). An implicit surface is the zero level set of a function
``F(x, y, z)``; evaluating ``F`` on a voxel grid and running marching cubes gives a mesh (with connectivity).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

# Through the package, not ``inverse3d.ops.marching_cubes``: importing that submodule directly would bind the
# package attribute ``marching_cubes`` to the module instead of the function.
from inverse3d.ops import marching_cubes
from inverse3d.ops.voxel_grid import Bounds, grid_points
from inverse3d.structures import Meshes, Pointclouds

ParametricFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
ImplicitFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
FEATURES = ("uv", "normals", "position", None)


def _as_pair(n: int | Sequence[int], name: str) -> tuple[int, int]:
    pair = (n, n) if isinstance(n, int) else tuple(n)
    if len(pair) != 2 or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in pair):
        raise ValueError(f"{name} must be a positive int or a pair of them, got {n!r}")
    return pair  # type: ignore[return-value]


def _evaluate(fn: ParametricFn, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    xyz = fn(u, v)
    if isinstance(xyz, (tuple, list)):
        xyz = torch.stack(list(xyz), dim=-1)
    if not isinstance(xyz, torch.Tensor) or xyz.shape != (*u.shape, 3):
        got = tuple(xyz.shape) if isinstance(xyz, torch.Tensor) else type(xyz).__name__
        raise ValueError(f"sample_parametric_surface: fn(u, v) must return {(*u.shape, 3)} points, got {got}")
    return xyz


def sample_parametric_surface(
    fn: ParametricFn,
    n_samples: int | Sequence[int] = 100,
    u_range: tuple[float, float] = (0.0, 2 * math.pi),
    v_range: tuple[float, float] = (0.0, math.pi),
    features: str | None = "uv",
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Pointclouds:
    """Samples ``fn`` on a regular ``n_u x n_v`` grid of parameters (both ends included) into one point cloud.

    Args:
        fn: maps ``u, v`` (both (n_u, n_v) tensors) to points (n_u, n_v, 3), or to a tuple ``(x, y, z)`` of
            (n_u, n_v) tensors. Any torch-differentiable function works.
        n_samples: samples per parameter, one int for both or ``(n_u, n_v)``; the cloud has ``n_u * n_v`` points.
        u_range, v_range: the parameter intervals.
        features: per-point features (e.g. colours for a points renderer), each in ``[0, 1]``:
            ``"uv"``: ``(u', v', 1 - u')`` with ``u', v'`` the parameters scaled to ``[0, 1]``;
            ``"normals"``: ``(n + 1) / 2`` for the unit normal ``n`` (also stored as the cloud's normals);
            ``"position"``: each coordinate scaled to ``[0, 1]`` over the cloud's bounding box;
            ``None``: no features.
        device, dtype: of the samples.

    Returns:
        ``Pointclouds`` with one cloud of ``n_u * n_v`` points (u-major); with ``features="normals"`` the cloud
        also holds normals ``d fn / du x d fn / dv`` (unit length; from central differences).
    """
    if features not in FEATURES:
        raise ValueError(f"sample_parametric_surface: features must be one of {FEATURES}, got {features!r}")
    n_u, n_v = _as_pair(n_samples, "sample_parametric_surface: n_samples")
    u = torch.linspace(float(u_range[0]), float(u_range[1]), n_u, device=device, dtype=dtype)
    v = torch.linspace(float(v_range[0]), float(v_range[1]), n_v, device=device, dtype=dtype)
    uu, vv = torch.meshgrid(u, v, indexing="ij")  # (n_u, n_v)
    points = _evaluate(fn, uu, vv)
    if not torch.isfinite(points).all():
        raise ValueError("sample_parametric_surface: fn returned NaN or infinity")

    normals = None
    feats = None
    if features == "normals":
        normals = _normals(fn, uu, vv, u_range, v_range).reshape(-1, 3)
        feats = (normals + 1) / 2
    elif features == "uv":
        su = (uu - u_range[0]) / max(float(u_range[1] - u_range[0]), 1e-12)
        sv = (vv - v_range[0]) / max(float(v_range[1] - v_range[0]), 1e-12)
        feats = torch.stack([su, sv, 1 - su], dim=-1).reshape(-1, 3)
    elif features == "position":
        flat = points.reshape(-1, 3)
        lo, hi = flat.amin(dim=0), flat.amax(dim=0)
        feats = (flat - lo) / (hi - lo).clamp(min=1e-12)
    return Pointclouds(
        points=[points.reshape(-1, 3)],
        normals=None if normals is None else [normals],
        features=None if feats is None else [feats],
    )


def _normals(fn: ParametricFn, uu: torch.Tensor, vv: torch.Tensor, u_range, v_range) -> torch.Tensor:
    """Unit normals d fn/du x d fn/dv by central differences (any fn, no autograd needed); (n_u, n_v, 3)."""
    scale = max(abs(float(u_range[1] - u_range[0])), abs(float(v_range[1] - v_range[0])), 1e-6)
    h = scale * (1e-3 if uu.dtype != torch.float64 else 1e-6)
    du = (_evaluate(fn, uu + h, vv) - _evaluate(fn, uu - h, vv)) / (2 * h)
    dv = (_evaluate(fn, uu, vv + h) - _evaluate(fn, uu, vv - h)) / (2 * h)
    n = torch.cross(du, dv, dim=-1)
    return n / n.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def parametric_sphere(
    n_samples: int | Sequence[int] = 100,
    radius: float = 1.0,
    center: Sequence[float] = (0.0, 0.0, 0.0),
    features: str | None = "position",
    device: torch.device | str | None = None,
) -> Pointclouds:
    """Points on a sphere from its angles: ``u`` = azimuth in ``[0, 2 pi]``, ``v`` = polar angle in ``[0, pi]``.

    ``x = r sin v cos u``, ``y = r cos v``, ``z = r sin v sin u`` (the y axis is up), shifted by ``center``;
    ``n_samples`` per angle (the course's 50, 300, 1000). See ``sample_parametric_surface`` for ``features``.
    """
    cx, cy, cz = (float(c) for c in center)

    def sphere(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return torch.stack(
            [
                cx + radius * torch.sin(v) * torch.cos(u),
                cy + radius * torch.cos(v),
                cz + radius * torch.sin(v) * torch.sin(u),
            ],
            dim=-1,
        )

    return sample_parametric_surface(sphere, n_samples, (0.0, 2 * math.pi), (0.0, math.pi), features, device)


def parametric_torus(
    n_samples: int | Sequence[int] = 100,
    R: float = 1.0,
    r: float = 0.5,
    features: str | None = "position",
    device: torch.device | str | None = None,
) -> Pointclouds:
    """Points on a torus around the z axis: ``u`` around the axis, ``v`` around the tube, both in ``[0, 2 pi]``.

    ``x = (R + r cos v) cos u``, ``y = (R + r cos v) sin u``, ``z = r sin v`` (as ``primitives.torus`` and
    ``implicit_torus``). See ``sample_parametric_surface`` for ``features``.
    """

    def torus(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        ring = R + r * torch.cos(v)
        return torch.stack([ring * torch.cos(u), ring * torch.sin(u), r * torch.sin(v)], dim=-1)

    return sample_parametric_surface(torus, n_samples, (0.0, 2 * math.pi), (0.0, 2 * math.pi), features, device)


def sphere_sdf(radius: float = 1.0, center: Sequence[float] = (0.0, 0.0, 0.0)) -> ImplicitFn:
    """``F(x, y, z) = |p - center| - radius``: the signed distance to a sphere (negative inside)."""
    cx, cy, cz = (float(c) for c in center)
    return lambda x, y, z: torch.sqrt((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2) - radius


def torus_sdf(R: float = 1.0, r: float = 0.5) -> ImplicitFn:
    """``F(x, y, z) = sqrt((sqrt(x^2 + y^2) - R)^2 + z^2) - r``: signed distance to a torus around the z axis."""
    return lambda x, y, z: torch.sqrt((torch.sqrt(x**2 + y**2) - R) ** 2 + z**2) - r


def implicit_to_mesh(
    fn: ImplicitFn,
    grid_size: int | Sequence[int] = 64,
    bounds: Bounds = (-1.6, 1.6),
    isovalue: float = 0.0,
    features: str | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Meshes:
    """Meshes the level set ``fn(x, y, z) == isovalue`` (the inside is where ``fn < isovalue``).

    ``fn`` is evaluated once on the ``linspace(lo, hi, grid_size)`` grid of each axis (``voxel_grid``,
    ``align="nodes"``), then ``marching_cubes`` turns the samples into a mesh in world units.

    Args:
        fn: ``F(x, y, z)`` taking three (D, H, W) tensors and returning (D, H, W) values.
        grid_size: samples per axis, one int or ``(D, H, W)`` for the (z, y, x) axes. More samples: finer mesh.
        bounds: ``(lo, hi)`` or ``(lo_xyz, hi_xyz)``, the box evaluated; the surface must lie inside it.
        isovalue: the level.
        features: ``"position"`` to add ``TexturesVertex`` colours, each coordinate scaled to ``[0, 1]`` over the
            mesh's bounding box (the course's colouring); ``"normals"`` for ``(n + 1) / 2`` of the vertex normals;
            ``None`` for no texture.
        device, dtype: of the grid and the mesh.

    Returns:
        ``Meshes`` of one mesh (empty when the level is not crossed inside ``bounds``).
    """
    if features not in ("position", "normals", None):
        raise ValueError(f"implicit_to_mesh: features must be 'position', 'normals' or None, got {features!r}")
    shape = (grid_size,) * 3 if isinstance(grid_size, int) else tuple(grid_size)
    if len(shape) != 3 or any(isinstance(s, bool) or not isinstance(s, int) or s < 2 for s in shape):
        raise ValueError(f"implicit_to_mesh: grid_size must be an int >= 2 or three of them, got {grid_size!r}")
    points = grid_points(shape, bounds=bounds, align="nodes", device=device, dtype=dtype)  # (D, H, W, 3)
    values = fn(points[..., 0], points[..., 1], points[..., 2])
    if not isinstance(values, torch.Tensor) or values.shape != shape:
        got = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
        raise ValueError(f"implicit_to_mesh: fn(x, y, z) must return values of shape {shape}, got {got}")
    verts, faces = marching_cubes(values[None].to(dtype), isovalue, bounds=bounds, align="nodes", inside="below")
    mesh = Meshes(verts=verts, faces=faces)
    if features is None or verts[0].shape[0] == 0:
        return mesh
    from inverse3d.renderer import TexturesVertex

    if features == "position":
        lo, hi = verts[0].amin(dim=0), verts[0].amax(dim=0)
        colors = (verts[0] - lo) / (hi - lo).clamp(min=1e-12)
    else:
        colors = (mesh.verts_normals_packed() + 1) / 2
    return Meshes(verts=verts, faces=faces, textures=TexturesVertex(verts_features=[colors]))


def implicit_sphere(
    grid_size: int = 64, radius: float = 1.0, features: str | None = "position", device=None
) -> Meshes:
    """A sphere of ``radius`` meshed from its signed distance (``implicit_to_mesh`` over ``1.25 radius``)."""
    half = 1.25 * radius
    return implicit_to_mesh(sphere_sdf(radius), grid_size, (-half, half), features=features, device=device)


def implicit_torus(
    grid_size: int = 64, R: float = 1.0, r: float = 0.5, features: str | None = "position", device=None
) -> Meshes:
    """A torus around the z axis meshed from its implicit function (the course's grid sizes: 20, 30, 80)."""
    half = 1.15 * (R + r)
    return implicit_to_mesh(torus_sdf(R, r), grid_size, (-half, half), features=features, device=device)
