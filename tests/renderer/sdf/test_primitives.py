"""SDF primitives and CSG against the slow references, gradients by gradcheck, placement and bad input."""

from __future__ import annotations

import math

import pytest
import torch

from inverse3d.renderer.sdf import (
    Box,
    Capsule,
    Cylinder,
    Difference,
    Intersection,
    Plane,
    SmoothUnion,
    Sphere,
    Torus,
    Union,
    many_primitives_scene,
    count_primitives,
    sdf_box,
    sdf_capsule,
    sdf_cylinder,
    sdf_difference,
    sdf_intersection,
    sdf_plane,
    sdf_smooth_union,
    sdf_sphere,
    sdf_torus,
    sdf_union,
)
from tests.reference import sdf as ref

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]

CASES = {
    "sphere": (lambda p: sdf_sphere(p, 0.4), lambda q: ref.sphere(q, 0.4)),
    "box": (lambda p: sdf_box(p, (0.3, 0.2, 0.4)), lambda q: ref.box(q, (0.3, 0.2, 0.4))),
    "torus": (lambda p: sdf_torus(p, 0.5, 0.15), lambda q: ref.torus(q, 0.5, 0.15)),
    "capsule": (lambda p: sdf_capsule(p, (0.1, -0.2, 0.0), (-0.1, 0.3, 0.2), 0.15),
                lambda q: ref.capsule(q, [0.1, -0.2, 0.0], [-0.1, 0.3, 0.2], 0.15)),
    "cylinder": (lambda p: sdf_cylinder(p, 0.3, 0.25), lambda q: ref.cylinder(q, 0.3, 0.25)),
    "plane": (lambda p: sdf_plane(p, (1.0, 2.0, -0.5), 0.1), lambda q: ref.plane(q, [1.0, 2.0, -0.5], 0.1)),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("device", DEVICES)
def test_primitive_matches_reference(name, device):
    fast, slow = CASES[name]
    g = torch.Generator().manual_seed(3)
    p = (torch.rand(2, 40, 3, generator=g, dtype=torch.float64) - 0.5) * 1.4  # (2, 40, 3): inside and outside
    out = fast(p.to(device))
    assert out.shape == (2, 40)
    expected = torch.tensor([[slow(q) for q in row.tolist()] for row in p], dtype=torch.float64)
    torch.testing.assert_close(out.cpu(), expected, atol=1e-12, rtol=0)
    assert (out < 0).any() and (out > 0).any()  # both sides of the surface were tested


@pytest.mark.parametrize("name", sorted(CASES))
def test_primitive_gradcheck(name):
    fast, _ = CASES[name]
    g = torch.Generator().manual_seed(1)
    p = ((torch.rand(6, 3, generator=g, dtype=torch.float64) - 0.5) * 1.2).requires_grad_(True)
    assert torch.autograd.gradcheck(fast, (p,))


def test_primitive_gradient_is_unit_length():
    """Exact SDFs have |grad| = 1 away from their medial axis."""
    g = torch.Generator().manual_seed(2)
    p = ((torch.rand(50, 3, generator=g, dtype=torch.float64) - 0.5) * 2.0).requires_grad_(True)
    for name, (fast, _) in CASES.items():
        (grad,) = torch.autograd.grad(fast(p).sum(), p)
        torch.testing.assert_close(grad.norm(dim=-1), torch.ones(50, dtype=torch.float64), msg=name)


def test_csg_functions():
    a = torch.tensor([0.3, -0.2, 0.1, -0.5], dtype=torch.float64)
    b = torch.tensor([-0.1, 0.4, 0.1, -0.2], dtype=torch.float64)
    torch.testing.assert_close(sdf_union(a, b), torch.tensor([-0.1, -0.2, 0.1, -0.5], dtype=torch.float64))
    torch.testing.assert_close(sdf_intersection(a, b), torch.tensor([0.3, 0.4, 0.1, -0.2], dtype=torch.float64))
    torch.testing.assert_close(sdf_difference(a, b), torch.tensor([0.3, -0.2, 0.1, 0.2], dtype=torch.float64))
    k = 0.2
    s = sdf_smooth_union(a, b, k)
    assert (s <= sdf_union(a, b) + 1e-12).all()  # never above the hard union
    assert (s >= sdf_union(a, b) - k / 4 - 1e-12).all()  # at most k/4 below it
    far = torch.tensor([0.0], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64)
    torch.testing.assert_close(sdf_smooth_union(*far, k), far[0])  # equal to min where |a - b| >= k
    ga = torch.rand(5, dtype=torch.float64, requires_grad=True)
    gb = torch.rand(5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, y: sdf_smooth_union(x, y, 0.7), (ga, gb))
    with pytest.raises(ValueError, match="k must be > 0"):
        sdf_smooth_union(a, b, 0.0)


def _rotation(axis, angle):
    c, s = math.cos(angle), math.sin(angle)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    r = torch.eye(3, dtype=torch.float64)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


def test_placed_modules_match_reference():
    rot = _rotation(0, 0.7) @ _rotation(1, -0.4)
    center = (0.1, -0.2, 0.3)
    shapes = [
        (Box((0.3, 0.2, 0.1), center=center, rotation=rot), lambda q: ref.box(q, (0.3, 0.2, 0.1))),
        (Torus(0.3, 0.1, center=center, rotation=rot), lambda q: ref.torus(q, 0.3, 0.1)),
        (Cylinder(0.2, 0.3, center=center, rotation=rot), lambda q: ref.cylinder(q, 0.2, 0.3)),
        (Capsule((0, 0, -0.2), (0, 0.1, 0.2), 0.1, center=center, rotation=rot),
         lambda q: ref.capsule(q, [0, 0, -0.2], [0, 0.1, 0.2], 0.1)),
        (Sphere(0.3, center=center), lambda q: ref.sphere(q, 0.3)),
        (Plane((0, 1, 0), center=center, rotation=rot), lambda q: ref.plane(q, [0, 1, 0], 0.0)),
    ]
    g = torch.Generator().manual_seed(5)
    p = (torch.rand(30, 3, generator=g, dtype=torch.float64) - 0.5) * 1.5
    rows = rot.tolist()
    for module, slow in shapes:
        module = module.double()
        out = module(p)
        assert out.shape == (30, 1)
        expected = [slow(ref.to_local(q, list(center), rows)) for q in p.tolist()]
        torch.testing.assert_close(out[:, 0], torch.tensor(expected, dtype=torch.float64), atol=1e-6, rtol=0,
                                   msg=type(module).__name__)


def test_csg_modules_and_colors():
    a = Sphere(0.3, center=(-0.2, 0, 0), color=(1, 0, 0))
    b = Box((0.2, 0.2, 0.2), center=(0.2, 0, 0), color=(0, 0, 1))
    p = torch.tensor([[-0.45, 0.0, 0.0], [0.35, 0.0, 0.0], [0.0, 0.5, 0.0]])
    da, db = a(p)[:, 0], b(p)[:, 0]
    torch.testing.assert_close(Union([a, b])(p)[:, 0], torch.minimum(da, db))
    torch.testing.assert_close(Intersection([a, b])(p)[:, 0], torch.maximum(da, db))
    torch.testing.assert_close(Difference(a, b)(p)[:, 0], torch.maximum(da, -db))
    torch.testing.assert_close(SmoothUnion(a, b, 0.1)(p)[:, 0], sdf_smooth_union(da, db, 0.1))
    colors = Union([a, b]).colors(p)
    torch.testing.assert_close(colors[0], torch.tensor([1.0, 0.0, 0.0]))  # nearest is the sphere
    torch.testing.assert_close(colors[1], torch.tensor([0.0, 0.0, 1.0]))  # nearest is the box
    assert Union([a, b])(torch.zeros(2, 5, 3)).shape == (2, 5, 1)


def test_many_primitive_scene():
    scene = many_primitives_scene()
    assert count_primitives(scene) > 20
    p = torch.rand(100, 3) * 2 - 1
    d = scene(p)
    assert d.shape == (100, 1) and torch.isfinite(d).all()
    assert float(scene(torch.zeros(1, 3))) < 0  # the centre sphere


def test_bad_input():
    with pytest.raises(ValueError, match=r"points must be a tensor of shape \(\.\.\., 3\)"):
        Sphere(0.5)(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="floating point"):
        Sphere(0.5)(torch.zeros(4, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="radius must be a finite number > 0"):
        Sphere(-1.0)
    with pytest.raises(ValueError, match="orthonormal"):
        Box(rotation=torch.ones(3, 3))
    with pytest.raises(ValueError, match="half_size must be > 0"):
        Box((0.1, 0.0, 0.1))
    with pytest.raises(ValueError, match="center must be 3 finite numbers"):
        Sphere(0.5, center=(0.0, float("nan"), 0.0))
    with pytest.raises(ValueError, match="at least 1 shapes"):
        Union([])
