"""The built-in scenes: well-formed closed parts, sizes and layouts as documented, determinism, the box's ground
truth."""

import math

import numpy as np
import pytest
import trimesh

from inverse3d.datasets.scenes.builtin import (
    BOX_CENTER,
    BOX_SIDES,
    NERF_SYNTHETIC_CAMERA_ANGLE_X,
    SCENES,
    box_color,
    box_mesh,
    checker_texture,
    cylinder_geometry,
    extrude,
    get_scene,
    rotation_to,
    sample_texture,
    scene_names,
    scene_spec,
    stripes_texture,
)
from inverse3d.datasets.scenes.spec import SceneSpec


def test_registry_names():
    assert scene_names() == ("lego", "materials", "box", "forward")
    assert set(SCENES) == set(scene_names())


def test_unknown_scene_lists_the_known_ones():
    with pytest.raises(ValueError) as err:
        get_scene("legoo")
    text = str(err.value)
    assert "\n" not in text and "legoo" in text
    assert all(name in text for name in scene_names())
    with pytest.raises(ValueError, match="seed"):
        scene_spec("lego", -1)


@pytest.mark.parametrize("name", ["lego", "materials", "box", "forward"])
def test_parts_are_well_formed(name):
    spec = scene_spec(name)
    assert isinstance(spec, SceneSpec) and spec.name == name and spec.parts and spec.lights
    for part in spec.parts:
        V = len(part.verts)
        assert part.verts.dtype == np.float32 and part.verts.shape == (V, 3)
        assert part.faces.dtype == np.int64 and part.faces.min() >= 0 and part.faces.max() < V
        assert part.colors.shape == (V, 3) and part.colors.min() >= 0 and part.colors.max() <= 1
        assert np.isfinite(part.verts).all()
        if part.texture is not None:
            assert part.uvs.shape == (V, 2) and part.uvs.min() >= 0 and part.uvs.max() <= 1
            assert part.texture.ndim == 3 and part.texture.shape[2] == 3
            np.testing.assert_allclose(part.colors, sample_texture(part.texture, part.uvs), atol=1e-6)
        # Every part but the ground is closed and wound outward (positive volume once the vertices are welded).
        mesh = trimesh.Trimesh(part.verts, part.faces, process=True)
        if part.name != "ground":
            assert mesh.is_watertight, f"{name}: {part.name} is not closed"
            assert mesh.volume > 0, f"{name}: {part.name} is wound inward"


def test_lego_is_lego_like():
    spec = scene_spec("lego")
    lo, hi = spec.bounds
    assert np.all(lo > -1.5) and np.all(hi < 1.5), "fits in [-1.5, 1.5]^3 like NeRF-synthetic's lego"
    assert len(spec.parts) >= 50, "an assembly of many parts"
    assert sum(p.texture is not None for p in spec.parts) >= 3, "textured parts"
    def cross_section(v):  # the second-largest extent along the part's principal axes
        centred = v - v.mean(0)
        axes = np.linalg.svd(centred, full_matrices=False)[2]
        return np.sort(np.ptp(centred @ axes.T, axis=0))[1]

    thin = [p for p in spec.parts if cross_section(p.verts) < 0.08 and np.ptp(p.verts, axis=0).max() > 0.2]
    assert len(thin) >= 8, "thin structures (pillars, arms, prongs, levers)"
    assert spec.background is None and spec.cameras.kind == "hemisphere"
    assert spec.cameras.radius == pytest.approx(4.0)
    assert math.radians(spec.cameras.fov_x) == pytest.approx(NERF_SYNTHETIC_CAMERA_ANGLE_X)


def test_materials_scene_has_view_dependent_materials():
    spec = scene_spec("materials")
    kinds = {p.material.kind for p in spec.parts}
    assert kinds == {"diffuse", "glossy", "metal"}
    glossy = sorted({p.material.roughness for p in spec.parts if p.material.kind == "glossy"})
    assert len(glossy) >= 2, "glossy parts of different roughness"
    assert all(p.material.specular > 0 for p in spec.parts if p.material.kind != "diffuse")


def test_box_scene_is_the_course_box():
    spec = scene_spec("box")
    assert BOX_CENTER == (0.25, 0.25, 0.0) and BOX_SIDES == (2.0, 1.5, 1.5)
    lo, hi = spec.bounds
    np.testing.assert_allclose(lo, np.subtract(BOX_CENTER, np.divide(BOX_SIDES, 2)), atol=1e-6)
    np.testing.assert_allclose(hi, np.add(BOX_CENTER, np.divide(BOX_SIDES, 2)), atol=1e-6)
    mesh = trimesh.Trimesh(spec.parts[0].verts, spec.parts[0].faces, process=True)
    assert mesh.volume == pytest.approx(2.0 * 1.5 * 1.5, rel=1e-5)
    np.testing.assert_allclose(spec.parts[0].colors, box_color(spec.parts[0].verts))
    entry = get_scene("box")
    assert entry.n_views[0] == 4 and entry.volume_rendered
    box = entry.metadata["box"]
    assert box["center"] == [0.25, 0.25, 0.0] and box["sides"] == [2.0, 1.5, 1.5] and box["beta"] > 0
    assert entry.layout(spec, "val").kind == "ring" and entry.layout(spec, "test").kind == "ring"
    assert scene_spec("box", 5).parts[0].verts.tobytes() == spec.parts[0].verts.tobytes()


def test_forward_scene_is_forward_facing_and_opaque():
    spec = scene_spec("forward")
    assert spec.background is not None and len(spec.background) == 3
    assert spec.cameras.kind == "forward"
    ground = next(p for p in spec.parts if p.name == "ground")
    assert np.ptp(ground.verts[:, 1]) == 0 and np.ptp(ground.verts[:, 0]) >= 6
    normal = np.cross(*(ground.verts[ground.faces[0, 1:]] - ground.verts[ground.faces[0, 0]]))
    assert normal[1] > 0, "the ground faces up"
    assert len(spec.parts) >= 8, "several objects"
    assert all(get_scene("forward").layout(spec, s).kind == "forward" for s in ("train", "val", "test"))


@pytest.mark.parametrize("name", ["lego", "materials", "forward"])
def test_same_seed_same_scene_other_seed_another(name):
    a, b, c = scene_spec(name, 3), scene_spec(name, 3), scene_spec(name, 4)
    def flat(s):
        return np.concatenate([np.concatenate([p.verts.ravel(), p.colors.ravel()]) for p in s.parts])

    assert flat(a).tobytes() == flat(b).tobytes()
    fa, fc = flat(a), flat(c)
    assert fa.shape != fc.shape or not np.array_equal(fa, fc)


def test_extrude_winding_and_uvs():
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    for smooth in (False, True):
        verts, faces, uvs = extrude(square, 2.0, smooth)
        mesh = trimesh.Trimesh(verts, faces, process=True)
        assert mesh.is_watertight and mesh.volume == pytest.approx(2.0)
        assert (uvs is None) == smooth
    verts, faces, _ = cylinder_geometry(0.5, 1.0, 64)
    assert trimesh.Trimesh(verts, faces, process=True).volume == pytest.approx(math.pi * 0.25, rel=0.01)


def test_rotation_to_maps_z_to_the_direction():
    for d in ([1, 2, 3], [0, 0, -1], [0, 0, 1], [-1, 0, 0]):
        r = rotation_to(d)
        np.testing.assert_allclose(r @ [0, 0, 1], np.divide(d, np.linalg.norm(d)), atol=1e-12)
        np.testing.assert_allclose(r.T @ r, np.eye(3), atol=1e-12)
        assert np.linalg.det(r) == pytest.approx(1.0)


def test_textures():
    t = checker_texture(2, (0, 0, 0), (1, 1, 1), size=4)
    assert t.shape == (4, 4, 3) and t[0, 0, 0] == 0 and t[0, 3, 0] == 1 and t[3, 3, 0] == 0
    s = stripes_texture(2, (1, 0, 0), (0, 0, 1), size=8)
    assert (s[:, 0] == [1, 0, 0]).all() and (s[:, 2] == [0, 0, 1]).all() and (s[0] == s[7]).all()
    # uv (0, 1) is the top-left texel, (1, 0) the bottom-right.
    ramp = np.zeros((2, 2, 3), np.float32)
    ramp[0, 0], ramp[1, 1] = 1.0, 0.5
    np.testing.assert_allclose(sample_texture(ramp, np.array([[0.0, 1.0], [1.0, 0.0]])), [[1] * 3, [0.5] * 3])


def test_box_mesh_grid_and_colour():
    verts, faces = box_mesh(segments=2)
    assert verts.shape == (6 * 9, 3) and faces.shape == (6 * 8, 3)
    np.testing.assert_allclose(box_color(np.array([[0.25, 0.25, 0.0], [1.25, 1.0, 0.75]])),
                               [[0.02, 0.02, 0.02], [0.98, 0.75, 0.75]])
