"""knn_points / knn_gather against the brute-force reference: values, indices, gradients, padding, errors."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES
from reference.knn import knn_points_naive

from inverse3d.ops import knn as knn_module
from inverse3d.ops import knn_gather, knn_points


@pytest.fixture(params=["brute", "blocks"])
def path(request, monkeypatch):
    """Runs a test through the dense path and through the pruned block path (forced on small inputs)."""
    if request.param == "blocks":
        monkeypatch.setattr(knn_module, "_BRUTE_MAX_PAIRS", 0)
    else:
        monkeypatch.setattr(knn_module, "_BRUTE_MAX_PAIRS", 1 << 62)
    return request.param


def _ragged(N, P1, P2, D, device, dtype, gen):
    p1 = torch.rand(N, P1, D, generator=gen, dtype=dtype).to(device)
    p2 = torch.rand(N, P2, D, generator=gen, dtype=dtype).to(device)
    l1 = torch.randint(0, P1 + 1, (N,), generator=gen).to(device)
    l2 = torch.randint(0, P2 + 1, (N,), generator=gen).to(device)
    l1[0], l2[0] = P1, P2  # one full cloud, the others ragged (possibly empty)
    return p1, p2, l1, l2


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("norm", [1, 2])
@pytest.mark.parametrize("K", [1, 40])
@pytest.mark.parametrize("D", [1, 2, 3, 5])
def test_matches_reference(path, device, dtype, norm, K, D):
    gen = torch.Generator().manual_seed(K * 10 + D + norm)
    p1, p2, l1, l2 = _ragged(4, 70, 90, D, device, dtype, gen)
    out = knn_points(p1, p2, l1, l2, norm=norm, K=K)
    dists, idx = knn_points_naive(p1, p2, l1, l2, norm=norm, K=K)
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    torch.testing.assert_close(out.dists, dists, atol=tol, rtol=tol)
    assert out.idx.dtype == torch.int64
    assert torch.equal(out.idx, idx)  # random floats: no ties
    assert out.knn is None


@pytest.mark.parametrize("norm", [1, 2])
def test_gradients_match_reference(path, norm):
    gen = torch.Generator().manual_seed(3)
    p1, p2, l1, l2 = _ragged(3, 40, 50, 3, "cpu", torch.float64, gen)
    w = torch.rand(3, 40, 4, generator=gen, dtype=torch.float64)  # an arbitrary upstream gradient
    grads = []
    for fn in (knn_points, knn_points_naive):
        a, b = p1.clone().requires_grad_(), p2.clone().requires_grad_()
        out = fn(a, b, l1, l2, norm=norm, K=4)
        dists = out[0]
        (dists * w).sum().backward()
        grads.append((a.grad, b.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0])
    torch.testing.assert_close(grads[0][1], grads[1][1])


def test_gradcheck(path):
    gen = torch.Generator().manual_seed(1)
    p1 = torch.rand(2, 6, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    p2 = torch.rand(2, 7, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    lengths1 = torch.tensor([6, 4])
    lengths2 = torch.tensor([7, 2])
    for norm in (1, 2):
        assert torch.autograd.gradcheck(
            lambda a, b: knn_points(a, b, lengths1, lengths2, norm=norm, K=3).dists, (p1, p2), fast_mode=True
        )
        assert torch.autograd.gradcheck(
            lambda a, b: knn_points(a, b, lengths1, lengths2, norm=norm, K=2, return_nn=True).knn, (p1, p2),
            fast_mode=True,
        )


def test_padding_conventions(path):
    """Zeros (index and distance) past lengths1 and past lengths2 when K is larger than the cloud."""
    p1 = torch.rand(2, 5, 3)
    p2 = torch.rand(2, 6, 3)
    out = knn_points(p1, p2, torch.tensor([5, 3]), torch.tensor([6, 2]), K=4, return_nn=True)
    assert out.dists.shape == out.idx.shape == (2, 5, 4) and out.knn.shape == (2, 5, 4, 3)
    assert (out.dists[1, 3:] == 0).all() and (out.idx[1, 3:] == 0).all() and (out.knn[1, 3:] == 0).all()
    assert (out.dists[1, :, 2:] == 0).all() and (out.idx[1, :, 2:] == 0).all()
    assert (out.idx[1, :3, :2] < 2).all() and (out.dists[1, :3, :2] > 0).all()
    assert (out.dists[0, :, 1:] >= out.dists[0, :, :-1]).all()  # sorted
    torch.testing.assert_close(out.knn[0], knn_gather(p2, out.idx)[0])


def test_empty_clouds(path):
    p1 = torch.rand(2, 4, 3, requires_grad=True)
    p2 = torch.rand(2, 5, 3, requires_grad=True)
    out = knn_points(p1, p2, torch.tensor([0, 4]), torch.tensor([5, 0]), K=2)
    assert (out.dists == 0).all() and (out.idx == 0).all()
    out.dists.sum().backward()
    assert (p1.grad == 0).all() and (p2.grad == 0).all()
    zero = knn_points(torch.rand(1, 0, 3), torch.rand(1, 5, 3))
    assert zero.dists.shape == (1, 0, 1)
    none = knn_points(torch.rand(1, 3, 3), torch.rand(1, 0, 3), K=2)
    assert none.dists.shape == (1, 3, 2) and (none.idx == 0).all()


@pytest.mark.parametrize("K,norm", [(1, 2), (5, 2), (5, 1)])
@pytest.mark.parametrize(
    "layout", ["uniform", "sphere", "shifted", "clusters", "duplicates", "flat", "collinear", "far"]
)
def test_pruned_search_is_exact_on_hard_layouts(monkeypatch, layout, K, norm):
    """The block path against the dense path on layouts that stress the pruning (~1.5k x 1.2k points)."""
    gen = torch.Generator().manual_seed(7)
    P1, P2 = 1500, 1200

    def cloud(P, shift=0.0):
        if layout == "sphere":
            return torch.nn.functional.normalize(torch.randn(2, P, 3, generator=gen), dim=-1)
        if layout == "clusters":
            centres = torch.randint(0, 4, (2, P, 1), generator=gen).float() * 3
            return centres + 0.01 * torch.randn(2, P, 3, generator=gen)
        if layout == "duplicates":
            return torch.randint(0, 5, (2, P, 3), generator=gen).float()
        if layout == "flat":
            pts = torch.rand(2, P, 3, generator=gen)
            pts[..., 2] = 0.25
            return pts
        if layout == "collinear":
            return torch.rand(2, P, 1, generator=gen).expand(2, P, 3).contiguous()
        if layout == "far":
            return torch.rand(2, P, 3, generator=gen) * 1e-3 + 1e3 + shift
        return torch.rand(2, P, 3, generator=gen) + shift

    p1 = cloud(P1)
    p2 = cloud(P2, shift=0.7 if layout == "shifted" else 0.0)
    l1 = torch.tensor([P1, 1000])
    l2 = torch.tensor([P2, 700])
    monkeypatch.setattr(knn_module, "_BRUTE_MAX_PAIRS", 1 << 62)
    dense = knn_points(p1, p2, l1, l2, norm=norm, K=K)
    monkeypatch.setattr(knn_module, "_BRUTE_MAX_PAIRS", 0)
    monkeypatch.setattr(knn_module, "_BUDGET", 1 << 16)  # many chunks
    blocks = knn_points(p1, p2, l1, l2, norm=norm, K=K)
    torch.testing.assert_close(blocks.dists, dense.dists, atol=1e-6 if layout != "far" else 1e-2, rtol=1e-5)
    if layout in ("uniform", "sphere", "shifted"):
        assert (blocks.idx != dense.idx).float().mean() < 1e-3  # only exact ties may differ


@pytest.mark.parametrize("K", [1, 6])
def test_tiny_budget_is_still_exact(path, monkeypatch, K):
    """With a budget of a few hundred entries every loop splits (clouds, rows, columns, candidate pieces)."""
    monkeypatch.setattr(knn_module, "_BUDGET", 300)
    gen = torch.Generator().manual_seed(11)
    p1, p2, l1, l2 = _ragged(3, 150, 400, 3, "cpu", torch.float32, gen)
    out = knn_points(p1, p2, l1, l2, K=K)
    dists, idx = knn_points_naive(p1, p2, l1, l2, K=K)
    torch.testing.assert_close(out.dists, dists)
    assert torch.equal(out.idx, idx)


def test_default_threshold_uses_blocks_on_large_input():
    """Large inputs take the pruned path (and agree with the reference at a few probes)."""
    gen = torch.Generator().manual_seed(0)
    p1 = torch.rand(1, 4000, 3, generator=gen)
    p2 = torch.rand(1, 3000, 3, generator=gen)
    assert 4000 * 3000 > knn_module._BRUTE_MAX_PAIRS
    out = knn_points(p1, p2, K=2)
    probe = torch.arange(0, 4000, 97)
    d_ref, i_ref = knn_points_naive(p1[:, probe], p2, K=2)
    torch.testing.assert_close(out.dists[:, probe], d_ref)
    assert torch.equal(out.idx[:, probe], i_ref)


def test_knn_gather():
    x = torch.arange(2 * 4 * 2, dtype=torch.float32).view(2, 4, 2).requires_grad_()
    idx = torch.tensor([[[0, 3], [1, 1]], [[2, 0], [3, 2]]])
    out = knn_gather(x, idx)
    assert out.shape == (2, 2, 2, 2)
    assert torch.equal(out[1, 0, 0], x[1, 2].detach())
    masked = knn_gather(x, idx, lengths=torch.tensor([4, 1]))
    assert (masked[1, :, 1] == 0).all() and torch.equal(masked[1, :, 0], out[1, :, 0])
    masked.sum().backward()
    assert x.grad[0, 1].tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match="idx"):
        knn_gather(x, idx + 4)
    with pytest.raises(ValueError, match="batch"):
        knn_gather(x, idx[:1].expand(3, -1, -1))


def test_bad_input():
    p = torch.rand(2, 5, 3)
    with pytest.raises(ValueError, match="batch dimension"):
        knn_points(p, torch.rand(3, 5, 3))
    with pytest.raises(ValueError, match="point dimension"):
        knn_points(p, torch.rand(2, 5, 2))
    with pytest.raises(ValueError, match="norm"):
        knn_points(p, p, norm=3)
    with pytest.raises(ValueError, match="K"):
        knn_points(p, p, K=0)
    with pytest.raises(ValueError, match="lengths1"):
        knn_points(p, p, lengths1=torch.tensor([6, 1]))
    with pytest.raises(ValueError, match="lengths2"):
        knn_points(p, p, lengths2=torch.tensor([1]))
    bad = p.clone()
    bad[1, 2, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        knn_points(bad, p)
    knn_points(bad, p, lengths1=torch.tensor([5, 2]))  # NaN in the padding is ignored
    with pytest.raises(ValueError):
        knn_points(p[0], p[0])


@pytest.mark.parametrize("name", ["lengths1", "lengths2"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bool])
def test_lengths_must_be_integers(name, dtype):
    p = torch.rand(2, 5, 3)
    lengths = torch.tensor([5, 3]).to(dtype)
    with pytest.raises(TypeError, match=f"{name} must be an integer tensor .*; got dtype {dtype}"):
        knn_points(p, p, **{name: lengths})
    out = knn_points(p, p, **{name: torch.tensor([5, 3], dtype=torch.int32)}, K=2)  # any integer type is fine
    assert out.idx.shape == (2, 5, 2)
    with pytest.raises(TypeError, match="lengths must be an integer tensor"):
        knn_gather(p, out.idx, torch.tensor([5.0, 3.0]))
