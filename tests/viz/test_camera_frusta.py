"""The camera frusta plot: corners are where the cameras see their image corners; the PNG is written."""

import numpy as np
import pytest
import torch
from PIL import Image

from inverse3d.renderer import FoVPerspectiveCameras, PerspectiveCameras, look_at_view_transform
from inverse3d.viz.cameras import frustum_corners, plot_camera_frusta


def _cameras(kind: str):
    R, T = look_at_view_transform(3.0, torch.tensor([10.0, 40.0, -20.0]), torch.tensor([0.0, 120.0, 250.0]))
    if kind == "fov":
        return FoVPerspectiveCameras(R=R, T=T, fov=50.0), (32, 32)
    # screen-space intrinsics of a 40 x 60 (H x W) image, principal point off centre
    return PerspectiveCameras(R=R, T=T, focal_length=((50.0, 55.0),), principal_point=((27.0, 22.0),),
                              in_ndc=False, image_size=((40, 60),)), (40, 60)


@pytest.mark.parametrize("kind", ["fov", "screen"])
def test_corners_project_to_the_image_corners(kind):
    cameras, (h, w) = _cameras(kind)
    centres, corners = frustum_corners(cameras, (h, w), depth=1.5)
    assert corners.shape == (3, 4, 3)
    # at the requested view depth ...
    view = cameras.get_world_to_view_transform().transform_points(corners)
    torch.testing.assert_close(view[..., 2], torch.full((3, 4), 1.5), atol=1e-5, rtol=0)
    # ... and on the image corners: top-left, top-right, bottom-right, bottom-left in pixels
    if kind == "screen":
        screen = cameras.transform_points_screen(corners)[..., :2]
        expect = torch.tensor([[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]]).expand(3, 4, 2)
        torch.testing.assert_close(screen, expect, atol=1e-3, rtol=0)
    else:
        ndc = cameras.transform_points(corners)[..., :2]
        expect = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]]).expand(3, 4, 2)
        torch.testing.assert_close(ndc, expect, atol=1e-5, rtol=0)
    torch.testing.assert_close(centres, cameras.get_camera_center())


def test_plot_is_written(tmp_path):
    cameras, size = _cameras("fov")
    pts = torch.randn(5000, 3) * 0.3
    path = plot_camera_frusta(tmp_path / "cams.png", cameras, size, points=pts, points_rgb=(pts.clamp(-1, 1) + 1) / 2,
                              highlight=[1])
    image = np.asarray(Image.open(path))
    assert image.ndim == 3 and image.shape[0] > 100
    assert (image[..., :3].std(axis=(0, 1)) > 5).all()  # not a blank canvas
    red = (image[..., 0] > 180) & (image[..., 1] < 90) & (image[..., 2] < 90)
    assert red.sum() > 20  # the highlighted camera is drawn


def test_wrong_colours_are_rejected(tmp_path):
    cameras, size = _cameras("fov")
    with pytest.raises(ValueError, match="points_rgb"):
        plot_camera_frusta(tmp_path / "x.png", cameras, size, points=torch.zeros(10, 3), points_rgb=torch.zeros(9, 3))
