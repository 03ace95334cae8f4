"""Transform3d: values against a per-point loop, composition order, inverses, gradients, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import DEVICES
from reference.cameras import naive_transform_points

from inverse3d.transforms import (
    Rotate,
    RotateAxisAngle,
    Scale,
    Transform3d,
    Translate,
    euler_angles_to_matrix,
    random_rotations,
)


def _random_affine(n: int, dtype=torch.float64) -> torch.Tensor:
    m = torch.randn(n, 4, 4, dtype=dtype) * 0.3
    m[:, :3, :3] += torch.eye(3, dtype=dtype)
    m[:, :3, 3] = torch.randn(n, 3, dtype=dtype) * 0.05  # a mild projective part
    m[:, 3, 3] = 1.0
    return m


def test_transform_points_matches_loop():
    m = _random_affine(1)
    pts = torch.randn(20, 3, dtype=torch.float64)
    out = Transform3d(matrix=m).transform_points(pts)
    assert out.shape == (20, 3)
    np.testing.assert_allclose(out.numpy(), naive_transform_points(pts.numpy(), m[0].numpy()), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shapes", [((3, 4, 4), (3, 7, 3)), ((1, 4, 4), (3, 7, 3)), ((3, 4, 4), (7, 3))])
def test_transform_points_batch_broadcast(device, shapes):
    mshape, pshape = shapes
    m = _random_affine(mshape[0]).to(device)
    pts = torch.randn(*pshape, dtype=torch.float64, device=device)
    out = Transform3d(matrix=m).transform_points(pts)
    assert out.shape == (3, 7, 3) and out.device == pts.device
    pts_b = pts.expand(3, 7, 3)
    m_b = m.expand(3, 4, 4)
    for i in range(3):
        ref = naive_transform_points(pts_b[i].cpu().numpy(), m_b[i].cpu().numpy())
        np.testing.assert_allclose(out[i].cpu().numpy(), ref, rtol=1e-10, atol=1e-12)


def test_compose_order_translate_then_scale():
    p = torch.tensor([[1.0, 2.0, 3.0]])
    t = Transform3d().translate(1.0, 0.0, 0.0).scale(2.0)
    torch.testing.assert_close(t.transform_points(p), torch.tensor([[4.0, 4.0, 6.0]]))
    t2 = Transform3d().scale(2.0).translate(1.0, 0.0, 0.0)
    torch.testing.assert_close(t2.transform_points(p), torch.tensor([[3.0, 4.0, 6.0]]))
    a, b = Translate(1.0, 2.0, 3.0), Scale(2.0, 3.0, 4.0)
    torch.testing.assert_close(a.compose(b).get_matrix(), a.get_matrix() @ b.get_matrix())


def test_subclass_matrices():
    torch.testing.assert_close(Translate(1.0, 2.0, 3.0).get_matrix()[0, 3, :3], torch.tensor([1.0, 2.0, 3.0]))
    torch.testing.assert_close(Translate(torch.tensor([[1.0, 2.0, 3.0]])).get_matrix()[0, 3, :3], torch.tensor([1.0, 2.0, 3.0]))
    torch.testing.assert_close(torch.diagonal(Scale(2.0).get_matrix()[0]), torch.tensor([2.0, 2.0, 2.0, 1.0]))
    assert len(Translate(torch.zeros(5), 1.0, 2.0)) == 5
    # RotateAxisAngle: +90 degrees about Z takes the x axis to the y axis (points are row vectors)
    r = RotateAxisAngle(90.0, axis="Z")
    torch.testing.assert_close(r.transform_points(torch.tensor([[1.0, 0.0, 0.0]])), torch.tensor([[0.0, 1.0, 0.0]]), atol=1e-6, rtol=0)
    r = RotateAxisAngle(math.pi / 2, axis="x", degrees=False)
    torch.testing.assert_close(r.transform_points(torch.tensor([[0.0, 1.0, 0.0]])), torch.tensor([[0.0, 0.0, 1.0]]), atol=1e-6, rtol=0)
    # Rotate uses R as given on row vectors: p @ R
    M = euler_angles_to_matrix(torch.tensor([0.3, 0.2, 0.1]), "XYZ")
    p = torch.randn(4, 3)
    torch.testing.assert_close(Rotate(M).transform_points(p), p @ M)


def test_inverse_exact_and_general():
    R = random_rotations(4, dtype=torch.float64)
    t = Rotate(R).translate(torch.randn(4, 3, dtype=torch.float64)).scale(torch.rand(4, dtype=torch.float64) + 0.5)
    pts = torch.randn(4, 10, 3, dtype=torch.float64)
    back = t.inverse().transform_points(t.transform_points(pts))
    torch.testing.assert_close(back, pts)
    torch.testing.assert_close(t.inverse().get_matrix(), torch.inverse(t.get_matrix()))
    torch.testing.assert_close(t.inverse(invert_composed=True).get_matrix(), torch.inverse(t.get_matrix()))
    # the rotation's closed-form inverse is its transpose
    torch.testing.assert_close(Rotate(R).inverse().get_matrix()[:, :3, :3], R.transpose(1, 2))
    g = Transform3d(matrix=_random_affine(2))
    torch.testing.assert_close(g.inverse().get_matrix(), torch.inverse(g.get_matrix()))


def test_transform_normals():
    s = Scale(1.0, 2.0, 4.0, dtype=torch.float64)
    n = torch.tensor([[1.0, 1.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(s.transform_normals(n), torch.tensor([[1.0, 0.5, 0.25]], dtype=torch.float64))
    # a tangent stays perpendicular to the transformed normal
    t = Transform3d(matrix=_random_affine(1)).compose(Transform3d(dtype=torch.float64))
    m = t.get_matrix().clone()
    m[:, :3, 3] = 0
    t = Transform3d(matrix=m)
    normal = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)
    tangent = torch.tensor([[1.0, 2.0, 0.0]], dtype=torch.float64)
    tn = t.transform_normals(normal)
    tt = t.transform_points(tangent) - t.transform_points(torch.zeros(1, 3, dtype=torch.float64))
    assert abs(float((tn * tt).sum())) < 1e-10


def test_eps_clamps_homogeneous_divide():
    m = torch.eye(4)
    m[3, 3] = 0.0  # w = 0 for every point
    out = Transform3d(matrix=m).transform_points(torch.ones(1, 3), eps=1e-4)
    torch.testing.assert_close(out, torch.full((1, 3), 1e4))
    m[2, 3] = 1.0  # w = z
    out = Transform3d(matrix=m).transform_points(torch.tensor([[1.0, 1.0, -1e-6]]), eps=1e-2)
    torch.testing.assert_close(out, torch.tensor([[-100.0, -100.0, 1e-4]]))


def test_stack_getitem_clone_to():
    a, b = Translate(torch.randn(2, 3)), Scale(torch.rand(3) + 0.5)
    s = a.stack(b)
    assert len(s) == 5
    torch.testing.assert_close(s[3].get_matrix(), b.get_matrix()[1:2])
    torch.testing.assert_close(s[[0, 4]].get_matrix(), s.get_matrix()[[0, 4]])
    torch.testing.assert_close(s[1:3].get_matrix(), s.get_matrix()[1:3])
    c = a.clone()
    c._matrix[0, 3, 0] = 100.0
    assert a.get_matrix()[0, 3, 0] != 100.0
    d = a.to("cpu", dtype=torch.float64)
    assert d.get_matrix().dtype == torch.float64 and d.dtype == torch.float64
    assert a.to("cpu") is a and a.cpu().device == torch.device("cpu")


def test_dtype_follows_input():
    t = Translate(torch.zeros(1, 3, dtype=torch.float64))
    assert t.get_matrix().dtype == torch.float64
    out = Transform3d().transform_points(torch.zeros(2, 3, dtype=torch.float64))
    assert out.dtype == torch.float64


def test_gradcheck_transform_points():
    m = _random_affine(2).requires_grad_()
    pts = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda mm, pp: Transform3d(matrix=mm).transform_points(pp, eps=1e-3), (m, pts))
    xyz = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    ang = torch.rand(2, dtype=torch.float64, requires_grad=True)
    p = torch.randn(2, 4, 3, dtype=torch.float64)
    fn = lambda x, a: Translate(x).rotate_axis_angle(a, "Y").scale(x[:, 0] + 2.0).inverse().transform_points(p)
    assert torch.autograd.gradcheck(fn, (xyz, ang))


def test_bad_input():
    with pytest.raises(ValueError):
        Transform3d(matrix=torch.eye(3))
    with pytest.raises(ValueError):
        Transform3d(matrix=torch.zeros(2, 2, 4, 4))
    with pytest.raises(ValueError):
        Transform3d().transform_points(torch.zeros(5, 2))
    with pytest.raises(ValueError):
        Transform3d().transform_points(torch.zeros(2, 2, 5, 3))
    with pytest.raises(ValueError):
        Transform3d().transform_normals(torch.zeros(4))
    with pytest.raises(ValueError):
        Transform3d(matrix=torch.eye(4).repeat(2, 1, 1)).transform_points(torch.zeros(3, 5, 3))
    with pytest.raises(ValueError):
        Transform3d().compose("not a transform")
    with pytest.raises(ValueError):
        Translate(torch.zeros(2, 2))
    with pytest.raises(ValueError):
        Translate(torch.zeros(2), torch.zeros(3), 1.0)
    with pytest.raises(ValueError):
        Rotate(torch.eye(4))
    with pytest.raises(ValueError):
        RotateAxisAngle(10.0, axis="W")


@pytest.mark.parametrize("index", [1, -1, slice(0, 2), [0, 2], torch.tensor([True, False, True])])
def test_indexing_keeps_the_class(index):
    R = random_rotations(3, dtype=torch.float64)
    cases = [
        (Translate(torch.randn(3, 3, dtype=torch.float64)), Translate),
        (Scale(torch.rand(3, 3, dtype=torch.float64) + 0.5), Scale),
        (Rotate(R), Rotate),
        (RotateAxisAngle(torch.tensor([10.0, 20.0, 30.0], dtype=torch.float64), axis="Y"), Rotate),
        (Transform3d(matrix=_random_affine(3)), Transform3d),
    ]
    for t, cls in cases:
        part = t[index]
        assert type(part) is cls, (type(t).__name__, type(part).__name__)
        expected = t.get_matrix()[[index] if isinstance(index, int) else index]
        torch.testing.assert_close(part.get_matrix(), expected)
        assert part.dtype == torch.float64
        # the closed-form inverse of the subclass still applies to the part
        torch.testing.assert_close(part.inverse().get_matrix(), torch.inverse(expected))
