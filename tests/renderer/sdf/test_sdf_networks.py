"""The SDF networks (inverse3d.models.fields.sdf): shapes, sphere initialisation, autograd gradients (gradcheck),
features, second derivatives for the eikonal term, and rendering them by sphere tracing."""

from __future__ import annotations

import pytest
import torch

from inverse3d.models.fields import HashGridSDF, SDFMLP
from inverse3d.renderer.sdf import sphere_tracing

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


def _small(kind, **kw):
    if kind == "mlp":
        return SDFMLP(n_layers=4, hidden=32, n_harmonics=2, skips=(2,), **kw)
    return HashGridSDF(n_levels=4, log2_hashmap_size=8, base_resolution=4, finest_resolution=32, hidden=16, **kw)


@pytest.mark.parametrize("kind", ["mlp", "hashgrid"])
@pytest.mark.parametrize("device", DEVICES)
def test_shapes_and_features(kind, device):
    torch.manual_seed(0)
    net = _small(kind, feature_dim=5).to(device)
    p = torch.rand(2, 7, 3, device=device) - 0.5
    assert net(p).shape == (2, 7, 1)
    sdf, feats = net.forward_with_features(p)
    assert sdf.shape == (2, 7, 1) and feats.shape == (2, 7, 5)
    sdf2, grad, feats2 = net.forward_with_gradient(p)
    assert grad.shape == (2, 7, 3) and not grad.requires_grad  # no graph unless asked
    torch.testing.assert_close(sdf2, sdf.detach())
    assert _small(kind).forward_with_features(p.cpu())[1].shape == (2, 7, 0)


def test_mlp_geometric_init_is_a_sphere():
    """IGR's initialisation: the SDF grows with |x| (radially, gradient ~ x / |x|), negative at the centre."""
    torch.manual_seed(0)
    net = SDFMLP(radius=0.5)
    dirs = torch.nn.functional.normalize(torch.randn(200, 3), dim=-1)
    r = torch.linspace(0.05, 0.9, 12)
    values = net(dirs[:, None, :] * r[None, :, None])[..., 0].detach()  # (200, 12)
    assert (values[:, 1:] > values[:, :-1]).float().mean() > 0.95  # increasing along rays
    assert float(net(torch.zeros(1, 3)).detach()) < -0.2
    on_sphere = net(dirs * 0.5)[:, 0].detach()  # the calibrated zero level sits near the radius
    assert float(on_sphere.abs().mean()) < 0.1
    grad = net.gradient(dirs * 0.5)
    cos = torch.nn.functional.cosine_similarity(grad, dirs, dim=-1)
    assert float(cos.mean()) > 0.9
    # the embedding's harmonic columns start at zero (only the raw coordinates enter)
    assert float(net.layers[0].weight[:, : net.embed_dim - 3].abs().max()) == 0.0
    # without geometric initialisation it is not a sphere
    torch.manual_seed(0)
    plain = SDFMLP(geometric_init=False)
    assert float(torch.nn.functional.cosine_similarity(plain.gradient(dirs * 0.5), dirs, dim=-1).mean()) < 0.5


def test_hashgrid_starts_as_exact_sphere():
    net = _small("hashgrid", radius=0.3, bounds=((-1.0, -1.0, -1.0), (1.0, 1.0, 1.0)))
    p = torch.rand(50, 3) * 1.6 - 0.8
    torch.testing.assert_close(net(p)[:, 0], p.norm(dim=-1) - 0.3)


@pytest.mark.parametrize("kind", ["mlp", "hashgrid"])
def test_gradient_matches_finite_differences(kind):
    torch.manual_seed(1)
    net = _small(kind).double()
    with torch.no_grad():  # move the hash grid away from its analytic start so the table matters
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x = (torch.rand(5, 3, dtype=torch.float64) - 0.5).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda y: net(y), (x,))
    grad = net.gradient(x.detach())
    (expected,) = torch.autograd.grad(net(x).sum(), x)
    torch.testing.assert_close(grad, expected)


class _Gradient(torch.nn.Module):
    """points -> the network's gradient with create_graph, as a module (for functional_call)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.forward_with_gradient(x, create_graph=True)[1]


@pytest.mark.parametrize("kind", ["mlp", "hashgrid"])
def test_eikonal_term_trains_every_parameter(kind):
    """create_graph=True: a loss on the gradient reaches the weights, the hash table included (whose second
    derivatives are checked numerically)."""
    torch.manual_seed(2)
    net = _small(kind).double()
    with torch.no_grad():  # the hash grid's SDF output row starts at zero: move it so the table matters
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x = torch.rand(64, 3, dtype=torch.float64) - 0.5
    _, grad, _ = net.forward_with_gradient(x, create_graph=True)
    (grad.norm(dim=-1) - 1.5).square().mean().backward()
    named = dict(net.named_parameters())
    key = "layers.0.weight" if kind == "mlp" else "encoding.table"
    assert named[key].grad is not None and float(named[key].grad.abs().sum()) > 0
    if kind == "hashgrid":  # a tiny table (2 levels of at most 16 rows) keeps the numerical check short
        net = HashGridSDF(n_levels=2, log2_hashmap_size=4, base_resolution=1, finest_resolution=3, hidden=4).double()
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.05 * torch.randn_like(p))
        wrapper = _Gradient(net)
        table = net.encoding.table.detach().clone().requires_grad_(True)

        def fn(t):
            return torch.func.functional_call(wrapper, {"net.encoding.table": t}, (x[:3],))

        assert torch.autograd.gradcheck(fn, (table,), atol=1e-6)


def test_sdf_network_is_sphere_traceable():
    torch.manual_seed(3)
    net = HashGridSDF(radius=0.4, n_levels=2, log2_hashmap_size=6, base_resolution=2, finest_resolution=4)
    o = torch.tensor([[0.0, 0.0, -2.0], [0.0, 0.9, -2.0]])
    d = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    points, mask = sphere_tracing(net, o, d)
    assert mask[:, 0].tolist() == [True, False]
    torch.testing.assert_close(points[0], torch.tensor([0.0, 0.0, -0.4]), atol=1e-3, rtol=0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="skips must index layers"):
        SDFMLP(n_layers=3, skips=(3,))
    with pytest.raises(ValueError, match="radius and scale must be finite and > 0"):
        SDFMLP(radius=0.0)
    with pytest.raises(ValueError, match=r"points must be a tensor of shape \(\.\.\., 3\)"):
        SDFMLP(n_layers=2, hidden=8, skips=())(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="bounds need lo < hi"):
        HashGridSDF(bounds=((0.0, 0.0, 0.0), (1.0, 1.0, -1.0)))


def _loss_of_gradient(net, x, generic: bool):
    """An eikonal + SDF + feature loss through ``forward_with_gradient``: the analytic hash-grid path, or (``generic``)
    autograd through the whole network (points that require grad take it)."""
    p = x.clone().requires_grad_(True) if generic else x
    sdf, grad, feats = net.forward_with_gradient(p, create_graph=True)
    loss = (grad.norm(dim=-1) - 1.0).square().mean() + sdf.square().mean() + feats.sin().mean() + grad[:, 0].mean()
    net.zero_grad()
    loss.backward()
    return sdf.detach(), grad.detach(), feats.detach(), {k: v.grad.clone() for k, v in net.named_parameters()}


def test_hashgrid_analytic_gradient_matches_autograd():
    """The chain-rule gradient (encoding Jacobian x MLP input derivative) against autograd through the plain-op
    encoding: values, spatial gradients and every parameter's gradient of a loss on them, points outside the box and
    on cell borders included."""
    torch.manual_seed(4)
    net = HashGridSDF(bounds=((-1.0, -0.5, -1.0), (1.0, 1.5, 0.5)), radius=0.4, feature_dim=3, n_levels=5,
                      log2_hashmap_size=7, base_resolution=2, finest_resolution=24, hidden=8).double()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x = torch.rand(300, 3, dtype=torch.float64) * 2.4 - 1.2  # some outside the box
    x[:5] = torch.tensor([0.0, 0.5, -0.25], dtype=torch.float64)  # on cell borders of several levels
    fast = _loss_of_gradient(net, x, generic=False)
    slow = _loss_of_gradient(net, x, generic=True)
    for a, b in zip(fast[:3], slow[:3]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    assert fast[3].keys() == slow[3].keys()
    for name in fast[3]:
        torch.testing.assert_close(fast[3][name], slow[3][name], rtol=1e-9, atol=1e-12, msg=name)
    # without a graph: detached, same values
    sdf, grad, feats = net.forward_with_gradient(x)
    assert not grad.requires_grad and not sdf.requires_grad
    torch.testing.assert_close(grad, slow[1])


def test_hashgrid_jacobian_gradcheck():
    """The encoding's Jacobian is linear in the table: gradcheck of features and Jacobian with respect to it, and
    the Jacobian against finite differences of the features in x."""
    from inverse3d.models.fields.hash_grid import HashGridEncoding

    torch.manual_seed(5)
    enc = HashGridEncoding(n_levels=3, n_features_per_level=2, log2_hashmap_size=5, base_resolution=2,
                           finest_resolution=6).double()
    with torch.no_grad():
        enc.table.normal_()
    x = torch.rand(7, 3, dtype=torch.float64) * 0.9 + 0.05

    table = enc.table.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: _jac_with_table(enc, t, x), (table,))
    feats, jac = enc.forward_with_jacobian(x)
    torch.testing.assert_close(feats, enc(x))
    h = 1e-6
    for d in range(3):
        e = torch.zeros(3, dtype=torch.float64)
        e[d] = h
        fd = (enc(x + e) - enc(x - e)) / (2 * h)
        torch.testing.assert_close(jac[..., d], fd, rtol=1e-5, atol=1e-5)


def _jac_with_table(enc, table, x):
    saved = enc.table
    try:
        del enc.table
        enc.table = table
        feats, jac = enc.forward_with_jacobian(x)
    finally:
        del enc.table
        enc.table = saved
    return torch.cat([feats, jac.flatten(1)], 1)
