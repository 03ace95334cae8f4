"""RGB-D unprojection: known points for each camera type, rendered depth lands on the surface, views join."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES

from inverse3d.io.rgbd_io import cameras_from_intrinsics
from inverse3d.ops import rgbd_to_pointclouds, unproject_depth_image
from inverse3d.ops.rgbd import ndc_pixel_centers
from inverse3d.renderer import (
    FoVOrthographicCameras,
    FoVPerspectiveCameras,
    MeshRasterizer,
    OrthographicCameras,
    PerspectiveCameras,
    RasterizationSettings,
    look_at_view_transform,
)
from inverse3d.utils import ico_sphere


def test_ndc_pixel_centres_follow_conventions() -> None:
    xy = ndc_pixel_centers(4, 4)
    assert xy.shape == (4, 4, 2)
    torch.testing.assert_close(xy[0, :, 0], torch.tensor([0.75, 0.25, -0.25, -0.75]))  # +X left
    torch.testing.assert_close(xy[:, 0, 1], torch.tensor([0.75, 0.25, -0.25, -0.75]))  # +Y up
    wide = ndc_pixel_centers(2, 4)  # the shorter side spans [-1, 1]
    torch.testing.assert_close(wide[0, :, 0], torch.tensor([1.5, 0.5, -0.5, -1.5]))
    torch.testing.assert_close(wide[:, 0, 1], torch.tensor([0.5, -0.5]))


def test_fov_perspective_known_points() -> None:
    camera = FoVPerspectiveCameras(fov=90.0)  # identity pose: world = view, focal 1 in NDC
    depth = torch.tensor([[2.0, 4.0], [1.0, 0.0]])
    image = torch.arange(12, dtype=torch.float32).view(2, 2, 3)
    points, rgb = unproject_depth_image(image, None, depth, camera)
    expected = torch.tensor([[1.0, 1.0, 2.0], [-2.0, 2.0, 4.0], [0.5, -0.5, 1.0]])  # X = x_ndc Z, Y = y_ndc Z
    torch.testing.assert_close(points, expected)
    torch.testing.assert_close(rgb, image.view(4, 3)[:3])  # the zero-depth pixel is dropped


def test_intrinsics_camera_known_points() -> None:
    K = torch.tensor([[50.0, 0.0, 15.0], [0.0, 60.0, 10.0], [0.0, 0.0, 1.0]])
    H, W = 20, 32
    camera = cameras_from_intrinsics(K, (H, W))
    depth = torch.full((H, W), 2.0)
    depth[3, 7] = 5.0
    points, _ = unproject_depth_image(torch.zeros(H, W, 3), None, depth, camera)
    # Pixel centres at (i + 0.5, j + 0.5); world = PyTorch3D view space (x left, y up) of an OpenCV camera.
    j, i = 3, 7
    x_cv, y_cv = (i + 0.5 - 15.0) / 50.0 * 5.0, (j + 0.5 - 10.0) / 60.0 * 5.0
    torch.testing.assert_close(points[j * W + i], torch.tensor([-x_cv, -y_cv, 5.0]))


@pytest.mark.parametrize("kind", ["fov", "fov_ortho", "perspective_ndc", "perspective_screen", "ortho"])
def test_unproject_then_project_gives_pixel_centres(kind: str) -> None:
    R, T = look_at_view_transform(4.0, 25.0, 60.0)
    H = W = 6
    cameras = {
        "fov": lambda: FoVPerspectiveCameras(R=R, T=T, fov=40.0),
        "fov_ortho": lambda: FoVOrthographicCameras(R=R, T=T, scale_xyz=((0.7, 0.7, 0.7),)),
        "perspective_ndc": lambda: PerspectiveCameras(focal_length=2.0, principal_point=((0.1, -0.2),), R=R, T=T),
        "perspective_screen": lambda: PerspectiveCameras(
            focal_length=10.0, principal_point=((2.5, 3.5),), R=R, T=T, in_ndc=False, image_size=((H, W),)
        ),
        "ortho": lambda: OrthographicCameras(focal_length=0.5, R=R, T=T),
    }
    camera = cameras[kind]()
    depth = 3.0 + torch.rand(H, W)
    points, _ = unproject_depth_image(torch.zeros(H, W, 3), torch.ones(H, W), depth, camera)
    view = camera.get_world_to_view_transform().transform_points(points[None])[0]
    torch.testing.assert_close(view[:, 2], depth.flatten(), atol=1e-5, rtol=1e-5)
    ndc = camera.transform_points_ndc(points[None])[0]
    torch.testing.assert_close(ndc[:, :2], ndc_pixel_centers(H, W).reshape(-1, 2), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("camera_cls", [FoVPerspectiveCameras, FoVOrthographicCameras])
def test_rendered_depth_lands_on_the_sphere(camera_cls) -> None:
    R, T = look_at_view_transform(3.0, torch.tensor([10.0, -30.0]), torch.tensor([0.0, 140.0]))
    cameras = camera_cls(R=R, T=T)
    size = 40
    fragments = MeshRasterizer(cameras=cameras, raster_settings=RasterizationSettings(image_size=size))(
        ico_sphere(4).extend(2)
    )
    depth = fragments.zbuf[..., 0]  # -1 where no face
    images = torch.rand(2, size, size, 3)
    cloud = rgbd_to_pointclouds(images, depth, cameras)
    points = cloud.points_packed()
    assert len(cloud) == 1 and points.shape[0] == int((depth > 0).sum())
    # Level-4 ico-sphere: its faces lie within 0.1% of the unit sphere.
    assert (points.norm(dim=1) - 1).abs().max() < 2e-3
    assert cloud.features_packed().shape == (points.shape[0], 3)
    per_view = rgbd_to_pointclouds(images, depth[..., None], cameras, masks=(depth > 0).float(), join=False)
    assert per_view.num_points_per_cloud().tolist() == (depth > 0).flatten(1).sum(1).tolist()


def test_mask_selects_pixels_and_colours() -> None:
    camera = FoVPerspectiveCameras()
    image = torch.rand(3, 3, 4)  # any number of channels
    mask = torch.zeros(3, 3, 1)
    mask[1, 2] = 1.0
    points, rgb = unproject_depth_image(image, mask, torch.ones(3, 3), camera)
    assert points.shape == (1, 3)
    torch.testing.assert_close(rgb[0], image[1, 2])


def test_gradient_wrt_depth() -> None:
    R, T = look_at_view_transform(2.0, 20.0, 30.0)
    camera = FoVPerspectiveCameras(R=R.double(), T=T.double())
    depth = (1.0 + torch.rand(2, 3, dtype=torch.float64)).requires_grad_()
    image = torch.rand(2, 3, 3, dtype=torch.float64)
    torch.autograd.gradcheck(lambda d: unproject_depth_image(image, None, d, camera)[0], (depth,))


@pytest.mark.parametrize("device", DEVICES)
def test_device(device: str) -> None:
    camera = FoVPerspectiveCameras(device=device)
    points, rgb = unproject_depth_image(
        torch.rand(4, 4, 3, device=device), None, torch.ones(4, 4, device=device), camera
    )
    assert points.device.type == device and rgb.device.type == device


def test_bad_input() -> None:
    camera = FoVPerspectiveCameras()
    with pytest.raises(ValueError, match="image"):
        unproject_depth_image(torch.rand(4, 4), None, torch.ones(4, 4), camera)
    with pytest.raises(ValueError, match="depth"):
        unproject_depth_image(torch.rand(4, 4, 3), None, torch.ones(4, 5), camera)
    with pytest.raises(ValueError, match="one view"):
        unproject_depth_image(torch.rand(4, 4, 3), None, torch.ones(4, 4), FoVPerspectiveCameras(fov=[30.0, 40.0]))
    with pytest.raises(ValueError, match="cameras"):
        rgbd_to_pointclouds(torch.rand(2, 4, 4, 3), torch.ones(2, 4, 4), camera)
