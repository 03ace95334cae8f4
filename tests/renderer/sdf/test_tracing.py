"""Sphere tracing against analytic ray-sphere / ray-box hits, autograd normals against analytic ones, shading
against the Phong formula, and the renderer's images."""

from __future__ import annotations

import math

import pytest
import torch

from inverse3d.renderer import FoVPerspectiveCameras, Materials, PointLights, look_at_view_transform
from inverse3d.renderer.sdf import (
    Box,
    Sphere,
    SphereTracingRenderer,
    ray_box_intersection,
    sdf_normals,
    shade_points,
    sphere_tracing,
    torus_scene,
)
from tests.reference import sdf as ref

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


def _rays(n, seed, dtype=torch.float64):
    """Rays from points on a sphere of radius 2 aimed near the origin (some hit, some miss)."""
    g = torch.Generator().manual_seed(seed)
    origins = torch.nn.functional.normalize(torch.randn(n, 3, generator=g, dtype=dtype), dim=-1) * 2.0
    target = (torch.rand(n, 3, generator=g, dtype=dtype) - 0.5) * 1.2
    return origins, torch.nn.functional.normalize(target - origins, dim=-1)


@pytest.mark.parametrize("device", DEVICES)
def test_sphere_hits_match_analytic(device):
    center, radius = [0.1, -0.05, 0.2], 0.45
    shape = Sphere(radius, center=center).double().to(device)
    origins, directions = _rays(200, 0)
    points, mask = sphere_tracing(shape, origins.to(device), directions.to(device), max_iters=200, eps=1e-9)
    assert points.shape == (200, 3) and mask.shape == (200, 1) and mask.dtype == torch.bool
    points, mask = points.cpu(), mask.cpu()[:, 0]
    n_hits = 0
    c = torch.tensor(center, dtype=torch.float64)
    for i in range(200):
        t = ref.ray_sphere(origins[i].tolist(), directions[i].tolist(), center, radius)
        oc = c - origins[i]
        closest = float((oc - (oc @ directions[i]) * directions[i]).norm())
        if abs(closest - radius) < 1e-3:
            continue  # grazing rays converge arbitrarily slowly: sphere tracing's known limit
        assert bool(mask[i]) == (t is not None)
        if t is not None:
            n_hits += 1
            torch.testing.assert_close(points[i], origins[i] + t * directions[i], atol=1e-6, rtol=0)
    assert 20 < n_hits < 180  # both cases were tested
    # autograd normals of the hits: radial
    hit = mask
    normals = sdf_normals(shape, points[hit].to(device)).cpu()
    expected = torch.nn.functional.normalize(points[hit] - torch.tensor(center, dtype=torch.float64), dim=-1)
    torch.testing.assert_close(normals, expected, atol=1e-5, rtol=0)


def test_box_hits_and_normals_match_analytic():
    half = [0.3, 0.2, 0.4]
    shape = Box(half).double()
    origins, directions = _rays(200, 1)
    points, mask = sphere_tracing(shape, origins, directions, max_iters=400, eps=1e-10)
    n_hits = 0
    grazing = 0
    for i in range(200):
        t = ref.ray_box(origins[i].tolist(), directions[i].tolist(), half)
        if bool(mask[i, 0]) != (t is not None):
            # only a ray passing within 1e-3 of the box (grazing an edge) may differ
            along = torch.linspace(0, 4, 40001, dtype=torch.float64)[:, None]
            assert float(shape(origins[i] + along * directions[i]).abs().min()) < 1e-3, i
            grazing += 1
            continue
        if t is not None:
            n_hits += 1
            expected = origins[i] + t * directions[i]
            torch.testing.assert_close(points[i], expected, atol=1e-6, rtol=0)
            # the face hit: the axis where the point sits on the box's side
            axis = int(torch.argmin((torch.tensor(half, dtype=torch.float64) - expected.abs())))
            normal = torch.zeros(3, dtype=torch.float64)
            normal[axis] = math.copysign(1.0, float(expected[axis]))
            torch.testing.assert_close(sdf_normals(shape, points[i : i + 1])[0], normal, atol=1e-6, rtol=0)
    assert 20 < n_hits < 180 and grazing < 5


def test_cutoffs_and_per_ray_bounds():
    shape = Sphere(0.5)
    o = torch.tensor([[0.0, 0.0, -3.0], [0.0, 0.0, -3.0], [0.0, 2.0, -3.0]])
    d = torch.tensor([[0.0, 0.0, 2.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])  # directions need not be unit
    points, mask = sphere_tracing(shape, o, d, far=10.0)
    assert mask[:, 0].tolist() == [True, True, False]
    torch.testing.assert_close(points[0], torch.tensor([0.0, 0.0, -0.5]), atol=1e-4, rtol=0)
    _, mask = sphere_tracing(shape, o, d, far=2.0)  # the sphere is 2.5 away: beyond the far plane
    assert not mask.any()
    _, mask = sphere_tracing(shape, o, d, max_iters=1)  # one step reaches it only for an exact SDF from afar
    assert mask[:, 0].tolist() == [False, False, False]
    near, far = ray_box_intersection(o, d, torch.tensor([-1.0] * 3), torch.tensor([1.0] * 3))
    torch.testing.assert_close(near[:2], torch.tensor([2.0, 2.0]))
    torch.testing.assert_close(far[:2], torch.tensor([4.0, 4.0]))
    assert float(near[2]) > float(far[2])  # misses the box
    points, mask = sphere_tracing(shape, o, d, near=near, far=far)
    assert mask[:, 0].tolist() == [True, True, False]


def test_tracing_bad_input():
    with pytest.raises(ValueError, match="must match"):
        sphere_tracing(Sphere(0.5), torch.zeros(4, 3), torch.ones(5, 3))
    with pytest.raises(ValueError, match="must map points"):
        sphere_tracing(lambda p: p, torch.zeros(4, 3), torch.ones(4, 3))
    with pytest.raises(ValueError, match="max_iters >= 1"):
        sphere_tracing(Sphere(0.5), torch.zeros(4, 3), torch.ones(4, 3), max_iters=0)
    with pytest.raises(ValueError, match="one value per ray"):
        sphere_tracing(Sphere(0.5), torch.zeros(4, 3), torch.ones(4, 3), near=torch.zeros(3))


def test_shade_points_matches_phong_formula():
    g = torch.Generator().manual_seed(0)
    points = torch.rand(1, 5, 3, generator=g)
    normals = torch.nn.functional.normalize(torch.rand(1, 5, 3, generator=g), dim=-1)
    albedo = torch.rand(1, 5, 3, generator=g)
    light = torch.tensor([1.0, 2.0, 3.0])
    cam = torch.tensor([[0.5, 0.5, 4.0]])
    lights = PointLights(location=(light.tolist(),), ambient_color=((0.2,) * 3,), diffuse_color=((0.6,) * 3,),
                         specular_color=((0.3,) * 3,))
    materials = Materials(shininess=10.0)
    rgb = shade_points(points, normals, albedo, lights, materials, cam)
    for i in range(5):
        p, n = points[0, i], normals[0, i]
        l = torch.nn.functional.normalize(light - p, dim=0)
        v = torch.nn.functional.normalize(cam[0] - p, dim=0)
        cos = float(n @ l)
        r = 2 * cos * n - l
        spec = max(float(v @ r), 0.0) ** 10 if cos > 0 else 0.0
        expected = (0.2 + 0.6 * max(cos, 0.0)) * albedo[0, i] + 0.3 * spec
        torch.testing.assert_close(rgb[0, i], expected, atol=1e-5, rtol=0)


def test_renderer_images_and_relighting():
    R, T = look_at_view_transform(2.0, 0.0, [0.0, 90.0])
    cameras = FoVPerspectiveCameras(R=R, T=T)
    renderer = SphereTracingRenderer(cameras, image_size=(12, 16), background=(0.0, 0.0, 0.0))
    sphere = Sphere(0.5, color=(1.0, 0.5, 0.25))
    frags = renderer(sphere)
    assert frags.images.shape == (2, 12, 16, 4) and frags.mask.shape == (2, 12, 16, 1)
    assert frags.mask[:, 6, 8, 0].all() and not frags.mask[:, 0, 0, 0].any()  # centre hit, corner missed
    torch.testing.assert_close(frags.depth[0, 6, 8, 0], torch.tensor(1.5), atol=0.03, rtol=0)  # hits near z=1.5
    torch.testing.assert_close(frags.normals.norm(dim=-1)[frags.mask[..., 0]],
                               torch.ones(int(frags.mask.sum())), atol=1e-4, rtol=0)
    assert (frags.images[..., 3] == frags.mask[..., 0].float()).all()
    assert (frags.images[~frags.mask[..., 0]][:, :3] == 0).all()
    # relighting: camera 0 sits on +z looking towards -z, so world +X is on the image's right (view +X is left)
    unlit = dict(ambient_color=((0.0,) * 3,), diffuse_color=((1.0,) * 3,), specular_color=((0.0,) * 3,))
    plus_x = PointLights(location=((3.0, 0.0, 0.0),), **unlit)
    minus_x = PointLights(location=((-3.0, 0.0, 0.0),), **unlit)
    a = renderer(sphere, lights=plus_x).images[0, ..., 2]  # blue: never saturated
    b = renderer(sphere, lights=minus_x).images[0, ..., 2]
    assert float(a[:, 8:].sum()) > 3 * float(a[:, :8].sum()) and float(b[:, :8].sum()) > 3 * float(b[:, 8:].sum())
    with pytest.raises(ValueError, match="no cameras"):
        SphereTracingRenderer(image_size=8)(sphere)


def test_renderer_silhouette_matches_mesh_rasterizer():
    """The traced mask of a torus covers the same pixels as the rasterised silhouette of its marching-cubes mesh."""
    from inverse3d.renderer import MeshRasterizer, RasterizationSettings
    from inverse3d.tasks.surface.extract import extract_sdf_mesh
    from inverse3d.structures import Meshes

    shape = torus_scene()
    R, T = look_at_view_transform(1.8, 20.0, 30.0)
    cameras = FoVPerspectiveCameras(R=R, T=T)
    traced = SphereTracingRenderer(cameras, image_size=24, max_iters=128)(shape).mask[0, ..., 0]
    verts, faces = extract_sdf_mesh(shape, ((-0.6,) * 3, (0.6,) * 3), 48)
    raster = MeshRasterizer(cameras=cameras, raster_settings=RasterizationSettings(image_size=24))
    silhouette = raster(Meshes([verts], [faces])).pix_to_face[0, ..., 0] >= 0
    assert traced.sum() > 30 and silhouette.sum() > 30
    assert (traced != silhouette).float().mean() < 0.03  # only boundary pixels may differ
