"""Raysamplers: which rays leave the cameras, and where along them the field is evaluated (PyTorch3D's names).

- ``MultinomialRaysampler``: rays through a regular grid of image-plane points (all of them, a random subset of
  ``n_rays_per_image``, a subset drawn from a ``mask``, or ``n_rays_total`` rays from randomly drawn cameras).
- ``NDCMultinomialRaysampler``: the same through the pixel centres of an image in PyTorch3D's NDC (CONVENTIONS.md:
  +X left, +Y up, the shorter side spanning [-1, 1]), so ray ``[b, i, j]`` passes through the centre of the pixel
  that the mesh and point rasterisers write at row ``i``, column ``j``, for square and non-square images.
- ``MonteCarloRaysampler``: rays through uniformly random real-valued image-plane points.
- ``GridRaysampler`` / ``NDCGridRaysampler``: PyTorch3D's deprecated aliases.

How a ray is made (PyTorch3D's construction): the image-plane point (x, y) is unprojected by the camera at view
depths 1 and 2 (``cameras.unproject_points(..., from_ndc=True)``); the direction is their difference and the origin
is the first point minus the direction. For perspective cameras the origin is thus the camera centre and the
direction has view-space z = 1 (not unit length unless ``unit_directions``), so a ray point at length ``t`` has
view depth ``t``; ``lengths`` are ``n_pts_per_ray`` values evenly spaced from ``min_depth`` to ``max_depth``
(or, with ``stratified_sampling``, one uniform draw in each of the bins around them).
"""

from __future__ import annotations

import warnings
from typing import Optional, Tuple, Union

import torch
from torch.nn import functional as F

from inverse3d.renderer.implicit.utils import HeterogeneousRayBundle, RayBundle

__all__ = [
    "MultinomialRaysampler",
    "NDCMultinomialRaysampler",
    "MonteCarloRaysampler",
    "GridRaysampler",
    "NDCGridRaysampler",
]


class MultinomialRaysampler(torch.nn.Module):
    """Rays through a regular ``image_height`` x ``image_width`` grid of image-plane points, each with
    ``n_pts_per_ray`` lengths from ``min_depth`` to ``max_depth``.

    Grid point ``[i, j]`` is ``(x_j, y_i)`` with x going linearly from ``min_x`` (column 0) to ``max_x`` (last column)
    and y from ``min_y`` (row 0) to ``max_y`` (last row); these are the coordinates the cameras' ``unproject_points``
    reads (NDC with ``from_ndc=True``). ``NDCMultinomialRaysampler`` chooses them as pixel centres.
    """

    def __init__(
        self,
        *,
        min_x: float,
        max_x: float,
        min_y: float,
        max_y: float,
        image_width: int,
        image_height: int,
        n_pts_per_ray: int,
        min_depth: float,
        max_depth: float,
        n_rays_per_image: Optional[int] = None,
        n_rays_total: Optional[int] = None,
        unit_directions: bool = False,
        stratified_sampling: bool = False,
    ) -> None:
        """
        Args:
            min_x, max_x: x of the first and last grid column (pixel centres).
            min_y, max_y: y of the first and last grid row.
            image_width, image_height: grid size.
            n_pts_per_ray: points along each ray (0 allowed: empty ``lengths``).
            min_depth, max_depth: lengths of the first and last point of each ray.
            n_rays_per_image: if given, that many grid points drawn at random (without replacement where possible)
                per camera instead of the whole grid.
            n_rays_total: if given, that many rays in all, each from a camera drawn at random (with replacement);
                the result is a ``HeterogeneousRayBundle``. Not together with ``n_rays_per_image``.
            unit_directions: normalise the ray directions (lengths are then distances from the origin, no longer
                view depths).
            stratified_sampling: jitter each length uniformly inside its bin (training); otherwise the evenly
                spaced lengths (rendering).
        """
        super().__init__()
        _check_grid_size(image_width, image_height, type(self).__name__)
        _check_count(n_pts_per_ray, "n_pts_per_ray", type(self).__name__, minimum=0)
        _check_count(n_rays_per_image, "n_rays_per_image", type(self).__name__, optional=True)
        _check_count(n_rays_total, "n_rays_total", type(self).__name__, optional=True)
        self._n_pts_per_ray = n_pts_per_ray
        self._min_depth = min_depth
        self._max_depth = max_depth
        self._n_rays_per_image = n_rays_per_image
        self._n_rays_total = n_rays_total
        self._unit_directions = unit_directions
        self._stratified_sampling = stratified_sampling
        self.min_x, self.max_x = min_x, max_x
        self.min_y, self.max_y = min_y, max_y
        self._image_width, self._image_height = int(image_width), int(image_height)
        # (H, W, 2) float32 grid, kept as PyTorch3D's buffer for code that reads it; forward recomputes it in
        # the cameras' dtype so float64 rays are exact
        self.register_buffer("_xy_grid", self._grid(torch.device("cpu"), torch.float32), persistent=False)

    def _axes(self, device: torch.device, dtype: torch.dtype) -> Tuple[torch.Tensor, torch.Tensor]:
        """x of each grid column (W,) and y of each grid row (H,)."""
        xs = torch.linspace(self.min_x, self.max_x, self._image_width, dtype=torch.float64)
        ys = torch.linspace(self.min_y, self.max_y, self._image_height, dtype=torch.float64)
        return xs.to(device=device, dtype=dtype), ys.to(device=device, dtype=dtype)

    def _grid(self, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """(H, W, 2) grid of image-plane points, ``[i, j] = (x_j, y_i)``."""
        xs, ys = self._axes(device, dtype)
        H, W = ys.shape[0], xs.shape[0]
        return torch.stack((xs[None, :].expand(H, W), ys[:, None].expand(H, W)), dim=-1)

    def forward(
        self,
        cameras,
        *,
        mask: Optional[torch.Tensor] = None,
        min_depth: Optional[float] = None,
        max_depth: Optional[float] = None,
        n_rays_per_image: Optional[int] = None,
        n_pts_per_ray: Optional[int] = None,
        stratified_sampling: Optional[bool] = None,
        n_rays_total: Optional[int] = None,
        **kwargs,
    ) -> Union[RayBundle, HeterogeneousRayBundle]:
        """Samples the rays of a batch of B cameras.

        Args:
            cameras: B cameras (any ``CamerasBase``).
            mask: optional (B, H, W) non-negative weights (or bools) of the grid points: rays are drawn from it,
                ``n_rays_per_image`` of them, or as many as the smallest mask has non-zero entries.
            min_depth, max_depth, n_rays_per_image, n_pts_per_ray, stratified_sampling, n_rays_total: override the
                values given at construction for this call.
        Returns:
            ``RayBundle`` with origins (B, s1, s2, 3), directions (B, s1, s2, 3), lengths (B, s1, s2, P) and
            xys (B, s1, s2, 2), where (s1, s2) is (H, W) for the full grid and (n, 1) for n drawn rays; with
            ``n_rays_total`` a ``HeterogeneousRayBundle`` with (n_rays_total, 1, 1, ...) fields, camera by camera.
        """
        name = type(self).__name__
        n_rays_total = n_rays_total or self._n_rays_total
        n_rays_per_image = n_rays_per_image or self._n_rays_per_image
        if n_rays_total is not None and n_rays_per_image is not None:
            raise ValueError(f"{name}: n_rays_total and n_rays_per_image cannot both be given")
        _check_count(n_rays_per_image, "n_rays_per_image", name, optional=True)
        _check_count(n_rays_total, "n_rays_total", name, optional=True)
        _check_cameras(cameras, name)
        camera_ids = camera_counts = None
        if n_rays_total:
            cameras, mask, camera_ids, camera_counts, n_rays_per_image = _sample_cameras_and_masks(
                n_rays_total, cameras, mask
            )
        batch_size = cameras.R.shape[0]
        device, dtype = cameras.device, _camera_dtype(cameras)
        xy_grid = self._grid(device, dtype).expand(batch_size, -1, -1, -1)  # (B, H, W, 2)

        if mask is not None:
            if not torch.is_tensor(mask) or tuple(mask.shape) != tuple(xy_grid.shape[:3]):
                shape = tuple(mask.shape) if torch.is_tensor(mask) else type(mask).__name__
                raise ValueError(f"{name}: mask must have shape {tuple(xy_grid.shape[:3])} (B, H, W), got {shape}")
            mask = mask.to(device=device, dtype=dtype)
            if n_rays_per_image is None:  # as many rays as the smallest mask has pixels
                n_rays_per_image = int(mask.sum(dim=(1, 2)).min().item())
                if n_rays_per_image < 1:
                    raise ValueError(f"{name}: a mask has no non-zero entry, cannot draw rays from it")

        if n_rays_per_image is not None:
            if mask is not None:
                weights = mask.reshape(batch_size, -1)
            else:
                weights = xy_grid.new_ones(batch_size, xy_grid.shape[1] * xy_grid.shape[2])
            rays_idx = _safe_multinomial(weights, int(n_rays_per_image))  # (B, n)
            xy_grid = torch.gather(
                xy_grid.reshape(batch_size, -1, 2), 1, rays_idx[..., None].expand(-1, -1, 2)
            )[:, :, None]  # (B, n, 1, 2)

        ray_bundle = _xy_to_ray_bundle(
            cameras,
            xy_grid,
            self._min_depth if min_depth is None else min_depth,
            self._max_depth if max_depth is None else max_depth,
            self._n_pts_per_ray if n_pts_per_ray is None else n_pts_per_ray,
            self._unit_directions,
            self._stratified_sampling if stratified_sampling is None else stratified_sampling,
        )
        if n_rays_total:
            return _pack_ray_bundle(ray_bundle, camera_ids, camera_counts)
        return ray_bundle


class NDCMultinomialRaysampler(MultinomialRaysampler):
    """``MultinomialRaysampler`` through the pixel centres of an ``image_height`` x ``image_width`` image in NDC.

    The conventions of the rasterisers (CONVENTIONS.md): +X left, +Y up, the shorter side spans [-1, 1] and the longer
    one [-u, u] with u = longer / shorter; the centre of column j is ``x_j = u_x (1 - (2 j + 1) / W)`` with
    ``u_x = max(W / H, 1)``, of row i ``y_i = u_y (1 - (2 i + 1) / H)`` with ``u_y = max(H / W, 1)``. Arguments as for
    ``MultinomialRaysampler`` without the grid bounds.
    """

    def __init__(
        self,
        *,
        image_width: int,
        image_height: int,
        n_pts_per_ray: int,
        min_depth: float,
        max_depth: float,
        n_rays_per_image: Optional[int] = None,
        n_rays_total: Optional[int] = None,
        unit_directions: bool = False,
        stratified_sampling: bool = False,
    ) -> None:
        _check_grid_size(image_width, image_height, type(self).__name__)
        range_x = max(image_width / image_height, 1.0)
        range_y = max(image_height / image_width, 1.0)
        super().__init__(
            min_x=range_x - range_x / image_width,
            max_x=-range_x + range_x / image_width,
            min_y=range_y - range_y / image_height,
            max_y=-range_y + range_y / image_height,
            image_width=image_width,
            image_height=image_height,
            n_pts_per_ray=n_pts_per_ray,
            min_depth=min_depth,
            max_depth=max_depth,
            n_rays_per_image=n_rays_per_image,
            n_rays_total=n_rays_total,
            unit_directions=unit_directions,
            stratified_sampling=stratified_sampling,
        )

    def _axes(self, device: torch.device, dtype: torch.dtype) -> Tuple[torch.Tensor, torch.Tensor]:
        """Pixel centres exactly as the rasterisers compute them (no linspace rounding)."""
        from inverse3d.renderer.mesh.rasterize_meshes import pixel_centres_ndc

        W, H = self._image_width, self._image_height
        return pixel_centres_ndc(W, H, device, dtype), pixel_centres_ndc(H, W, device, dtype)


class MonteCarloRaysampler(torch.nn.Module):
    """Rays through ``n_rays_per_image`` image-plane points drawn uniformly from
    [min_x, max_x] x [min_y, max_y] (real-valued, not snapped to pixels), each with ``n_pts_per_ray`` lengths from
    ``min_depth`` to ``max_depth``."""

    def __init__(
        self,
        min_x: float,
        max_x: float,
        min_y: float,
        max_y: float,
        n_rays_per_image: int,
        n_pts_per_ray: int,
        min_depth: float,
        max_depth: float,
        *,
        n_rays_total: Optional[int] = None,
        unit_directions: bool = False,
        stratified_sampling: bool = False,
    ) -> None:
        """
        Args:
            min_x, max_x, min_y, max_y: the image-plane rectangle (NDC for the cameras' ``unproject_points``).
            n_rays_per_image: rays per camera (None when ``n_rays_total`` is given).
            n_pts_per_ray, min_depth, max_depth, n_rays_total, unit_directions, stratified_sampling: as for
                ``MultinomialRaysampler``.
        """
        super().__init__()
        name = type(self).__name__
        _check_count(n_rays_per_image, "n_rays_per_image", name, optional=True)
        _check_count(n_rays_total, "n_rays_total", name, optional=True)
        _check_count(n_pts_per_ray, "n_pts_per_ray", name, minimum=0)
        self._min_x, self._max_x = min_x, max_x
        self._min_y, self._max_y = min_y, max_y
        self._n_rays_per_image = n_rays_per_image
        self._n_pts_per_ray = n_pts_per_ray
        self._min_depth = min_depth
        self._max_depth = max_depth
        self._n_rays_total = n_rays_total
        self._unit_directions = unit_directions
        self._stratified_sampling = stratified_sampling

    def forward(
        self, cameras, *, stratified_sampling: Optional[bool] = None, **kwargs
    ) -> Union[RayBundle, HeterogeneousRayBundle]:
        """Samples the rays of a batch of B cameras.

        Args:
            cameras: B cameras.
            stratified_sampling: overrides the value given at construction.
        Returns:
            ``RayBundle`` with origins (B, n, 3), directions (B, n, 3), lengths (B, n, P), xys (B, n, 2); with
            ``n_rays_total`` a ``HeterogeneousRayBundle`` with (n_rays_total, 1, ...) fields, camera by camera.
        """
        name = type(self).__name__
        if (self._n_rays_total is None) == (self._n_rays_per_image is None):
            raise ValueError(f"{name}: exactly one of n_rays_total and n_rays_per_image must be given")
        _check_cameras(cameras, name)
        camera_ids = camera_counts = None
        if self._n_rays_total:
            cameras, _, camera_ids, camera_counts, n_rays_per_image = _sample_cameras_and_masks(
                self._n_rays_total, cameras, None
            )
        else:
            n_rays_per_image = self._n_rays_per_image
        batch_size = cameras.R.shape[0]
        device, dtype = cameras.device, _camera_dtype(cameras)
        # x then y, one uniform draw each (PyTorch3D's order of random draws)
        rays_xy = torch.cat(
            [
                torch.rand((batch_size, int(n_rays_per_image), 1), dtype=dtype, device=device) * (high - low) + low
                for low, high in ((self._min_x, self._max_x), (self._min_y, self._max_y))
            ],
            dim=2,
        )  # (B, n, 2)
        ray_bundle = _xy_to_ray_bundle(
            cameras,
            rays_xy,
            self._min_depth,
            self._max_depth,
            self._n_pts_per_ray,
            self._unit_directions,
            self._stratified_sampling if stratified_sampling is None else stratified_sampling,
        )
        if self._n_rays_total:
            return _pack_ray_bundle(ray_bundle, camera_ids, camera_counts)
        return ray_bundle


def GridRaysampler(
    min_x: float,
    max_x: float,
    min_y: float,
    max_y: float,
    image_width: int,
    image_height: int,
    n_pts_per_ray: int,
    min_depth: float,
    max_depth: float,
) -> MultinomialRaysampler:
    """Deprecated (as in PyTorch3D): a ``MultinomialRaysampler`` over the whole grid."""
    warnings.warn(
        "GridRaysampler is deprecated; use MultinomialRaysampler instead.", PendingDeprecationWarning, stacklevel=2
    )
    return MultinomialRaysampler(
        min_x=min_x,
        max_x=max_x,
        min_y=min_y,
        max_y=max_y,
        image_width=image_width,
        image_height=image_height,
        n_pts_per_ray=n_pts_per_ray,
        min_depth=min_depth,
        max_depth=max_depth,
    )


def NDCGridRaysampler(
    image_width: int, image_height: int, n_pts_per_ray: int, min_depth: float, max_depth: float
) -> NDCMultinomialRaysampler:
    """Deprecated (as in PyTorch3D): an ``NDCMultinomialRaysampler`` over the whole image."""
    warnings.warn(
        "NDCGridRaysampler is deprecated; use NDCMultinomialRaysampler instead.",
        PendingDeprecationWarning,
        stacklevel=2,
    )
    return NDCMultinomialRaysampler(
        image_width=image_width,
        image_height=image_height,
        n_pts_per_ray=n_pts_per_ray,
        min_depth=min_depth,
        max_depth=max_depth,
    )


# ----------------------------------------------------------------------------------------------------------------
# helpers


def _check_grid_size(image_width: int, image_height: int, name: str) -> None:
    for value, what in ((image_width, "image_width"), (image_height, "image_height")):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"{name}: {what} must be a positive int, got {value!r}")


def _check_count(value, what: str, name: str, minimum: int = 1, optional: bool = False) -> None:
    if value is None and optional:
        return
    if torch.is_tensor(value) and value.numel() == 1:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}: {what} must be an int >= {minimum}, got {value!r}")


def _check_cameras(cameras, name: str) -> None:
    if not hasattr(cameras, "unproject_points") or not torch.is_tensor(getattr(cameras, "R", None)):
        raise ValueError(f"{name}: cameras must be a CamerasBase batch, got {type(cameras).__name__}")


def _camera_dtype(cameras) -> torch.dtype:
    dtype = cameras.R.dtype
    return dtype if dtype.is_floating_point else torch.float32


def _safe_multinomial(weights: torch.Tensor, num_samples: int) -> torch.Tensor:
    """Indices drawn from each row of ``weights`` (B, n) with probabilities proportional to the weights: without
    replacement for rows with at least ``num_samples`` non-zero weights, with replacement for the others.

    Returns:
        (B, num_samples) int64.
    """
    try:
        idx = torch.multinomial(weights, num_samples, replacement=False)
    except RuntimeError:  # some row has too few non-zero weights: draw those with replacement
        idx = torch.multinomial(weights, num_samples, replacement=True)
        no_repl = (weights > 0).sum(dim=-1) >= num_samples
        if bool(no_repl.any()):
            idx[no_repl] = torch.multinomial(weights[no_repl], num_samples, replacement=False)
        return idx
    # some torch versions draw zero-probability entries instead of failing: redraw those rows with replacement
    repl = (weights > 0).sum(dim=-1) < num_samples
    if bool(repl.any()):
        idx[repl] = torch.multinomial(weights[repl], num_samples, replacement=True)
    return idx


def _ray_lengths(
    batch_shape: Tuple[int, ...],
    min_depth: float,
    max_depth: float,
    n_pts_per_ray: int,
    stratified: bool,
    like: torch.Tensor,
) -> torch.Tensor:
    """(*batch_shape, P) lengths: P values evenly spaced from ``min_depth`` to ``max_depth``, or one uniform draw
    per bin around them (``stratified``)."""
    if n_pts_per_ray == 0:
        return like.new_empty((*batch_shape, 0))
    depths = torch.linspace(min_depth, max_depth, n_pts_per_ray, dtype=like.dtype, device=like.device)
    lengths = depths.expand(*batch_shape, n_pts_per_ray)
    return _jiggle_within_stratas(lengths) if stratified else lengths


def _jiggle_within_stratas(bin_centers: torch.Tensor) -> torch.Tensor:
    """Moves each value to a uniform draw inside its bin.

    The bin of ``z_k`` spans from the midpoint with its predecessor to the midpoint with its successor; the first
    bin starts at ``z_0`` and the last ends at ``z_{P-1}`` (so the range is kept).

    Args:
        bin_centers: (..., P) ascending along the last dimension.
    Returns:
        (..., P), ascending.
    """
    mids = 0.5 * (bin_centers[..., 1:] + bin_centers[..., :-1])  # (..., P-1)
    upper = torch.cat((mids, bin_centers[..., -1:]), dim=-1)
    lower = torch.cat((bin_centers[..., :1], mids), dim=-1)
    return lower + (upper - lower) * torch.rand_like(lower)


def _xy_to_ray_bundle(
    cameras,
    xy_grid: torch.Tensor,
    min_depth: float,
    max_depth: float,
    n_pts_per_ray: int,
    unit_directions: bool,
    stratified_sampling: bool = False,
) -> RayBundle:
    """Rays through image-plane points (module docstring for the construction).

    Args:
        cameras: B cameras.
        xy_grid: (B, ..., 2) image-plane points (NDC).
        min_depth, max_depth, n_pts_per_ray, unit_directions, stratified_sampling: see ``MultinomialRaysampler``.
    Returns:
        ``RayBundle`` with origins and directions (B, ..., 3), lengths (B, ..., P) and ``xys = xy_grid``.
    """
    batch_size = xy_grid.shape[0]
    spatial = xy_grid.shape[1:-1]
    n_rays = spatial.numel()
    lengths = _ray_lengths((batch_size, n_rays), min_depth, max_depth, n_pts_per_ray, stratified_sampling, xy_grid)

    xy = xy_grid.reshape(batch_size, n_rays, 2)
    depth = torch.cat((xy.new_ones(batch_size, n_rays, 1), xy.new_full((batch_size, n_rays, 1), 2.0)), dim=1)
    to_unproject = torch.cat((xy.repeat(1, 2, 1), depth), dim=-1)  # (B, 2 n, 3): every point at depth 1, then 2
    unprojected = cameras.unproject_points(to_unproject, from_ndc=True)  # (B, 2 n, 3) world
    at_depth_1, at_depth_2 = unprojected[:, :n_rays], unprojected[:, n_rays:]
    directions = at_depth_2 - at_depth_1  # world displacement of one unit of view depth
    origins = at_depth_1 - directions  # depth 0: the camera centre for perspective cameras
    if unit_directions:
        directions = F.normalize(directions, dim=-1)
    return RayBundle(
        origins.reshape(batch_size, *spatial, 3),
        directions.reshape(batch_size, *spatial, 3),
        lengths.reshape(batch_size, *spatial, n_pts_per_ray),
        xy_grid,
    )


def _sample_cameras_and_masks(n_samples: int, cameras, mask: Optional[torch.Tensor] = None):
    """Draws ``n_samples`` cameras with replacement.

    Returns:
        (the distinct drawn cameras, their masks or None, camera_ids (M,) int64 ascending, camera_counts (M,) int64,
        the largest count as a Python int).
    """
    sampled = torch.randint(0, len(cameras), size=(n_samples,), dtype=torch.long)
    ids, counts = torch.unique(sampled, return_counts=True)
    return cameras[ids], (mask[ids] if mask is not None else None), ids, counts, int(counts.max())


def _pack_ray_bundle(
    ray_bundle: RayBundle, camera_ids: torch.Tensor, camera_counts: torch.Tensor
) -> HeterogeneousRayBundle:
    """Keeps the first ``camera_counts[m]`` rays of camera row m and stacks them camera after camera.

    Args:
        ray_bundle: fields (M, n, ...) with n >= max(camera_counts).
    Returns:
        ``HeterogeneousRayBundle`` with fields (sum(camera_counts), 1, ...).
    """
    counts = camera_counts.to(ray_bundle.origins.device)
    n = ray_bundle.origins.shape[1]
    keep = torch.arange(n, device=counts.device)[None, :] < counts[:, None]  # (M, n)
    return HeterogeneousRayBundle(
        origins=ray_bundle.origins[keep][:, None],
        directions=ray_bundle.directions[keep][:, None],
        lengths=ray_bundle.lengths[keep][:, None],
        xys=ray_bundle.xys[keep][:, None],
        camera_ids=camera_ids,
        camera_counts=counts,
    )
