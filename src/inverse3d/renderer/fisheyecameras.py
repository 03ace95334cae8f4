"""Fisheye cameras with radial, tangential and thin-prism distortion (PyTorch3D's ``FishEyeCameras``).

The model, for a point (x, y, z) in view space (a point behind the camera projects like its mirror image):

    a, b = x / z, y / z;  r = sqrt(a^2 + b^2);  theta = atan(r)
    radial:      (x_r, y_r) = theta (1 + k1 theta^2 + k2 theta^4 + ... + k6 theta^12) (a, b) / r
    tangential:  (2 x_r^2 + rd^2) p1 + 2 x_r y_r p2,   (2 y_r^2 + rd^2) p2 + 2 x_r y_r p1,   rd^2 = x_r^2 + y_r^2
    thin prism:  s1 rd^2 + s2 rd^4,   s3 rd^2 + s4 rd^4
    uv = (x_r, y_r) + tangential + thin prism  (with ``use_radial=False`` the first term is (a, b) instead)
    projection = f uv + (cu, cv), third coordinate 1

``unproject_points`` inverts it with Newton iterations (on x_r, y_r for the tangential and thin-prism terms, then on
theta for the radial polynomial) and returns the ray through each pixel at view-space depth z = 1.

The numbers and the quirks follow PyTorch3D 0.7.9: ``transform_points`` maps view-space points (or world points with
``world_coordinates=True``), ``unproject_points`` ignores its depth and ``world_coordinates`` arguments and returns
view-space points at z = 1, ``is_perspective()`` is False and ``in_ndc()`` is True.
Differences kept on purpose: the batch is computed in one go (no loop over cameras); with more than one camera,
(N, P, 3) points pair with the cameras (PyTorch3D raises for them); the principal point unprojects to (0, 0, 1)
where PyTorch3D returns NaN; fewer than 6 radial coefficients mean k1..kn with the others 0 (PyTorch3D broadcasts a
single one to all six powers).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from inverse3d.renderer.cameras import _R, _T, CamerasBase, _float_dtype, _is_flat_pair

Device = str | torch.device

_NUM_RADIAL = 6


class FishEyeCameras(CamerasBase):
    """A batch of N fisheye cameras.

    Args:
        focal_length: (N, 1) (or scalar / (N,)) focal length; (N, 2) gives separate x and y focal lengths.
        principal_point: (N, 2) (cu, cv).
        radial_params: (N, k) radial coefficients k1..kk, k <= 6.
        tangential_params: (N, 2) (p1, p2).
        thin_prism_params: (N, 4) (s1, s2, s3, s4).
        R: (N, 3, 3), T: (N, 3) world -> view pose (used with ``world_coordinates=True``).
        world_coordinates: whether ``transform_points`` takes world points (True) or view-space points (False).
        use_radial, use_tangential, use_thin_prism: switch the distortion terms on or off.
        device: where the tensors live.
        image_size: optional (height, width) or (N, 2).
    Attributes:
        num_distortion_iters: Newton iterations of ``unproject_points`` (50).
        epsilon: small-value threshold of the iterations (1e-10).
    """

    _FIELDS = (
        "focal_length", "principal_point", "radial_params", "tangential_params", "thin_prism_params", "R", "T",
        "world_coordinates", "use_radial", "use_tangential", "use_thin_prism", "image_size",
    )
    _SHARED_FIELDS = ("world_coordinates", "use_radial", "use_tangential", "use_thin_prism")

    def __init__(
        self,
        focal_length: Any = ((1.0,),),
        principal_point: Any = ((0.0, 0.0),),
        radial_params: Any = ((0.0,) * _NUM_RADIAL,),
        tangential_params: Any = ((0.0, 0.0),),
        thin_prism_params: Any = ((0.0, 0.0, 0.0, 0.0),),
        R: torch.Tensor = _R,
        T: torch.Tensor = _T,
        world_coordinates: bool = False,
        use_radial: bool = True,
        use_tangential: bool = True,
        use_thin_prism: bool = True,
        device: Device = "cpu",
        image_size: Any = None,
    ) -> None:
        if image_size is not None and _is_flat_pair(image_size):
            image_size = [list(image_size.tolist() if torch.is_tensor(image_size) else image_size)]  # (H, W) -> (1, 2)
        extra = {"image_size": image_size} if image_size is not None else {}
        super().__init__(
            dtype=_float_dtype(R, T, focal_length, principal_point, radial_params),
            device=device,
            focal_length=focal_length,
            principal_point=principal_point,
            radial_params=radial_params,
            tangential_params=tangential_params,
            thin_prism_params=thin_prism_params,
            R=R,
            T=T,
            world_coordinates=world_coordinates,
            use_radial=use_radial,
            use_tangential=use_tangential,
            use_thin_prism=use_thin_prism,
            **extra,
        )
        if image_size is None:
            self.image_size = None
        elif self.image_size.dim() != 2 or self.image_size.shape[1] != 2 or (self.image_size < 1).any():
            raise ValueError(f"image_size must be positive (height, width) or (N, 2); got {image_size!r}")
        if self.focal_length.dim() == 1:
            self.focal_length = self.focal_length[:, None]
        checks = (
            ("focal_length", self.focal_length, (1, 2)),
            ("principal_point", self.principal_point, (2,)),
            ("radial_params", self.radial_params, tuple(range(1, _NUM_RADIAL + 1))),
            ("tangential_params", self.tangential_params, (2,)),
            ("thin_prism_params", self.thin_prism_params, (4,)),
        )
        for name, value, sizes in checks:
            if value.dim() != 2 or value.shape[1] not in sizes:
                raise ValueError(f"FishEyeCameras: {name} must have shape (N, k) with k in {sizes}; "
                                 f"got {tuple(value.shape)}")
        self._check_pose()
        self.num_radial = self.radial_params.shape[1]
        self.epsilon = 1e-10
        self.num_distortion_iters = 50

    @property
    def focal(self) -> torch.Tensor:
        """PyTorch3D's name of the stored focal lengths, (N, 1) or (N, 2)."""
        return self.focal_length

    def is_perspective(self) -> bool:
        return False

    def in_ndc(self) -> bool:
        return True

    def get_projection_transform(self, **kwargs: Any):
        raise NotImplementedError("FishEyeCameras project non-linearly: use transform_points / unproject_points")

    # -----------------------------------------------------------------------------------------------------------
    # parameters per camera, broadcastable against points

    def _params(self, batched: bool) -> tuple[torch.Tensor, ...]:
        """(focal, principal_point, radial (6 coefficients), tangential, thin_prism).

        Each is (k,) when ``batched`` is False (one camera), else (N, 1, k) to broadcast against (N, P, ...).
        """
        radial = torch.nn.functional.pad(self.radial_params, (0, _NUM_RADIAL - self.radial_params.shape[1]))
        params = (self.focal_length, self.principal_point, radial, self.tangential_params, self.thin_prism_params)
        if batched:
            return tuple(p[:, None, :] for p in params)
        return tuple(p[0] for p in params)

    def _batch_points(self, points: torch.Tensor, name: str) -> tuple[torch.Tensor, bool]:
        """Points ready to broadcast against ``_params(batched)``; returns them and ``batched``."""
        if not torch.is_tensor(points) or points.dim() not in (2, 3) or points.shape[-1] != 3:
            shape = tuple(points.shape) if torch.is_tensor(points) else type(points).__name__
            raise ValueError(f"{name} must have shape (P, 3), (1, P, 3) or (N, P, 3); got {shape}")
        n = len(self)
        if n == 1:
            return points, False
        if points.dim() == 2:
            points = points[None]
        if points.shape[0] not in (1, n):
            raise ValueError(f"Expected {name} of shape (P, 3), (1, P, 3) or ({n}, P, 3) for {n} cameras; "
                             f"got {tuple(points.shape)}")
        return points, True

    # -----------------------------------------------------------------------------------------------------------
    # projection

    def _distort(
        self, ab: torch.Tensor, radial: torch.Tensor, tangential: torch.Tensor, thin_prism: torch.Tensor
    ) -> torch.Tensor:
        """Distorted image-plane coordinates ``uv`` of undistorted ones ``ab`` (..., 2)."""
        r = ab.norm(dim=-1)  # (...)
        theta = torch.atan(r)
        t = theta * theta
        powers = torch.stack([t ** (i + 1) for i in range(_NUM_RADIAL)], -1)  # (..., 6): theta^2 .. theta^12
        theta_radial = 1.0 + (powers * radial).sum(-1)
        small = r < self.epsilon
        theta_over_r = torch.where(small, torch.ones_like(r), theta / torch.where(small, torch.ones_like(r), r))
        xr_yr = (theta_radial * theta_over_r)[..., None] * ab  # (..., 2)
        rd2 = (xr_yr * xr_yr).sum(-1, keepdim=True)  # (..., 1)
        uv = xr_yr if self.use_radial else ab
        if self.use_tangential:
            uv = uv + 2.0 * (xr_yr * tangential).sum(-1, keepdim=True) * xr_yr + rd2 * tangential
        if self.use_thin_prism:
            uv = uv + _thin_prism_term(rd2, thin_prism)
        return uv

    def transform_points(self, points: torch.Tensor, eps: float | None = None, **kwargs: Any) -> torch.Tensor:
        """Projects points to the image plane: ``(f uv + (cu, cv), 1)``.

        Args:
            points: (P, 3), (1, P, 3) or (N, P, 3), view-space (or world with ``world_coordinates=True``).
            eps: clamp of the homogeneous divide of the world -> view transform.
        Returns:
            one camera: the shape of ``points``; N > 1 cameras: (N, P, 3), squeezed as PyTorch3D does
            (``.squeeze()``, so P = 1 gives (N, 3)).
        """
        if self.world_coordinates:
            points = self.get_world_to_view_transform(R=self.R, T=self.T).transform_points(
                points.to(self.device), eps=eps
            )
        points, batched = self._batch_points(points.to(self.device), "points")
        focal, principal_point, radial, tangential, thin_prism = self._params(batched)
        ab = points[..., :2] / points[..., 2:]  # (..., 2)
        uv = self._distort(ab, radial, tangential, thin_prism)
        xy = focal * uv + principal_point  # (..., 2); (N, P, 2) for a batch of cameras
        projected = torch.cat((xy, torch.ones_like(xy[..., :1])), -1)
        if batched:
            projected = projected.expand(len(self), -1, -1).squeeze()
        return projected

    # -----------------------------------------------------------------------------------------------------------
    # unprojection

    def _undistort_tangential(
        self, uv: torch.Tensor, tangential: torch.Tensor, thin_prism: torch.Tensor
    ) -> torch.Tensor:
        """(x_r, y_r) with ``x_r + tangential + thin prism = uv`` by Newton's method, (..., 2)."""
        if not self.use_tangential and not self.use_thin_prism:
            return uv
        p1, p2 = tangential[..., 0], tangential[..., 1]
        s = thin_prism
        xr = uv
        for _ in range(self.num_distortion_iters):
            x, y = xr[..., 0], xr[..., 1]
            rd2 = (xr * xr).sum(-1, keepdim=True)  # (..., 1)
            estimate = xr
            j00 = torch.ones_like(x)
            j01 = torch.zeros_like(x)
            j10 = torch.zeros_like(x)
            j11 = torch.ones_like(x)
            if self.use_tangential:
                estimate = estimate + 2.0 * (xr * tangential).sum(-1, keepdim=True) * xr + rd2 * tangential
                j00 = 1.0 + 6.0 * x * p1 + 2.0 * y * p2
                j11 = 1.0 + 6.0 * y * p2 + 2.0 * x * p1
                j01 = j10 = 2.0 * (x * p2 + y * p1)
            if self.use_thin_prism:
                estimate = estimate + _thin_prism_term(rd2, thin_prism)
                c1 = 2.0 * (s[..., 0] + 2.0 * s[..., 1] * rd2[..., 0])
                c2 = 2.0 * (s[..., 2] + 2.0 * s[..., 3] * rd2[..., 0])
                j00, j01 = j00 + x * c1, j01 + y * c1
                j10, j11 = j10 + x * c2, j11 + y * c2
            # solve the 2x2 system J d = uv - estimate (J is close to the identity for sane distortions)
            res = uv - estimate
            det = j00 * j11 - j01 * j10
            d = torch.stack((j11 * res[..., 0] - j01 * res[..., 1], -j10 * res[..., 0] + j00 * res[..., 1]), -1)
            xr = xr + d / det[..., None]
        return xr

    def _theta_from_radius(self, radius: torch.Tensor, radial: torch.Tensor) -> torch.Tensor:
        """theta with ``theta (1 + k1 theta^2 + ... + k6 theta^12) = radius`` by Newton's method, kept in
        (-pi/2, pi/2) (a 180 degree field of view)."""
        eps = self.epsilon
        odd = torch.arange(3, 2 * _NUM_RADIAL + 3, 2, dtype=radius.dtype, device=radius.device)  # 3, 5, .., 13
        theta = radius
        for _ in range(self.num_distortion_iters):
            t = theta * theta
            powers = torch.stack([t ** (i + 1) for i in range(_NUM_RADIAL)], -1)
            value = theta * (1.0 + (powers * radial).sum(-1))
            slope = 1.0 + (odd * radial * powers).sum(-1)
            residual = radius - value
            flat = slope.abs() <= eps
            newton = residual / torch.where(flat, torch.ones_like(slope), slope)
            nudge = torch.where(residual * slope > 0.0, 10.0 * eps, -10.0 * eps)  # where the slope vanishes
            theta = theta + torch.where(flat, torch.full_like(theta, 1.0) * nudge, newton)
            theta = torch.where(theta.abs() >= math.pi / 2.0, torch.full_like(theta, 0.999 * math.pi / 2.0), theta)
        return theta

    def unproject_points(
        self,
        xy_depth: torch.Tensor,
        world_coordinates: bool = True,
        scaled_depth_input: bool = False,
        **kwargs: Any,
    ) -> torch.Tensor:
        """The view-space rays through image points, at depth z = 1 (inverse of ``transform_points`` for
        view-space points at z = 1).

        Args:
            xy_depth: (P, 3), (1, P, 3) or (N, P, 3) image points; the third value is ignored.
            world_coordinates, scaled_depth_input: ignored, as in PyTorch3D 0.7.9 (the result is in view space).
        Returns:
            shaped as for ``transform_points``: (x, y, 1) in view space.
        """
        xy_depth, batched = self._batch_points(xy_depth.to(self.device), "xy_depth")
        focal, principal_point, radial, tangential, thin_prism = self._params(batched)
        uv = (xy_depth[..., :2] - principal_point) / focal  # (..., 2)
        xr = self._undistort_tangential(uv, tangential, thin_prism)
        radius = xr.norm(dim=-1)  # (...)
        theta = self._theta_from_radius(radius, radial)
        positive = radius > 0
        scale = torch.where(positive, torch.tan(theta) / torch.where(positive, radius, torch.ones_like(radius)), 1.0)
        points = torch.cat((scale[..., None] * xr, torch.ones_like(xr[..., :1])), -1)
        if batched:
            points = points.expand(len(self), -1, -1).squeeze()
        return points


def _thin_prism_term(rd2: torch.Tensor, thin_prism: torch.Tensor) -> torch.Tensor:
    """(s1 rd^2 + s2 rd^4, s3 rd^2 + s4 rd^4), (..., 2) from rd2 (..., 1) and coefficients (..., 4)."""
    rd4 = rd2 * rd2
    u = thin_prism[..., 0:1] * rd2 + thin_prism[..., 1:2] * rd4
    v = thin_prism[..., 2:3] * rd2 + thin_prism[..., 3:4] * rd4
    return torch.cat((u, v), -1)
