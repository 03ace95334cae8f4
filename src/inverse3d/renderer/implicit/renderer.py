"""Implicit and volume renderers: raysampler -> field at the ray points -> raymarcher (PyTorch3D's names).

``ImplicitRenderer(raysampler, raymarcher)(cameras, volumetric_function)`` runs the three stages; each can be
called on its own. ``VolumeRenderer`` does the same with a ``VolumeSampler``, which reads densities and features of
``inverse3d.structures.Volumes`` at the ray points by trilinear interpolation. For full images that do not fit in
memory at once see :func:`inverse3d.renderer.implicit.render_image_chunked`.
"""

from __future__ import annotations

from typing import Callable, Tuple, Union

import torch

from inverse3d.renderer.implicit.utils import (
    HeterogeneousRayBundle,
    RayBundle,
    _validate_ray_bundle_variables,
    ray_bundle_variables_to_ray_points,
)

__all__ = ["ImplicitRenderer", "VolumeRenderer", "VolumeSampler"]


class ImplicitRenderer(torch.nn.Module):
    """Renders a field given as a function of rays.

    The ``volumetric_function`` passed to ``forward`` is called as
    ``volumetric_function(ray_bundle=ray_bundle, cameras=cameras, **kwargs)`` and returns
    ``(rays_densities (B, ..., P, D), rays_features (B, ..., P, F))`` at the points of the ray bundle
    (``ray_bundle_to_ray_points``); the raymarcher is then called as
    ``raymarcher(rays_densities=..., rays_features=..., ray_bundle=ray_bundle, **kwargs)``.

    Example (an opaque unit sphere, coloured by its normals)::

        def sphere(ray_bundle, **kwargs):
            points = ray_bundle_to_ray_points(ray_bundle)               # (B, ..., P, 3)
            inside = (points.norm(dim=-1, keepdim=True) < 1.0).float()  # (B, ..., P, 1) opacities
            return inside, torch.nn.functional.normalize(points, dim=-1) * 0.5 + 0.5

        renderer = ImplicitRenderer(NDCMultinomialRaysampler(image_width=64, image_height=48, n_pts_per_ray=64,
                                                              min_depth=1.0, max_depth=5.0),
                                    EmissionAbsorptionRaymarcher())
        images, rays = renderer(cameras, sphere)                        # images (B, 48, 64, 4)
    """

    def __init__(self, raysampler: Callable, raymarcher: Callable) -> None:
        """
        Args:
            raysampler: callable ``raysampler(cameras=..., **kwargs)`` returning a ``RayBundle`` (e.g.
                ``NDCMultinomialRaysampler``).
            raymarcher: callable turning the field's values along the rays into per-ray outputs (e.g.
                ``EmissionAbsorptionRaymarcher``, ``DensityRaymarcher``).
        """
        super().__init__()
        if not callable(raysampler):
            raise ValueError('ImplicitRenderer: "raysampler" has to be a callable')
        if not callable(raymarcher):
            raise ValueError('ImplicitRenderer: "raymarcher" has to be a callable')
        self.raysampler = raysampler
        self.raymarcher = raymarcher

    def forward(
        self, cameras, volumetric_function: Callable, **kwargs
    ) -> Tuple[torch.Tensor, Union[RayBundle, HeterogeneousRayBundle]]:
        """
        Args:
            cameras: B cameras.
            volumetric_function: the field (class docstring); extra ``kwargs`` reach the raysampler, the field and
                the raymarcher.
        Returns:
            images: (B, ..., C) raymarcher output per ray ((B, H, W, F + 1) for a full grid and the PyTorch3D
                raymarchers).
            ray_bundle: the rays that were rendered.
        """
        if not callable(volumetric_function):
            raise ValueError('ImplicitRenderer: "volumetric_function" has to be a callable')
        ray_bundle = self.raysampler(cameras=cameras, volumetric_function=volumetric_function, **kwargs)
        rays_densities, rays_features = volumetric_function(ray_bundle=ray_bundle, cameras=cameras, **kwargs)
        images = self.raymarcher(
            rays_densities=rays_densities, rays_features=rays_features, ray_bundle=ray_bundle, **kwargs
        )
        return images, ray_bundle


class VolumeRenderer(torch.nn.Module):
    """``ImplicitRenderer`` of ``Volumes``: the field is a ``VolumeSampler`` of the volumes given to ``forward``."""

    def __init__(self, raysampler: Callable, raymarcher: Callable, sample_mode: str = "bilinear") -> None:
        """
        Args:
            raysampler, raymarcher: as for ``ImplicitRenderer``.
            sample_mode: "bilinear" (trilinear interpolation, ``grid_sample``'s name) or "nearest".
        """
        super().__init__()
        self.renderer = ImplicitRenderer(raysampler, raymarcher)
        self._sample_mode = sample_mode

    def forward(self, cameras, volumes, **kwargs) -> Tuple[torch.Tensor, Union[RayBundle, HeterogeneousRayBundle]]:
        """
        Args:
            cameras: B cameras.
            volumes: ``Volumes`` with B grids (grid b is seen by camera b).
        Returns:
            (images, ray_bundle) as ``ImplicitRenderer``; the volume's densities play the raymarcher's densities.
        """
        volumetric_function = VolumeSampler(volumes, sample_mode=self._sample_mode)
        return self.renderer(cameras=cameras, volumetric_function=volumetric_function, **kwargs)


class VolumeSampler(torch.nn.Module):
    """Reads a batch of ``Volumes`` at the points of ray bundles.

    Ray points are mapped to each grid's local coordinates ([-1, 1] across the grid, ``Volumes``' convention) and
    the densities (N, C_d, D, H, W) and features (N, C_f, D, H, W) are interpolated there with
    ``torch.nn.functional.grid_sample`` (trilinear for ``sample_mode="bilinear"``), using the volumes'
    ``align_corners``. Grids of different sizes in one batch are each read inside their own extent (PyTorch3D
    reads the zero-padded tensor as if every grid had the padded size).
    """

    def __init__(self, volumes, sample_mode: str = "bilinear", padding_mode: str = "zeros") -> None:
        """
        Args:
            volumes: ``inverse3d.structures.Volumes``.
            sample_mode: "bilinear" or "nearest".
            padding_mode: value outside the grid: "zeros", "border" or "reflection" (``grid_sample``).
        """
        super().__init__()
        from inverse3d.structures import Volumes

        if not isinstance(volumes, Volumes):
            raise ValueError(f"VolumeSampler: 'volumes' must be a Volumes, got {type(volumes).__name__}")
        if sample_mode not in ("bilinear", "nearest"):
            raise ValueError(f"VolumeSampler: sample_mode must be 'bilinear' or 'nearest', got {sample_mode!r}")
        if padding_mode not in ("zeros", "border", "reflection"):
            raise ValueError(
                f"VolumeSampler: padding_mode must be 'zeros', 'border' or 'reflection', got {padding_mode!r}"
            )
        self._volumes = volumes
        self._sample_mode = sample_mode
        self._padding_mode = padding_mode

    def forward(
        self, ray_bundle: Union[RayBundle, HeterogeneousRayBundle], **kwargs
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """
        Args:
            ray_bundle: rays with origins (N, ..., 3), directions (N, ..., 3) and lengths (N, ..., P), world
                coordinates; ray batch n reads volume n.
        Returns:
            rays_densities: (N, ..., P, C_d) densities at the ray points.
            rays_features: (N, ..., P, C_f) features there ((N, ..., P, 0) when the volumes have none).
        """
        origins, directions, lengths = ray_bundle.origins, ray_bundle.directions, ray_bundle.lengths
        _validate_ray_bundle_variables(origins, directions, lengths)
        volumes = self._volumes
        n = len(volumes)
        if origins.shape[0] != n:
            raise ValueError(f"VolumeSampler: {n} volumes for a ray batch of {origins.shape[0]}; they must be equal")

        # world -> local: points map affinely, directions by the linear part only
        origins_local = volumes.world_to_local_coords(origins)  # (N, ..., 3)
        scale = volumes.locator._local_to_world_scale().to(directions.dtype)  # (N, 3) local -> world per axis
        scale = scale.reshape(n, *([1] * (directions.ndim - 2)), 3)
        flat = scale == 0  # a single voxel along an axis: local coordinate 0 there, as world_to_local_coords
        directions_local = torch.where(flat, 0.0, directions / torch.where(flat, torch.ones_like(scale), scale))
        points = ray_bundle_variables_to_ray_points(origins_local, directions_local, lengths)  # (N, ..., P, 3)

        densities, features = volumes.densities(), volumes.features()
        sizes = volumes.get_grid_sizes()
        padded = torch.tensor(densities.shape[2:], device=sizes.device)
        if n == 0 or bool((sizes == padded).all()):
            return self._sample(densities, points), self._sample_or_empty(features, points)
        # grids of different sizes: each one read within its own extent
        dens_list = volumes.densities_list()
        feat_list = volumes.features_list()
        rays_densities = torch.cat([self._sample(d[None], points[i : i + 1]) for i, d in enumerate(dens_list)])
        if feat_list is None:
            return rays_densities, self._sample_or_empty(None, points)
        rays_features = torch.cat([self._sample(f[None], points[i : i + 1]) for i, f in enumerate(feat_list)])
        return rays_densities, rays_features

    def _sample(self, grid: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Values of ``grid`` (N, C, D, H, W) at local ``points`` (N, ..., 3) -> (N, ..., C)."""
        flat = points.reshape(points.shape[0], -1, 1, 1, 3).to(grid.dtype)  # grid_sample's (N, D_out, H_out, W_out, 3)
        values = torch.nn.functional.grid_sample(
            grid,
            flat,
            mode=self._sample_mode,
            padding_mode=self._padding_mode,
            align_corners=self._volumes.get_align_corners(),
        )  # (N, C, M, 1, 1)
        return values[..., 0, 0].transpose(1, 2).reshape(*points.shape[:-1], grid.shape[1])

    def _sample_or_empty(self, grid, points: torch.Tensor) -> torch.Tensor:
        if grid is None:
            return points.new_zeros((*points.shape[:-1], 0))
        return self._sample(grid, points)
