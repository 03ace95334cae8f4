"""Procedural furniture: closed outward parts, ShapeNet normalisation, determinism and variety."""

import numpy as np
import pytest
import trimesh

from inverse3d.datasets.procedural import CATEGORIES, box, make_shape, normalize, prism


@pytest.mark.parametrize("category", CATEGORIES)
def test_parts_are_closed_and_outward(category):
    for seed in range(12):
        shape, *_ = make_shape(category, seed)
        for part in shape.parts:
            mesh = trimesh.Trimesh(part.verts, part.faces, process=False)
            assert mesh.is_watertight, (category, seed, part.name)
            assert mesh.volume > 0, f"{category} {seed} {part.name}: inward winding"


@pytest.mark.parametrize("category", CATEGORIES)
def test_normalised_like_shapenet(category):
    _, verts, faces, colors = make_shape(category, 3, random_colors=True)
    lo, hi = verts.min(0), verts.max(0)
    assert np.linalg.norm(hi - lo) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose((lo + hi) / 2, 0, atol=1e-6)
    assert faces.min() == 0 and faces.max() == len(verts) - 1
    assert colors.shape == verts.shape and colors.min() >= 0 and colors.max() <= 1


def test_same_seed_same_shape_and_seeds_differ():
    _, a, fa, _ = make_shape("chair", 7)
    _, b, fb, _ = make_shape("chair", 7)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fa, fb)
    styles = {(make_shape("chair", s)[0].params["legs"], make_shape("chair", s)[0].params["back"]) for s in range(40)}
    assert len(styles) >= 6, f"too little variety: {styles}"


def test_primitive_volumes():
    assert trimesh.Trimesh(box((0, 0, 0), (1, 2, 3)).verts, box((0, 0, 0), (1, 2, 3)).faces).volume == pytest.approx(6)
    p = prism((0, 0, 0), 1.0, 2.0, sides=64)
    assert trimesh.Trimesh(p.verts, p.faces).volume == pytest.approx(2 * np.pi, rel=0.01)


def test_bad_input():
    with pytest.raises(ValueError, match="unknown category"):
        make_shape("lamp", 0)
    with pytest.raises(ValueError, match="degenerate"):
        normalize(np.zeros((4, 3)))
