"""Transforms and camera projection of many points, against the same maths done naively in NumPy.

The comparators build the 4x4 homogeneous matrices with NumPy float32 and apply them as
``[p, 1] @ M`` followed by the divide by w, which is what a hand-written pipeline would do.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from benchmarks.harness import Case
from inverse3d.renderer import FoVPerspectiveCameras, look_at_view_transform
from inverse3d.transforms import Transform3d, euler_angles_to_matrix

N_BIG = 1_000_000
IMAGE = (512, 512)


def _points(n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 3, generator=g) * 2 - 1


def _transform_inputs():
    R = euler_angles_to_matrix(torch.tensor([0.3, -0.5, 1.1]), "XYZ")
    t = torch.tensor([0.1, -0.2, 3.0])
    s = 1.5
    return R, t, s


def _make_transform(n: int):
    def make():
        pts = _points(n)[None]
        R, t, s = _transform_inputs()

        def run():
            return Transform3d().rotate(R).translate(t[None]).scale(s).transform_points(pts)

        return run

    return make


def _make_transform_numpy(n: int):
    def make():
        pts = _points(n).numpy()
        R, t, s = (x.numpy() if torch.is_tensor(x) else x for x in _transform_inputs())

        def run():
            rot = np.eye(4, dtype=np.float32)
            rot[:3, :3] = R
            tr = np.eye(4, dtype=np.float32)
            tr[3, :3] = t
            sc = np.diag(np.array([s, s, s, 1.0], dtype=np.float32))
            M = rot @ tr @ sc
            hom = np.concatenate([pts, np.ones((len(pts), 1), np.float32)], 1) @ M
            return hom[:, :3] / hom[:, 3:]

        return run

    return make


def _camera():
    R, T = look_at_view_transform(3.0, 20.0, 30.0)
    return FoVPerspectiveCameras(R=R, T=T, fov=60.0, znear=0.5, zfar=10.0)


def _make_screen(n: int):
    def make():
        pts = _points(n)
        cams = _camera()

        def run():
            return cams.transform_points_screen(pts, image_size=IMAGE)

        return run

    return make


def _make_screen_numpy(n: int):
    def make():
        pts = _points(n).numpy()
        cams = _camera()
        R, T = cams.R[0].numpy(), cams.T[0].numpy()
        H, W = IMAGE

        def run():
            view = np.eye(4, dtype=np.float32)
            view[:3, :3] = R
            view[3, :3] = T
            tan = math.tan(math.radians(60.0) / 2)
            zn, zf = 0.5, 10.0
            proj = np.zeros((4, 4), np.float32)  # row-vector layout
            proj[0, 0] = 1 / tan
            proj[1, 1] = 1 / tan
            proj[2, 2] = zf / (zf - zn)
            proj[3, 2] = -zf * zn / (zf - zn)
            proj[2, 3] = 1.0
            hom = np.concatenate([pts, np.ones((len(pts), 1), np.float32)], 1) @ (view @ proj)
            ndc = hom[:, :3] / hom[:, 3:]
            s = min(H, W) / 2
            return np.stack([W / 2 - s * ndc[:, 0], H / 2 - s * ndc[:, 1], ndc[:, 2]], 1)

        return run

    return make


def _check(ours, naive) -> None:
    """The two sides compute the same numbers (checked once, untimed)."""
    a = ours()()
    b = naive()()
    a = a.reshape(-1, 3).numpy()
    if not np.allclose(a, b, rtol=1e-4, atol=1e-3):
        raise AssertionError("benchmark comparator disagrees with inverse3d")


def cases() -> list[Case]:
    _check(_make_transform(1000), _make_transform_numpy(1000))
    _check(_make_screen(1000), _make_screen_numpy(1000))
    return [
        Case(
            "Transform3d compose+transform_points 1M",
            _make_transform(N_BIG),
            comparator=("numpy f32 homogeneous", _make_transform_numpy(N_BIG)),
        ),
        Case(
            "FoVPerspective transform_points_screen 1M",
            _make_screen(N_BIG),
            comparator=("numpy f32 homogeneous", _make_screen_numpy(N_BIG)),
        ),
        Case(
            "Transform3d compose+transform_points 1k",
            _make_transform(1000),
            comparator=("numpy f32 homogeneous", _make_transform_numpy(1000)),
            repeats=20,
            tiny=True,
        ),
    ]
