"""The Mitsuba path tracer against our rasteriser: same cameras, same brightness, plus what only it has (shadows).

Everything renders 16x16 images at a few samples per pixel; the tests that need Mitsuba skip without it.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch

from inverse3d.datasets.scenes import pathtrace
from inverse3d.datasets.scenes.conventions import cameras_from_c2w, focal_from_fov
from inverse3d.datasets.scenes.pathtrace import render_pathtraced
from inverse3d.datasets.scenes.spec import Light, Material, ScenePart, SceneSpec
from inverse3d.utils import ico_sphere

SIZE = 16
FOV = math.radians(40.0)


def look_at(eye, at=(0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """(4, 4) OpenGL camera-to-world: the camera at ``eye`` looks along its -Z at ``at``, +Y up, +X right."""
    eye, at, up = (np.asarray(v, np.float64) for v in (eye, at, up))
    back = (eye - at) / np.linalg.norm(eye - at)
    right = np.cross(up, back)
    right /= np.linalg.norm(right)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, np.cross(back, right), back, eye
    return m


def sphere_part(name="ball", center=(0.0, 0.0, 0.0), radius=1.0, color=(0.9, 0.2, 0.2), material=Material(),
                level=2) -> ScenePart:
    mesh = ico_sphere(level)
    verts = mesh.verts_packed().numpy() * radius + np.asarray(center, np.float32)
    colors = np.tile(np.asarray(color, np.float32), (len(verts), 1))
    return ScenePart(name, verts.astype(np.float32), mesh.faces_packed().numpy(), colors, material)


def plane_part(half=1.5, y=0.0, color=(1.0, 1.0, 1.0)) -> ScenePart:
    verts = np.array([[-half, y, -half], [half, y, -half], [half, y, half], [-half, y, half]], np.float32)
    faces = np.array([[0, 2, 1], [0, 3, 2]], np.int64)  # counter-clockwise seen from above: normal +Y
    return ScenePart("ground", verts, faces, np.tile(np.asarray(color, np.float32), (4, 1)))


def ball_on_plane(**kw) -> SceneSpec:
    """The brief's tiny scene: a coloured ico-sphere on a plane with one light."""
    return SceneSpec("ball_on_plane", [sphere_part(center=(0.0, 0.4, 0.0), radius=0.4), plane_part()],
                     [Light((2.0, 3.0, 0.5), (0.8, 0.8, 0.8), radius=0.2)], ambient=0.2, **kw)


def pixel_of(point, c2w) -> np.ndarray:
    """(N, 2) pixel coordinates (column, row; corner of pixel (0, 0) at (0, 0)) of a world point in each view."""
    focal = focal_from_fov(FOV, SIZE)
    cams = cameras_from_c2w(torch.as_tensor(c2w, dtype=torch.float64), focal, focal, SIZE / 2, SIZE / 2, SIZE, SIZE)
    pts = torch.as_tensor(point, dtype=torch.float64).reshape(1, 1, 3).expand(len(c2w), 1, 3)
    return cams.transform_points_screen(pts)[:, 0, :2].numpy()


def centroid(alpha: np.ndarray) -> np.ndarray:
    """(N, 2) alpha-weighted centroid (column, row) in pixel coordinates of (N, H, W) coverage."""
    rows, cols = np.mgrid[: alpha.shape[1], : alpha.shape[2]] + 0.5
    total = alpha.sum(axis=(1, 2))
    return np.stack([(alpha * cols).sum(axis=(1, 2)) / total, (alpha * rows).sum(axis=(1, 2)) / total], axis=1)


@pytest.fixture(scope="module")
def mi():
    return pytest.importorskip("mitsuba")


def _raster(spec, c2w):
    from inverse3d.datasets.scenes.raster import render_rasterized

    return render_rasterized(spec, c2w, FOV, SIZE, supersample=4).rgba.numpy()


def test_without_mitsuba_says_which_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mitsuba", None)  # ``import mitsuba`` now raises ImportError
    with pytest.raises(ImportError, match=r"pip install -e \.\[photoreal\]") as info:
        render_pathtraced(ball_on_plane(), look_at((0, 2, 4))[None], FOV, SIZE, spp=1, progress=False)
    assert "\n" not in str(info.value)


def test_small_sphere_lands_where_the_rasteriser_draws_it(mi):
    # off-centre in x and y, seen by cameras whose right / up / forward axes all differ from the world's
    center = (0.55, 0.35, -0.25)
    spec = SceneSpec("dot", [sphere_part(center=center, radius=0.2, color=(1, 1, 1))], [Light((0, 5, 5))],
                     ambient=1.0)
    c2w = np.stack([look_at((0.3, 0.8, 4.0)), look_at((-3.0, 2.0, -1.5)), look_at((0.5, 4.0, 0.5), up=(0, 0, -1))])
    pt = render_pathtraced(spec, c2w, FOV, SIZE, spp=4, progress=False, variant="scalar_rgb").numpy()
    ra = _raster(spec, c2w)
    assert pt.shape == (3, SIZE, SIZE, 4) and pt.dtype == np.float32
    expected = pixel_of(center, c2w)
    got_pt, got_ra = centroid(pt[..., 3]), centroid(ra[..., 3])
    np.testing.assert_allclose(got_ra, expected, atol=0.3)
    np.testing.assert_allclose(got_pt, expected, atol=0.3)
    np.testing.assert_allclose(got_pt, got_ra, atol=0.3)
    # it is the sphere's centre off the image centre, not a mirror image of it
    assert (np.abs(expected - SIZE / 2) > 1.0).any(axis=1).all()
    assert np.abs(pt[..., 3] - ra[..., 3]).mean() < 0.05


@pytest.mark.parametrize("radius", [0.0, 0.3])
def test_lit_white_diffuse_is_as_bright_as_in_the_rasteriser(mi, radius):
    # a white plane under a light straight above its centre, seen obliquely: at the centre cos = 1 and the light is
    # at the reference distance, so both renderers should give ambient + color (no shadow, nothing to bounce off)
    spec = SceneSpec("plane", [plane_part(half=3.0)], [Light((0.0, 2.5, 0.0), (0.5, 0.5, 0.5), radius)],
                     ambient=0.25)
    c2w = look_at((0.0, 2.0, 3.0))[None]
    pt = render_pathtraced(spec, c2w, FOV, SIZE, spp=16, progress=False, variant="scalar_rgb").numpy()
    ra = _raster(spec, c2w)
    col, row = pixel_of((0.0, 0.0, 0.0), c2w)[0].astype(int)
    centre_pt, centre_ra = pt[0, row, col, :3], ra[0, row, col, :3]
    np.testing.assert_allclose(centre_ra, 0.75, atol=0.02)
    np.testing.assert_allclose(centre_pt, centre_ra, atol=0.03)
    # away from the centre the path tracer has the inverse-square falloff and the slanting light the rasteriser has
    # too; both stay within a few per cent on this plane
    assert np.abs(pt[0, 4:, :, :3] - ra[0, 4:, :, :3]).mean() < 0.08
    assert (pt[0, SIZE // 2 :, :, 3] == 1).all()


def test_ball_on_plane_casts_a_shadow(mi):
    spec = ball_on_plane()
    c2w = look_at((-1.5, 3.0, 3.0))[None]
    with_ball = render_pathtraced(spec, c2w, FOV, SIZE, spp=16, progress=False, variant="scalar_rgb").numpy()
    without = SceneSpec("plane", [spec.parts[1]], spec.lights, ambient=spec.ambient)
    # the same lighting: the reference distance is measured to the same centre (the plane's and the scene's agree
    # in x and z, and the ball lifts the centre by 0.4, which the light's intensity follows)
    scale = (np.linalg.norm(np.subtract(spec.lights[0].position, (0, 0.4, 0))) /
             np.linalg.norm(np.subtract(spec.lights[0].position, (0, 0.0, 0)))) ** 2
    without.lights = [Light(spec.lights[0].position, tuple(c * scale for c in spec.lights[0].color), 0.2)]
    plane = render_pathtraced(without, c2w, FOV, SIZE, spp=16, progress=False, variant="scalar_rgb").numpy()
    # where the ball's shadow falls: the line from the light through the ball's centre meets the plane
    light, ball = np.asarray(spec.lights[0].position), np.array([0.0, 0.4, 0.0])
    shadow = light + (light[1] / (light[1] - ball[1])) * (ball - light)
    col, row = pixel_of(shadow, c2w)[0].astype(int)
    assert plane[0, row, col, 0] - with_ball[0, row, col, 0] > 0.25
    far = pixel_of((0.8, 0.0, 0.8), c2w)[0].astype(int)
    assert abs(plane[0, far[1], far[0], 0] - with_ball[0, far[1], far[0], 0]) < 0.06
    # the ball is red where it is lit
    ball_px = pixel_of((0.0, 0.75, 0.0), c2w)[0].astype(int)
    r, g, b = with_ball[0, ball_px[1], ball_px[0], :3]
    assert r > 0.3 and r > 2 * g and r > 2 * b


def test_transparent_and_coloured_backgrounds(mi):
    c2w = np.stack([look_at((0, 1.0, 4.0)), look_at((3.5, 1.0, 0.5))])
    spec = SceneSpec("ball", [sphere_part(radius=0.6)], [Light((2.0, 3.0, 3.0))], ambient=0.2)
    clear = render_pathtraced(spec, c2w, FOV, SIZE, spp=4, progress=False, variant="scalar_rgb").numpy()
    assert clear.min() >= 0 and clear.max() <= 1
    corners = clear[:, [0, 0, -1, -1], [0, -1, 0, -1]]  # (N, 4, 4)
    assert (corners == 0).all()  # alpha 0 and no colour where nothing is
    assert (clear[:, SIZE // 2, SIZE // 2, 3] == 1).all()
    spec.background = (0.2, 0.4, 0.6)
    over = render_pathtraced(spec, c2w, FOV, SIZE, spp=4, progress=False, variant="scalar_rgb").numpy()
    assert (over[..., 3] == 1).all()
    np.testing.assert_allclose(over[:, 0, 0, :3], np.tile([0.2, 0.4, 0.6], (2, 1)), atol=1e-6)
    # the composite of the straight colour and coverage, exactly as the rasteriser composites
    a = clear[..., 3:]
    np.testing.assert_allclose(over[..., :3], clear[..., :3] * a + np.array([0.2, 0.4, 0.6]) * (1 - a), atol=1e-6)
    # seeded per view: the same call gives the same images
    again = render_pathtraced(spec, c2w, FOV, SIZE, spp=4, progress=False, variant="scalar_rgb").numpy()
    np.testing.assert_array_equal(again, over)


def test_texture_is_the_right_way_up(mi):
    # a quad facing the camera; its texture's top rows are red, bottom rows blue (row 0 at the top, UV origin at
    # the bottom left as in OBJ), so the top of the image must be red in both renderers
    verts = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], np.float32)
    uvs = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32)
    tex = np.zeros((8, 8, 3), np.float32)
    tex[:4, :, 0] = 1.0
    tex[4:, :4, 2] = 1.0
    tex[4:, 4:, 1] = 1.0  # bottom right green: left and right are checked too
    part = ScenePart("card", verts, np.array([[0, 1, 2], [0, 2, 3]]), np.full((4, 3), 0.5, np.float32),
                     uvs=uvs, texture=tex)
    spec = SceneSpec("card", [part], [Light((0.0, 0.0, 3.0))], ambient=0.3)
    c2w = look_at((0.0, 0.0, 3.2))[None]
    pt = render_pathtraced(spec, c2w, FOV, SIZE, spp=4, progress=False, variant="scalar_rgb").numpy()[0]
    ra = _raster(spec, c2w)[0]
    (c_top, r_top), (c_bl, r_bl), (c_br, r_br) = (pixel_of(p, c2w)[0].astype(int)
                                                  for p in ((0, 0.5, 0), (-0.5, -0.5, 0), (0.5, -0.5, 0)))
    for img in (pt, ra):
        assert np.argmax(img[r_top, c_top, :3]) == 0
        assert np.argmax(img[r_bl, c_bl, :3]) == 2
        assert np.argmax(img[r_br, c_br, :3]) == 1
        for r, c in ((r_top, c_top), (r_bl, c_bl), (r_br, c_br)):
            np.testing.assert_allclose(pt[r, c, :3], ra[r, c, :3], atol=0.05)


def test_materials_map_to_mitsuba_plugins(mi):
    rainbow = sphere_part("rainbow", (1.2, 0, 0), 0.5, material=Material("glossy", roughness=0.2))
    rainbow.colors = np.random.default_rng(0).uniform(0, 1, rainbow.colors.shape).astype(np.float32)
    parts = [
        sphere_part("matte", (-1.2, 0, 0), 0.5),
        sphere_part("plastic", (0, 0, 0), 0.5, material=Material("glossy", roughness=0.1)),
        rainbow,
        sphere_part("gold", (0, 1.2, 0), 0.5, color=(1.0, 0.6, 0.1), material=Material("metal", roughness=0.2)),
    ]
    spec = SceneSpec("materials", parts, [Light((0.0, 3.0, 3.0), radius=0.3), Light((-3.0, 1.0, 0.0))], ambient=0.5)
    scene = pathtrace.build_scene(spec, "scalar_rgb")
    kinds = {shape.id(): str(shape.bsdf()) for shape in scene.shapes()}
    assert "SmoothDiffuse" in kinds["part_0"] and "RoughPlastic" in kinds["part_1"]
    assert "Principled" in kinds["part_2"] and "RoughConductor" in kinds["part_3"]
    assert "vertex_color" in kinds["part_2"] and "vertex_color" not in kinds["part_1"]
    assert sum(e.is_environment() for e in scene.emitters()) == 1 and len(scene.emitters()) == 3
    img = render_pathtraced(spec, look_at((0, 0.5, 5))[None], FOV, SIZE, spp=4, progress=False,
                            variant="scalar_rgb").numpy()[0]
    assert np.isfinite(img).all()
    col, row = pixel_of((0, 1.2, 0.5), look_at((0, 0.5, 5))[None])[0].astype(int)
    r, g, b = img[row, col, :3]  # the metal reflects the grey environment tinted by its colour
    assert r > g > b and img[row, col, 3] == 1


def test_bad_input(mi):
    spec = ball_on_plane()
    views = look_at((0, 2, 4))[None]
    with pytest.raises(ValueError, match=r"c2w must have shape \(N, 4, 4\)"):
        render_pathtraced(spec, views[0], FOV, SIZE, progress=False)
    sheared = views.copy()
    sheared[0, :3, 0] *= 2.0
    with pytest.raises(ValueError, match=r"c2w\[0\]"):
        render_pathtraced(spec, sheared, FOV, SIZE, progress=False)
    with pytest.raises(ValueError, match="spp must be a positive int"):
        render_pathtraced(spec, views, FOV, SIZE, spp=0, progress=False)
    with pytest.raises(ValueError, match="camera_angle_x"):
        render_pathtraced(spec, views, 40.0, SIZE, progress=False)
    with pytest.raises(ValueError, match="variant 'nope' is not available"):
        render_pathtraced(spec, views, FOV, SIZE, progress=False, variant="nope")
    with pytest.raises(ValueError, match="RGB Mitsuba variant"):
        render_pathtraced(spec, views, FOV, SIZE, progress=False, variant="scalar_spectral")
    rough = SceneSpec("x", [sphere_part(material=Material("metal", roughness=0.0))], spec.lights)
    with pytest.raises(ValueError, match=r"part 'ball': material roughness must be in \(0, 1\]"):
        render_pathtraced(rough, views, FOV, SIZE, progress=False, variant="scalar_rgb")


@pytest.mark.slow
def test_default_variant_renders(mi):
    # llvm_ad_rgb only where a child process could render with it (an old libLLVM aborts the process outright)
    variant = pathtrace.default_variant()
    assert variant in ("scalar_rgb", "llvm_ad_rgb")
    img = render_pathtraced(ball_on_plane(), look_at((0, 2, 4))[None], FOV, SIZE, spp=4, progress=False)
    ref = render_pathtraced(ball_on_plane(), look_at((0, 2, 4))[None], FOV, SIZE, spp=4, progress=False,
                            variant="scalar_rgb")
    assert img.shape == (1, SIZE, SIZE, 4) and np.abs(img.numpy() - ref.numpy()).mean() < 0.05
