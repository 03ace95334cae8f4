"""Bad input to the renderer's library API (cameras, rasterisation settings, rasterisers, knn): one clear error each.

``CASES`` is the table of inputs and the message each must produce, taken from ``_TABLE`` whose rows also hold the
call that builds the object or runs the renderer, and the exception type; every row is run.
"""

from __future__ import annotations

import math

import pytest
import torch

from inverse3d.ops.knn import knn_gather, knn_points
from inverse3d.renderer import (
    FoVOrthographicCameras,
    FoVPerspectiveCameras,
    MeshRasterizer,
    OrthographicCameras,
    PerspectiveCameras,
    PointsRasterizationSettings,
    PointsRasterizer,
    RasterizationSettings,
)
from inverse3d.renderer.mesh.rasterize_meshes import rasterize_meshes
from inverse3d.renderer.points.rasterize_points import rasterize_points
from inverse3d.structures import Meshes, Pointclouds


def _triangle() -> Meshes:
    verts = torch.tensor([[-0.5, -0.5, 0.0], [0.5, -0.5, 0.0], [0.0, 0.5, 0.0]])
    return Meshes(verts=[verts], faces=[torch.tensor([[0, 1, 2]])])


def _cloud() -> Pointclouds:
    return Pointclouds(points=[torch.rand(10, 3)])


def _rasterize(**settings):
    """A triangle seen from z = -3 with these rasterisation settings (set after construction)."""
    raster = RasterizationSettings(image_size=8)
    for name, value in settings.items():
        setattr(raster, name, value)
    cams = FoVPerspectiveCameras(T=torch.tensor([[0.0, 0.0, 3.0]]))
    return MeshRasterizer(cameras=cams, raster_settings=raster)(_triangle())


def _project_with(camera_kwargs: dict):
    """Renders a triangle with FoV parameters given at call time (projection-time check)."""
    cams = FoVPerspectiveCameras(T=torch.tensor([[0.0, 0.0, 3.0]]))
    return MeshRasterizer(cameras=cams, raster_settings=RasterizationSettings(image_size=8))(_triangle(),
                                                                                              **camera_kwargs)


def _knn(lengths1=None, lengths2=None):
    p1, p2 = torch.rand(2, 5, 3), torch.rand(2, 6, 3)
    return knn_points(p1, p2, lengths1=lengths1, lengths2=lengths2, K=2)


_TABLE = [  # (description, call, exception type, expected message)
    # Cameras: at construction.
    ("FoVPerspectiveCameras(fov=0)", lambda: FoVPerspectiveCameras(fov=0.0), ValueError,
     "fov must be in (0, 180) degrees; got fov = 0"),
    ("FoVPerspectiveCameras(fov=-10)", lambda: FoVPerspectiveCameras(fov=-10.0), ValueError, "got fov = -10"),
    ("FoVPerspectiveCameras(fov=180)", lambda: FoVPerspectiveCameras(fov=180.0), ValueError, "got fov = 180"),
    ("FoVPerspectiveCameras(fov=[60, 200]) batched", lambda: FoVPerspectiveCameras(fov=[60.0, 200.0]), ValueError,
     "got fov[1] = 200"),
    ("FoVPerspectiveCameras(fov=NaN)", lambda: FoVPerspectiveCameras(fov=float("nan")), ValueError, "got fov = nan"),
    ("FoVPerspectiveCameras(fov=3.5, degrees=False)", lambda: FoVPerspectiveCameras(fov=3.5, degrees=False),
     ValueError, "in (0, pi) radians (degrees=False); got fov = 3.5"),
    ("FoVPerspectiveCameras(fov=tensor 0)", lambda: FoVPerspectiveCameras(fov=torch.tensor([0.0])), ValueError,
     "got fov = 0"),
    ("FoVPerspectiveCameras(znear=0)", lambda: FoVPerspectiveCameras(znear=0.0), ValueError,
     "znear must be > 0 (the near plane lies in front of the camera); got znear = 0"),
    ("FoVPerspectiveCameras(znear=-1)", lambda: FoVPerspectiveCameras(znear=-1.0), ValueError, "got znear = -1"),
    ("FoVPerspectiveCameras(znear=10, zfar=1)", lambda: FoVPerspectiveCameras(znear=10.0, zfar=1.0), ValueError,
     "znear must be < zfar; got znear = 10 and zfar = 1"),
    ("FoVPerspectiveCameras(znear=zfar=5)", lambda: FoVPerspectiveCameras(znear=5.0, zfar=5.0), ValueError,
     "znear must be < zfar"),
    ("FoVPerspectiveCameras(zfar=inf)", lambda: FoVPerspectiveCameras(zfar=math.inf), ValueError,
     "zfar must be a finite number; got zfar = inf"),
    ("FoVPerspectiveCameras(aspect_ratio=0)", lambda: FoVPerspectiveCameras(aspect_ratio=0.0), ValueError,
     "aspect_ratio must be > 0"),
    ("FoVOrthographicCameras(znear=3, zfar=1)", lambda: FoVOrthographicCameras(znear=3.0, zfar=1.0), ValueError,
     "FoVOrthographicCameras: znear must be < zfar; got znear = 3 and zfar = 1"),
    ("FoVOrthographicCameras(max_x=min_x)", lambda: FoVOrthographicCameras(max_x=1.0, min_x=1.0), ValueError,
     "max_x must differ from min_x"),
    ("PerspectiveCameras(focal_length=0)", lambda: PerspectiveCameras(focal_length=0.0), ValueError,
     "PerspectiveCameras: focal_length must be a finite, non-zero number; got focal_length = 0"),
    ("OrthographicCameras(focal_length=inf)", lambda: OrthographicCameras(focal_length=math.inf), ValueError,
     "focal_length must be a finite, non-zero number"),
    # Cameras: parameters given at projection time.
    ("render with fov=0 given to forward", lambda: _project_with({"fov": 0.0}), ValueError, "got fov = 0"),
    ("render with znear=0 given to forward", lambda: _project_with({"znear": 0.0}), ValueError, "got znear = 0"),
    ("render with znear=50 >= zfar given to forward", lambda: _project_with({"znear": 50.0, "zfar": 10.0}),
     ValueError, "znear must be < zfar"),
    # Rasterisation settings.
    ("RasterizationSettings(image_size=8.5)", lambda: RasterizationSettings(image_size=8.5), TypeError,
     "image_size must be an int or (H, W) of ints; got 8.5 (float)"),
    ('RasterizationSettings(image_size="8")', lambda: RasterizationSettings(image_size="8"), TypeError,
     "got '8' (str)"),
    ("RasterizationSettings(image_size=True)", lambda: RasterizationSettings(image_size=True), TypeError,
     "got True (bool)"),
    ("RasterizationSettings(image_size=0)", lambda: RasterizationSettings(image_size=0), ValueError,
     "image_size must be positive; got 0"),
    ("RasterizationSettings(image_size=-4)", lambda: RasterizationSettings(image_size=-4), ValueError,
     "image_size must be positive"),
    ("RasterizationSettings(image_size=(8, 8, 3))", lambda: RasterizationSettings(image_size=(8, 8, 3)),
     ValueError, "image_size must be an int or (H, W); got (8, 8, 3) (3 values)"),
    ("RasterizationSettings(image_size=(8, 8.5))", lambda: RasterizationSettings(image_size=(8, 8.5)), TypeError,
     "(H, W) of ints"),
    ("RasterizationSettings(faces_per_pixel=0)", lambda: RasterizationSettings(faces_per_pixel=0), ValueError,
     "faces_per_pixel must be at least 1"),
    ("RasterizationSettings(faces_per_pixel=1.5)", lambda: RasterizationSettings(faces_per_pixel=1.5), TypeError,
     "faces_per_pixel must be an int"),
    ("RasterizationSettings(blur_radius=-1)", lambda: RasterizationSettings(blur_radius=-1.0), ValueError,
     "blur_radius must be a finite number >= 0"),
    ("image_size=8.5 set after construction", lambda: _rasterize(image_size=8.5), TypeError,
     "image_size must be an int"),
    ("rasterize_meshes(image_size='8')", lambda: rasterize_meshes(_triangle(), image_size="8"), TypeError,
     "image_size must be an int"),
    ("PointsRasterizationSettings(image_size=8.5)", lambda: PointsRasterizationSettings(image_size=8.5),
     TypeError, "image_size must be an int or (H, W) of ints"),
    ('PointsRasterizationSettings(image_size="8")', lambda: PointsRasterizationSettings(image_size="8"),
     TypeError, "got '8' (str)"),
    ("PointsRasterizationSettings(image_size=True)", lambda: PointsRasterizationSettings(image_size=True),
     TypeError, "(bool)"),
    ("PointsRasterizationSettings(image_size=(8,))", lambda: PointsRasterizationSettings(image_size=(8,)),
     ValueError, "(1 values)"),
    ("PointsRasterizationSettings(radius=-0.1)", lambda: PointsRasterizationSettings(radius=-0.1), ValueError,
     "radius must be a finite number >= 0"),
    ("PointsRasterizationSettings(points_per_pixel=0)", lambda: PointsRasterizationSettings(points_per_pixel=0),
     ValueError, "points_per_pixel must be at least 1"),
    ("rasterize_points(image_size=8.5)", lambda: rasterize_points(_cloud(), image_size=8.5), TypeError,
     "image_size must be an int"),
    # Empty batches.
    ("MeshRasterizer on Meshes of 0 meshes", lambda: MeshRasterizer(cameras=FoVPerspectiveCameras())(
        Meshes(verts=[], faces=[])), ValueError, "MeshRasterizer: the Meshes batch is empty (0 meshes)"),
    ("PointsRasterizer on Pointclouds of 0 clouds", lambda: PointsRasterizer(cameras=FoVPerspectiveCameras())(
        Pointclouds(points=[])), ValueError, "PointsRasterizer: the Pointclouds batch is empty (0 clouds)"),
    # knn.
    ("knn_points(lengths1=float)", lambda: _knn(lengths1=torch.tensor([5.0, 3.0])), TypeError,
     "lengths1 must be an integer tensor (torch.int64) of point counts; got dtype torch.float32"),
    ("knn_points(lengths2=float64)", lambda: _knn(lengths2=torch.tensor([2.0, 6.0], dtype=torch.float64)),
     TypeError, "lengths2 must be an integer tensor"),
    ("knn_points(lengths1=bool)", lambda: _knn(lengths1=torch.tensor([True, True])), TypeError,
     "got dtype torch.bool"),
    ("knn_points(K=True)", lambda: knn_points(torch.rand(1, 4, 3), torch.rand(1, 4, 3), K=True), ValueError,
     "K must be a positive int"),
    ("knn_gather(lengths=float)", lambda: knn_gather(torch.rand(1, 4, 2), torch.zeros(1, 3, 2, dtype=torch.long),
                                                     torch.tensor([4.0])), TypeError, "lengths must be an integer"),
    ("knn_gather(idx=float)", lambda: knn_gather(torch.rand(1, 4, 2), torch.zeros(1, 3, 2)), TypeError,
     "idx must be an integer tensor"),
]


CASES = [(description, message) for description, _, _, message in _TABLE]


@pytest.mark.parametrize("description,call,error,message", _TABLE, ids=[row[0] for row in _TABLE])
def test_bad_input_gets_a_clear_error(description, call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value), f"{description}: {info.value}"
    assert "\n" not in str(info.value)


def test_valid_inputs_still_work():
    """The checks keep PyTorch3D's semantics for valid input: integer lengths of any width, numpy ints, lists."""
    import numpy as np

    assert RasterizationSettings(image_size=(np.int64(6), 8)).image_size == (np.int64(6), 8)
    assert PointsRasterizationSettings(image_size=[4, 5], radius=torch.tensor(0.1)).image_size == [4, 5]
    out = _knn(lengths1=torch.tensor([5, 3], dtype=torch.int32), lengths2=torch.tensor([6, 2]))
    assert out.idx.shape == (2, 5, 2)
    FoVOrthographicCameras(znear=-1.0, zfar=1.0)  # an orthographic near plane may lie behind the camera
    FoVPerspectiveCameras(fov=1.5, degrees=False)
    # A mesh without faces still renders as background.
    empty = Meshes(verts=[torch.zeros(0, 3)], faces=[torch.zeros(0, 3, dtype=torch.long)])
    frags = MeshRasterizer(cameras=FoVPerspectiveCameras(),
                           raster_settings=RasterizationSettings(image_size=4))(empty)
    assert (frags.pix_to_face == -1).all()
