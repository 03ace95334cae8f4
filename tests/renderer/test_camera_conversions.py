"""OpenCV <-> PerspectiveCameras: projection against the OpenCV pinhole formula, round trips, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from reference.cameras import opencv_project

from inverse3d.renderer import PerspectiveCameras, cameras_from_opencv_projection, opencv_from_cameras_projection
from inverse3d.transforms import random_rotations

F64 = torch.float64


def _opencv_cameras(n: int):
    R = random_rotations(n, dtype=F64)
    tvec = torch.randn(n, 3, dtype=F64) * 0.3 + torch.tensor([0.0, 0.0, 5.0], dtype=F64)
    image_size = torch.tensor([[480, 640], [300, 200], [256, 256]][:n])
    K = torch.zeros(n, 3, 3, dtype=F64)
    K[:, 0, 0] = torch.rand(n, dtype=F64) * 200 + 300
    K[:, 1, 1] = torch.rand(n, dtype=F64) * 200 + 300
    K[:, 0, 2] = image_size[:, 1] / 2 + torch.randn(n, dtype=F64) * 10
    K[:, 1, 2] = image_size[:, 0] / 2 + torch.randn(n, dtype=F64) * 10
    K[:, 2, 2] = 1.0
    return R, tvec, K, image_size


def test_projection_matches_opencv_formula():
    R, tvec, K, image_size = _opencv_cameras(3)
    cams = cameras_from_opencv_projection(R, tvec, K, image_size)
    assert isinstance(cams, PerspectiveCameras) and len(cams) == 3 and cams.in_ndc()
    pts = torch.randn(3, 6, 3, dtype=F64)
    screen = cams.transform_points_screen(pts)  # image_size stored on the cameras
    for n in range(3):
        for p in range(6):
            ref = opencv_project(pts[n, p], R[n], tvec[n], K[n])
            np.testing.assert_allclose(screen[n, p, :2].numpy(), ref, rtol=1e-9, atol=1e-8)


def test_round_trips():
    R, tvec, K, image_size = _opencv_cameras(3)
    cams = cameras_from_opencv_projection(R, tvec, K, image_size)
    R2, t2, K2 = opencv_from_cameras_projection(cams, image_size)
    torch.testing.assert_close(R2, R)
    torch.testing.assert_close(t2, tvec)
    torch.testing.assert_close(K2, K)
    cams2 = cameras_from_opencv_projection(R2, t2, K2, image_size)
    for name in ("R", "T", "focal_length", "principal_point"):
        torch.testing.assert_close(getattr(cams2, name), getattr(cams, name))


def test_axis_flip_values():
    # identity OpenCV pose: PyTorch3D R = diag(-1, -1, 1); x right / y down become x left / y up
    R = torch.eye(3, dtype=F64)[None]
    tvec = torch.tensor([[1.0, 2.0, 3.0]], dtype=F64)
    K = torch.tensor([[[100.0, 0.0, 50.0], [0.0, 100.0, 40.0], [0.0, 0.0, 1.0]]], dtype=F64)
    cams = cameras_from_opencv_projection(R, tvec, K, torch.tensor([[80, 100]]))
    torch.testing.assert_close(cams.R, torch.diag(torch.tensor([-1.0, -1.0, 1.0], dtype=F64))[None])
    torch.testing.assert_close(cams.T, torch.tensor([[-1.0, -2.0, 3.0]], dtype=F64))
    torch.testing.assert_close(cams.focal_length, torch.tensor([[2.5, 2.5]], dtype=F64))  # 100 px / (80 / 2)
    torch.testing.assert_close(cams.principal_point, torch.tensor([[0.0, 0.0]], dtype=F64))


def test_screen_space_cameras_export():
    cams = PerspectiveCameras(
        focal_length=((300.0, 320.0),), principal_point=((310.0, 250.0),), in_ndc=False, image_size=((480, 640),)
    )
    R, tvec, K = opencv_from_cameras_projection(cams, torch.tensor([[480, 640]]))
    torch.testing.assert_close(K[0], torch.tensor([[300.0, 0.0, 310.0], [0.0, 320.0, 250.0], [0.0, 0.0, 1.0]]))
    pts = torch.randn(5, 3) + torch.tensor([0.0, 0.0, 6.0])
    screen = cams.transform_points_screen(pts)
    for p in range(5):
        np.testing.assert_allclose(screen[p, :2].numpy(), opencv_project(pts[p], R[0], tvec[0], K[0]), rtol=1e-4, atol=1e-3)


def test_gradients_flow():
    R, tvec, K, image_size = _opencv_cameras(1)
    K.requires_grad_()
    tvec.requires_grad_()
    cams = cameras_from_opencv_projection(R, tvec, K, image_size)
    cams.transform_points_screen(torch.randn(4, 3, dtype=F64)).sum().backward()
    assert K.grad is not None and torch.isfinite(K.grad).all() and tvec.grad.abs().sum() > 0


def test_bad_input():
    R, tvec, K, image_size = _opencv_cameras(2)
    with pytest.raises(ValueError):
        cameras_from_opencv_projection(R[0], tvec, K, image_size)
    with pytest.raises(ValueError):
        cameras_from_opencv_projection(R, tvec[:1], K, image_size)
    with pytest.raises(ValueError):
        cameras_from_opencv_projection(R, tvec, K[:, :2], image_size)
    with pytest.raises(ValueError):
        cameras_from_opencv_projection(R, tvec, K, image_size[:, :1])
    with pytest.raises(ValueError):
        opencv_from_cameras_projection("camera", image_size)
    cams = cameras_from_opencv_projection(R, tvec, K, image_size)
    with pytest.raises(ValueError):
        opencv_from_cameras_projection(cams, torch.tensor([[1, 2, 3]]))
