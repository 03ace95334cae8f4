"""The scene rasteriser against a naive per-pixel ray tracer of an analytic sphere, and its documented properties:
coverage alpha, depth, normals, textures, backgrounds, highlights that move with the viewpoint."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from inverse3d.datasets.scenes import raster
from inverse3d.datasets.scenes.builtin import (
    MATTE,
    Material,
    box_geometry,
    checker_texture,
    part,
    sphere_geometry,
)
from inverse3d.datasets.scenes.layouts import look_at_c2w, spherical_positions
from inverse3d.datasets.scenes.raster import ENV_BRIGHT, ENV_DARK, METAL_DIFFUSE, join_parts, render_rasterized
from inverse3d.datasets.scenes.spec import CameraLayout, Light, SceneSpec
from conftest import DEVICES

GLOSSY = Material("glossy", roughness=0.2, specular=0.6, shininess=30.0)
METAL = Material("metal", roughness=0.2, specular=1.0, shininess=20.0)
FOV = math.radians(40.0)


def _sphere_scene(material, radius=1.0, color=(0.8, 0.4, 0.2), background=None, fine=False):
    sphere = part("ball", sphere_geometry(radius, *((64, 128) if fine else (16, 32))), (0.0, 0.0, 0.0), None, color,
                  material)
    lights = [Light((3.0, 4.0, 5.0), (0.6, 0.6, 0.6)), Light((-4.0, 1.0, 2.0), (0.3, 0.3, 0.3))]
    return SceneSpec("ball", [sphere], lights, CameraLayout("ring"), ambient=0.2, background=background)


def _naive_sphere(spec, c2w, fov, size, radius=1.0):
    """A Python loop over pixels: analytic ray-sphere hits shaded with the Phong model of raster.py's docstring.

    Returns rgb (H, W, 3), hit mask (H, W), depth (H, W), normals (H, W, 3), and a mask of pixels well inside the
    silhouette (where the polygonal sphere and the analytic one agree)."""
    p = spec.parts[0]
    albedo, mat = p.colors[0].astype(np.float64), p.material
    focal = 0.5 * size / math.tan(0.5 * fov)
    eye, rot = c2w[:3, 3], c2w[:3, :3]
    forward = -rot[:, 2]
    rgb, depth = np.zeros((size, size, 3)), np.zeros((size, size))
    normals, hit, interior = np.zeros((size, size, 3)), np.zeros((size, size), bool), np.zeros((size, size), bool)
    for i in range(size):
        for j in range(size):
            d = rot @ np.array([(j + 0.5 - size / 2) / focal, -(i + 0.5 - size / 2) / focal, -1.0])
            d /= np.linalg.norm(d)
            b = eye @ d
            disc = b * b - (eye @ eye - radius * radius)
            if disc <= 0:
                continue
            t = -b - math.sqrt(disc)
            x = eye + t * d
            n = x / radius
            v = -d
            hit[i, j], interior[i, j] = True, disc > 0.05 * radius * radius
            depth[i, j], normals[i, j] = (x - eye) @ forward, n
            lit_d, lit_s = np.zeros(3), np.zeros(3)
            for light in spec.lights:
                l = np.asarray(light.position) - x
                l /= np.linalg.norm(l)
                cos = n @ l
                lit_d += max(cos, 0.0) * np.asarray(light.color)
                r = 2 * cos * n - l
                if cos > 0 and v @ r > 0:
                    lit_s += (v @ r) ** mat.shininess * np.asarray(light.color)
            k_d = METAL_DIFFUSE if mat.kind == "metal" else 1.0
            tint = albedo if mat.kind == "metal" else np.ones(3)
            c = albedo * (spec.ambient + k_d * lit_d) + mat.specular * tint * lit_s
            if mat.kind == "metal":
                mirrored_y = 2 * (n @ v) * n[1] - v[1]
                c = c + albedo * (ENV_DARK + (ENV_BRIGHT - ENV_DARK) * np.clip(0.5 + 0.5 * mirrored_y, 0, 1) ** 2)
            rgb[i, j] = np.clip(c, 0, 1)
    return rgb, hit, depth, normals, interior


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("material", [MATTE, GLOSSY, METAL], ids=["diffuse", "glossy", "metal"])
def test_matches_naive_reference(material, device):
    spec = _sphere_scene(material, fine=True)
    c2w = look_at_c2w(spherical_positions([15.0], [30.0], 4.0), (0.0, 0.0, 0.0))
    out = render_rasterized(spec, c2w, FOV, 24, supersample=1, device=device)
    rgb, hit, depth, normals, interior = _naive_sphere(spec, c2w[0], FOV, 24)
    alpha = out.rgba[0, ..., 3].cpu().numpy()
    assert ((alpha > 0) != hit).sum() <= 0.05 * hit.sum(), "silhouettes agree but for a few edge pixels"
    got = out.rgba[0, ..., :3].cpu().numpy()
    err = np.abs(got - rgb)[interior]
    assert err.mean() < 0.01 and err.max() < 0.06
    np.testing.assert_allclose(out.depth[0].cpu().numpy()[interior], depth[interior], rtol=2e-3)
    cos = (out.normals[0].cpu().numpy() * normals).sum(-1)[interior]
    assert cos.min() > 0.999
    empty = ~hit & (alpha == 0)
    assert empty.sum() > 0
    assert (out.depth[0].cpu().numpy()[empty] == 0).all() and (got[empty] == 0).all()
    assert (out.normals[0].cpu().numpy()[empty] == 0).all()


def test_coverage_alpha_and_background():
    spec = _sphere_scene(MATTE, radius=1.0)
    c2w = look_at_c2w(spherical_positions([0.0], [0.0], 5.0), (0.0, 0.0, 0.0))
    size = 64
    out = render_rasterized(spec, c2w, FOV, size, supersample=2)
    alpha = out.rgba[0, ..., 3]
    focal = 0.5 * size / math.tan(0.5 * FOV)
    disc = math.pi * (focal * 1.0 / math.sqrt(5.0**2 - 1.0)) ** 2  # projected area of a sphere, pixels
    assert float(alpha.sum()) == pytest.approx(disc, rel=0.03)
    assert ((alpha > 0) & (alpha < 1)).any(), "anti-aliased edges: fractional coverage"
    hard = render_rasterized(spec, c2w, FOV, size, supersample=1).rgba[0, ..., 3]
    assert set(torch.unique(hard).tolist()) == {0.0, 1.0}
    sky = (0.1, 0.5, 0.9)
    opaque = render_rasterized(dataclasses.replace(spec, background=sky), c2w, FOV, size, supersample=2)
    assert (opaque.rgba[..., 3] == 1).all()
    np.testing.assert_allclose(opaque.rgba[0, 0, 0, :3].numpy(), sky, atol=1e-6)
    inside = alpha == 1
    torch.testing.assert_close(opaque.rgba[0][inside][:, :3], out.rgba[0][inside][:, :3])
    torch.testing.assert_close(opaque.depth, out.depth)


def _brightest_world_point(out, c2w, size):
    rgb = out.rgba[0, ..., :3].sum(-1).numpy()
    i, j = np.unravel_index(np.argmax(rgb), rgb.shape)
    focal = 0.5 * size / math.tan(0.5 * FOV)
    z = float(out.depth[0, i, j])
    cam = np.array([(j + 0.5 - size / 2) / focal * z, -(i + 0.5 - size / 2) / focal * z, -z])
    return c2w[0, :3, :3] @ cam + c2w[0, :3, 3]


def test_highlights_move_with_the_viewpoint():
    size = 48
    views = [look_at_c2w(spherical_positions([10.0], [a], 4.0), (0.0, 0.0, 0.0)) for a in (0.0, 50.0)]
    spec = dataclasses.replace(_sphere_scene(Material("glossy", 0.1, 1.0, 80.0), color=(0.2, 0.2, 0.6)),
                               lights=[Light((0.0, 3.0, 6.0), (0.8, 0.8, 0.8))])
    glossy = [_brightest_world_point(render_rasterized(spec, v, FOV, size), v, size) for v in views]
    matte = [_brightest_world_point(render_rasterized(dataclasses.replace(
        spec, parts=[dataclasses.replace(spec.parts[0], material=MATTE)]), v, FOV, size), v, size) for v in views]
    assert np.linalg.norm(glossy[0] - glossy[1]) > 0.2, "the highlight slides over the sphere"
    assert np.linalg.norm(matte[0] - matte[1]) < 0.12, "diffuse shading stays put"


def test_textures_are_sampled_in_uv():
    tex = checker_texture(2, (1.0, 0.0, 0.0), (0.0, 0.0, 1.0), size=8)  # red top-left, blue top-right
    board = part("board", box_geometry((2.0, 2.0, 0.1)), (0.0, 0.0, 0.0), texture=tex)
    spec = SceneSpec("board", [board], [], ambient=1.0)
    c2w = look_at_c2w(spherical_positions([0.0], [0.0], 4.0), (0.0, 0.0, 0.0))
    img = render_rasterized(spec, c2w, FOV, 32, supersample=1).rgba[0].numpy()
    # The +z face maps u along +x, v along +y: the camera on +z sees red top-left, blue top-right.
    np.testing.assert_allclose(img[12, 12, :3], [1, 0, 0], atol=1e-5)
    np.testing.assert_allclose(img[12, 19, :3], [0, 0, 1], atol=1e-5)
    np.testing.assert_allclose(img[19, 19, :3], [1, 0, 0], atol=1e-5)
    np.testing.assert_allclose(render_rasterized(spec, c2w, FOV, 32, supersample=1).normals[0, 16, 16].numpy(),
                               [0, 0, 1], atol=1e-6)


def test_plane_depth_and_normals():
    floor = part("floor", box_geometry((4.0, 0.2, 4.0)), (0.0, -0.1, 0.0))
    spec = SceneSpec("floor", [floor], [Light((0.0, 5.0, 0.0))])
    c2w = look_at_c2w([[0.0, 3.0, 0.0]], (0.0, 0.0, 0.0))  # straight down
    out = render_rasterized(spec, c2w, FOV, 16, supersample=1)
    assert (out.rgba[..., 3] == 1).all()
    np.testing.assert_allclose(out.depth.numpy(), 3.0, rtol=1e-5)
    np.testing.assert_allclose(out.normals.numpy().reshape(-1, 3), np.tile([0.0, 1.0, 0.0], (256, 1)), atol=1e-6)


def test_batches_do_not_change_the_result(monkeypatch):
    spec = _sphere_scene(GLOSSY)
    c2w = look_at_c2w(spherical_positions([0.0, 20.0, 40.0], [0.0, 90.0, 200.0], 4.0), (0.0, 0.0, 0.0))
    together = render_rasterized(spec, c2w, FOV, 16)
    monkeypatch.setattr(raster, "PIXELS_PER_BATCH", 1)
    apart = render_rasterized(spec, c2w, FOV, 16)
    for a, b in zip(together, apart):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert together.rgba.shape == (3, 16, 16, 4) and together.depth.shape == (3, 16, 16)
    assert together.normals.shape == (3, 16, 16, 3) and together.rgba.dtype == torch.float32


def test_join_parts():
    spec = _sphere_scene(MATTE)
    spec.parts.append(part("cube", box_geometry((1, 1, 1)), (3.0, 0.0, 0.0)))
    joined = join_parts(spec)
    V0 = len(spec.parts[0].verts)
    assert joined.faces.max() == len(joined.verts) - 1
    assert (joined.face_part == 1).sum() == 12 and joined.faces[joined.face_part == 1].min() == V0


def test_bad_input():
    spec = _sphere_scene(MATTE)
    c2w = look_at_c2w(spherical_positions([0.0], [0.0], 4.0), (0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="image_size"):
        render_rasterized(spec, c2w, FOV, 0)
    with pytest.raises(ValueError, match="camera_angle_x"):
        render_rasterized(spec, c2w, 0.0, 8)
    with pytest.raises(ValueError, match="c2w"):
        render_rasterized(spec, c2w[:, :3], FOV, 8)
    with pytest.raises(ValueError, match="supersample"):
        render_rasterized(spec, c2w, FOV, 8, supersample=0)
    with pytest.raises(ValueError, match="no parts"):
        render_rasterized(dataclasses.replace(spec, parts=[]), c2w, FOV, 8)
