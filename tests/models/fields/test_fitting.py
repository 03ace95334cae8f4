"""Each field learns: a few Adam steps on rays through an analytic scene (a coloured ball) cut the loss severalfold.

Tiny sizes; this checks that activations, initialisation and gradients work together, not final quality.
"""

from __future__ import annotations

import pytest
import torch

from inverse3d.models.fields import DenseGridField, HashGridField, NeRFMLP
from inverse3d.renderer.implicit.density import density_render

BOX = ((-1.0, -1.0, -1.0), (1.0, 1.0, 1.0))


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny ops: a second intra-op thread only adds synchronisation, badly so on a shared, loaded machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _scene(p):
    """Density 30 inside a ball of radius 0.6, colour varying with the position."""
    return 30.0 * (p.norm(dim=-1, keepdim=True) < 0.6).float(), 0.5 + 0.5 * p.clamp(-1, 1)


def _fit(field, lr: float, steps: int = 60, n_rays: int = 128, n_samples: int = 24) -> tuple[float, float]:
    g = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(field.parameters(), lr=lr, eps=1e-15)
    bins = torch.linspace(1.0, 4.0, n_samples + 1)
    losses = []
    for _ in range(steps):
        origins = torch.randn(n_rays, 3, generator=g)
        origins = 2.5 * origins / origins.norm(dim=-1, keepdim=True)
        dirs = torch.nn.functional.normalize(0.7 * (torch.rand(n_rays, 3, generator=g) * 2 - 1) - origins, dim=-1)
        lengths = bins[:-1] + (bins[1:] - bins[:-1]) * torch.rand(n_rays, n_samples, generator=g)
        points = origins[:, None] + lengths[..., None] * dirs[:, None]
        with torch.no_grad():
            sigma_gt, rgb_gt = _scene(points)
            target = density_render(sigma_gt[..., 0], rgb_gt, lengths, dirs, background=1.0).features
        sigma, rgb = field(points, dirs)
        loss = torch.nn.functional.mse_loss(density_render(sigma[..., 0], rgb, lengths, dirs, background=1.0).features,
                                            target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return sum(losses[:5]) / 5, sum(losses[-5:]) / 5


@pytest.mark.parametrize(
    "name,build,lr",
    [
        ("hash", lambda: HashGridField(BOX, n_levels=4, log2_hashmap_size=10, base_resolution=4, finest_resolution=32,
                                       hidden_dim=32, hidden_dim_color=32), 1e-2),
        ("dense-mlp", lambda: DenseGridField(BOX, 20, n_features=6, hidden_dim=16), 1e-1),
        ("dense-sh", lambda: DenseGridField(BOX, 20, color_mode="sh", sh_degree=1), 1e-1),
        ("nerf", lambda: NeRFMLP(BOX, n_harmonic_functions_xyz=4, n_harmonic_functions_dir=2, n_layers_xyz=3,
                                 n_hidden_neurons_xyz=32, append_xyz=(2,), n_hidden_neurons_dir=16), 5e-3),
    ],
)
def test_field_fits_an_analytic_scene(name, build, lr):
    torch.manual_seed(0)
    first, last = _fit(build(), lr)
    assert last < first / 3, f"{name}: loss {first:.4f} -> {last:.4f}"
