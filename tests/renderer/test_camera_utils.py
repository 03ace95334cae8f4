"""camera_utils (rotate_on_spot, camera_to_eye_at_up, join_cameras_as_batch) and PyTorch3D's deprecated cameras."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from reference.cameras import fov_perspective_ndc, world_to_view

from inverse3d.renderer import (
    FoVOrthographicCameras,
    FoVPerspectiveCameras,
    OpenGLOrthographicCameras,
    OpenGLPerspectiveCameras,
    OrthographicCameras,
    PerspectiveCameras,
    SfMOrthographicCameras,
    SfMPerspectiveCameras,
    camera_to_eye_at_up,
    get_world_to_view_transform,
    join_cameras_as_batch,
    look_at_view_transform,
    rotate_on_spot,
)
from inverse3d.renderer.cameras import OpenGLPerspectiveCameras as OpenGLPerspectiveFromCamerasModule
from inverse3d.transforms import axis_angle_to_matrix, random_rotations

F64 = torch.float64


def test_rotate_on_spot_keeps_centres_and_turns():
    R, T = look_at_view_transform(dist=torch.tensor([2.0, 3.0], dtype=F64), elev=torch.tensor([10.0, 30.0], dtype=F64),
                                  azim=torch.tensor([0.0, 70.0], dtype=F64))
    assert R.dtype == F64
    rotation = axis_angle_to_matrix(torch.tensor([0.0, math.radians(10), 0.0], dtype=F64))
    new_R, new_T = rotate_on_spot(R, T, rotation)
    assert new_R.shape == (2, 3, 3) and new_T.shape == (2, 3)
    for i in range(2):  # per camera, the obvious way: same centre, rotation R rot^T
        centre = -np.linalg.solve(R[i].numpy().T, T[i].numpy())
        new_centre = -np.linalg.solve(new_R[i].numpy().T, new_T[i].numpy())
        np.testing.assert_allclose(new_centre, centre, atol=1e-12)
        np.testing.assert_allclose(new_R[i].numpy(), R[i].numpy() @ rotation.numpy().T, atol=1e-12)
    # the camera turns 10 degrees to the right, so what was straight ahead moves left: view x = +sin(10)
    # (+X is left in view space)
    ahead = (-torch.linalg.solve(R[0].T, T[0])) + R[0][:, 2]  # one unit in front of camera 0, world
    view = ahead @ new_R[0] + new_T[0]
    torch.testing.assert_close(view, torch.tensor([math.sin(math.radians(10)), 0.0, math.cos(math.radians(10))],
                                                  dtype=F64))


def test_rotate_on_spot_broadcasts_and_checks():
    R, T = random_rotations(1, dtype=F64), torch.randn(1, 3, dtype=F64)
    rotations = random_rotations(4, dtype=F64)
    new_R, new_T = rotate_on_spot(R[0], T[0], rotations)
    assert new_R.shape == (4, 3, 3) and new_T.shape == (4, 3)
    with pytest.raises(ValueError, match="Invalid R"):
        rotate_on_spot(torch.zeros(2, 3, 4), T, rotations)
    with pytest.raises(ValueError, match="Invalid T"):
        rotate_on_spot(R, torch.zeros(2, 4), rotations)
    with pytest.raises(ValueError, match="Invalid rotation"):
        rotate_on_spot(R, T, torch.zeros(2, 2, 2))


def test_camera_to_eye_at_up_round_trips_look_at():
    eye = torch.tensor([[1.0, 2.0, 3.0], [-2.0, 0.5, 1.0]], dtype=F64)
    at = torch.tensor([[0.0, 0.0, 0.0], [0.3, -0.2, 0.1]], dtype=F64)
    up = torch.tensor([[0.0, 1.0, 0.0], [0.1, 1.0, 0.2]], dtype=F64)
    R, T = look_at_view_transform(eye=eye, at=at, up=up)
    eye2, at2, up2 = camera_to_eye_at_up(get_world_to_view_transform(R=R, T=T))
    torch.testing.assert_close(eye2, eye)
    direction = torch.nn.functional.normalize(at - eye, dim=1)
    torch.testing.assert_close(at2, eye + direction)  # one unit in front
    R2, T2 = look_at_view_transform(eye=eye2, at=at2, up=up2)
    torch.testing.assert_close(R2, R)
    torch.testing.assert_close(T2, T)
    # up2 is the camera's up axis: perpendicular to the view direction, in the plane of up and the direction
    torch.testing.assert_close((up2 * direction).sum(1), torch.zeros(2, dtype=F64), atol=1e-12, rtol=0)
    assert (torch.linalg.det(torch.stack([up2, up, direction], 1)).abs() < 1e-12).all()


def _cameras_of_each_kind(n: int) -> list:
    R, T = random_rotations(n), torch.randn(n, 3) + torch.tensor([0, 0, 5.0])
    return [
        FoVPerspectiveCameras(fov=torch.linspace(40, 70, n), znear=0.5, R=R, T=T),
        FoVOrthographicCameras(max_y=torch.linspace(1, 2, n), min_y=-1.0, R=R, T=T),
        PerspectiveCameras(focal_length=torch.rand(n, 2) + 1, principal_point=torch.randn(n, 2), R=R, T=T,
                           in_ndc=False, image_size=torch.tensor([[32, 48]]).expand(n, 2)),
        OrthographicCameras(focal_length=torch.rand(n) + 1, R=R, T=T),
    ]


def test_join_cameras_as_batch_matches_the_parts():
    parts = [_cameras_of_each_kind(2), _cameras_of_each_kind(1), _cameras_of_each_kind(3)]
    points = torch.randn(6, 7, 3)
    for kind in range(4):
        cams = [p[kind] for p in parts]
        joined = join_cameras_as_batch(cams)
        assert type(joined) is type(cams[0]) and len(joined) == 6
        expected = torch.cat([c.transform_points(points[i: i + len(c)]) for c, i in zip(cams, (0, 2, 3))])
        torch.testing.assert_close(joined.transform_points(points), expected)
        torch.testing.assert_close(joined.R, torch.cat([c.R for c in cams]))


def test_join_cameras_as_batch_errors():
    fov, ortho = _cameras_of_each_kind(1)[:2]
    with pytest.raises(ValueError, match="same type"):
        join_cameras_as_batch([fov, ortho])
    with pytest.raises(ValueError, match="inherit from CamerasBase"):
        join_cameras_as_batch([fov, "camera"])
    with pytest.raises(ValueError, match="at least one"):
        join_cameras_as_batch([])
    with pytest.raises(ValueError, match="not constant"):
        join_cameras_as_batch([PerspectiveCameras(in_ndc=True), PerspectiveCameras(in_ndc=False, image_size=(8, 8))])
    with pytest.raises(ValueError, match="inconsistently present"):
        join_cameras_as_batch([FoVPerspectiveCameras(K=torch.eye(4)[None]), FoVPerspectiveCameras()])


def test_deprecated_cameras_warn_and_build_current_ones():
    R, T = random_rotations(2), torch.randn(2, 3) + torch.tensor([0, 0, 4.0])
    point = torch.randn(2, 5, 3)
    cases = [
        (lambda: OpenGLPerspectiveCameras(znear=0.5, zfar=20, fov=50, R=R, T=T),
         FoVPerspectiveCameras(znear=0.5, zfar=20, fov=50, R=R, T=T)),
        (lambda: OpenGLOrthographicCameras(top=2.0, bottom=-1.0, left=-3.0, right=1.0, R=R, T=T),
         FoVOrthographicCameras(max_y=2.0, min_y=-1.0, min_x=-3.0, max_x=1.0, R=R, T=T)),
        (lambda: SfMPerspectiveCameras(focal_length=2.0, principal_point=((0.1, 0.2),), R=R, T=T),
         PerspectiveCameras(focal_length=2.0, principal_point=((0.1, 0.2),), R=R, T=T)),
        (lambda: SfMOrthographicCameras(focal_length=2.0, R=R, T=T), OrthographicCameras(focal_length=2.0, R=R, T=T)),
    ]
    for make, expected in cases:
        with pytest.warns(PendingDeprecationWarning, match="is deprecated") as record:
            cams = make()
        assert type(cams) is type(expected)
        assert type(expected).__name__ in str(record[0].message)
        assert record[0].filename == __file__  # the warning points at the caller
        torch.testing.assert_close(cams.transform_points(point), expected.transform_points(point))
    assert OpenGLPerspectiveFromCamerasModule is OpenGLPerspectiveCameras


def test_deprecated_perspective_matches_reference():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        cams = OpenGLPerspectiveCameras(znear=1.0, zfar=10.0, fov=60.0)
    p = torch.tensor([[0.3, -0.2, 4.0]])
    ref = fov_perspective_ndc(p[0].tolist(), np.eye(3), [0, 0, 0], 60.0, 1.0, 10.0)
    np.testing.assert_allclose(cams.transform_points(p)[0].numpy(), ref, atol=1e-6)
    assert world_to_view(p[0].tolist(), np.eye(3), [0, 0, 0])[2] == pytest.approx(4.0)


def test_deprecated_textures_constructor():
    from inverse3d.renderer import Textures, TexturesUV, TexturesVertex

    with pytest.warns(PendingDeprecationWarning, match="Textures class is deprecated"):
        tex = Textures(verts_rgb=torch.rand(2, 4, 3))
    assert isinstance(tex, TexturesVertex) and len(tex) == 2
    with pytest.warns(PendingDeprecationWarning):
        tex = Textures(maps=torch.rand(1, 8, 8, 3), faces_uvs=torch.tensor([[[0, 1, 2]]]),
                       verts_uvs=torch.rand(1, 3, 2))
    assert isinstance(tex, TexturesUV)
    with pytest.warns(PendingDeprecationWarning), pytest.raises(ValueError, match="requires all three"):
        Textures(maps=torch.rand(1, 8, 8, 3))
