"""Point splatting: rasterise + composite N points on a sphere shell, as PointsRenderer does.

Comparators: the normalised-weight compositor on the same inputs (the cost of the compositing choice), and the
dense path (``bin_size=0``: every pixel against every point, chunked) on a smaller slice where it is affordable.
"""

from __future__ import annotations

import torch

from benchmarks.harness import Case


def _scene(n_points: int, image_size: int, compositor: str = "alpha", bin_size: int | None = None, seed: int = 0):
    """(renderer, Pointclouds): points on a unit sphere shell with random colours, seen from distance 3."""
    from inverse3d.renderer import (
        AlphaCompositor,
        FoVPerspectiveCameras,
        NormWeightedCompositor,
        PointsRasterizationSettings,
        PointsRasterizer,
        PointsRenderer,
        look_at_view_transform,
    )
    from inverse3d.structures import Pointclouds

    gen = torch.Generator().manual_seed(seed)
    pts = torch.randn(n_points, 3, generator=gen)
    pts = pts / pts.norm(dim=-1, keepdim=True)
    rgb = torch.rand(n_points, 3, generator=gen)
    R, T = look_at_view_transform(3.0, 20.0, 30.0)
    settings = PointsRasterizationSettings(image_size=image_size, radius=0.01, points_per_pixel=8, bin_size=bin_size)
    comp = AlphaCompositor(background_color=(1.0, 1.0, 1.0)) if compositor == "alpha" else NormWeightedCompositor()
    renderer = PointsRenderer(PointsRasterizer(FoVPerspectiveCameras(R=R, T=T), settings), comp)
    return renderer, Pointclouds(points=[pts], features=[rgb])


def _forward(n_points: int, image_size: int, compositor: str = "alpha", bin_size: int | None = None):
    def make():
        renderer, clouds = _scene(n_points, image_size, compositor, bin_size)

        def fn():
            with torch.no_grad():
                return renderer(clouds)

        return fn

    return make


def _forward_backward(n_points: int, image_size: int):
    def make():
        from inverse3d.structures import Pointclouds

        renderer, clouds = _scene(n_points, image_size)
        pts = clouds.points_packed().clone().requires_grad_()
        rgb = clouds.features_packed().clone().requires_grad_()

        def fn():
            images = renderer(Pointclouds(points=[pts], features=[rgb]))
            images.sum().backward()
            pts.grad = rgb.grad = None

        return fn

    return make


def _turntable_frame(n_per_param: int, image_size: int):
    """One turntable frame of the course's parametric sphere (n_per_param**2 points), as render_turntable draws it."""

    def make():
        from inverse3d.utils import parametric_sphere
        from inverse3d.viz.turntable import render_turntable

        cloud = parametric_sphere(n_per_param)
        return lambda: render_turntable(cloud, n_frames=1, image_size=image_size, progress=False)

    return make


def cases() -> list[Case]:
    return [
        Case("points 1M turntable frame 192px (parametric sphere)", _turntable_frame(1000, 192), repeats=3),
        Case(
            "points 100k splat 256px K=8 r=0.01 alpha",
            _forward(100_000, 256),
            comparator=("norm-weighted compositor", _forward(100_000, 256, "norm")),
        ),
        Case("points 100k splat 256px K=8 fwd+bwd", _forward_backward(100_000, 256), repeats=3),
        Case(
            "points 5k splat 64px K=8 alpha",
            _forward(5_000, 64),
            comparator=("dense (bin_size=0)", _forward(5_000, 64, bin_size=0)),
        ),
        Case("points 1k splat 32px (tiny)", _forward(1_000, 32), repeats=3, tiny=True),
    ]
