"""Slow, obvious versions of the surface-from-images formulas (VolSDF, NeuS), one number at a time."""

from __future__ import annotations

import math

import torch


def laplace_cdf(s: float, beta: float) -> float:
    """CDF of the zero-mean Laplace distribution of scale beta at s."""
    if s <= 0:
        return 0.5 * math.exp(s / beta)
    return 1.0 - 0.5 * math.exp(-s / beta)


def volsdf_density(sdf: torch.Tensor, beta: float, alpha: float | None = None) -> torch.Tensor:
    """sigma = alpha * Psi_beta(-sdf) elementwise by a Python loop (alpha = 1 / beta by default)."""
    alpha = 1.0 / beta if alpha is None else alpha
    out = torch.empty_like(sdf)
    flat, res = sdf.reshape(-1), out.view(-1)
    for i in range(flat.numel()):
        res[i] = alpha * laplace_cdf(-float(flat[i]), beta)
    return out


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def neus_alpha(sdf_prev: torch.Tensor, sdf_next: torch.Tensor, s: float, eps: float = 1e-6) -> torch.Tensor:
    """max((Phi_s(f_i) - Phi_s(f_{i+1})) / Phi_s(f_i), 0) elementwise by a loop (clipped to 1, plus eps below)."""
    out = torch.empty_like(sdf_prev)
    a, b, res = sdf_prev.reshape(-1), sdf_next.reshape(-1), out.view(-1)
    for i in range(a.numel()):
        p, n = sigmoid(s * float(a[i])), sigmoid(s * float(b[i]))
        res[i] = min(max((p - n) / (p + eps), 0.0), 1.0)
    return out


def composite_density(sigmas, colors, t, far, ray_norm):
    """One ray in the density form: sigmas (N,), colors (N, 3), lengths t (N,), the last interval ending at far;
    intervals in world units (times |d|). Returns (colour (3,), depth, opacity)."""
    color = [0.0, 0.0, 0.0]
    depth = opacity = 0.0
    trans = 1.0
    n = len(t)
    for k in range(n):
        end = float(t[k + 1]) if k + 1 < n else max(far, float(t[k]))
        delta = (end - float(t[k])) * ray_norm
        a = 1.0 - math.exp(-float(sigmas[k]) * delta)
        w = trans * a
        for c in range(3):
            color[c] += w * float(colors[k][c])
        depth += w * float(t[k])
        opacity += w
        trans *= 1.0 - a
    return color, depth, opacity


def composite_alpha(alphas, colors, t):
    """One ray by front-to-back alpha compositing: alphas (K,), colors (K, 3), lengths t (K,).
    Returns (colour (3,), depth, opacity = 1 - prod (1 - a))."""
    color = [0.0, 0.0, 0.0]
    depth = 0.0
    trans = 1.0
    for k in range(len(alphas)):
        w = trans * float(alphas[k])
        for c in range(3):
            color[c] += w * float(colors[k][c])
        depth += w * float(t[k])
        trans *= 1.0 - float(alphas[k])
    return color, depth, 1.0 - trans


class SphereSDF(torch.nn.Module):
    """The analytic SDF ``|x - centre| - radius`` with the point itself as its features (feature_dim 3), in the
    interface of ``inverse3d.models.fields.SDFField``; gradients by autograd like the real networks."""

    feature_dim = 3

    def __init__(self, radius: float = 0.6, centre=(0.0, 0.0, 0.0)) -> None:
        super().__init__()
        self.radius = radius
        self.register_buffer("centre", torch.tensor(centre, dtype=torch.float32))

    def forward_with_features(self, points):
        return (points - self.centre.to(points)).norm(dim=-1, keepdim=True) - self.radius, points

    def forward(self, points):
        return self.forward_with_features(points)[0]

    def forward_with_gradient(self, points, create_graph: bool = False):
        with torch.enable_grad():
            x = points if points.requires_grad else points.detach().requires_grad_(True)
            sdf, feats = self.forward_with_features(x)
            (grad,) = torch.autograd.grad(sdf.sum(), x, create_graph=create_graph)
        return (sdf, grad, feats) if create_graph else (sdf.detach(), grad, feats.detach())


def render_ray_loop(model, origin: torch.Tensor, direction: torch.Tensor, t: torch.Tensor, far: float,
                    background=None):
    """One ray of a ``SurfaceModel`` at given lengths t (N,) by a loop over its samples: VolSDF in the density
    form (``composite_density``), NeuS by ``composite_alpha`` of NeuS's interval opacities. Uses the model's
    appearance network one point at a time and the analytic formulas of this module."""
    method = model.options.method
    unit = direction / direction.norm()
    sdfs, colors = [], []
    for k in range(len(t)):
        p = (origin + t[k] * direction).detach().requires_grad_(True)
        with torch.enable_grad():
            f, feats = model.sdf.forward_with_features(p[None])
            (g,) = torch.autograd.grad(f.sum(), p)
        n = g / g.norm()
        with torch.no_grad():
            c = model.appearance(p[None].detach(), n[None], unit[None], feats.detach())[0]
        sdfs.append(float(f.detach()))
        colors.append(c.tolist())
    if method == "volsdf":
        beta = float(model.density.beta.detach())
        sig = volsdf_density(torch.tensor(sdfs, dtype=torch.float64), beta)
        color, depth, opacity = composite_density(sig, colors, t, far, float(direction.norm()))
    else:
        s = float(model.density.s.detach())
        f = torch.tensor(sdfs, dtype=torch.float64)
        alphas = neus_alpha(f[:-1], f[1:], s, eps=1e-6)
        color, depth, opacity = composite_alpha(alphas, colors[:-1], t[:-1])
    if background is not None:
        color = [color[c] + (1 - opacity) * float(background[c]) for c in range(3)]
    return torch.tensor(color), depth, opacity
