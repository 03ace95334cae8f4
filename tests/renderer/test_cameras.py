"""Cameras: pinned values from CONVENTIONS.md, naive pinhole references, round trips, gradients, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import DEVICES
from reference.cameras import (
    fov_perspective_ndc,
    look_at_camera_centre,
    ndc_to_screen,
    pinhole_ndc,
    pixel_centre_ndc_x,
)

from inverse3d.renderer import (
    FoVOrthographicCameras,
    FoVPerspectiveCameras,
    OrthographicCameras,
    PerspectiveCameras,
    camera_position_from_spherical_angles,
    get_world_to_view_transform,
    look_at_rotation,
    look_at_view_transform,
)
from inverse3d.transforms import random_rotations

F64 = torch.float64


def _poses(n: int, dtype=F64):
    """Random cameras 3..5 units from the origin looking at it."""
    dist = torch.rand(n, dtype=dtype) * 2 + 3
    elev = torch.rand(n, dtype=dtype) * 120 - 60
    azim = torch.rand(n, dtype=dtype) * 360 - 180
    return look_at_view_transform(dist, elev, azim)


def _all_cameras(n: int = 2, dtype=F64):
    R, T = _poses(n, dtype)
    return [
        FoVPerspectiveCameras(R=R, T=T, fov=torch.tensor([50.0, 70.0][:n], dtype=dtype), znear=0.5, zfar=20.0),
        FoVOrthographicCameras(R=R, T=T, znear=0.5, zfar=20.0, max_y=2.0, min_y=-1.5, max_x=1.0, min_x=-2.0),
        PerspectiveCameras(R=R, T=T, focal_length=torch.tensor([[1.5, 2.0]], dtype=dtype), principal_point=((0.1, -0.2),)),
        PerspectiveCameras(
            R=R, T=T, focal_length=((60.0, 70.0),), principal_point=((30.0, 20.0),), in_ndc=False, image_size=((48, 64),)
        ),
        OrthographicCameras(R=R, T=T, focal_length=0.5, principal_point=((0.05, 0.1),)),
        OrthographicCameras(R=R, T=T, focal_length=20.0, principal_point=((30.0, 20.0),), in_ndc=False, image_size=(48, 64)),
    ]


# ----------------------------------------------------------------------------------------------------------------
# look_at


def test_look_at_view_transform_pinned_values():
    R, T = look_at_view_transform(2.7, 0, 0)
    torch.testing.assert_close(R, torch.diag(torch.tensor([-1.0, 1.0, -1.0]))[None])
    torch.testing.assert_close(T, torch.tensor([[0.0, 0.0, 2.7]]))
    assert R.shape == (1, 3, 3) and T.shape == (1, 3)


def test_camera_centre_formula():
    dist, elev, azim = [2.0, 3.5, 1.0], [10.0, -40.0, 80.0], [30.0, 200.0, -75.0]
    R, T = look_at_view_transform(dist, elev, azim)
    cams = FoVPerspectiveCameras(R=R, T=T)
    ref = torch.tensor([look_at_camera_centre(d, e, a) for d, e, a in zip(dist, elev, azim)])
    torch.testing.assert_close(cams.get_camera_center(), ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(camera_position_from_spherical_angles(dist, elev, azim), ref, atol=1e-5, rtol=0)
    # C = -T R^T
    torch.testing.assert_close(-(T[:, None] @ R.transpose(1, 2))[:, 0], ref, atol=1e-5, rtol=0)
    # radians
    R2, T2 = look_at_view_transform(2.0, math.radians(10.0), math.radians(30.0), degrees=False)
    torch.testing.assert_close(R2, R[:1])


def test_look_at_properties():
    R, T = look_at_view_transform(3.0, 25.0, 40.0, at=((0.5, -0.2, 0.1),))
    assert torch.allclose(R @ R.transpose(1, 2), torch.eye(3)[None], atol=1e-6)
    assert torch.allclose(torch.det(R), torch.ones(1))
    # `at` maps to the optical axis: view coordinates (0, 0, dist)
    at_view = torch.tensor([[0.5, -0.2, 0.1]]) @ R[0] + T
    torch.testing.assert_close(at_view, torch.tensor([[0.0, 0.0, 3.0]]), atol=1e-5, rtol=0)
    # world up projects to view +Y (up)
    up_view = torch.tensor([0.0, 1.0, 0.0]) @ R[0]
    assert up_view[1] > 0 and abs(float(up_view[0])) < 1e-6
    # eye= gives the same as the spherical angles
    eye = camera_position_from_spherical_angles(3.0, 25.0, 40.0) + torch.tensor([[0.5, -0.2, 0.1]])
    R2, T2 = look_at_view_transform(eye=eye, at=((0.5, -0.2, 0.1),))
    torch.testing.assert_close(R2, R, atol=1e-6, rtol=0)
    torch.testing.assert_close(T2, T, atol=1e-5, rtol=0)
    # looking straight down the up vector still gives a rotation
    Rd = look_at_rotation(((0.0, 2.0, 0.0),))
    assert torch.isfinite(Rd).all() and torch.allclose(torch.det(Rd), torch.ones(1), atol=1e-5)


# ----------------------------------------------------------------------------------------------------------------
# pinned projections


def test_world_point_lands_on_convention_pixel():
    W = H = 8
    fov = 60.0
    cams = FoVPerspectiveCameras(fov=fov, T=torch.tensor([[0.0, 0.0, 3.0]]))  # R = I: view = world + (0, 0, 3)
    tan = math.tan(math.radians(fov / 2))
    for i, j in [(0, 0), (2, 5), (7, 3)]:
        # a point at the centre of pixel column i, row j (NDC x = 1 - (2i+1)/W, NDC y = 1 - (2j+1)/H)
        x_ndc, y_ndc = pixel_centre_ndc_x(i, W), pixel_centre_ndc_x(j, H)
        world = torch.tensor([[x_ndc * 3 * tan, y_ndc * 3 * tan, 0.0]])
        ndc = cams.transform_points(world)
        torch.testing.assert_close(ndc[0, :2], torch.tensor([x_ndc, y_ndc]), atol=1e-6, rtol=0)
        screen = cams.transform_points_screen(world, image_size=(H, W))
        torch.testing.assert_close(screen[0, :2], torch.tensor([i + 0.5, j + 0.5]), atol=1e-5, rtol=0)
        assert int(screen[0, 0]) == i and int(screen[0, 1]) == j
    # +X is left: a point at world +X lands in the left half of the image
    left = cams.transform_points_screen(torch.tensor([[0.5, 0.0, 0.0]]), image_size=(H, W))
    assert left[0, 0] < W / 2
    up = cams.transform_points_screen(torch.tensor([[0.0, 0.5, 0.0]]), image_size=(H, W))
    assert up[0, 1] < H / 2


def test_fov_depth_znear_zero_zfar_one():
    cams = FoVPerspectiveCameras(znear=0.7, zfar=13.0)
    pts = torch.tensor([[0.1, -0.2, 0.7], [0.3, 0.4, 13.0], [0.0, 0.0, 5.0]])
    z = cams.transform_points(pts)[:, 2]
    torch.testing.assert_close(z[:2], torch.tensor([0.0, 1.0]), atol=1e-6, rtol=0)
    assert 0 < z[2] < 1
    ortho = FoVOrthographicCameras(znear=0.7, zfar=13.0)
    torch.testing.assert_close(ortho.transform_points(pts)[:2, 2], torch.tensor([0.0, 1.0]), atol=1e-6, rtol=0)


def test_defaults():
    cams = FoVPerspectiveCameras()
    assert float(cams.znear) == 1.0 and float(cams.zfar) == 100.0
    assert float(cams.aspect_ratio) == 1.0 and float(cams.fov) == 60.0 and cams.degrees is True
    torch.testing.assert_close(cams.R, torch.eye(3)[None])
    torch.testing.assert_close(cams.T, torch.zeros(1, 3))
    assert len(cams) == 1 and cams.device == torch.device("cpu")
    assert cams.is_perspective() and cams.in_ndc()
    assert not FoVOrthographicCameras().is_perspective()
    assert not PerspectiveCameras(in_ndc=False, image_size=(4, 4)).in_ndc()
    torch.testing.assert_close(cams.get_znear(), torch.tensor([1.0]))
    assert PerspectiveCameras().get_znear() is None


@pytest.mark.parametrize("hw", [(8, 8), (6, 10), (12, 5)])
def test_fov_perspective_against_reference(hw):
    H, W = hw
    R, T = _poses(2)
    fov = [45.0, 75.0]
    cams = FoVPerspectiveCameras(R=R, T=T, fov=torch.tensor(fov, dtype=F64), znear=0.5, zfar=30.0, aspect_ratio=1.2)
    pts = torch.randn(2, 10, 3, dtype=F64)
    ndc = cams.transform_points(pts)
    screen = cams.transform_points_screen(pts, image_size=(H, W))
    for n in range(2):
        for p in range(10):
            ref = fov_perspective_ndc(pts[n, p], R[n], T[n], fov[n], 0.5, 30.0, 1.2)
            np.testing.assert_allclose(ndc[n, p].numpy(), ref, rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(screen[n, p, :2].numpy(), ndc_to_screen(ref[0], ref[1], H, W), rtol=1e-9, atol=1e-9)
            assert abs(float(screen[n, p, 2]) - ref[2]) < 1e-9


def test_perspective_cameras_against_pinhole_reference():
    R, T = _poses(3)
    focal = torch.tensor([[1.2, 1.5], [2.0, 2.0], [0.8, 1.1]], dtype=F64)
    pp = torch.tensor([[0.1, -0.2], [0.0, 0.0], [-0.3, 0.25]], dtype=F64)
    cams = PerspectiveCameras(focal_length=focal, principal_point=pp, R=R, T=T)
    pts = torch.randn(8, 3, dtype=F64)  # shared by the 3 cameras
    ndc = cams.transform_points(pts)
    assert ndc.shape == (3, 8, 3)
    for n in range(3):
        for p in range(8):
            ref = pinhole_ndc(pts[p], R[n], T[n], *focal[n].tolist(), *pp[n].tolist())
            np.testing.assert_allclose(ndc[n, p].numpy(), ref, rtol=1e-9, atol=1e-9)
    # a scalar focal length means fx = fy
    torch.testing.assert_close(PerspectiveCameras(focal_length=3.0).focal_length, torch.tensor([[3.0, 3.0]]))


def test_screen_space_camera_matches_ndc_camera():
    H, W = 48, 64
    R, T = _poses(1)
    f_px, p_px = torch.tensor([[60.0, 70.0]], dtype=F64), torch.tensor([[30.0, 20.0]], dtype=F64)
    screen_cam = PerspectiveCameras(R=R, T=T, focal_length=f_px, principal_point=p_px, in_ndc=False, image_size=((H, W),))
    s = min(H, W) / 2
    ndc_cam = PerspectiveCameras(
        R=R, T=T, focal_length=f_px / s, principal_point=-(p_px - torch.tensor([[W / 2, H / 2]], dtype=F64)) / s
    )
    pts = torch.randn(1, 10, 3, dtype=F64)
    a = screen_cam.transform_points_screen(pts)
    b = ndc_cam.transform_points_screen(pts, image_size=(H, W))
    torch.testing.assert_close(a[..., :2], b[..., :2])
    torch.testing.assert_close(screen_cam.transform_points_ndc(pts)[..., :2], ndc_cam.transform_points(pts)[..., :2])
    # pixel formula with image axes: u = px + fx * (-x_view) / z, v = py + fy * (-y_view) / z
    view = pts @ R + T[:, None]
    u = p_px[0, 0] - f_px[0, 0] * view[..., 0] / view[..., 2]
    v = p_px[0, 1] - f_px[0, 1] * view[..., 1] / view[..., 2]
    torch.testing.assert_close(a[..., 0], u)
    torch.testing.assert_close(a[..., 1], v)


# ----------------------------------------------------------------------------------------------------------------
# round trips


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("index", range(6))
def test_unproject_round_trip(device, index):
    cams = _all_cameras()[index].to(device)
    pts = torch.randn(2, 12, 3, dtype=F64, device=device)
    depth = cams.get_world_to_view_transform().transform_points(pts)[..., 2:3]
    proj = cams.transform_points(pts)
    xy_depth = torch.cat((proj[..., :2], depth), -1)
    torch.testing.assert_close(cams.unproject_points(xy_depth, world_coordinates=True), pts)
    view = cams.get_world_to_view_transform().transform_points(pts)
    torch.testing.assert_close(cams.unproject_points(xy_depth, world_coordinates=False), view)
    if isinstance(cams, (PerspectiveCameras, OrthographicCameras)):
        ndc = cams.transform_points_ndc(pts)
        back = cams.unproject_points(torch.cat((ndc[..., :2], depth), -1), from_ndc=True)
        torch.testing.assert_close(back, pts)
    else:
        torch.testing.assert_close(cams.unproject_points(proj, scaled_depth_input=True), pts)


def test_get_camera_center_all_cameras():
    for cams in _all_cameras():
        C = cams.get_camera_center()
        view = cams.get_world_to_view_transform().transform_points(C[:, None])
        torch.testing.assert_close(view, torch.zeros_like(view), atol=1e-9, rtol=0)


def test_kwargs_override_at_call_time():
    R, T = _poses(2)
    pts = torch.randn(2, 5, 3, dtype=F64)
    cams = FoVPerspectiveCameras(R=R, T=T, fov=50.0)
    default = FoVPerspectiveCameras(fov=50.0, R=torch.eye(3, dtype=F64)[None].expand(2, 3, 3), T=torch.zeros(2, 3, dtype=F64))
    torch.testing.assert_close(default.transform_points(pts, R=R, T=T), cams.transform_points(pts))
    torch.testing.assert_close(default.get_camera_center(), cams.get_camera_center())  # pose stored, as PyTorch3D
    other = FoVPerspectiveCameras(R=R, T=T, fov=70.0, znear=2.0)
    torch.testing.assert_close(cams.transform_points(pts, fov=70.0, znear=2.0), other.transform_points(pts))
    K = other.get_projection_transform().get_matrix().transpose(1, 2)
    torch.testing.assert_close(cams.transform_points(pts, K=K), other.transform_points(pts))


def test_non_square_screen_convention():
    # the shorter side spans NDC [-1, 1]; the longer one [-u, u]
    cams = FoVPerspectiveCameras()
    corners_ndc = torch.tensor([[1.0, 1.0, 1.0], [-2.0, -1.0, 1.0]])  # view points with z = 1 -> scale by tan
    tan = math.tan(math.radians(30.0))
    world = corners_ndc * torch.tensor([tan, tan, 1.0])
    screen = cams.transform_points_screen(world, image_size=(4, 8))
    torch.testing.assert_close(screen[:, :2], torch.tensor([[2.0, 0.0], [8.0, 4.0]]), atol=1e-5, rtol=0)
    tall = cams.transform_points_screen(world[:1], image_size=(10, 6))
    torch.testing.assert_close(tall[0, :2], torch.tensor([0.0, 2.0]), atol=1e-5, rtol=0)


# ----------------------------------------------------------------------------------------------------------------
# batch, indexing, copies


def test_batch_broadcast_and_indexing():
    R = random_rotations(4)
    cams = FoVPerspectiveCameras(R=R, fov=[30.0, 40.0, 50.0, 60.0])
    assert len(cams) == 4 and cams.T.shape == (4, 3) and cams.znear.shape == (4,)
    sub = cams[1]
    assert isinstance(sub, FoVPerspectiveCameras) and len(sub) == 1
    torch.testing.assert_close(sub.R, R[1:2])
    torch.testing.assert_close(sub.fov, torch.tensor([40.0]))
    assert len(cams[[0, 2]]) == 2 and len(cams[torch.tensor([True, False, True, True])]) == 3
    assert len(cams[torch.tensor([3])]) == 1 and len(cams[1:3]) == 2
    pc = PerspectiveCameras(focal_length=torch.ones(4, 2), R=R, in_ndc=False, image_size=(10, 20))
    sub = pc[[1, 3]]
    assert not sub.in_ndc() and sub.image_size.shape == (2, 2)
    with pytest.raises(IndexError):
        cams[7]
    with pytest.raises(ValueError):
        cams["a"]
    with pytest.raises(ValueError):
        cams[torch.tensor([True, False])]


def test_clone_and_to():
    cams = _all_cameras()[3]
    c = cams.clone()
    assert type(c) is type(cams) and not c.in_ndc() and len(c) == len(cams)
    torch.testing.assert_close(c.image_size, cams.image_size)
    c.R[0, 0, 0] = 42.0
    assert cams.R[0, 0, 0] != 42.0
    moved = cams.to("cpu")
    assert moved.device == torch.device("cpu") and moved.R.device == torch.device("cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_to_cuda():
    cams = FoVPerspectiveCameras().to("cuda")
    assert cams.R.is_cuda and cams.device.type == "cuda"
    assert cams.transform_points(torch.rand(5, 3, device="cuda")).is_cuda


def test_float64_stays_float64():
    R, T = _poses(1)
    for cams in _all_cameras(1):
        out = cams.transform_points_screen(torch.randn(3, 3, dtype=F64), image_size=(8, 8))
        assert out.dtype == F64


# ----------------------------------------------------------------------------------------------------------------
# gradients


@pytest.mark.parametrize("index", [0, 1, 2, 4])
def test_gradcheck_transform_points(index):
    cams = _all_cameras(1)[index]
    pts = (torch.randn(1, 4, 3, dtype=F64) * 0.5).requires_grad_()
    R0, T0 = cams.R.clone(), cams.T.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda p, t: cams.transform_points(p, R=R0, T=t), (pts, T0))
    assert torch.autograd.gradcheck(lambda p: cams.transform_points_screen(p, R=R0, T=T0.detach(), image_size=(6, 9)), (pts,))


def test_gradcheck_fov_and_look_at():
    fov = torch.tensor([55.0], dtype=F64, requires_grad=True)
    dist = torch.tensor([3.0], dtype=F64, requires_grad=True)
    pts = torch.randn(1, 4, 3, dtype=F64) * 0.5

    def fn(f, d):
        R, T = look_at_view_transform(d, 20.0, 30.0)
        return FoVPerspectiveCameras(R=R, T=T, fov=f).transform_points(pts)

    assert torch.autograd.gradcheck(fn, (fov, dist))


# ----------------------------------------------------------------------------------------------------------------
# bad input


def test_bad_input():
    with pytest.raises(ValueError):
        FoVPerspectiveCameras(R=torch.eye(3))  # missing batch dim
    with pytest.raises(ValueError):
        FoVPerspectiveCameras(T=torch.zeros(1, 2))
    with pytest.raises(ValueError):
        FoVPerspectiveCameras(R=random_rotations(2), T=torch.zeros(3, 3))  # non-broadcastable batch sizes
    with pytest.raises(ValueError):
        FoVPerspectiveCameras(K=torch.eye(3)[None])
    with pytest.raises(ValueError):
        FoVPerspectiveCameras().transform_points_screen(torch.zeros(2, 3))  # no image_size
    with pytest.raises(ValueError):
        FoVPerspectiveCameras().transform_points_screen(torch.zeros(2, 3), image_size=(0, 4))
    with pytest.raises(ValueError):
        FoVPerspectiveCameras().transform_points(torch.zeros(2, 4))
    with pytest.raises(ValueError):
        FoVPerspectiveCameras().unproject_points(torch.zeros(2, 2))
    with pytest.raises(ValueError):
        FoVPerspectiveCameras().get_projection_transform(K=torch.eye(4).repeat(2, 1, 1))
    with pytest.raises(ValueError):
        PerspectiveCameras(image_size=((0, 10),))
    with pytest.raises(ValueError):
        PerspectiveCameras(principal_point=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError):
        PerspectiveCameras(in_ndc=False).transform_points_screen(torch.rand(2, 3))
    with pytest.raises(ValueError):
        get_world_to_view_transform(R=torch.eye(3)[None], T=torch.zeros(2, 3))
    with pytest.raises(ValueError):
        look_at_rotation(((0.0, 1.0),))


@pytest.mark.parametrize("make,message", [
    (lambda: FoVPerspectiveCameras(fov=0.0), "fov must be in (0, 180) degrees; got fov = 0"),
    (lambda: FoVPerspectiveCameras(fov=torch.tensor([45.0, 180.0])), "got fov[1] = 180"),
    (lambda: FoVPerspectiveCameras(fov=math.pi, degrees=False), "in (0, pi) radians"),
    (lambda: FoVPerspectiveCameras(znear=0.0), "znear must be > 0"),
    (lambda: FoVPerspectiveCameras(znear=torch.tensor([0.5, -0.1]), zfar=10.0), "got znear[1] = -0.1"),
    (lambda: FoVPerspectiveCameras(znear=2.0, zfar=2.0), "znear must be < zfar; got znear = 2 and zfar = 2"),
    (lambda: FoVPerspectiveCameras(znear=[1.0, 1.0], zfar=[5.0, 0.5]), "got znear[1] = 1 and zfar[1] = 0.5"),
    (lambda: FoVOrthographicCameras(znear=5.0, zfar=1.0), "FoVOrthographicCameras: znear must be < zfar"),
    (lambda: FoVOrthographicCameras(max_y=-1.0, min_y=-1.0), "max_y must differ from min_y"),
    (lambda: PerspectiveCameras(focal_length=((0.0, 1.0),)), "focal_length must be a finite, non-zero number"),
    (lambda: OrthographicCameras(principal_point=((math.nan, 0.0),)), "principal_point must be finite"),
])
def test_degenerate_projection_parameters_raise(make, message):
    """fov <= 0 or >= 180, znear <= 0, znear >= zfar, ... name the parameter and its value (not a NaN later)."""
    with pytest.raises(ValueError) as info:
        make()
    assert message in str(info.value)


def test_degenerate_parameters_given_at_projection_time_raise():
    cams = FoVPerspectiveCameras()
    points = torch.rand(1, 4, 3) + torch.tensor([0.0, 0.0, 2.0])
    with pytest.raises(ValueError, match=r"got fov = 190"):
        cams.transform_points(points, fov=190.0)
    with pytest.raises(ValueError, match=r"znear must be < zfar"):
        cams.get_projection_transform(znear=500.0)
    with pytest.raises(ValueError, match=r"max_x must differ from min_x"):
        FoVOrthographicCameras().get_projection_transform(max_x=-1.0)
    # Orthographic near planes may lie behind the camera; negative focal lengths mirror the image (both valid).
    FoVOrthographicCameras(znear=-2.0, zfar=2.0).transform_points(points)
    PerspectiveCameras(focal_length=-1.0).transform_points(points)
