"""FishEyeCameras: PyTorch3D's distortion model against a per-point reference, inversion, shapes, gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import DEVICES
from reference.fisheye import naive_fisheye_project, naive_fisheye_unproject

from inverse3d.renderer import FishEyeCameras, join_cameras_as_batch
from inverse3d.renderer.cameras import try_get_projection_transform
from inverse3d.transforms import random_rotations

F64 = torch.float64


def _params(n: int, strength: float = 1.0) -> dict:
    """Random but moderate distortion parameters for n cameras, float64."""
    return {
        "focal_length": 1.0 + torch.rand(n, 1, dtype=F64),
        "principal_point": 0.2 * torch.randn(n, 2, dtype=F64),
        "radial_params": strength * 0.05 * torch.randn(n, 6, dtype=F64),
        "tangential_params": strength * 0.01 * torch.randn(n, 2, dtype=F64),
        "thin_prism_params": strength * 0.01 * torch.randn(n, 4, dtype=F64),
    }


def _view_points(p: int) -> torch.Tensor:
    """(p, 3) points in front of the camera within about 60 degrees of the axis, plus one on the axis."""
    pts = torch.cat([torch.randn(p - 1, 2, dtype=F64) * 0.6, torch.ones(p - 1, 1, dtype=F64)], 1)
    pts = pts * (1.0 + 2 * torch.rand(p - 1, 1, dtype=F64))
    return torch.cat([torch.tensor([[0.0, 0.0, 2.0]], dtype=F64), pts])


def _reference(points, params, i, **flags):
    return np.array([
        naive_fisheye_project(
            p, params["focal_length"][i], params["principal_point"][i], params["radial_params"][i],
            params["tangential_params"][i], params["thin_prism_params"][i], **flags,
        )
        for p in points
    ])


@pytest.mark.parametrize("flags", [
    {},
    {"use_radial": False},
    {"use_tangential": False},
    {"use_thin_prism": False},
    {"use_tangential": False, "use_thin_prism": False},
])
def test_projection_matches_reference_one_camera(flags):
    params = _params(1, strength=3.0)
    cams = FishEyeCameras(**params, **flags)
    pts = _view_points(12)
    out = cams.transform_points(pts)
    assert out.shape == (12, 3) and out.dtype == F64
    np.testing.assert_allclose(out.numpy(), _reference(pts, params, 0, **flags), atol=1e-12)
    # a point behind the camera projects like its mirror image (PyTorch3D's symmetric model)
    torch.testing.assert_close(cams.transform_points(-pts), out)


def test_projection_closed_form_without_distortion():
    cams = FishEyeCameras(focal_length=torch.tensor([[2.0]]), principal_point=torch.tensor([[0.1, -0.2]]))
    out = cams.transform_points(torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 5.0]]))
    torch.testing.assert_close(out, torch.tensor([[2.0 * math.pi / 4 + 0.1, -0.2, 1.0], [0.1, -0.2, 1.0]]))


@pytest.mark.parametrize("device", DEVICES)
def test_batched_cameras_match_reference_and_shapes(device):
    params = _params(3)
    cams = FishEyeCameras(**params, device=device)
    pts = _view_points(7).to(device)
    out = cams.transform_points(pts)
    assert out.shape == (3, 7, 3)
    for i in range(3):
        np.testing.assert_allclose(out[i].cpu().numpy(), _reference(pts.cpu(), params, i), atol=1e-12)
    torch.testing.assert_close(cams.transform_points(pts[None]), out)
    # (N, P, 3): camera i projects points[i] (PyTorch3D raises here)
    per_camera = torch.stack([pts, 2 * pts, 3 * pts])
    paired = cams.transform_points(per_camera)
    for i in range(3):
        torch.testing.assert_close(paired[i], cams[i].transform_points(per_camera[i]))
    # PyTorch3D squeezes the stacked result: one point per camera gives (N, 3)
    assert cams.transform_points(pts[:1]).shape == (3, 3)
    with pytest.raises(ValueError, match="shape"):
        cams.transform_points(torch.zeros(2, 4, 3, dtype=F64))
    with pytest.raises(ValueError, match="shape"):
        cams.transform_points(torch.zeros(4, 2, dtype=F64))


def test_world_coordinates_apply_the_pose():
    params = _params(2)
    R, T = random_rotations(2, dtype=F64), torch.randn(2, 3, dtype=F64) + torch.tensor([0, 0, 4.0], dtype=F64)
    world = FishEyeCameras(**params, R=R, T=T, world_coordinates=True)
    view = FishEyeCameras(**params)
    pts = torch.randn(5, 3, dtype=F64)
    view_pts = pts @ R + T[:, None]  # (2, 5, 3)
    torch.testing.assert_close(world.transform_points(pts), view.transform_points(view_pts))


def test_unprojection_inverts_and_matches_root_finder():
    params = _params(1, strength=2.0)
    cams = FishEyeCameras(**params)
    rays = _view_points(10)
    rays = rays / rays[:, 2:]  # z = 1
    xy = cams.transform_points(rays)
    xy_depth = torch.cat([xy[:, :2], torch.rand(10, 1, dtype=F64) * 5], 1)  # the depth is ignored
    back = cams.unproject_points(xy_depth)
    assert back.shape == (10, 3)
    torch.testing.assert_close(back, rays, atol=1e-8, rtol=0)
    ref = np.stack([
        naive_fisheye_unproject(p[:2].tolist(), params["focal_length"][0], params["principal_point"][0],
                                params["radial_params"][0], params["tangential_params"][0],
                                params["thin_prism_params"][0])
        for p in xy
    ])
    np.testing.assert_allclose(back.numpy(), ref, atol=1e-8)
    # the principal point is the optical axis (PyTorch3D returns NaN there)
    centre = torch.cat([params["principal_point"], torch.ones(1, 1, dtype=F64)], 1)
    torch.testing.assert_close(cams.unproject_points(centre), torch.tensor([[0.0, 0.0, 1.0]], dtype=F64))


def test_unprojection_batched():
    params = _params(3)
    cams = FishEyeCameras(**params)
    rays = _view_points(6)
    rays = rays / rays[:, 2:]
    xy = cams.transform_points(rays)  # (3, 6, 3)
    back = cams.unproject_points(xy)  # paired
    torch.testing.assert_close(back, rays.expand(3, -1, -1), atol=1e-8, rtol=0)
    assert cams.unproject_points(xy[0]).shape == (3, 6, 3)


def test_gradcheck():
    params = _params(2)
    pts = _view_points(4).requires_grad_()
    focal = params.pop("focal_length").requires_grad_()
    radial = params.pop("radial_params").requires_grad_()

    def project(p, f, k):
        return FishEyeCameras(focal_length=f, radial_params=k, **params).transform_points(p)

    assert torch.autograd.gradcheck(project, (pts, focal, radial))


def test_camera_api():
    cams = FishEyeCameras(**_params(3), image_size=(32, 48))
    assert not cams.is_perspective() and cams.in_ndc()
    assert len(cams) == 3 and cams.image_size.shape == (3, 2)
    with pytest.raises(NotImplementedError):
        cams.get_projection_transform()
    assert try_get_projection_transform(cams, {}) is None
    part = cams[[0, 2]]
    assert isinstance(part, FishEyeCameras) and len(part) == 2
    torch.testing.assert_close(part.radial_params, cams.radial_params[[0, 2]])
    joined = join_cameras_as_batch([cams[0], cams[1], cams[2]])
    pts = _view_points(5)
    torch.testing.assert_close(joined.transform_points(pts), cams.transform_points(pts))
    torch.testing.assert_close(cams.focal, cams.focal_length)
    # fewer than 6 radial coefficients: k1..kn, the rest 0
    short = FishEyeCameras(radial_params=torch.tensor([[0.1, 0.02]], dtype=F64))
    full = FishEyeCameras(radial_params=torch.tensor([[0.1, 0.02, 0, 0, 0, 0]], dtype=F64))
    torch.testing.assert_close(short.transform_points(pts), full.transform_points(pts))


def test_bad_parameters():
    with pytest.raises(ValueError, match="tangential_params"):
        FishEyeCameras(tangential_params=torch.zeros(1, 3))
    with pytest.raises(ValueError, match="radial_params"):
        FishEyeCameras(radial_params=torch.zeros(1, 7))
    with pytest.raises(ValueError, match="image_size"):
        FishEyeCameras(image_size=(0, 4))


# ---------------------------------------------------------------------------------------------------------------
# Numbers from PyTorch3D 0.7.9's own FishEyeCameras tests (its values, recomputed here by our code)

SIMPLE_FOCAL = torch.tensor([[240.0]])
SIMPLE_PRINCIPAL_POINT = torch.tensor([[320, 240]])  # an integer tensor, as PyTorch3D's test passes it
SIMPLE_POINTS = torch.tensor([[2.0, 3.0, 1.0], [3.0, 2.0, 1.0]])
ARIA = {
    "focal_length": torch.tensor([[608.9255557152]]),
    "principal_point": torch.tensor([[712.0114821205, 706.8666571177]]),
    "radial_params": torch.tensor([[0.3877090026, -0.315613384, -0.3434984955, 1.8565874201, -2.1799372221,
                                    0.7713834763]]),
    "tangential_params": torch.tensor([[-0.0002747019, 0.0005228974]]),
    "thin_prism_params": torch.tensor([[0.000134884, -0.000084822, -0.0009420014, -0.0001276838]]),
}
COMBINATIONS = [(r, t, p) for r in (0, 1) for t in (0, 1) for p in (0, 1)]  # itertools.product order


def _flags(combination):
    return dict(zip(("use_radial", "use_tangential", "use_thin_prism"), (bool(c) for c in combination)))


def test_pytorch3d_values_simple_and_pinhole():
    cams = FishEyeCameras(focal_length=SIMPLE_FOCAL, principal_point=SIMPLE_PRINCIPAL_POINT)
    expected = torch.tensor([[493.0993, 499.6489, 1.0], [579.6489, 413.0993, 1.0]])
    torch.testing.assert_close(cams.transform_points(SIMPLE_POINTS), expected, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(cams.unproject_points(expected), SIMPLE_POINTS, rtol=1e-5, atol=1e-4)
    # with every distortion off it is the pinhole camera
    from inverse3d.renderer import PerspectiveCameras

    pinhole = PerspectiveCameras(focal_length=SIMPLE_FOCAL, principal_point=SIMPLE_PRINCIPAL_POINT)
    plain = FishEyeCameras(focal_length=SIMPLE_FOCAL, principal_point=SIMPLE_PRINCIPAL_POINT,
                           **_flags((0, 0, 0)))
    torch.testing.assert_close(plain.transform_points(SIMPLE_POINTS),
                               pinhole.get_projection_transform().transform_points(SIMPLE_POINTS))


def test_pytorch3d_values_batched_projection():
    second = [[[1929.862549, 2533.643311], [2538.788086, 1924.717773]],
              [[1927.272095, 2524.220459], [2536.197754, 1915.295166]],
              [[1930.050293, 2538.434814], [2537.956543, 1927.569092]],
              [[1927.459839, 2529.011963], [2535.366211, 1918.146484]],
              [[1662.673950, 2132.860352], [2138.005127, 1657.529053]],
              [[1660.083496, 2123.437744], [2135.414795, 1648.106445]],
              [[1662.861816, 2137.651855], [2137.173828, 1660.380371]],
              [[1660.271240, 2128.229248], [2134.583496, 1650.957764]]]
    first_plain = [[800.0, 960.0], [1040.0, 720.0]]
    first_fisheye = [[493.099304, 499.648926], [579.648926, 413.099304]]
    for i, combination in enumerate(COMBINATIONS):
        cams = FishEyeCameras(
            focal_length=torch.cat([SIMPLE_FOCAL, ARIA["focal_length"]]),
            principal_point=torch.cat([SIMPLE_PRINCIPAL_POINT.float(), ARIA["principal_point"]]),
            radial_params=torch.cat([torch.zeros(1, 6), ARIA["radial_params"]]),
            tangential_params=torch.cat([torch.zeros(1, 2), ARIA["tangential_params"]]),
            thin_prism_params=torch.cat([torch.zeros(1, 4), ARIA["thin_prism_params"]]),
            **_flags(combination),
        )
        xy = torch.tensor([first_fisheye if combination[0] else first_plain, second[i]])
        expected = torch.cat([xy, torch.ones(2, 2, 1)], -1)
        torch.testing.assert_close(cams.transform_points(SIMPLE_POINTS), expected, rtol=1e-5, atol=2e-3)
        torch.testing.assert_close(cams.transform_points(SIMPLE_POINTS[None]), expected, rtol=1e-5, atol=2e-3)


def test_pytorch3d_values_unprojection():
    xy_depth = torch.tensor([[2134.5814033, 1650.95653328, 1.0], [1074.25442904, 1159.52461285, 1.0]])
    expected = torch.tensor([
        [[2.999442, 1.990583, 1.0], [0.666728, 0.833142, 1.0]],
        [[2.997338, 2.005411, 1.0], [0.666859, 0.834456, 1.0]],
        [[3.002090, 1.985229, 1.0], [0.666537, 0.832025, 1.0]],
        [[2.999999, 2.000000, 1.0], [0.666667, 0.833333, 1.0]],
    ] * 2)
    for i, combination in enumerate(COMBINATIONS):
        cams = FishEyeCameras(**ARIA, **_flags(combination))
        torch.testing.assert_close(cams.unproject_points(xy_depth), expected[i], rtol=1e-5, atol=2e-5)
        torch.testing.assert_close(cams.unproject_points(xy_depth.repeat(3, 1, 1)), expected[i].repeat(3, 1, 1),
                                   rtol=1e-5, atol=2e-5)
        two = FishEyeCameras(**{k: v.repeat(2, 1) for k, v in ARIA.items()}, **_flags(combination))
        torch.testing.assert_close(two.unproject_points(xy_depth), expected[i].repeat(2, 1, 1), rtol=1e-5, atol=2e-5)
