"""chamfer_distance against the naive reference: reductions, ragged batches, normals, weights, gradients."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES
from reference.chamfer import chamfer_distance_naive

from inverse3d.loss import chamfer_distance


def _clouds(device="cpu", dtype=torch.float32, seed=0, N=3, P1=30, P2=40, D=3):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(N, P1, D, generator=gen, dtype=dtype).to(device)
    y = torch.rand(N, P2, D, generator=gen, dtype=dtype).to(device)
    xn = torch.randn(N, P1, D, generator=gen, dtype=dtype).to(device)
    yn = torch.randn(N, P2, D, generator=gen, dtype=dtype).to(device)
    xl = torch.tensor([P1, 17, 1][:N], device=device)
    yl = torch.tensor([P2, 5, 29][:N], device=device)
    return x, y, xn, yn, xl, yl


def _assert_close_nested(a, b, **kw):
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for u, v in zip(a, b):
            _assert_close_nested(u, v, **kw)
    elif a is None:
        assert b is None
    else:
        torch.testing.assert_close(a, b, **kw)


REDUCTIONS = [("mean", "mean"), ("sum", "mean"), (None, "mean"), ("mean", "sum"), (None, "sum"), (None, None),
              ("mean", "max"), (None, "max")]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("batch_reduction,point_reduction", REDUCTIONS)
@pytest.mark.parametrize("norm", [1, 2])
@pytest.mark.parametrize("single_directional", [False, True])
@pytest.mark.parametrize("ragged", [False, True])
def test_matches_reference(device, batch_reduction, point_reduction, norm, single_directional, ragged):
    x, y, xn, yn, xl, yl = _clouds(device)
    kwargs = dict(batch_reduction=batch_reduction, point_reduction=point_reduction, norm=norm,
                  single_directional=single_directional)
    if ragged:
        kwargs.update(x_lengths=xl, y_lengths=yl)
    if point_reduction != "max":
        kwargs.update(x_normals=xn, y_normals=yn)
    ours = chamfer_distance(x, y, **kwargs)
    ref = chamfer_distance_naive(x, y, **kwargs)
    _assert_close_nested(ours, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("abs_cosine", [True, False])
def test_weights_and_abs_cosine(abs_cosine):
    x, y, xn, yn, xl, yl = _clouds()
    w = torch.tensor([0.5, 2.0, 0.0])
    for br, pr in [("mean", "mean"), ("sum", "sum"), (None, "mean"), (None, None)]:
        kwargs = dict(x_lengths=xl, y_lengths=yl, x_normals=xn, y_normals=yn, weights=w,
                      batch_reduction=br, point_reduction=pr, abs_cosine=abs_cosine)
        _assert_close_nested(chamfer_distance(x, y, **kwargs), chamfer_distance_naive(x, y, **kwargs))


def test_zero_weights_give_zero_with_graph():
    x, y, *_ = _clouds()
    x.requires_grad_()
    loss, loss_n = chamfer_distance(x, y, weights=torch.zeros(3))
    assert loss.item() == 0 and loss_n.item() == 0
    loss.backward()
    assert (x.grad == 0).all()


@pytest.mark.parametrize("single_directional", [False, True])
@pytest.mark.parametrize("point_reduction", ["mean", "sum", None])
def test_zero_weights_without_batch_reduction_have_pytorch3ds_shape(point_reduction, single_directional):
    # PyTorch3D returns its (N,) per-cloud sums times the (N, 1) weights: zeros of shape (N, N), for the normal
    # term too (even without normals), whatever the point reduction.
    x, y, *_ = _clouds()
    loss, loss_n = chamfer_distance(x, y, weights=torch.zeros(3), batch_reduction=None,
                                    point_reduction=point_reduction, single_directional=single_directional)
    if point_reduction is None and not single_directional:
        assert [t.shape for t in loss] == [(3, 3), (3, 3)] and [t.shape for t in loss_n] == [(3, 3), (3, 3)]
    else:
        assert loss.shape == (3, 3) and loss_n.shape == (3, 3) and (loss == 0).all() and (loss_n == 0).all()
    loss, loss_n = chamfer_distance(x, y, weights=torch.zeros(3), point_reduction="max", batch_reduction=None)
    assert loss.shape == (3, 3) and loss_n is None


def test_gradients_match_reference():
    x, y, xn, yn, xl, yl = _clouds(dtype=torch.float64)
    results = []
    for fn in (chamfer_distance, chamfer_distance_naive):
        a, b = x.clone().requires_grad_(), y.clone().requires_grad_()
        an, bn = xn.clone().requires_grad_(), yn.clone().requires_grad_()
        loss, loss_n = fn(a, b, x_lengths=xl, y_lengths=yl, x_normals=an, y_normals=bn)
        (loss + 0.3 * loss_n).backward()
        results.append([t.grad for t in (a, b, an, bn)])
    for g_ours, g_ref in zip(*results):
        torch.testing.assert_close(g_ours, g_ref)


def test_gradcheck():
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(2, 5, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    y = torch.rand(2, 6, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    xn = torch.randn(2, 5, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    yn = torch.randn(2, 6, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    xl, yl = torch.tensor([5, 3]), torch.tensor([6, 4])
    for norm in (1, 2):
        assert torch.autograd.gradcheck(
            lambda a, b, c, d: chamfer_distance(a, b, xl, yl, c, d, norm=norm, abs_cosine=False),
            (x, y, xn, yn),
            fast_mode=True,
        )


def test_point_reduction_none_shapes():
    x, y, *_ = _clouds(P1=7, P2=9)
    (dx, dy), normals = chamfer_distance(x, y, batch_reduction=None, point_reduction=None)
    assert dx.shape == (3, 7) and dy.shape == (3, 9) and normals is None
    single, _ = chamfer_distance(x, y, batch_reduction=None, point_reduction=None, single_directional=True)
    assert single.shape == (3, 7)
    torch.testing.assert_close(single, dx)


def test_identical_clouds_give_zero_and_symmetry():
    x, y, *_ = _clouds()
    loss, _ = chamfer_distance(x, x.flip(1))
    assert loss.item() == 0
    torch.testing.assert_close(chamfer_distance(x, y)[0], chamfer_distance(y, x)[0])


def test_pointclouds_input():
    pointclouds = pytest.importorskip("inverse3d.structures.pointclouds")
    x, y, xn, yn, xl, yl = _clouds()
    px = pointclouds.Pointclouds(points=[x[i, : xl[i]] for i in range(3)], normals=[xn[i, : xl[i]] for i in range(3)])
    py = pointclouds.Pointclouds(points=[y[i, : yl[i]] for i in range(3)], normals=[yn[i, : yl[i]] for i in range(3)])
    ours = chamfer_distance(px, py)
    ref = chamfer_distance_naive(x, y, x_lengths=xl, y_lengths=yl, x_normals=xn, y_normals=yn)
    _assert_close_nested(ours, ref)
    mixed = chamfer_distance(px, y, y_lengths=yl)
    torch.testing.assert_close(mixed[0], ref[0])


def test_large_clouds_are_exact():
    """Clouds large enough for the pruned nearest-neighbour search, checked against the naive loss."""
    gen = torch.Generator().manual_seed(5)
    x = torch.nn.functional.normalize(torch.randn(1, 3000, 3, generator=gen), dim=-1)
    y = torch.rand(1, 3000, 3, generator=gen) * 2 - 1  # 3000 x 3000 takes the pruned path
    torch.testing.assert_close(chamfer_distance(x, y)[0], chamfer_distance_naive(x, y)[0])


def test_bad_input():
    x, y, xn, yn, *_ = _clouds()
    cases = [
        (dict(batch_reduction="max"), "batch_reduction"),
        (dict(point_reduction="median"), "point_reduction"),
        (dict(batch_reduction="mean", point_reduction=None), "Batch reduction must be None"),
        (dict(norm=3), "norm"),
        (dict(point_reduction="max", x_normals=xn, y_normals=yn), "Normals"),
        (dict(weights=torch.ones(2)), "weights"),
        (dict(weights=-torch.ones(3)), "negative"),
        (dict(x_lengths=torch.tensor([31, 1, 1])), "too long"),
        (dict(x_lengths=torch.tensor([1, 1])), "x_lengths"),
        (dict(x_normals=xn[:, :3]), "x_normals"),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            chamfer_distance(x, y, **kwargs)
    with pytest.raises(ValueError, match="correct shape"):
        chamfer_distance(x, y[:2])
    with pytest.raises(ValueError, match="shape"):
        chamfer_distance(x[0], y[0])
    with pytest.raises(ValueError, match="Pointclouds"):
        chamfer_distance(x.tolist(), y)
