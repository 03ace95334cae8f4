"""corresponding_cameras_alignment recovers a known similarity of the world, in both modes."""

from __future__ import annotations

import pytest
import torch

from inverse3d.ops import corresponding_cameras_alignment
from inverse3d.renderer import PerspectiveCameras
from inverse3d.transforms import random_rotations


def _cameras(N, gen):
    R = random_rotations(N, dtype=torch.float64)
    T = torch.randn(N, 3, generator=gen, dtype=torch.float64)
    return R, T


def _moved(R, T, R_A, T_A, s_A):
    """Cameras seeing the world X' = (s_A X - T_A) R_A^T as the originals see X (row vectors)."""
    # X R_i + T_i = s' (X' R'_i + T'_i) with X = (X' R_A + T_A) / s_A: R'_i = R_A R_i, T'_i = T_A R_i + s_A T_i
    return R_A[None] @ R, (T_A[None, None] @ R)[:, 0] + s_A * T


@pytest.mark.parametrize("mode", ["extrinsics", "centers"])
@pytest.mark.parametrize("estimate_scale", [True, False])
def test_recovers_known_similarity(mode, estimate_scale):
    gen = torch.Generator().manual_seed(0)
    R, T = _cameras(6, gen)
    R_A = random_rotations(1, dtype=torch.float64)[0]
    T_A = torch.randn(3, generator=gen, dtype=torch.float64)
    s_A = 1.7 if estimate_scale else 1.0
    R_tgt, T_tgt = _moved(R, T, R_A, T_A, s_A)
    src = PerspectiveCameras(R=R, T=T)
    tgt = PerspectiveCameras(R=R_tgt, T=T_tgt)
    aligned = corresponding_cameras_alignment(src, tgt, estimate_scale=estimate_scale, mode=mode)
    torch.testing.assert_close(aligned.R, tgt.R)
    if mode == "extrinsics":
        torch.testing.assert_close(aligned.T, tgt.T)
    else:  # centres agree (translations up to the scale ambiguity of the camera frame)
        torch.testing.assert_close(aligned.get_camera_center(), tgt.get_camera_center())
    assert aligned is not src and torch.equal(src.R, R)  # the source cameras are untouched


def test_gradients_and_errors():
    gen = torch.Generator().manual_seed(1)
    R, T = _cameras(4, gen)
    R2, T2 = _moved(R, T, random_rotations(1, dtype=torch.float64)[0], torch.zeros(3, dtype=torch.float64), 1.0)
    T = T.clone().requires_grad_(True)
    aligned = corresponding_cameras_alignment(
        PerspectiveCameras(R=R, T=T), PerspectiveCameras(R=R2, T=T2)
    )
    aligned.T.sum().backward()
    assert T.grad is not None and torch.isfinite(T.grad).all()
    with pytest.raises(ValueError, match="same number of cameras"):
        corresponding_cameras_alignment(PerspectiveCameras(R=R), PerspectiveCameras(R=R[:2]))
    with pytest.raises(ValueError, match="mode"):
        corresponding_cameras_alignment(PerspectiveCameras(R=R), PerspectiveCameras(R=R), mode="poses")
