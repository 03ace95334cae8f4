"""Camera layouts: rigid OpenGL poses looking at the target, placed as each kind promises, deterministic per seed."""

import numpy as np
import pytest

from inverse3d.datasets.scenes.layouts import FORWARD_PATCH, layout_c2w, look_at_c2w, spherical_positions
from inverse3d.datasets.scenes.spec import CameraLayout


def _check_looks_at(c2w, target):
    rot = c2w[:, :3, :3]
    np.testing.assert_allclose(rot.transpose(0, 2, 1) @ rot, np.broadcast_to(np.eye(3), rot.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-9)
    to_target = np.asarray(target) - c2w[:, :3, 3]
    to_target /= np.linalg.norm(to_target, axis=1, keepdims=True)
    np.testing.assert_allclose(-c2w[:, :3, 2], to_target, atol=1e-9)  # OpenGL: the camera looks along its -Z


def test_look_at_c2w_axes():
    c2w = look_at_c2w([[0.0, 0.0, 5.0]], (0.0, 0.0, 0.0))[0]
    np.testing.assert_allclose(c2w[:3, :3], np.eye(3), atol=1e-12)  # +X right, +Y up, +Z backward
    np.testing.assert_allclose(c2w[:3, 3], [0, 0, 5])
    top = look_at_c2w([[0.0, 3.0, 0.0]], (0.0, 0.0, 0.0))  # straight above: still a rotation
    _check_looks_at(top, (0, 0, 0))
    with pytest.raises(ValueError, match="looks at"):
        look_at_c2w([[1.0, 1.0, 1.0]], (1.0, 1.0, 1.0))


def test_spherical_positions_follow_look_at_view_transform():
    from inverse3d.renderer import look_at_view_transform
    from inverse3d.renderer.cameras import FoVPerspectiveCameras

    R, T = look_at_view_transform(3.0, 20.0, 70.0)
    centre = FoVPerspectiveCameras(R=R, T=T).get_camera_center()[0].numpy()
    np.testing.assert_allclose(spherical_positions(20.0, 70.0, 3.0), centre, atol=1e-5)


@pytest.mark.parametrize("kind", ["sphere", "hemisphere", "ring", "forward"])
def test_layouts(kind):
    layout = CameraLayout(kind, radius=4.0, look_at=(0.5, 0.2, -0.3), elevation=25.0)
    c2w = layout_c2w(layout, 64, seed=3)
    assert c2w.shape == (64, 4, 4)
    _check_looks_at(c2w, layout.look_at)
    offset = c2w[:, :3, 3] - layout.look_at
    dist = np.linalg.norm(offset, axis=1)
    elevation = np.degrees(np.arcsin(offset[:, 1] / dist))
    if kind != "forward":
        np.testing.assert_allclose(dist, 4.0)
    if kind == "hemisphere":
        assert elevation.min() >= 0 and elevation.max() > 60
    if kind == "sphere":
        assert elevation.min() < -60 and elevation.max() > 60
        assert abs(offset[:, 1].mean()) < 0.3, "stratified: as many views below as above"
    if kind == "ring":
        np.testing.assert_allclose(elevation, 25.0, atol=1e-9)
        azimuth = np.sort(np.degrees(np.arctan2(offset[:, 0], offset[:, 2])) % 360)
        np.testing.assert_allclose(np.diff(azimuth), 360 / 64, atol=1e-6)
    if kind == "forward":
        centre = spherical_positions(25.0, 0.0, 4.0, layout.look_at)
        spread = np.abs(c2w[:, :3, 3] - centre)
        assert spread.max() <= np.hypot(*FORWARD_PATCH) * 4.0 + 1e-9
        assert np.all(offset[:, 2] > 0), "all on the +Z side of the scene"
    np.testing.assert_array_equal(c2w, layout_c2w(layout, 64, seed=3))
    assert not np.allclose(c2w, layout_c2w(layout, 64, seed=4))


def test_few_views_are_spread_out():
    c2w = layout_c2w(CameraLayout("sphere", radius=1.0), 4, seed=0)
    dirs = c2w[:, :3, 3]
    cos = dirs @ dirs.T
    assert cos[~np.eye(4, dtype=bool)].max() < 0.5, "no two of four views within 60 degrees"


def test_bad_layouts():
    with pytest.raises(ValueError, match="kind"):
        layout_c2w(CameraLayout("spiral"), 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="radius"):
        layout_c2w(CameraLayout("ring", radius=0.0), 3)
    with pytest.raises(ValueError, match="views"):
        layout_c2w(CameraLayout("ring"), -1)
    assert layout_c2w(CameraLayout("ring"), 0).shape == (0, 4, 4)
