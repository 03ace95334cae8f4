"""Conversions between rotation representations, with PyTorch3D's names and conventions.

Conventions:
- Rotation matrices act on column vectors, ``v' = M @ v`` (the row-vector ``Transform3d`` uses ``M^T``).
- Quaternions are real part first, ``(w, x, y, z)``; ``q`` and ``-q`` are the same rotation.
- Axis-angle vectors point along the rotation axis with length equal to the angle in radians (right-hand rule).
- Euler angles ``(a0, a1, a2)`` for convention ``"ABC"`` mean ``M = R_A(a0) @ R_B(a1) @ R_C(a2)`` (intrinsic
  rotations about moving axes A, then B, then C). All 12 conventions are supported: the 6 Tait-Bryan ones
  ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX") and the 6 proper Euler ones ("XYX", "XZX", "YXY", "YZY", "ZXZ", "ZYZ").
- The 6D representation (Zhou et al., CVPR 2019) is the first two rows of the matrix; back to a matrix by
  Gram-Schmidt.

Every function accepts any number of leading batch dimensions ``...`` and is differentiable. As in PyTorch3D, the
public functions compile with ``torch.jit.script`` (so the code sticks to what TorchScript understands: no
``from __future__ import annotations``, shapes built with ``unflatten``/``flatten`` rather than tuple arithmetic).
"""

from typing import List, Optional, Union

import torch
import torch.nn.functional as F

Device = Union[str, torch.device]


def _check_last_dims(x: torch.Tensor, shape: List[int], name: str) -> None:
    """Raises ValueError unless ``x`` is a tensor whose trailing dimensions are ``shape``."""
    if not torch.jit.is_scripting():
        if not torch.is_tensor(x):
            raise ValueError(f"{name} must be a tensor, got {type(x).__name__}")
    n = len(shape)
    if x.dim() < n or list(x.shape[x.dim() - n :]) != shape:
        raise ValueError(f"{name} must have trailing dimensions {shape}, got shape {list(x.shape)}")


def _sqrt_positive_part(x: torch.Tensor) -> torch.Tensor:
    """sqrt(max(x, 0)) whose gradient is 0 (not NaN) where x <= 0."""
    out = torch.zeros_like(x)
    positive = x > 0
    out[positive] = torch.sqrt(x[positive])
    return out


def _copysign(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|a| with the sign of b, where b == 0 counts as positive. Shapes broadcast."""
    sign_differs = (a < 0) != (b < 0)
    return torch.where(sign_differs, -a, a)


# ----------------------------------------------------------------------------------------------------------------
# Quaternions


def standardize_quaternion(quaternions: torch.Tensor) -> torch.Tensor:
    """Returns the quaternion with non-negative real part (``q`` and ``-q`` are the same rotation).

    Args:
        quaternions: (..., 4), real part first.
    Returns:
        (..., 4) with ``w >= 0``.
    """
    _check_last_dims(quaternions, [4], "quaternions")
    return torch.where(quaternions[..., 0:1] < 0, -quaternions, quaternions)


def quaternion_raw_multiply(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product ``a * b`` without normalising or standardising.

    Args:
        a, b: (..., 4) quaternions, real part first; leading dims broadcast.
    Returns:
        (..., 4) the product.
    """
    _check_last_dims(a, [4], "a")
    _check_last_dims(b, [4], "b")
    aw, ax, ay, az = torch.unbind(a, -1)
    bw, bx, by, bz = torch.unbind(b, -1)
    ow = aw * bw - ax * bx - ay * by - az * bz
    ox = aw * bx + ax * bw + ay * bz - az * by
    oy = aw * by - ax * bz + ay * bw + az * bx
    oz = aw * bz + ax * by - ay * bx + az * bw
    return torch.stack((ow, ox, oy, oz), -1)


def quaternion_multiply(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The quaternion of the rotation ``a`` applied after ``b``, standardised (real part >= 0).

    Args:
        a, b: (..., 4) quaternions, real part first; leading dims broadcast.
    Returns:
        (..., 4).
    """
    return standardize_quaternion(quaternion_raw_multiply(a, b))


def quaternion_invert(quaternion: torch.Tensor) -> torch.Tensor:
    """The conjugate ``(w, -x, -y, -z)``: the inverse rotation of a unit quaternion.

    Args:
        quaternion: (..., 4), real part first.
    Returns:
        (..., 4).
    """
    _check_last_dims(quaternion, [4], "quaternion")
    sign = torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=quaternion.dtype, device=quaternion.device)
    return quaternion * sign


def quaternion_apply(quaternion: torch.Tensor, point: torch.Tensor) -> torch.Tensor:
    """Rotates 3D points by unit quaternions: ``q * (0, p) * q^-1``.

    Args:
        quaternion: (..., 4), real part first.
        point: (..., 3); leading dims broadcast with the quaternion's.
    Returns:
        (..., 3) the rotated points.
    """
    _check_last_dims(point, [3], "point")
    point_q = F.pad(point, (1, 0))  # (..., 4), real part 0
    out = quaternion_raw_multiply(quaternion_raw_multiply(quaternion, point_q), quaternion_invert(quaternion))
    return out[..., 1:]


def quaternion_to_matrix(quaternions: torch.Tensor) -> torch.Tensor:
    """Rotation matrices of quaternions (which need not be unit length: they are normalised implicitly).

    Args:
        quaternions: (..., 4), real part first.
    Returns:
        (..., 3, 3) rotation matrices.
    """
    _check_last_dims(quaternions, [4], "quaternions")
    w, x, y, z = torch.unbind(quaternions, -1)
    s = 2.0 / (quaternions * quaternions).sum(-1)
    entries = (
        1 - s * (y * y + z * z),
        s * (x * y - z * w),
        s * (x * z + y * w),
        s * (x * y + z * w),
        1 - s * (x * x + z * z),
        s * (y * z - x * w),
        s * (x * z - y * w),
        s * (y * z + x * w),
        1 - s * (x * x + y * y),
    )
    return torch.stack(entries, -1).unflatten(-1, (3, 3))


def matrix_to_quaternion(matrix: torch.Tensor) -> torch.Tensor:
    """Unit quaternions of rotation matrices, standardised (real part >= 0).

    Of the four algebraically equivalent formulas (each dividing by one of 4w^2, 4x^2, 4y^2, 4z^2) the one with
    the largest denominator is used, which keeps the result accurate and the gradient finite for every rotation.

    Args:
        matrix: (..., 3, 3) rotation matrices.
    Returns:
        (..., 4) quaternions, real part first.
    """
    _check_last_dims(matrix, [3, 3], "matrix")
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = torch.unbind(matrix.flatten(-2), -1)
    # |w|, |x|, |y|, |z| times 2
    q_abs = _sqrt_positive_part(
        torch.stack(
            (
                1.0 + m00 + m11 + m22,
                1.0 + m00 - m11 - m22,
                1.0 - m00 + m11 - m22,
                1.0 - m00 - m11 + m22,
            ),
            -1,
        )
    )
    # Row k holds the quaternion times 4*q_k (q_k = component k), from the formula that divides by q_k.
    candidates = torch.stack(
        (
            torch.stack((q_abs[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01), -1),
            torch.stack((m21 - m12, q_abs[..., 1] ** 2, m10 + m01, m02 + m20), -1),
            torch.stack((m02 - m20, m10 + m01, q_abs[..., 2] ** 2, m12 + m21), -1),
            torch.stack((m10 - m01, m20 + m02, m21 + m12, q_abs[..., 3] ** 2), -1),
        ),
        -2,
    )
    candidates = candidates / (2.0 * q_abs[..., None].clamp_min(0.1))
    best = q_abs.argmax(-1)  # (...)
    out = torch.take_along_dim(candidates, best[..., None, None], -2)[..., 0, :]
    return standardize_quaternion(out)


def random_quaternions(
    n: int, dtype: Optional[torch.dtype] = None, device: Optional[Device] = None
) -> torch.Tensor:
    """Unit quaternions uniformly distributed over rotations, with real part >= 0.

    Returns:
        (n, 4) real part first.
    """
    if not torch.jit.is_scripting():
        if isinstance(n, torch.Tensor):
            n = int(n.item())
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if isinstance(device, str):
        device = torch.device(device)
    o = torch.randn((n, 4), dtype=dtype, device=device)
    norm = torch.sqrt((o * o).sum(1))
    return o / _copysign(norm, o[:, 0])[:, None]


def random_rotations(
    n: int, dtype: Optional[torch.dtype] = None, device: Optional[Device] = None
) -> torch.Tensor:
    """Rotation matrices uniformly distributed over SO(3).

    Returns:
        (n, 3, 3).
    """
    return quaternion_to_matrix(random_quaternions(n, dtype=dtype, device=device))


def random_rotation(dtype: Optional[torch.dtype] = None, device: Optional[Device] = None) -> torch.Tensor:
    """One uniformly random rotation matrix, shape (3, 3)."""
    return random_rotations(1, dtype, device)[0]


# ----------------------------------------------------------------------------------------------------------------
# Axis-angle


def axis_angle_to_quaternion(axis_angle: torch.Tensor) -> torch.Tensor:
    """Quaternions of axis-angle rotations.

    Args:
        axis_angle: (..., 3) axis times angle in radians.
    Returns:
        (..., 4) quaternions, real part first (real part >= 0 when the angle is at most pi).
    """
    _check_last_dims(axis_angle, [3], "axis_angle")
    angles = torch.norm(axis_angle, p=2, dim=-1, keepdim=True)
    # sin(angle/2) / angle, smooth through 0 (torch.sinc(x) = sin(pi x) / (pi x))
    sin_half_over_angle = 0.5 * torch.sinc(angles * 0.5 / torch.pi)
    return torch.cat((torch.cos(angles * 0.5), axis_angle * sin_half_over_angle), -1)


def quaternion_to_axis_angle(quaternions: torch.Tensor) -> torch.Tensor:
    """Axis-angle vectors of quaternions.

    Args:
        quaternions: (..., 4), real part first. With real part >= 0 the angle returned lies in [0, pi].
    Returns:
        (..., 3) axis times angle in radians.
    """
    _check_last_dims(quaternions, [4], "quaternions")
    norms = torch.norm(quaternions[..., 1:], p=2, dim=-1, keepdim=True)
    half_angles = torch.atan2(norms, quaternions[..., :1])
    sin_half_over_angle = 0.5 * torch.sinc(half_angles / torch.pi)
    return quaternions[..., 1:] / sin_half_over_angle


def _hat(v: torch.Tensor) -> torch.Tensor:
    """(..., 3) -> (..., 3, 3) skew-symmetric matrices with ``hat(v) @ u = cross(v, u)``."""
    x, y, z = torch.unbind(v, -1)
    zero = torch.zeros_like(x)
    return torch.stack((zero, -z, y, z, zero, -x, -y, x, zero), -1).unflatten(-1, (3, 3))


def axis_angle_to_matrix(axis_angle: torch.Tensor, fast: bool = False) -> torch.Tensor:
    """Rotation matrices of axis-angle vectors.

    Args:
        axis_angle: (..., 3) axis times angle in radians.
        fast: as in PyTorch3D, False goes through a quaternion; True uses Rodrigues' formula directly. Both are
            exact up to rounding and smooth through the zero rotation.
    Returns:
        (..., 3, 3) rotation matrices.
    """
    _check_last_dims(axis_angle, [3], "axis_angle")
    if not fast:
        return quaternion_to_matrix(axis_angle_to_quaternion(axis_angle))
    angles = torch.norm(axis_angle, p=2, dim=-1, keepdim=True)[..., None]  # (..., 1, 1)
    k = _hat(axis_angle)  # (..., 3, 3)
    sin_over_angle = torch.sinc(angles / torch.pi)
    # (1 - cos t) / t^2 = 0.5 * (sin(t/2) / (t/2))^2
    one_minus_cos_over_angle2 = 0.5 * torch.sinc(angles / (2 * torch.pi)) ** 2
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + sin_over_angle * k + one_minus_cos_over_angle2 * (k @ k)


def matrix_to_axis_angle(matrix: torch.Tensor, fast: bool = False) -> torch.Tensor:
    """Axis-angle vectors of rotation matrices, angle in [0, pi].

    Args:
        matrix: (..., 3, 3) rotation matrices.
        fast: as in PyTorch3D, False goes through a quaternion; True reads the angle from the trace and the axis
            from the skew-symmetric part (from the symmetric part for angles past 2 pi / 3, where the
            skew-symmetric part vanishes).
    Returns:
        (..., 3) axis times angle in radians.
    """
    _check_last_dims(matrix, [3, 3], "matrix")
    if not fast:
        return quaternion_to_axis_angle(matrix_to_quaternion(matrix))
    # omega = 2 sin(angle) axis, from R - R^T
    omega = torch.stack(
        (
            matrix[..., 2, 1] - matrix[..., 1, 2],
            matrix[..., 0, 2] - matrix[..., 2, 0],
            matrix[..., 1, 0] - matrix[..., 0, 1],
        ),
        -1,
    )  # (..., 3)
    trace = torch.diagonal(matrix, dim1=-2, dim2=-1).sum(-1)  # (...)
    angle = torch.atan2(torch.norm(omega, p=2, dim=-1), trace - 1.0)  # (...), in [0, pi]
    cos = 0.5 * (trace - 1.0)
    near_pi = cos < -0.5  # (...)
    # Away from pi: axis * angle = 0.5 * omega * angle / sin(angle).
    sinc = torch.where(near_pi, torch.ones_like(angle), torch.sinc(angle / torch.pi))
    from_skew = 0.5 * omega / sinc[..., None]
    # Near pi: (R + R^T) / 2 = cos I + (1 - cos) n n^T; take the column of n n^T with the largest diagonal.
    one_minus_cos = torch.where(near_pi, 1.0 - cos, torch.ones_like(cos))
    eye = torch.eye(3, dtype=matrix.dtype, device=matrix.device)
    nnt = (0.5 * (matrix + matrix.transpose(-1, -2)) - cos[..., None, None] * eye) / one_minus_cos[..., None, None]
    diag = torch.diagonal(nnt, dim1=-2, dim2=-1)  # (..., 3)
    best = diag.argmax(-1)  # (...)
    column = torch.take_along_dim(nnt, best[..., None, None], -1)[..., 0]  # (..., 3) = n * n_best
    n_best = torch.take_along_dim(diag, best[..., None], -1).clamp_min(1e-12).sqrt()  # (..., 1)
    axis = column / n_best
    axis = torch.where((axis * omega).sum(-1, keepdim=True) < 0, -axis, axis)  # orient along sin(angle) axis
    from_sym = axis * angle[..., None]
    return torch.where(near_pi[..., None], from_sym, from_skew)


# ----------------------------------------------------------------------------------------------------------------
# Euler angles


def _axis_angle_rotation(axis: str, angle: torch.Tensor) -> torch.Tensor:
    """Rotation matrices (column-vector convention) about one coordinate axis.

    Args:
        axis: "X", "Y" or "Z".
        angle: (...) angles in radians.
    Returns:
        (..., 3, 3).
    """
    cos = torch.cos(angle)
    sin = torch.sin(angle)
    one = torch.ones_like(angle)
    zero = torch.zeros_like(angle)
    if axis == "X":
        flat = [one, zero, zero, zero, cos, -sin, zero, sin, cos]
    elif axis == "Y":
        flat = [cos, zero, sin, zero, one, zero, -sin, zero, cos]
    elif axis == "Z":
        flat = [cos, -sin, zero, sin, cos, zero, zero, zero, one]
    else:
        raise ValueError(f"axis must be one of 'X', 'Y', 'Z', got '{axis}'")
    return torch.stack(flat, -1).unflatten(-1, (3, 3))


def _index_from_letter(letter: str) -> int:
    if letter == "X":
        return 0
    if letter == "Y":
        return 1
    if letter == "Z":
        return 2
    raise ValueError(f"Invalid letter '{letter}' in convention string: use only X, Y and Z")


def _check_convention(convention: str) -> None:
    if not torch.jit.is_scripting():
        if not isinstance(convention, str):
            raise ValueError(f"Convention must be a string of 3 letters, got {type(convention).__name__}")
    if len(convention) != 3:
        raise ValueError(f"Convention must have 3 letters, got '{convention}'")
    for letter in convention:
        _index_from_letter(letter)
    if convention[1] == convention[0] or convention[1] == convention[2]:
        raise ValueError(f"Invalid convention '{convention}': the middle axis must differ from its neighbours")


def euler_angles_to_matrix(euler_angles: torch.Tensor, convention: str) -> torch.Tensor:
    """Rotation matrices of Euler angles: ``M = R_A(a0) @ R_B(a1) @ R_C(a2)`` for ``convention = "ABC"``.

    Args:
        euler_angles: (..., 3) angles in radians.
        convention: three letters from "XYZ", e.g. "XYZ", "ZYX", "ZXZ"; the middle letter differs from both
            neighbours.
    Returns:
        (..., 3, 3) rotation matrices.
    """
    _check_last_dims(euler_angles, [3], "euler_angles")
    _check_convention(convention)
    angles = torch.unbind(euler_angles, -1)
    mats = [_axis_angle_rotation(convention[i], angles[i]) for i in range(3)]
    return torch.matmul(torch.matmul(mats[0], mats[1]), mats[2])


def _angle_from_tan(
    axis: str, other_axis: str, data: torch.Tensor, horizontal: bool, tait_bryan: bool
) -> torch.Tensor:
    """The first or third Euler angle, read with atan2 from one row or column of the matrix.

    Args:
        axis: the axis this angle turns about.
        other_axis: the middle axis of the convention.
        data: (..., 3) the row (horizontal=True, for the third angle) or column (for the first angle) of the
            matrix that holds the sine and cosine of this angle.
        horizontal: whether ``data`` is a row.
        tait_bryan: whether the convention's first and last axes differ.
    """
    i1, i2 = 1, 0  # axis "Z"
    if axis == "X":
        i1, i2 = 2, 1
    elif axis == "Y":
        i1, i2 = 0, 2
    if horizontal:
        i2, i1 = i1, i2
    pair = axis + other_axis
    even = pair == "XY" or pair == "YZ" or pair == "ZX"
    if horizontal == even:
        return torch.atan2(data[..., i1], data[..., i2])
    if tait_bryan:
        return torch.atan2(-data[..., i2], data[..., i1])
    return torch.atan2(data[..., i2], -data[..., i1])


def matrix_to_euler_angles(matrix: torch.Tensor, convention: str) -> torch.Tensor:
    """Euler angles of rotation matrices, the inverse of ``euler_angles_to_matrix``.

    The middle angle lies in [-pi/2, pi/2] for Tait-Bryan conventions and in [0, pi] for proper Euler ones;
    the other two in (-pi, pi]. At the singular (gimbal-lock) middle angles the split between the first and
    third angle is arbitrary, but the matrix still round-trips.

    Args:
        matrix: (..., 3, 3) rotation matrices.
        convention: as for ``euler_angles_to_matrix``.
    Returns:
        (..., 3) angles in radians.
    """
    _check_last_dims(matrix, [3, 3], "matrix")
    _check_convention(convention)
    i0 = _index_from_letter(convention[0])
    i2 = _index_from_letter(convention[2])
    tait_bryan = i0 != i2
    if tait_bryan:
        sign = -1.0 if (i0 - i2 == -1 or i0 - i2 == 2) else 1.0
        central = torch.asin(torch.clamp(matrix[..., i0, i2] * sign, -1.0, 1.0))
    else:
        central = torch.acos(torch.clamp(matrix[..., i0, i0], -1.0, 1.0))
    first = _angle_from_tan(convention[0], convention[1], matrix[..., i2], False, tait_bryan)
    third = _angle_from_tan(convention[2], convention[1], matrix[..., i0, :], True, tait_bryan)
    return torch.stack((first, central, third), -1)


# ----------------------------------------------------------------------------------------------------------------
# 6D


def rotation_6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """Rotation matrices from the 6D representation of Zhou et al. (Gram-Schmidt on two 3-vectors).

    Args:
        d6: (..., 6) two 3-vectors, the first two rows of the matrix (need not be orthonormal).
    Returns:
        (..., 3, 3) rotation matrices whose rows are b1, b2, b1 x b2.
    """
    _check_last_dims(d6, [6], "d6")
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = F.normalize(a1, dim=-1)
    b2 = a2 - (b1 * a2).sum(-1, keepdim=True) * b1
    b2 = F.normalize(b2, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-2)


def matrix_to_rotation_6d(matrix: torch.Tensor) -> torch.Tensor:
    """The 6D representation of rotation matrices: their first two rows, flattened (the last row is dropped).

    Args:
        matrix: (..., 3, 3).
    Returns:
        (..., 6).
    """
    _check_last_dims(matrix, [3, 3], "matrix")
    return matrix[..., :2, :].clone().flatten(-2)
