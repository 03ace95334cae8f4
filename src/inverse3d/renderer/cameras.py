"""Batched cameras with PyTorch3D's names, conventions and numbers (see CONVENTIONS.md).

Spaces:
- world -> view: ``X_view = X_world @ R + T`` (row vectors); in view space +X is left, +Y up, +Z forward.
- view -> NDC (or screen for cameras defined in screen space): the projection matrix ``K`` (stored column-major
  as in PyTorch3D, i.e. applied as ``K^T`` on row vectors), then the homogeneous divide. NDC has +X left, +Y up,
  the shorter image side spanning [-1, 1]; FoV perspective cameras map depth ``znear`` to 0 and ``zfar`` to 1.
- NDC -> screen: pixels, (0, 0) the top-left corner, +X right, +Y down; the centre of pixel column ``i`` is at
  screen x = i + 0.5, which is NDC x = 1 - (2i + 1) / W for a square image.

Keyword arguments given to the methods at call time (``R=``, ``T=``, ``K=``, ``znear=``, ``image_size=``, ...)
override the values stored at construction. As in PyTorch3D, ``R`` and ``T`` passed to
``get_world_to_view_transform`` / ``get_full_projection_transform`` (hence to ``transform_points``) are also
stored on the cameras, so that later stages (e.g. shading, which asks for the camera centre) see the same pose.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from inverse3d.renderer.utils import TensorProperties, convert_to_tensors_and_broadcast
from inverse3d.transforms.transform3d import Rotate, Transform3d, Translate

Device = str | torch.device

# Default pose: identity rotation, zero translation.
_R = torch.eye(3)[None]  # (1, 3, 3)
_T = torch.zeros(1, 3)  # (1, 3)


def _float_dtype(*values: Any) -> torch.dtype:
    """The promoted dtype of the floating tensors among ``values`` (float32 when there are none)."""
    dtype = None
    for v in values:
        if torch.is_tensor(v) and v.is_floating_point():
            dtype = v.dtype if dtype is None else torch.promote_types(dtype, v.dtype)
    return dtype or torch.float32


def _as_batch(value: Any, n: int, dtype: torch.dtype, device: torch.device, name: str) -> torch.Tensor:
    """``value`` (scalar, sequence or tensor) as a tensor with leading dimension ``n`` (a size of 1 broadcasts)."""
    if not torch.is_tensor(value):
        value = torch.tensor(value, dtype=dtype, device=device)
    elif value.device != device:
        value = value.to(device)
    if not value.is_floating_point():
        value = value.to(dtype)
    if value.dim() == 0:
        value = value.view(1)
    if value.shape[0] != n:
        if value.shape[0] != 1:
            raise ValueError(f"{name} has batch size {value.shape[0]}, expected 1 or {n}")
        value = value.expand(n, *value.shape[1:])
    return value


def _host_values(value: Any) -> np.ndarray | None:
    """``value`` as a float64 NumPy array when reading it makes no wait for a GPU (numbers, sequences, arrays,
    CPU tensors); None for tensors on other devices and values that are not numbers (those are not checked)."""
    if value is None or isinstance(value, (str, bool)):
        return None
    if torch.is_tensor(value):
        if value.device.type != "cpu" or value.is_complex():
            return None
        return value.detach().to(torch.float64).numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _first_bad(name: str, values: np.ndarray, ok: np.ndarray) -> str | None:
    """``name = value`` (``name[i] = value`` in a batch) of the first value where ``ok`` is False, else None."""
    if ok.all():
        return None
    i = int(np.flatnonzero(~ok.reshape(-1))[0])
    where = f"{name}[{i}]" if values.size > 1 else name
    return f"{where} = {values.reshape(-1)[i]:g}"


def _check_values(camera: str, checks: list[tuple[str, Any, Any, str]]) -> None:
    """Raises ValueError naming the camera, parameter and value for the first check that fails.

    Args:
        checks: (name, value, test, rule): ``test(values)`` gives a bool array over the float64 values of ``value``
            (skipped when they are not on the host, see ``_host_values``); ``rule`` says what is expected.
    """
    for name, value, test, rule in checks:
        values = _host_values(value)
        if values is None or values.size == 0:
            continue
        with np.errstate(invalid="ignore"):
            bad = _first_bad(name, values, np.isfinite(values) & test(values))
        if bad is not None:
            raise ValueError(f"{camera}: {name} must be {rule}; got {bad}")


def _check_near_far(camera: str, znear: Any, zfar: Any, perspective: bool) -> None:
    """znear > 0 (perspective), finite planes and znear < zfar, checked where that needs no GPU sync."""
    _check_values(camera, [
        ("znear", znear, (lambda v: v > 0) if perspective else (lambda v: v == v),
         "> 0 (the near plane lies in front of the camera)" if perspective else "a finite number"),
        ("zfar", zfar, lambda v: v == v, "a finite number"),
    ])
    near, far = _host_values(znear), _host_values(zfar)
    if near is None or far is None or near.size == 0 or far.size == 0:
        return
    try:
        near, far = np.broadcast_arrays(near.reshape(-1), far.reshape(-1))
    except ValueError:  # mismatched batch sizes: reported when the projection is built
        return
    ok = near < far
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        at = f"[{i}]" if near.size > 1 else ""
        raise ValueError(f"{camera}: znear must be < zfar; got znear{at} = {near[i]:g} and zfar{at} = {far[i]:g}")


def _check_fov_params(camera: str, znear: Any, zfar: Any, fov: Any, aspect_ratio: Any, degrees: bool) -> None:
    limit, unit = (180.0, "(0, 180) degrees") if degrees else (math.pi, "(0, pi) radians (degrees=False)")
    _check_values(camera, [
        ("fov", fov, lambda v: (v > 0) & (v < limit), f"in {unit}"),
        ("aspect_ratio", aspect_ratio, lambda v: v > 0, "> 0"),
    ])
    _check_near_far(camera, znear, zfar, perspective=True)


def _check_box_params(camera: str, znear: Any, zfar: Any, max_x: Any, min_x: Any, max_y: Any, min_y: Any) -> None:
    _check_values(camera, [(n, v, lambda a: a == a, "a finite number")
                           for n, v in (("max_x", max_x), ("min_x", min_x), ("max_y", max_y), ("min_y", min_y))])
    for hi_name, hi, lo_name, lo in (("max_x", max_x, "min_x", min_x), ("max_y", max_y, "min_y", min_y)):
        a, b = _host_values(hi), _host_values(lo)
        if a is None or b is None or a.size == 0 or b.size == 0:
            continue
        try:
            a, b = np.broadcast_arrays(a.reshape(-1), b.reshape(-1))
        except ValueError:
            continue
        same = a == b
        if same.any():
            i = int(np.flatnonzero(same)[0])
            raise ValueError(f"{camera}: {hi_name} must differ from {lo_name} (the view box has no width); "
                             f"got {hi_name} = {lo_name} = {a[i]:g}")
    _check_near_far(camera, znear, zfar, perspective=False)


def _check_sfm_params(camera: str, focal_length: Any, principal_point: Any) -> None:
    _check_values(camera, [
        ("focal_length", focal_length, lambda v: v != 0, "a finite, non-zero number"),
        ("principal_point", principal_point, lambda v: v == v, "finite"),
    ])


def _image_size_tensor(image_size: Any, n: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Image sizes ``(height, width)`` as an (n, 2) tensor; raises when missing or malformed."""
    if image_size is None:
        raise ValueError("For NDC to screen conversion, image_size=(height, width) needs to be specified.")
    size = image_size if torch.is_tensor(image_size) else torch.tensor(image_size, device=device)
    size = size.to(device=device, dtype=dtype)
    if size.numel() == 0 or size.shape[-1] != 2:
        raise ValueError(f"image_size must be (height, width) or (N, 2); got shape {tuple(size.shape)}")
    size = size.reshape(-1, 2)
    if size.shape[0] not in (1, n):
        raise ValueError(f"image_size has batch size {size.shape[0]}, expected 1 or {n}")
    if (size < 1).any():
        raise ValueError(f"image_size must be positive; got {size.tolist()}")
    return size.expand(n, 2)


class CamerasBase(TensorProperties):
    """Base class of all cameras: a batch of N poses (R, T) plus intrinsics defined by each subclass.

    Methods common to all cameras:
        get_world_to_view_transform, get_projection_transform, get_full_projection_transform,
        transform_points (world -> NDC or screen, as the camera is defined), transform_points_ndc,
        transform_points_screen, unproject_points, get_camera_center, get_ndc_camera_transform.
    ``len(cameras)`` is the batch size N; ``cameras[i]`` (int, list, long or bool tensor) selects cameras.
    """

    # Fields copied by __getitem__; a leading "_" is dropped to get the constructor argument's name.
    _FIELDS: tuple[str, ...] = ()
    # Fields shared by the whole batch (not indexed).
    _SHARED_FIELDS: tuple[str, ...] = ()

    def _check_pose(self) -> None:
        R, T = getattr(self, "R", None), getattr(self, "T", None)
        if not torch.is_tensor(R) or R.dim() != 3 or R.shape[1:] != (3, 3):
            raise ValueError(f"R must have shape (N, 3, 3); got {tuple(getattr(R, 'shape', ()))}")
        if not torch.is_tensor(T) or T.dim() != 2 or T.shape[1] != 3:
            raise ValueError(f"T must have shape (N, 3); got {tuple(getattr(T, 'shape', ()))}")
        K = getattr(self, "K", None)
        if K is not None and (K.dim() != 3 or K.shape[1:] != (4, 4)):
            raise ValueError(f"K must have shape (N, 4, 4); got {tuple(K.shape)}")

    def _dtype(self) -> torch.dtype:
        return _float_dtype(self.R)

    # -----------------------------------------------------------------------------------------------------------
    # to be defined by each camera

    # The arguments of ``compute_projection_matrix``, in order; each defaults to the camera's attribute of that name.
    _PROJECTION_PARAMS: tuple[str, ...] = ()

    def compute_projection_matrix(self, *params: Any) -> torch.Tensor:
        """(N, 4, 4) column-vector projection matrix from the values named by ``_PROJECTION_PARAMS``."""
        raise NotImplementedError()

    def get_projection_transform(self, **kwargs: Any) -> Transform3d:
        """The view -> NDC (or screen) transform, an (N, 4, 4) ``Transform3d``.

        Keyword ``K`` (N, 4, 4) replaces the matrix; any name of ``_PROJECTION_PARAMS`` overrides that value.
        """
        K = kwargs.get("K", self.K)
        if K is not None:
            if K.shape != (self._N, 4, 4):
                raise ValueError(f"Expected K to have shape of ({self._N}, 4, 4); got {tuple(K.shape)}")
        else:
            K = self.compute_projection_matrix(*(kwargs.get(n, getattr(self, n)) for n in self._PROJECTION_PARAMS))
        return Transform3d(matrix=K.transpose(1, 2).contiguous(), device=self.device)

    def unproject_points(self, xy_depth: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """Inverse of ``transform_points``: (x, y, depth) -> world (or view) points."""
        raise NotImplementedError()

    def is_perspective(self) -> bool:
        raise NotImplementedError()

    def in_ndc(self) -> bool:
        """Whether the camera's projection lands in NDC (True) or in screen space (False)."""
        raise NotImplementedError()

    # -----------------------------------------------------------------------------------------------------------
    # shared

    def get_camera_center(self, **kwargs: Any) -> torch.Tensor:
        """Camera centres in world coordinates, ``C = -T @ R^T``, shape (N, 3).

        Args:
            kwargs: ``R`` (N, 3, 3) and ``T`` (N, 3) override (and, as in PyTorch3D, replace) the stored pose.
        """
        world_to_view = self.get_world_to_view_transform(**kwargs)
        return world_to_view.inverse().get_matrix()[:, 3, :3]

    def get_world_to_view_transform(self, **kwargs: Any) -> Transform3d:
        """The world -> view transform ``X @ R + T``; ``R`` / ``T`` given here are stored on the cameras."""
        R = kwargs.get("R", self.R)
        T = kwargs.get("T", self.T)
        self.R = R
        self.T = T
        return get_world_to_view_transform(R=R, T=T)

    def get_full_projection_transform(self, **kwargs: Any) -> Transform3d:
        """world -> view -> NDC (or screen, for cameras defined there) as one ``Transform3d``."""
        self.R = kwargs.get("R", self.R)
        self.T = kwargs.get("T", self.T)
        world_to_view = self.get_world_to_view_transform(R=self.R, T=self.T)
        view_to_proj = self.get_projection_transform(**kwargs)
        return world_to_view.compose(view_to_proj)

    def transform_points(self, points: torch.Tensor, eps: float | None = None, **kwargs: Any) -> torch.Tensor:
        """Projects world points to NDC (or to screen space for cameras defined in screen space).

        Args:
            points: (P, 3) or (N, P, 3) world points.
            eps: clamp of the homogeneous divisor, see ``Transform3d.transform_points``.
        Returns:
            same shape as ``points`` (or (N, P, 3)): x, y in NDC and a depth value that depends on the camera
            (FoV perspective: 0 at znear, 1 at zfar; PerspectiveCameras: 1 / z).
        """
        return self.get_full_projection_transform(**kwargs).transform_points(points, eps=eps)

    def get_ndc_camera_transform(self, **kwargs: Any) -> Transform3d:
        """The transform from the camera's projection space to NDC: identity for NDC cameras, otherwise a
        scaling from [0, W] x [0, H] to NDC (the shorter side spanning [-1, 1]) without flipping axes."""
        if self.in_ndc():
            return Transform3d(device=self.device, dtype=self._dtype())
        image_size = kwargs.get("image_size", self.get_image_size())
        return get_screen_to_ndc_transform(self, with_xyflip=False, image_size=image_size)

    def transform_points_ndc(self, points: torch.Tensor, eps: float | None = None, **kwargs: Any) -> torch.Tensor:
        """Projects world points to NDC (+X left, +Y up, origin at the image centre)."""
        transform = self.get_full_projection_transform(**kwargs)
        if not self.in_ndc():
            transform = transform.compose(self.get_ndc_camera_transform(**kwargs))
        return transform.transform_points(points, eps=eps)

    def transform_points_screen(
        self, points: torch.Tensor, eps: float | None = None, with_xyflip: bool = True, **kwargs: Any
    ) -> torch.Tensor:
        """Projects world points to screen space: pixels, +X right, +Y down, origin at the top-left corner.

        Args:
            points: (P, 3) or (N, P, 3) world points.
            image_size: (keyword, or stored on the camera) (height, width) or (N, 2).
            with_xyflip: flip x and y from the NDC axes (+X left, +Y up) to the image axes (default True).
        Returns:
            same shape as ``points``: column, row (continuous; pixel i spans [i, i + 1]) and the camera's depth.
        """
        points_ndc = self.transform_points_ndc(points, eps=eps, **kwargs)
        image_size = kwargs.get("image_size", self.get_image_size())
        to_screen = get_ndc_to_screen_transform(self, with_xyflip=with_xyflip, image_size=image_size)
        return to_screen.transform_points(points_ndc, eps=eps)

    def clone(self) -> "CamerasBase":  # type: ignore[override]
        """A deep copy of the cameras."""
        other = self.__class__(device=self.device)
        return super().clone(other)  # type: ignore[return-value]

    def get_znear(self) -> torch.Tensor | None:
        return getattr(self, "znear", None)

    def get_image_size(self) -> torch.Tensor | None:
        """The stored image size (N, 2) as (height, width), or None."""
        return getattr(self, "image_size", None)

    def __getitem__(self, index: int | list[int] | torch.Tensor) -> "CamerasBase":  # type: ignore[override]
        """The cameras at ``index`` (int, list of ints, slice, long or bool tensor) as a new camera object."""
        n = len(self)
        if isinstance(index, slice):
            index = list(range(n))[index]
        if isinstance(index, bool) or not isinstance(index, (int, list, torch.Tensor)):
            raise ValueError(f"Invalid index type, expected int, List[int] or Bool/LongTensor; got {type(index)!r}")
        if isinstance(index, list) and not all(isinstance(i, int) and not isinstance(i, bool) for i in index):
            raise ValueError("Invalid index: a list index must hold ints only")
        if isinstance(index, int):
            index = [index]
        if torch.is_tensor(index):
            if index.dtype == torch.bool:
                if index.dim() != 1 or index.shape[0] != n:
                    raise ValueError(f"Boolean index of shape {tuple(index.shape)} does not match {n} cameras")
                index = index.nonzero()[:, 0].tolist()
            elif index.dtype in (torch.int64, torch.int32):
                index = index.reshape(-1).tolist()
            else:
                raise ValueError(f"Invalid index tensor dtype {index.dtype}")
        if any(i >= n or i < -n for i in index):
            raise IndexError(f"Index {index} is out of bounds for {n} cameras")
        kwargs: dict[str, Any] = {}
        for field in self._FIELDS:
            val = getattr(self, field, None)
            if val is None:
                continue
            name = field[1:] if field.startswith("_") else field
            if isinstance(val, (str, bool)) or field in self._SHARED_FIELDS:
                kwargs[name] = val
            elif torch.is_tensor(val):
                kwargs[name] = val[index]
            else:
                raise ValueError(f"Field {field} type is not supported for indexing")
        kwargs["device"] = self.device
        return self.__class__(**kwargs)


# ----------------------------------------------------------------------------------------------------------------
# Field-of-view cameras (OpenGL-style frusta)


class FoVPerspectiveCameras(CamerasBase):
    """Perspective cameras given by a vertical field of view, as in OpenGL (PyTorch3D's FoVPerspectiveCameras).

    Args:
        znear, zfar: near and far clipping planes, scalar or (N,); depth maps znear -> 0 and zfar -> 1.
        aspect_ratio: pixel aspect ratio, scalar or (N,) (keep 1.0 and set a non-square image size instead).
        fov: vertical field of view, scalar or (N,).
        degrees: whether ``fov`` is in degrees.
        R: (N, 3, 3) world-to-view rotations; T: (N, 3) translations.
        K: optional (N, 4, 4) projection matrix replacing the one built from the parameters above.
        device: where the tensors live.
    """

    _FIELDS = ("K", "znear", "zfar", "aspect_ratio", "fov", "R", "T", "degrees")
    _SHARED_FIELDS = ("degrees",)

    def __init__(
        self,
        znear: Any = 1.0,
        zfar: Any = 100.0,
        aspect_ratio: Any = 1.0,
        fov: Any = 60.0,
        degrees: bool = True,
        R: torch.Tensor = _R,
        T: torch.Tensor = _T,
        K: torch.Tensor | None = None,
        device: Device = "cpu",
    ) -> None:
        _check_fov_params(type(self).__name__, znear, zfar, fov, aspect_ratio, degrees)
        super().__init__(
            dtype=_float_dtype(R, T),
            device=device,
            znear=znear,
            zfar=zfar,
            aspect_ratio=aspect_ratio,
            fov=fov,
            R=R,
            T=T,
            K=K,
        )
        self.degrees = degrees
        self._check_pose()

    _PROJECTION_PARAMS = ("znear", "zfar", "fov", "aspect_ratio", "degrees")

    def compute_projection_matrix(
        self, znear: Any, zfar: Any, fov: Any, aspect_ratio: Any, degrees: bool
    ) -> torch.Tensor:
        """The (N, 4, 4) projection matrix (column-vector layout, as in PyTorch3D).

        ``x_ndc = x / (z tan(fov/2) aspect)``, ``y_ndc = y / (z tan(fov/2))``,
        ``z_ndc = zfar (z - znear) / ((zfar - znear) z)``.

        Raises:
            ValueError: fov outside (0, 180) degrees, znear <= 0 or znear >= zfar (values on the CPU or given as
                numbers; tensors on a GPU are not read, which would wait for it).
        """
        _check_fov_params(type(self).__name__, znear, zfar, fov, aspect_ratio, degrees)
        n, device = self._N, self.device
        dtype = _float_dtype(self.R, znear, zfar, fov, aspect_ratio)
        znear = _as_batch(znear, n, dtype, device, "znear")
        zfar = _as_batch(zfar, n, dtype, device, "zfar")
        fov = _as_batch(fov, n, dtype, device, "fov")
        aspect_ratio = _as_batch(aspect_ratio, n, dtype, device, "aspect_ratio")
        if degrees:
            fov = fov * (math.pi / 180.0)
        max_y = torch.tan(fov / 2) * znear
        max_x = max_y * aspect_ratio
        K = torch.zeros((n, 4, 4), dtype=dtype, device=device)
        K[:, 0, 0] = znear / max_x  # 2 znear / (max_x - min_x) with min_x = -max_x
        K[:, 1, 1] = znear / max_y
        K[:, 3, 2] = 1.0  # w = z (PyTorch3D keeps a right-handed frame: z sign +1)
        K[:, 2, 2] = zfar / (zfar - znear)
        K[:, 2, 3] = -(zfar * znear) / (zfar - znear)
        return K

    def unproject_points(
        self,
        xy_depth: torch.Tensor,
        world_coordinates: bool = True,
        scaled_depth_input: bool = False,
        **kwargs: Any,
    ) -> torch.Tensor:
        """NDC x, y plus depth -> world (or view) points.

        Args:
            xy_depth: (P, 3) or (N, P, 3): NDC x, y and the view-space depth z (or, with
                ``scaled_depth_input=True``, the NDC depth in [0, 1]).
            world_coordinates: return world points (True) or view-space points (False).
        Returns:
            (N, P, 3) or (P, 3).
        """
        _check_xy_depth(xy_depth)
        if world_coordinates:
            to_ndc = self.get_full_projection_transform(**kwargs)
        else:
            to_ndc = self.get_projection_transform(**kwargs)
        if scaled_depth_input:
            xy_sdepth = xy_depth
        else:
            K = self.get_projection_transform(**kwargs).get_matrix()  # row-vector layout
            xy_depth, f1 = _per_camera(xy_depth, K[:, 2, 2])
            _, f2 = _per_camera(xy_depth, K[:, 3, 2])
            z = xy_depth[..., 2:3]
            xy_sdepth = torch.cat((xy_depth[..., :2], (f1 * z + f2) / z), dim=-1)
        return to_ndc.inverse().transform_points(xy_sdepth)

    def is_perspective(self) -> bool:
        return True

    def in_ndc(self) -> bool:
        return True


class FoVOrthographicCameras(CamerasBase):
    """Orthographic cameras given by the view box ``[min_x, max_x] x [min_y, max_y] x [znear, zfar]``.

    Args:
        znear, zfar, max_y, min_y, max_x, min_x: scalars or (N,).
        scale_xyz: (N, 3) extra scale of each axis.
        R, T, K, device: as for ``FoVPerspectiveCameras``.
    """

    _FIELDS = ("K", "znear", "zfar", "R", "T", "max_y", "min_y", "max_x", "min_x", "scale_xyz")

    def __init__(
        self,
        znear: Any = 1.0,
        zfar: Any = 100.0,
        max_y: Any = 1.0,
        min_y: Any = -1.0,
        max_x: Any = 1.0,
        min_x: Any = -1.0,
        scale_xyz: Any = ((1.0, 1.0, 1.0),),
        R: torch.Tensor = _R,
        T: torch.Tensor = _T,
        K: torch.Tensor | None = None,
        device: Device = "cpu",
    ) -> None:
        _check_box_params(type(self).__name__, znear, zfar, max_x, min_x, max_y, min_y)
        super().__init__(
            dtype=_float_dtype(R, T),
            device=device,
            znear=znear,
            zfar=zfar,
            max_y=max_y,
            min_y=min_y,
            max_x=max_x,
            min_x=min_x,
            scale_xyz=scale_xyz,
            R=R,
            T=T,
            K=K,
        )
        if self.scale_xyz.dim() != 2 or self.scale_xyz.shape[1] != 3:
            raise ValueError(f"scale_xyz must have shape (N, 3); got {tuple(self.scale_xyz.shape)}")
        self._check_pose()

    _PROJECTION_PARAMS = ("znear", "zfar", "max_x", "min_x", "max_y", "min_y", "scale_xyz")

    def compute_projection_matrix(
        self, znear: Any, zfar: Any, max_x: Any, min_x: Any, max_y: Any, min_y: Any, scale_xyz: Any
    ) -> torch.Tensor:
        """The (N, 4, 4) orthographic projection matrix (column-vector layout); depth znear -> 0, zfar -> 1.

        Raises:
            ValueError: znear >= zfar or an empty view box (max_x == min_x, max_y == min_y), as for the FoV camera.
        """
        _check_box_params(type(self).__name__, znear, zfar, max_x, min_x, max_y, min_y)
        n, device = self._N, self.device
        dtype = _float_dtype(self.R, znear, zfar, max_x, min_x, max_y, min_y, scale_xyz)
        znear, zfar, max_x, min_x, max_y, min_y = (
            _as_batch(v, n, dtype, device, name)
            for v, name in zip(
                (znear, zfar, max_x, min_x, max_y, min_y), ("znear", "zfar", "max_x", "min_x", "max_y", "min_y")
            )
        )
        scale_xyz = _as_batch(scale_xyz, n, dtype, device, "scale_xyz")
        K = torch.zeros((n, 4, 4), dtype=dtype, device=device)
        K[:, 0, 0] = (2.0 / (max_x - min_x)) * scale_xyz[:, 0]
        K[:, 1, 1] = (2.0 / (max_y - min_y)) * scale_xyz[:, 1]
        K[:, 0, 3] = -(max_x + min_x) / (max_x - min_x)
        K[:, 1, 3] = -(max_y + min_y) / (max_y - min_y)
        K[:, 3, 3] = 1.0
        K[:, 2, 2] = (1.0 / (zfar - znear)) * scale_xyz[:, 2]
        K[:, 2, 3] = -znear / (zfar - znear)
        return K

    def unproject_points(
        self,
        xy_depth: torch.Tensor,
        world_coordinates: bool = True,
        scaled_depth_input: bool = False,
        **kwargs: Any,
    ) -> torch.Tensor:
        """NDC x, y plus view depth (or NDC depth with ``scaled_depth_input``) -> world (or view) points."""
        _check_xy_depth(xy_depth)
        if world_coordinates:
            to_ndc = self.get_full_projection_transform(**kwargs)
        else:
            to_ndc = self.get_projection_transform(**kwargs)
        if scaled_depth_input:
            xy_sdepth = xy_depth
        else:
            K = self.get_projection_transform(**kwargs).get_matrix()
            xy_depth, scale_z = _per_camera(xy_depth, K[:, 2, 2])
            _, mid_z = _per_camera(xy_depth, K[:, 3, 2])
            xy_sdepth = torch.cat((xy_depth[..., :2], scale_z * xy_depth[..., 2:3] + mid_z), dim=-1)
        return to_ndc.inverse().transform_points(xy_sdepth)

    def is_perspective(self) -> bool:
        return False

    def in_ndc(self) -> bool:
        return True


# ----------------------------------------------------------------------------------------------------------------
# Cameras given by focal length and principal point (multi-view geometry / SfM style)


def _get_sfm_calibration_matrix(
    N: int, device: Device, focal_length: Any, principal_point: Any, orthographic: bool = False
) -> torch.Tensor:
    """The (N, 4, 4) projection matrix (column-vector layout) of focal lengths and principal points.

    Perspective: ``(fx x / z + px, fy y / z + py, 1 / z)``; orthographic: ``(fx x + px, fy y + py, z)``.

    Args:
        focal_length: scalar, (N,), (N, 1) or (N, 2).
        principal_point: (N, 2) or (N, 2, 1).
    """
    device = torch.device(device) if not isinstance(device, torch.device) else device
    dtype = _float_dtype(focal_length, principal_point)
    if not torch.is_tensor(focal_length):
        focal_length = torch.tensor(focal_length, dtype=dtype, device=device)
    if not torch.is_tensor(principal_point):
        principal_point = torch.tensor(principal_point, dtype=dtype, device=device)
    dtype = _float_dtype(focal_length, principal_point)
    focal_length = focal_length.to(device=device, dtype=dtype)
    principal_point = principal_point.to(device=device, dtype=dtype)
    if focal_length.dim() in (0, 1) or focal_length.shape[1] == 1:
        fx = fy = focal_length.reshape(-1)
    else:
        fx, fy = focal_length.unbind(1)
    if principal_point.dim() == 1:
        principal_point = principal_point[None]
    if principal_point.dim() == 3 and principal_point.shape[-1] == 1:  # (N, 2, 1) column vectors
        principal_point = principal_point[..., 0]
    px, py = principal_point.unbind(1)
    K = torch.zeros((N, 4, 4), dtype=dtype, device=device)
    K[:, 0, 0] = fx
    K[:, 1, 1] = fy
    if orthographic:
        K[:, 0, 3] = px
        K[:, 1, 3] = py
        K[:, 2, 2] = 1.0
        K[:, 3, 3] = 1.0
    else:
        K[:, 0, 2] = px
        K[:, 1, 2] = py
        K[:, 3, 2] = 1.0
        K[:, 2, 3] = 1.0
    return K


class _SfMCameras(CamerasBase):
    """Shared code of ``PerspectiveCameras`` and ``OrthographicCameras``."""

    _FIELDS = ("K", "R", "T", "focal_length", "principal_point", "_in_ndc", "image_size")
    _SHARED_FIELDS = ("_in_ndc",)
    _ORTHOGRAPHIC = False

    def __init__(
        self,
        focal_length: Any = 1.0,
        principal_point: Any = ((0.0, 0.0),),
        R: torch.Tensor = _R,
        T: torch.Tensor = _T,
        K: torch.Tensor | None = None,
        device: Device = "cpu",
        in_ndc: bool = True,
        image_size: Any = None,
    ) -> None:
        if image_size is not None and _is_flat_pair(image_size):
            image_size = [list(image_size.tolist() if torch.is_tensor(image_size) else image_size)]  # (H, W) -> (1, 2)
        extra = {"image_size": image_size} if image_size is not None else {}
        _check_sfm_params(type(self).__name__, focal_length, principal_point)
        super().__init__(
            dtype=_float_dtype(R, T),
            device=device,
            focal_length=focal_length,
            principal_point=principal_point,
            R=R,
            T=T,
            K=K,
            _in_ndc=in_ndc,
            **extra,
        )
        if image_size is not None:
            if self.image_size.dim() != 2 or self.image_size.shape[1] != 2:
                raise ValueError(f"image_size must be (height, width) or (N, 2); got {tuple(self.image_size.shape)}")
            if (self.image_size < 1).any():
                raise ValueError("Image_size provided has invalid values")
        else:
            self.image_size = None
        if self.focal_length.dim() == 1:  # (N,) -> (N, 1)
            self.focal_length = self.focal_length[:, None]
        if self.focal_length.dim() != 2 or self.focal_length.shape[1] not in (1, 2):
            shape = tuple(self.focal_length.shape)
            raise ValueError(f"focal_length must be a scalar, (N,), (N, 1) or (N, 2); got {shape}")
        self.focal_length = self.focal_length.expand(-1, 2)  # (N, 2)
        if self.principal_point.dim() == 3 and self.principal_point.shape[1:] == (2, 1):  # (N, 2, 1), as PyTorch3D
            self.principal_point = self.principal_point[..., 0]
        if self.principal_point.dim() != 2 or self.principal_point.shape[1] != 2:
            raise ValueError(f"principal_point must have shape (N, 2); got {tuple(self.principal_point.shape)}")
        self._check_pose()

    _PROJECTION_PARAMS = ("focal_length", "principal_point")

    def compute_projection_matrix(self, focal_length: torch.Tensor, principal_point: torch.Tensor) -> torch.Tensor:
        """(N, 4, 4) view -> NDC (or screen for ``in_ndc=False``) matrix from focal lengths and principal points."""
        _check_sfm_params(type(self).__name__, focal_length, principal_point)
        return _get_sfm_calibration_matrix(
            self._N, self.device, focal_length, principal_point, orthographic=self._ORTHOGRAPHIC
        )

    def get_principal_point(self, **kwargs: Any) -> torch.Tensor:
        """Principal points (N, 2) read from the projection matrix (so ``K`` overrides count)."""
        proj = self.get_projection_transform(**kwargs).get_matrix()
        return proj[:, 3, :2] if self._ORTHOGRAPHIC else proj[:, 2, :2]

    def get_ndc_camera_transform(self, **kwargs: Any) -> Transform3d:
        """Projection space -> NDC. For screen-space cameras the principal point is given in image axes
        (+X right, +Y down) while points are in PyTorch3D axes, so it is mirrored before the screen -> NDC
        scaling."""
        if self.in_ndc():
            return Transform3d(device=self.device, dtype=self._dtype())
        pp = self.get_principal_point(**kwargs)  # (N, 2)
        fix = torch.eye(4, dtype=pp.dtype, device=pp.device).repeat(self._N, 1, 1)
        fix[:, 3, :2] = -2.0 * pp  # row-vector layout: translation in the last row
        image_size = kwargs.get("image_size", self.get_image_size())
        to_ndc = get_screen_to_ndc_transform(self, with_xyflip=False, image_size=image_size)
        return Transform3d(matrix=fix, device=self.device).compose(to_ndc)

    def _unproject(self, xy_depth: torch.Tensor, world_coordinates: bool, from_ndc: bool, **kwargs: Any):
        _check_xy_depth(xy_depth)
        if world_coordinates:
            to_camera = self.get_full_projection_transform(**kwargs)
        else:
            to_camera = self.get_projection_transform(**kwargs)
        if from_ndc:
            to_camera = to_camera.compose(self.get_ndc_camera_transform(**kwargs))
        if not self._ORTHOGRAPHIC:
            xy_depth = torch.cat((xy_depth[..., :2], 1.0 / xy_depth[..., 2:3]), dim=-1)
        return to_camera.inverse().transform_points(xy_depth)

    def in_ndc(self) -> bool:
        return bool(self._in_ndc)


class PerspectiveCameras(_SfMCameras):
    """Pinhole cameras given by focal length and principal point (PyTorch3D's PerspectiveCameras).

    In NDC (``in_ndc=True``, default) the projection is ``x_ndc = fx x / z + px``, ``y_ndc = fy y / z + py``
    with focal length and principal point in NDC units; in screen space (``in_ndc=False``) they are in pixels,
    the principal point in image axes (+X right, +Y down), and ``image_size`` is needed. The third output
    coordinate of ``transform_points`` is the inverse depth 1 / z.

    Args:
        focal_length: scalar, (N,), (N, 1) or (N, 2) (fx, fy).
        principal_point: (N, 2) (px, py), or (N, 2, 1).
        R, T, K, device: as for ``FoVPerspectiveCameras``.
        in_ndc: whether the parameters are in NDC (True) or screen space (False).
        image_size: (height, width) or (N, 2); needed for screen space and screen output.
    """

    _ORTHOGRAPHIC = False

    def unproject_points(
        self, xy_depth: torch.Tensor, world_coordinates: bool = True, from_ndc: bool = False, **kwargs: Any
    ) -> torch.Tensor:
        """(x, y, depth) -> world (or view) points.

        Args:
            xy_depth: (P, 3) or (N, P, 3): x, y in the camera's projection space (NDC, or screen for
                ``in_ndc=False`` unless ``from_ndc``) and view-space depth z.
            world_coordinates: world points (True) or view-space points (False).
            from_ndc: x, y are in NDC even for a screen-space camera.
        """
        return self._unproject(xy_depth, world_coordinates, from_ndc, **kwargs)

    def is_perspective(self) -> bool:
        return True


class OrthographicCameras(_SfMCameras):
    """Orthographic cameras given by focal length (scale) and principal point (PyTorch3D's OrthographicCameras).

    The projection is ``x_ndc = fx x + px``, ``y_ndc = fy y + py``, depth z unchanged; otherwise as
    ``PerspectiveCameras``.
    """

    _ORTHOGRAPHIC = True

    def unproject_points(
        self, xy_depth: torch.Tensor, world_coordinates: bool = True, from_ndc: bool = False, **kwargs: Any
    ) -> torch.Tensor:
        """(x, y, depth) -> world (or view) points; arguments as for ``PerspectiveCameras.unproject_points``."""
        return self._unproject(xy_depth, world_coordinates, from_ndc, **kwargs)

    def is_perspective(self) -> bool:
        return False


# ----------------------------------------------------------------------------------------------------------------
# helpers


def _is_flat_pair(value: Any) -> bool:
    """Whether ``value`` is one (height, width) pair rather than a batch of them."""
    if torch.is_tensor(value) or isinstance(value, np.ndarray):
        return value.ndim == 1 and value.shape[0] == 2
    return isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)


def _check_xy_depth(xy_depth: torch.Tensor) -> None:
    if not torch.is_tensor(xy_depth) or xy_depth.dim() not in (2, 3) or xy_depth.shape[-1] != 3:
        shape = tuple(xy_depth.shape) if torch.is_tensor(xy_depth) else type(xy_depth).__name__
        raise ValueError(f"xy_depth must have shape (P, 3) or (N, P, 3); got {shape}")


def _per_camera(points: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Reshapes per-camera ``values`` (N,) to broadcast against ``points`` (P, 3) or (N, P, 3).

    Returns ``points`` (expanded to (N, P, 3) when it is (P, 3) and N > 1) and ``values`` as (N, 1, 1) or (1, 1).
    """
    n = values.shape[0]
    if points.dim() == 2:
        if n == 1:
            return points, values.reshape(1, 1)
        points = points.expand(n, -1, -1)
    return points, values.reshape(n, 1, 1)


def get_ndc_to_screen_transform(
    cameras: CamerasBase, with_xyflip: bool = False, image_size: Any = None
) -> Transform3d:
    """The NDC -> screen transform: the shorter image side's [-1, 1] maps to [0, min(H, W)], centred.

    ``x_screen = W / 2 - s x_ndc``, ``y_screen = H / 2 - s y_ndc`` with ``s = min(H, W) / 2`` when
    ``with_xyflip`` (the usual image axes); without the flip the signs of x and y are kept
    (``s x_ndc - W / 2``). Depth is unchanged.

    Args:
        cameras: gives the batch size N, device and dtype.
        image_size: (height, width), or (N, 2).
    """
    n = cameras._N
    dtype = cameras._dtype()
    size = _image_size_tensor(image_size, n, cameras.device, dtype)
    height, width = size.unbind(1)
    scale = size.min(dim=1).values / 2.0
    M = torch.zeros((n, 4, 4), dtype=dtype, device=cameras.device)  # row-vector layout
    M[:, 0, 0] = scale
    M[:, 1, 1] = scale
    M[:, 2, 2] = 1.0
    M[:, 3, 3] = 1.0
    M[:, 3, 0] = -width / 2.0
    M[:, 3, 1] = -height / 2.0
    if with_xyflip:
        M[:, :, :2] = -M[:, :, :2]
    return Transform3d(matrix=M, device=cameras.device)


def get_screen_to_ndc_transform(
    cameras: CamerasBase, with_xyflip: bool = False, image_size: Any = None
) -> Transform3d:
    """Inverse of ``get_ndc_to_screen_transform``."""
    return get_ndc_to_screen_transform(cameras, with_xyflip=with_xyflip, image_size=image_size).inverse()


def get_world_to_view_transform(R: torch.Tensor = _R, T: torch.Tensor = _T) -> Transform3d:
    """The world -> view transform ``X_view = X_world @ R + T``.

    Args:
        R: (N, 3, 3) rotations; T: (N, 3) translations (batch sizes equal).
    Returns:
        a ``Transform3d`` of batch size N.
    """
    if not torch.is_tensor(R) or R.dim() != 3 or R.shape[1:] != (3, 3):
        raise ValueError(f"Expected R to have shape (N, 3, 3); got {tuple(getattr(R, 'shape', ()))}")
    if not torch.is_tensor(T) or T.dim() != 2 or T.shape[1] != 3:
        raise ValueError(f"Expected T to have shape (N, 3); got {tuple(getattr(T, 'shape', ()))}")
    if T.shape[0] != R.shape[0]:
        raise ValueError(f"Expected R, T to have the same batch dimension; got {R.shape[0]}, {T.shape[0]}")
    return Rotate(R, device=R.device).compose(Translate(T, device=T.device))


def camera_position_from_spherical_angles(
    distance: Any, elevation: Any, azimuth: Any, degrees: bool = True, device: Device = "cpu"
) -> torch.Tensor:
    """Camera positions on spheres around the origin.

    ``(dist cos(elev) sin(azim), dist sin(elev), dist cos(elev) cos(azim))``: azimuth 0 and elevation 0 put the
    camera on +Z; elevation turns towards +Y, azimuth from +Z towards +X.

    Args:
        distance, elevation, azimuth: scalars or (N,) each (broadcast).
        degrees: whether the angles are in degrees.
    Returns:
        (N, 3).
    """
    dist, elev, azim = convert_to_tensors_and_broadcast(distance, elevation, azimuth, device=device)
    if degrees:
        elev = elev * (math.pi / 180.0)
        azim = azim * (math.pi / 180.0)
    x = dist * torch.cos(elev) * torch.sin(azim)
    y = dist * torch.sin(elev)
    z = dist * torch.cos(elev) * torch.cos(azim)
    return torch.stack((x, y, z), dim=1).view(-1, 3)


def look_at_rotation(
    camera_position: Any, at: Any = ((0, 0, 0),), up: Any = ((0, 1, 0),), device: Device = "cpu"
) -> torch.Tensor:
    """World-to-view rotations of cameras at ``camera_position`` looking at ``at`` with ``up`` upwards.

    The columns of R are the camera's x (left), y (up) and z (forward) axes in world coordinates.

    Args:
        camera_position, at, up: (3,) / (1, 3) / (N, 3) each (broadcast).
    Returns:
        (N, 3, 3).
    """
    camera_position, at, up = convert_to_tensors_and_broadcast(camera_position, at, up, device=device)
    for t, name in ((camera_position, "camera_position"), (at, "at"), (up, "up")):
        if t.dim() != 2 or t.shape[-1] != 3:
            raise ValueError(f"Expected {name} to have shape (N, 3); got {tuple(t.shape)}")
    dtype = _float_dtype(camera_position, at, up)
    camera_position, at, up = camera_position.to(dtype), at.to(dtype), up.to(dtype)
    z_axis = F.normalize(at - camera_position, eps=1e-5)
    x_axis = F.normalize(torch.cross(up, z_axis, dim=1), eps=1e-5)
    y_axis = F.normalize(torch.cross(z_axis, x_axis, dim=1), eps=1e-5)
    # Looking along `up`: x is undefined, pick it from y and z.
    is_close = (x_axis.abs() <= 5e-3).all(dim=1, keepdim=True)
    if is_close.any():
        replacement = F.normalize(torch.cross(y_axis, z_axis, dim=1), eps=1e-5)
        x_axis = torch.where(is_close, replacement, x_axis)
        # Exactly along `up` the replacement vanishes too: take x perpendicular to `up` (the limit of
        # azimuth 0 for up = +Y: x = -X), then y from z and x.
        still = x_axis.norm(dim=1, keepdim=True) < 0.5
        if still.any():
            eye = torch.eye(3, dtype=dtype, device=up.device)
            least_aligned = eye[(up.abs() + torch.tensor([0.0, 0.0, -1e-6], dtype=dtype, device=up.device)).argmin(1)]
            fallback = F.normalize(torch.cross(least_aligned, up, dim=1), eps=1e-5)
            x_axis = torch.where(still, fallback, x_axis)
            y_axis = torch.where(still, F.normalize(torch.cross(z_axis, x_axis, dim=1), eps=1e-5), y_axis)
    R = torch.stack((x_axis, y_axis, z_axis), dim=1)  # rows: camera axes
    return R.transpose(1, 2)


def look_at_view_transform(
    dist: Any = 1.0,
    elev: Any = 0.0,
    azim: Any = 0.0,
    degrees: bool = True,
    eye: Any = None,
    at: Any = ((0, 0, 0),),
    up: Any = ((0, 1, 0),),
    device: Device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """The pose (R, T) of cameras looking at ``at``, placed by spherical angles or by ``eye``.

    The camera centre is ``at + (dist cos(elev) sin(azim), dist sin(elev), dist cos(elev) cos(azim))`` unless
    ``eye`` is given; e.g. ``look_at_view_transform(2.7, 0, 0)`` gives ``R = diag(-1, 1, -1)``,
    ``T = (0, 0, 2.7)``.

    Args:
        dist, elev, azim: scalars or (N,) (broadcast); angles in degrees if ``degrees``.
        eye: optional (N, 3) camera positions, overriding dist/elev/azim.
        at, up: (N, 3) or (1, 3).
    Returns:
        R: (N, 3, 3), T: (N, 3), with ``X_view = X_world @ R + T``.
    """
    if eye is not None:
        eye, at, up = convert_to_tensors_and_broadcast(eye, at, up, device=device)
        C = eye
    else:
        dist, elev, azim, at, up = convert_to_tensors_and_broadcast(dist, elev, azim, at, up, device=device)
        C = camera_position_from_spherical_angles(dist, elev, azim, degrees=degrees, device=device) + at
    R = look_at_rotation(C, at, up, device=device)
    T = -torch.bmm(R.transpose(1, 2), C[:, :, None])[:, :, 0]
    return R, T



# PyTorch3D also has these names in renderer.cameras (the first four deprecated); they live in cameras_compat.py.
from inverse3d.renderer.cameras_compat import (  # noqa: E402
    OpenGLOrthographicCameras,
    OpenGLPerspectiveCameras,
    SfMOrthographicCameras,
    SfMPerspectiveCameras,
    try_get_projection_transform,
)
