"""The camera conversion every reader goes through: OpenCV / OpenGL camera-to-world + pixel intrinsics <-> ours."""

import numpy as np
import pytest
import torch

from inverse3d.datasets.scenes.conventions import (
    SceneFileNotFoundError,
    SceneFormatError,
    c2w_from_cameras,
    cameras_from_c2w,
    check_pose,
    focal_from_fov,
    fov_from_focal,
    intrinsics_from_cameras,
    opengl_to_opencv,
)
from inverse3d.renderer import PerspectiveCameras, look_at_view_transform
from inverse3d.renderer.camera_conversions import cameras_from_opencv_projection
from inverse3d.transforms import random_rotations

from reference.scene_formats import coloured_sphere, render


def _random_c2w(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    c2w = torch.eye(4, dtype=torch.float64).repeat(n, 1, 1)
    torch.manual_seed(seed)
    c2w[:, :3, :3] = random_rotations(n, dtype=torch.float64)
    c2w[:, :3, 3] = torch.randn(n, 3, generator=g, dtype=torch.float64) * 2
    return c2w


def _opencv_project(X, c2w_cv, fx, fy, cx, cy):
    """Hand-written pinhole projection: x_cam = R^T (X - C), u = fx x/z + cx, v = fy y/z + cy (one camera)."""
    R, C = c2w_cv[:3, :3], c2w_cv[:3, 3]
    out = []
    for p in X:
        x, y, z = (R.T @ (p - C)).tolist()
        out.append((fx * x / z + cx, fy * y / z + cy, z))
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("convention", ["opencv", "opengl"])
def test_projection_matches_hand_written_opencv_pinhole(convention):
    n = 5
    c2w_cv = _random_c2w(n)
    c2w = c2w_cv if convention == "opencv" else c2w_cv * torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64)
    fx = torch.tensor([30.0, 41.0, 52.5, 60.0, 35.0], dtype=torch.float64)
    fy, cx, cy, w, h = 47.0, 21.3, 13.9, 48, 32
    cams = cameras_from_c2w(c2w, fx, fy, cx, cy, w, h, convention=convention)
    assert not cams.in_ndc()
    assert cams.image_size.tolist() == [[h, w]] * n
    g = torch.Generator().manual_seed(1)
    for i in range(n):
        # points in front of camera i: its centre plus forward offsets
        local = torch.randn(20, 3, generator=g, dtype=torch.float64) * 0.5
        local[:, 2] += 3.0
        X = local @ c2w_cv[i, :3, :3].T + c2w_cv[i, :3, 3]
        expected = _opencv_project(X, c2w_cv[i], float(fx[i]), fy, cx, cy)
        got = cams[i].transform_points_screen(X)
        assert (got[:, :2] - expected[:, :2]).abs().max() < 1e-5
        view = cams[i].get_world_to_view_transform().transform_points(X)
        assert torch.allclose(view[:, 2], expected[:, 2], atol=1e-9)  # our +Z is the viewing direction too


def test_projection_float32_within_1e5_pixels():
    c2w_cv = _random_c2w(3, seed=3)
    cams = cameras_from_c2w(c2w_cv.float(), 40.0, 44.0, 26.3, 14.3, 48, 32, convention="opencv")
    X = torch.tensor([[0.0, 0.0, 2.0]], dtype=torch.float64) @ c2w_cv[0, :3, :3].T + c2w_cv[0, :3, 3]
    expected = _opencv_project(X, c2w_cv[0], 40.0, 44.0, 26.3, 14.3)
    got = cams[0].transform_points_screen(X.float()).double()
    assert (got[:, :2] - expected[:, :2]).abs().max() < 1e-4  # float32 arithmetic on ~30 px values


@pytest.mark.parametrize("convention", ["opencv", "opengl"])
def test_c2w_round_trip(convention):
    c2w = _random_c2w(6, seed=2)
    cams = cameras_from_c2w(c2w, 50.0, 50.0, 24.0, 16.0, 48, 32, convention=convention)
    back = c2w_from_cameras(cams, convention)
    assert back.dtype == torch.float64
    assert torch.allclose(back, c2w, atol=1e-12)
    intr = intrinsics_from_cameras(cams)
    assert intr["fx"].tolist() == [50.0] * 6 and intr["cy"].tolist() == [16.0] * 6
    assert intr["width"].tolist() == [48.0] * 6 and intr["height"].tolist() == [32.0] * 6


def test_opengl_and_opencv_differ_by_flipping_y_and_z():
    c2w_gl = _random_c2w(3, seed=4)
    c2w_cv = opengl_to_opencv(c2w_gl)
    assert torch.allclose(c2w_cv[:, :, 0], c2w_gl[:, :, 0]) and torch.allclose(c2w_cv[:, :, 1], -c2w_gl[:, :, 1])
    a = cameras_from_c2w(c2w_gl, 30.0, 30.0, 16.0, 16.0, 32, 32, convention="opengl")
    b = cameras_from_c2w(c2w_cv, 30.0, 30.0, 16.0, 16.0, 32, 32, convention="opencv")
    assert torch.allclose(a.R, b.R) and torch.allclose(a.T, b.T)
    assert np.allclose(opengl_to_opencv(c2w_cv.numpy()), c2w_gl.numpy())


def test_blender_camera_on_plus_z_is_identity_rotation():
    """NeRF-synthetic's convention: a camera at (0, 0, d) looking at the origin has c2w = [I | (0, 0, d)] in OpenGL;
    our look_at_view_transform camera there is the same camera."""
    R, T = look_at_view_transform(4.0, 0.0, 0.0)
    ours = PerspectiveCameras(R=R, T=T)
    c2w = c2w_from_cameras(ours, "opengl")[0]
    assert torch.allclose(c2w[:3, :3], torch.eye(3), atol=1e-6)
    assert torch.allclose(c2w[:3, 3], torch.tensor([0.0, 0.0, 4.0]), atol=1e-6)
    back = cameras_from_c2w(c2w[None], 30.0, 30.0, 16.0, 16.0, 32, 32)
    assert torch.allclose(back.R, R, atol=1e-6) and torch.allclose(back.T, T, atol=1e-6)


def test_same_as_pytorch3d_ndc_conversion_in_pixels_and_renders():
    """Our screen-space cameras project and rasterise exactly like PyTorch3D's ``cameras_from_opencv_projection``
    (NDC) cameras of the same OpenCV camera."""
    c2w_gl = torch.from_numpy(np.stack([np.eye(4), np.eye(4)])).float()
    c2w_gl[:, :3, 3] = torch.tensor([[0.0, 0.0, 3.0], [0.3, -0.2, 3.5]])
    fx, fy, cx, cy, w, h = 40.0, 44.0, 26.3, 14.3, 48, 32
    ours = cameras_from_c2w(c2w_gl, fx, fy, cx, cy, w, h)
    c2w_cv = opengl_to_opencv(c2w_gl)
    R_cv = c2w_cv[:, :3, :3].transpose(1, 2)
    t_cv = -(R_cv @ c2w_cv[:, :3, 3:])[..., 0]
    K = torch.tensor([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]]).expand(2, 3, 3)
    theirs = cameras_from_opencv_projection(R_cv, t_cv, K, torch.tensor([[h, w]] * 2))
    X = torch.randn(10, 3) * 0.3
    assert torch.allclose(ours.transform_points_screen(X), theirs.transform_points_screen(X), atol=1e-4)
    a, b = render(ours), render(theirs)
    assert a[..., 3].sum() > 50
    assert torch.equal(a, b)


def test_rasteriser_pixel_centres_follow_the_principal_point():
    """Moving cx by one pixel moves the render by exactly one column."""
    c2w = torch.eye(4)[None]
    c2w[0, 2, 3] = 3.0
    a = render(cameras_from_c2w(c2w, 40.0, 40.0, 24.0, 16.0, 48, 32))
    b = render(cameras_from_c2w(c2w, 40.0, 40.0, 25.0, 16.0, 48, 32))
    assert torch.allclose(b[:, :, 1:], a[:, :, :-1], atol=1e-5)
    assert coloured_sphere().verts_packed().shape[0] > 0


def test_not_rigid_is_refused_with_the_view_named():
    c2w = _random_c2w(3)
    c2w[1, :3, 0] *= 1.01
    with pytest.raises(ValueError, match=r"c2w\[1\].*not orthonormal"):
        cameras_from_c2w(c2w, 30.0, 30.0, 16.0, 16.0, 32, 32)
    mirror = _random_c2w(1)
    mirror[0, :3, 0] *= -1
    with pytest.raises(ValueError, match=r"c2w\[0\].*det"):
        cameras_from_c2w(mirror, 30.0, 30.0, 16.0, 16.0, 32, 32)
    with pytest.raises(ValueError, match="convention"):
        cameras_from_c2w(c2w, 30.0, 30.0, 16.0, 16.0, 32, 32, convention="blender")
    with pytest.raises(ValueError, match=r"fx must be a scalar or have shape \(3,\)"):
        cameras_from_c2w(_random_c2w(3), [1.0, 2.0], 30.0, 16.0, 16.0, 32, 32)


def test_check_pose_messages_name_file_and_frame():
    good = _random_c2w(1)[0].numpy()
    assert np.allclose(check_pose(good[:3], "t.json", 0), good)
    bad = good.copy()
    bad[:3, :3] *= 2
    with pytest.raises(SceneFormatError, match=r"^t\.json frame 7: pose matrix is not a rigid transform") as e:
        check_pose(bad, "t.json", 7)
    assert "\n" not in str(e.value)
    with pytest.raises(SceneFormatError, match=r"t\.json frame 2: pose matrix must be 4x4"):
        check_pose([[1, 0], [0, 1]], "t.json", 2)
    with pytest.raises(SceneFormatError, match=r"cameras\.bin camera 3: x"):
        raise SceneFormatError("cameras.bin", "x", "camera 3")
    err = SceneFileNotFoundError("a.png", frame=1)
    assert isinstance(err, FileNotFoundError) and isinstance(err, ValueError)
    assert str(err) == "a.png frame 1: no such file"


def test_fov_focal():
    assert focal_from_fov(fov_from_focal(40.0, 48), 48) == pytest.approx(40.0)
    assert focal_from_fov(np.pi / 2, 100) == pytest.approx(50.0)
