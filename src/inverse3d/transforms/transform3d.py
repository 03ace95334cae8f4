"""Batched 3D transforms as 4x4 matrices acting on row vectors (PyTorch3D's ``Transform3d``).

A point ``p`` (a row vector) maps to ``[p, 1] @ M`` followed by the homogeneous divide, so the translation sits in
the last row, ``M[:, 3, :3]``, and ``a.compose(b)`` applies ``a`` first, then ``b`` (matrix ``M_a @ M_b``).
Composition is lazy: a ``Transform3d`` keeps its own matrix plus the list of transforms composed after it, and
``get_matrix()`` multiplies them, so gradients flow to every parameter that built them.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch

from inverse3d.transforms.rotation_conversions import _axis_angle_rotation

Device = str | torch.device


def _make_device(device: Device) -> torch.device:
    device = torch.device(device) if not isinstance(device, torch.device) else device
    if device.type == "cuda" and device.index is None:
        device = torch.device(f"cuda:{torch.cuda.current_device()}")
    return device


def _get_device(x: Any, device: Device | None = None) -> torch.device:
    """``device`` if given, else the device of tensor ``x``, else the CPU."""
    if device is not None:
        return _make_device(device)
    if torch.is_tensor(x):
        return x.device
    return torch.device("cpu")


def _broadcast_bmm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Batched ``a @ b`` where a batch size of 1 broadcasts; mixed dtypes are promoted.

    Args:
        a: (M, i, j) or (i, j).
        b: (N, j, k) or (j, k); M and N must be equal or one of them 1.
    Returns:
        (max(M, N), i, k).
    """
    if a.dim() == 2:
        a = a[None]
    if b.dim() == 2:
        b = b[None]
    if len(a) != len(b):
        if len(a) != 1 and len(b) != 1:
            raise ValueError(f"Expected batch dim for bmm to be equal or 1; got {tuple(a.shape)}, {tuple(b.shape)}")
        n = max(len(a), len(b))
        a = a.expand(n, -1, -1)
        b = b.expand(n, -1, -1)
    if a.dtype != b.dtype:
        dtype = torch.promote_types(a.dtype, b.dtype)
        a, b = a.to(dtype), b.to(dtype)
    return a.bmm(b)


class Transform3d:
    """A batch of N 3D transforms stored as (N, 4, 4) matrices for row vectors.

    Args:
        dtype: dtype of the identity matrix made when ``matrix`` is None.
        device: its device.
        matrix: optional (N, 4, 4) or (4, 4) matrix; its dtype and device then win.

    Example:
        ``Transform3d().scale(2.0).translate(0, 0, 1).transform_points(pts)`` scales first, then translates.
    """

    def __init__(
        self,
        dtype: torch.dtype = torch.float32,
        device: Device = "cpu",
        matrix: torch.Tensor | None = None,
    ) -> None:
        if matrix is None:
            self._matrix = torch.eye(4, dtype=dtype, device=device).view(1, 4, 4)
        else:
            if not torch.is_tensor(matrix) or matrix.ndim not in (2, 3):
                raise ValueError('"matrix" has to be a 2- or a 3-dimensional tensor.')
            if matrix.shape[-2] != 4 or matrix.shape[-1] != 4:
                shape = tuple(matrix.shape)
                raise ValueError(f'"matrix" has to be a tensor of shape (minibatch, 4, 4) or (4, 4); got {shape}')
            dtype = matrix.dtype
            device = matrix.device
            self._matrix = matrix.view(-1, 4, 4)
        self._transforms: list[Transform3d] = []
        self._lu = None
        self.device = _make_device(device)
        self.dtype = dtype

    # ---------------------------------------------------------------------------------------------------------
    # batch

    def __len__(self) -> int:
        return self.get_matrix().shape[0]

    def __getitem__(self, index: int | slice | Sequence[int] | torch.Tensor) -> "Transform3d":
        """The transforms at ``index`` (int, slice, list of ints, long or bool tensor) as a new Transform3d.

        ``Translate``, ``Scale`` and ``Rotate`` (and ``RotateAxisAngle``, which gives a ``Rotate``) keep their class.
        The matrices are not cloned.
        """
        return Transform3d(matrix=self._indexed_matrix(index))

    def _indexed_matrix(self, index: int | slice | Sequence[int] | torch.Tensor) -> torch.Tensor:
        """(M, 4, 4) rows ``index`` of ``get_matrix()``; an int keeps the batch dimension."""
        if isinstance(index, int):
            index = [index]
        return self.get_matrix()[index]

    def stack(self, *others: "Transform3d") -> "Transform3d":
        """Concatenates the batches of ``self`` and ``others`` (matrices evaluated now) into one Transform3d."""
        for other in others:
            if not isinstance(other, Transform3d):
                raise ValueError(f"Only possible to stack Transform3d objects; got {type(other).__name__}")
        matrices = [t.get_matrix() for t in (self, *others)]
        dtype = matrices[0].dtype
        for m in matrices[1:]:
            dtype = torch.promote_types(dtype, m.dtype)
        out = Transform3d(dtype=dtype, device=self.device)
        out._matrix = torch.cat([m.to(dtype=dtype, device=self.device) for m in matrices], 0)
        return out

    # ---------------------------------------------------------------------------------------------------------
    # composition

    def compose(self, *others: "Transform3d") -> "Transform3d":
        """A new transform applying ``self`` first, then each of ``others`` in order.

        Batch sizes must be equal or 1 (which broadcasts).
        """
        out = Transform3d(dtype=self.dtype, device=self.device)
        out._matrix = self._matrix.clone()
        for other in others:
            if not isinstance(other, Transform3d):
                raise ValueError(f"Only possible to compose Transform3d objects; got {type(other).__name__}")
        out._transforms = self._transforms + list(others)
        return out

    def get_matrix(self) -> torch.Tensor:
        """The (N, 4, 4) matrix of the whole composed transform (row-vector convention)."""
        composed = self._matrix.clone()
        for other in self._transforms:
            composed = _broadcast_bmm(composed, other.get_matrix())
        return composed

    def get_se3_log(self, eps: float = 1e-4, cos_bound: float = 1e-4) -> torch.Tensor:
        """The SE(3) logarithms ``[log_translation | log_rotation]`` of the composed matrices, see ``se3_log_map``.

        Args:
            eps, cos_bound: as for ``se3_log_map``.
        Returns:
            (N, 6).
        Raises:
            ValueError: a matrix is not a rigid transform for row vectors (its last column is not (0, 0, 0, 1)).
        """
        from inverse3d.transforms.se3 import se3_log_map

        return se3_log_map(self.get_matrix(), eps=eps, cos_bound=cos_bound)

    def _get_matrix_inverse(self) -> torch.Tensor:
        """Inverse of this transform's own matrix (subclasses give exact closed forms)."""
        return torch.inverse(self._matrix)

    def inverse(self, invert_composed: bool = False) -> "Transform3d":
        """The inverse transform.

        Translations, rotations and scales invert exactly in closed form; a general matrix uses
        ``torch.inverse``.

        Args:
            invert_composed: if True, invert the composed matrix in one go; if False (default), invert each
                part in closed form where possible and compose them in reverse order.
        """
        tinv = Transform3d(dtype=self.dtype, device=self.device)
        if invert_composed:
            tinv._matrix = torch.inverse(self.get_matrix())
            return tinv
        i_matrix = self._get_matrix_inverse()
        if self._transforms:
            last = Transform3d(dtype=self.dtype, device=self.device)
            last._matrix = i_matrix
            tinv._transforms = [t.inverse() for t in reversed(self._transforms)] + [last]
        else:
            tinv._matrix = i_matrix
        return tinv

    def translate(self, *args: Any, **kwargs: Any) -> "Transform3d":
        """``self`` followed by ``Translate(*args, **kwargs)``."""
        return self.compose(Translate(*args, device=self.device, dtype=self.dtype, **kwargs))

    def scale(self, *args: Any, **kwargs: Any) -> "Transform3d":
        """``self`` followed by ``Scale(*args, **kwargs)``."""
        return self.compose(Scale(*args, device=self.device, dtype=self.dtype, **kwargs))

    def rotate(self, *args: Any, **kwargs: Any) -> "Transform3d":
        """``self`` followed by ``Rotate(*args, **kwargs)``."""
        return self.compose(Rotate(*args, device=self.device, dtype=self.dtype, **kwargs))

    def rotate_axis_angle(self, *args: Any, **kwargs: Any) -> "Transform3d":
        """``self`` followed by ``RotateAxisAngle(*args, **kwargs)``."""
        return self.compose(RotateAxisAngle(*args, device=self.device, dtype=self.dtype, **kwargs))

    # ---------------------------------------------------------------------------------------------------------
    # applying

    def transform_points(self, points: torch.Tensor, eps: float | None = None) -> torch.Tensor:
        """Applies the transform to points, with the homogeneous divide.

        Args:
            points: (P, 3) or (N, P, 3); batch sizes of 1 broadcast.
            eps: if given, the homogeneous coordinate w is clamped to |w| >= eps (keeping its sign, 0 counted
                positive) before dividing, which keeps points near a camera plane finite.
        Returns:
            (P, 3) when ``points`` is (P, 3) and the transform has batch size 1, else (max(N, M), P, 3).
        """
        if not torch.is_tensor(points) or points.dim() not in (2, 3) or points.shape[-1] != 3:
            shape = tuple(points.shape) if torch.is_tensor(points) else type(points).__name__
            raise ValueError(f"Expected points to have shape (P, 3) or (N, P, 3); got {shape}")
        batch = points if points.dim() == 3 else points[None]
        matrix = self.get_matrix()
        if matrix.dtype != batch.dtype:
            dtype = torch.promote_types(matrix.dtype, batch.dtype)
            matrix, batch = matrix.to(dtype), batch.to(dtype)
        if len(matrix) != len(batch):
            if len(matrix) != 1 and len(batch) != 1:
                raise ValueError(
                    f"Expected batch dim for points and transform to be equal or 1; got {len(batch)}, {len(matrix)}"
                )
            n = max(len(matrix), len(batch))
            matrix = matrix.expand(n, -1, -1)
            batch = batch.expand(n, -1, -1)
        # [p, 1] @ M  ==  p @ M[:3] + M[3]   (N, P, 4)
        out = torch.baddbmm(matrix[:, 3:4, :], batch, matrix[:, :3, :])
        denom = out[..., 3:]
        if eps is not None:
            sign = denom.sign() + (denom == 0.0).type_as(denom)
            denom = sign * torch.clamp(denom.abs(), eps)
        out = out[..., :3] / denom
        if out.shape[0] == 1 and points.dim() == 2:
            out = out.reshape(points.shape)
        return out

    def transform_normals(self, normals: torch.Tensor) -> torch.Tensor:
        """Applies the transform to normal vectors: multiplies by the inverse transpose of the 3x3 part.

        Args:
            normals: (P, 3) or (N, P, 3).
        Returns:
            same layout as ``transform_points``; not re-normalised.
        """
        if not torch.is_tensor(normals) or normals.dim() not in (2, 3) or normals.shape[-1] != 3:
            shape = tuple(normals.shape) if torch.is_tensor(normals) else type(normals).__name__
            raise ValueError(f"Expected normals to have shape (P, 3) or (N, P, 3); got {shape}")
        mat = self.get_matrix()[:, :3, :3]
        out = _broadcast_bmm(normals, mat.transpose(1, 2).inverse())
        if out.shape[0] == 1 and normals.dim() == 2:
            out = out.reshape(normals.shape)
        return out

    # ---------------------------------------------------------------------------------------------------------
    # copies and devices

    def clone(self) -> "Transform3d":
        """A deep copy (matrices cloned, so gradients still flow to the originals' inputs)."""
        other = Transform3d(dtype=self.dtype, device=self.device)
        if self._lu is not None:
            other._lu = [x.clone() for x in self._lu]
        other._matrix = self._matrix.clone()
        other._transforms = [t.clone() for t in self._transforms]
        return other

    def to(self, device: Device, copy: bool = False, dtype: torch.dtype | None = None) -> "Transform3d":
        """This transform on ``device`` (and ``dtype``); returns ``self`` when nothing changes and not ``copy``."""
        device_ = _make_device(device)
        dtype_ = self.dtype if dtype is None else dtype
        unchanged = self.device == device_ and self.dtype == dtype_
        if unchanged and not copy:
            return self
        other = self.clone()
        if unchanged:
            return other
        other.device = device_
        other.dtype = dtype_
        other._matrix = other._matrix.to(device=device_, dtype=dtype_)
        other._transforms = [t.to(device_, copy=copy, dtype=dtype_) for t in other._transforms]
        return other

    def cpu(self) -> "Transform3d":
        return self.to("cpu")

    def cuda(self) -> "Transform3d":
        return self.to("cuda")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(N={len(self)}, dtype={self.dtype}, device={self.device})"


def _handle_coord(c: Any, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A scalar or 1-D value as a 1-D tensor on ``device`` with ``dtype``."""
    if not torch.is_tensor(c):
        c = torch.tensor(c, dtype=dtype, device=device)
    if c.dim() == 0:
        c = c.view(1)
    if c.dim() != 1:
        raise ValueError(f"Expected a scalar or 1-D coordinate; got shape {tuple(c.shape)}")
    if c.device != device or c.dtype != dtype:
        c = c.to(device=device, dtype=dtype)
    return c


def _resolve_dtype(x: Any, dtype: torch.dtype | None) -> torch.dtype:
    """``dtype`` if given, else the dtype of a floating tensor ``x``, else float32."""
    if dtype is not None:
        return dtype
    if torch.is_tensor(x) and x.is_floating_point():
        return x.dtype
    return torch.float32


def _handle_input(
    x: Any, y: Any, z: Any, dtype: torch.dtype, device: Device | None, name: str, allow_singleton: bool = False
) -> torch.Tensor:
    """Turns ``x`` (an (N, 3) tensor) or ``x, y, z`` (scalars or (N,) each, broadcast) into an (N, 3) tensor."""
    device_ = _get_device(x, device)
    if torch.is_tensor(x) and x.dim() == 2:
        if x.shape[1] != 3:
            raise ValueError(f"Expected tensor of shape (N, 3); got {tuple(x.shape)} (in {name})")
        if y is not None or z is not None:
            raise ValueError(f"Expected y and z to be None when x is an (N, 3) tensor (in {name})")
        return x.to(device=device_, dtype=dtype)
    if allow_singleton and y is None and z is None:
        y = z = x
    if y is None or z is None:
        raise ValueError(f"Expected x, y and z, or one (N, 3) tensor x (in {name})")
    xyz = [_handle_coord(c, dtype, device_) for c in (x, y, z)]
    sizes = [c.shape[0] for c in xyz]
    n = max(sizes)
    for c in xyz:
        if c.shape[0] != 1 and c.shape[0] != n:
            raise ValueError(f"Got non-broadcastable sizes {sizes} (in {name})")
    return torch.stack([c.expand(n) for c in xyz], dim=1)


class Translate(Transform3d):
    """Translation by ``(x, y, z)``.

    Args:
        x: an (N, 3) tensor of offsets, or the x offsets (scalar or (N,)) with ``y`` and ``z`` given likewise.
        dtype: defaults to the dtype of a floating tensor ``x``, else float32.
        device: defaults to the device of ``x``.
    """

    def __init__(
        self,
        x: Any,
        y: Any = None,
        z: Any = None,
        dtype: torch.dtype | None = None,
        device: Device | None = None,
    ) -> None:
        dtype = _resolve_dtype(x, dtype)
        xyz = _handle_input(x, y, z, dtype, device, "Translate")
        super().__init__(device=xyz.device, dtype=dtype)
        mat = torch.eye(4, dtype=dtype, device=xyz.device).repeat(xyz.shape[0], 1, 1)
        mat[:, 3, :3] = xyz
        self._matrix = mat

    def _get_matrix_inverse(self) -> torch.Tensor:
        inv_mask = self._matrix.new_ones(1, 4, 4)
        inv_mask[0, 3, :3] = -1.0
        return self._matrix * inv_mask

    def __getitem__(self, index: int | slice | Sequence[int] | torch.Tensor) -> "Translate":
        """The translations at ``index`` as a new ``Translate``."""
        return Translate(self._indexed_matrix(index)[:, 3, :3])


class Scale(Transform3d):
    """Scaling about the origin by ``(x, y, z)``; a single scalar or (N,) ``x`` scales uniformly.

    Args:
        x: an (N, 3) tensor of factors, a uniform factor (scalar or (N,)), or the x factors with ``y``, ``z``.
    """

    def __init__(
        self,
        x: Any,
        y: Any = None,
        z: Any = None,
        dtype: torch.dtype | None = None,
        device: Device | None = None,
    ) -> None:
        dtype = _resolve_dtype(x, dtype)
        xyz = _handle_input(x, y, z, dtype, device, "Scale", allow_singleton=True)
        super().__init__(device=xyz.device, dtype=dtype)
        n = xyz.shape[0]
        ones = xyz.new_ones(n, 1)
        self._matrix = torch.diag_embed(torch.cat((xyz, ones), 1))

    def _get_matrix_inverse(self) -> torch.Tensor:
        diag = torch.diagonal(self._matrix, dim1=1, dim2=2)
        return torch.diag_embed(1.0 / diag)

    def __getitem__(self, index: int | slice | Sequence[int] | torch.Tensor) -> "Scale":
        """The scalings at ``index`` as a new ``Scale``."""
        return Scale(torch.diagonal(self._indexed_matrix(index), dim1=1, dim2=2)[:, :3])


class Rotate(Transform3d):
    """Rotation by matrices ``R`` acting on row vectors: ``p' = p @ R``.

    Args:
        R: (N, 3, 3) or (3, 3). (For a column-vector rotation matrix M from ``rotation_conversions``, pass
            ``M.transpose(-1, -2)`` to rotate points by M.)
        orthogonal_tol: tolerance of the optional orthogonality check.
    """

    def __init__(
        self,
        R: torch.Tensor,
        dtype: torch.dtype | None = None,
        device: Device | None = None,
        orthogonal_tol: float = 1e-5,
    ) -> None:
        if not torch.is_tensor(R):
            raise ValueError(f"R must be a tensor of shape (N, 3, 3) or (3, 3); got {type(R).__name__}")
        device_ = _get_device(R, device)
        dtype = _resolve_dtype(R, dtype)
        super().__init__(device=device_, dtype=dtype)
        if R.dim() == 2:
            R = R[None]
        if R.dim() != 3 or R.shape[-2:] != (3, 3):
            raise ValueError(f"R must have shape (N, 3, 3) or (3, 3); got {tuple(R.shape)}")
        R = R.to(device=device_, dtype=dtype)
        n = R.shape[0]
        mat = torch.eye(4, dtype=dtype, device=device_).repeat(n, 1, 1)
        mat[:, :3, :3] = R
        self._matrix = mat

    def _get_matrix_inverse(self) -> torch.Tensor:
        return self._matrix.permute(0, 2, 1).contiguous()

    def __getitem__(self, index: int | slice | Sequence[int] | torch.Tensor) -> "Rotate":
        """The rotations at ``index`` as a new ``Rotate`` (also for a ``RotateAxisAngle``, which has no angle
        to rebuild from a matrix)."""
        return Rotate(self._indexed_matrix(index)[:, :3, :3])


class RotateAxisAngle(Rotate):
    """Rotation by ``angle`` about a coordinate axis, counter-clockwise looking down the axis towards the origin.

    Args:
        angle: scalar or (N,) angles.
        axis: "X", "Y" or "Z".
        degrees: whether ``angle`` is in degrees (default) or radians.
    """

    def __init__(
        self,
        angle: Any,
        axis: str = "X",
        degrees: bool = True,
        dtype: torch.dtype | None = None,
        device: Device | None = None,
    ) -> None:
        axis = axis.upper()
        if axis not in ("X", "Y", "Z"):
            raise ValueError(f"Expected axis to be one of ['X', 'Y', 'Z']; got {axis}")
        dtype = _resolve_dtype(angle, dtype)
        if torch.is_tensor(angle) and angle.dim() > 1:
            raise ValueError(f"Expected angle to be a scalar or 1-D tensor; got shape {tuple(angle.shape)}")
        angle = _handle_coord(angle, dtype, _get_device(angle, device))
        if degrees:
            angle = angle / 180.0 * math.pi
        # _axis_angle_rotation is for column vectors; transpose for the row-vector convention.
        R = _axis_angle_rotation(axis, angle).transpose(1, 2)
        super().__init__(R=R, device=angle.device, dtype=dtype)
