"""Helpers on camera poses and batches (PyTorch3D's ``renderer.camera_utils``)."""

from __future__ import annotations

from typing import Sequence

import torch

from inverse3d.renderer.cameras import CamerasBase
from inverse3d.transforms.transform3d import Transform3d


def camera_to_eye_at_up(world_to_view_transform: Transform3d) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ``eye``, ``at`` and ``up`` that ``look_at_view_transform`` turns back into this pose.

    In view space the camera sits at the origin looking along +Z with +Y up, so ``eye``, ``at`` and ``eye + up`` are
    the world images of (0, 0, 0), (0, 0, 1) and (0, 1, 0).

    Args:
        world_to_view_transform: a ``Transform3d`` of N rigid world -> view transforms
            (e.g. ``cameras.get_world_to_view_transform()``).
    Returns:
        eye: (N, 3) camera centres; at: (N, 3) points one unit in front of them; up: (N, 3) unit up vectors,
        all in world coordinates.
    """
    view_to_world = world_to_view_transform.inverse()
    matrix = view_to_world.get_matrix()  # (N, 4, 4)
    eye_at_up_view = torch.tensor(
        [[0.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype=matrix.dtype, device=matrix.device
    )
    eye_at_up_world = view_to_world.transform_points(eye_at_up_view).reshape(-1, 3, 3)  # (N, 3 points, 3)
    eye, at, up_plus_eye = eye_at_up_world.unbind(1)
    return eye, at, up_plus_eye - eye


def rotate_on_spot(
    R: torch.Tensor, T: torch.Tensor, rotation: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The pose of cameras turned in place: same centres, world -> view rotation ``R @ rotation^T``.

    ``rotation`` is a column-vector rotation in view space (e.g. ``axis_angle_to_matrix([0, radians(10), 0])``
    turns the camera 10 degrees to the right, ``[radians(10), 0, 0]`` tilts it up).

    Args:
        R: (3, 3) or (N, 3, 3) world -> view rotations.
        T: (3,) or (N, 3) translations.
        rotation: (3, 3) or (n, 3, 3); N and n must be equal or one of them 1.
    Returns:
        R: (max(N, n), 3, 3) and T: (max(N, n), 3) with the same camera centres ``-T @ R^T``.
    """
    if R.ndim == 2:
        R = R[None]
    if T.ndim == 1:
        T = T[None]
    if rotation.ndim == 2:
        rotation = rotation[None]
    if R.ndim != 3 or R.shape[1:] != (3, 3):
        raise ValueError(f"Invalid R: expected shape (3, 3) or (N, 3, 3); got {tuple(R.shape)}")
    if T.ndim != 2 or T.shape[1] != 3:
        raise ValueError(f"Invalid T: expected shape (3,) or (N, 3); got {tuple(T.shape)}")
    if rotation.ndim != 3 or rotation.shape[1:] != (3, 3):
        raise ValueError(f"Invalid rotation: expected shape (3, 3) or (n, 3, 3); got {tuple(rotation.shape)}")
    new_R = R @ rotation.transpose(1, 2)  # (max(N, n), 3, 3)
    old_RT = torch.bmm(R, T[:, :, None])  # (N, 3, 1); the centre C = -T R^T stays fixed:
    new_T = torch.matmul(new_R.transpose(1, 2), old_RT)[:, :, 0]  # new_T = T R^T new_R
    return new_R, new_T


def join_cameras_as_batch(cameras_list: Sequence[CamerasBase]) -> CamerasBase:
    """One camera object holding all the cameras of ``cameras_list``, in order.

    Args:
        cameras_list: cameras of one class on one device, each holding one or more cameras.
    Returns:
        a camera object of that class whose tensor fields are concatenated along the batch dimension.
    Raises:
        ValueError: an empty list, mixed classes or devices, a field present in some cameras only, or a shared
            setting (e.g. ``in_ndc``, ``degrees``) that differs.
    """
    if len(cameras_list) == 0:
        raise ValueError("cameras_list must hold at least one camera object")
    if not all(isinstance(c, CamerasBase) for c in cameras_list):
        raise ValueError("cameras in cameras_list must inherit from CamerasBase")
    c0 = cameras_list[0]
    if not all(type(c) is type(c0) for c in cameras_list[1:]):
        raise ValueError("All cameras must be of the same type")
    if not all(c.device == c0.device for c in cameras_list[1:]):
        raise ValueError("All cameras in the batch must be on the same device")
    kwargs: dict[str, object] = {"device": c0.device}
    for field in c0._FIELDS:
        values = [getattr(c, field, None) for c in cameras_list]
        present = [v is not None for v in values]
        if not any(present):
            continue
        if not all(present):
            raise ValueError(f"Attribute {field} is inconsistently present")
        name = field[1:] if field.startswith("_") else field  # e.g. "_in_ndc" is the argument "in_ndc"
        if field in c0._SHARED_FIELDS:
            if not all(v == values[0] for v in values):
                raise ValueError(f"Attribute {field} is not constant across inputs")
            kwargs[name] = values[0]
        elif torch.is_tensor(values[0]):
            kwargs[name] = torch.cat(values, dim=0)
        else:
            raise ValueError(f"Field {field} type is not supported for batching")
    return c0.__class__(**kwargs)
