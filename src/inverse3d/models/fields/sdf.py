"""Signed distance networks: world points (..., 3) -> signed distance (..., 1), negative inside, and optional features.

Two networks with one interface (``SDFField``):

- ``SDFMLP``: IDR/VolSDF/NeuS's MLP. Harmonic embedding of the position, ``n_layers`` Softplus(beta=100) layers with
  the embedding re-entering at the skip layers, and the geometric initialisation of IGR/SAL (Atzmon & Lipman 2020)
  that makes the untrained network approximately the sphere SDF ``|x| - radius``:
  hidden weights ~ N(0, 2 / fan_out) with zero biases, the harmonic columns of the embedding inputs zero (only the
  raw coordinates enter at the start), and the last layer's weights ~ N(sqrt(pi) / sqrt(hidden), 1e-4) with bias
  ``-radius``; then one affine correction of the SDF output, fitted on fixed points, removes the scale and offset
  that finite width and Softplus leave (``SDFMLP._calibrate_sphere``), so the zero level starts at ``radius``.
- ``HashGridSDF``: Instant-NGP's multiresolution hash encoding plus a small Softplus MLP, added to the analytic
  sphere SDF ``|x - centre| - radius`` (the MLP's SDF output starts at zero, so the untrained field is that sphere).

Interface (``SDFField``)::

    sdf = field(points)                                   # (..., 1)
    sdf, features = field.forward_with_features(points)   # (..., 1), (..., feature_dim) (feature_dim may be 0)
    grad = field.gradient(points, create_graph=False)     # (..., 3), d sdf / d points by autograd
    sdf, grad, features = field.forward_with_gradient(points, create_graph=True)   # one forward for all three

``create_graph=True`` keeps the graph of the gradient so that a loss on it (the eikonal term) trains the network.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from inverse3d.models.fields.base import check_bounds, check_points
from inverse3d.models.fields.hash_grid import HashGridEncoding
from inverse3d.renderer.implicit.harmonic_embedding import HarmonicEmbedding


class SDFField(nn.Module):
    """Base class of the SDF networks: subclasses implement ``forward_with_features``.

    Attributes:
        feature_dim: size of the feature vector returned next to the SDF (0: none).
    """

    feature_dim: int = 0

    def forward_with_features(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # pragma: no cover
        """(..., 3) world points -> (sdf (..., 1), features (..., feature_dim))."""
        raise NotImplementedError

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """(..., 3) world points -> (..., 1) signed distance (negative inside)."""
        return self.forward_with_features(points)[0]

    def forward_with_gradient(
        self, points: torch.Tensor, create_graph: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """SDF, its spatial gradient and the features in one forward pass.

        Args:
            points: (..., 3) world points. If they already require grad the gradient is taken with respect to them
                (and flows back into whatever produced them when ``create_graph``); otherwise a detached copy is used.
            create_graph: keep the graph of the gradient (needed to train through the gradient, e.g. eikonal).

        Returns:
            sdf (..., 1), gradient (..., 3), features (..., feature_dim).
        """
        check_points(points)
        with torch.enable_grad():
            x = points if points.requires_grad else points.detach().requires_grad_(True)
            sdf, features = self.forward_with_features(x)
            (grad,) = torch.autograd.grad(
                sdf, x, grad_outputs=torch.ones_like(sdf), create_graph=create_graph, retain_graph=create_graph
            )
        if not create_graph:
            sdf, features = sdf.detach(), features.detach()
        return sdf, grad, features

    def gradient(self, points: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
        """(..., 3) world points -> (..., 3) gradient of the SDF (the unnormalised outward normal)."""
        return self.forward_with_gradient(points, create_graph)[1]


class SDFMLP(SDFField):
    """The IDR / VolSDF / NeuS signed distance MLP with geometric initialisation.

    Args:
        n_layers: hidden layers, each ``hidden`` wide (IDR: 8 x 256).
        hidden: width of the hidden layers.
        n_harmonics: octaves of the harmonic embedding of the position (0: raw coordinates only).
        skips: indices (1 .. n_layers - 1) of the layers whose input is ``cat(h, embedding) / sqrt(2)``.
        geometric_init: initialise to the SDF of a sphere of ``radius`` (positive outside).
        radius: the initial sphere's radius, in world units.
        feature_dim: size of the feature vector output next to the SDF (for an appearance network; 0: none).
        scale: points are multiplied by ``scale`` before the embedding and the output divided by it (NeuS), so that a
            scene of world size ~1/scale uses the embedding's range; the SDF stays in world units.
        beta: sharpness of the Softplus activations (100: close to ReLU but twice differentiable).
    """

    def __init__(
        self,
        n_layers: int = 8,
        hidden: int = 256,
        n_harmonics: int = 6,
        skips: Sequence[int] = (4,),
        geometric_init: bool = True,
        radius: float = 0.5,
        feature_dim: int = 0,
        scale: float = 1.0,
        beta: float = 100.0,
    ) -> None:
        super().__init__()
        if n_layers < 1 or hidden < 1 or n_harmonics < 0 or feature_dim < 0:
            raise ValueError(
                f"SDFMLP: need n_layers >= 1, hidden >= 1, n_harmonics >= 0, feature_dim >= 0, got {n_layers}, "
                f"{hidden}, {n_harmonics}, {feature_dim}"
            )
        skip_set = tuple(sorted(set(int(i) for i in skips)))
        if any(not 1 <= i < n_layers for i in skip_set):
            raise ValueError(f"SDFMLP: skips must index layers 1 .. {n_layers - 1}, got {tuple(skips)}")
        if not (math.isfinite(radius) and radius > 0 and math.isfinite(scale) and scale > 0):
            raise ValueError(f"SDFMLP: radius and scale must be finite and > 0, got {radius}, {scale}")
        self.n_layers, self.hidden, self.skips = n_layers, hidden, skip_set
        self.feature_dim, self.scale, self.radius = int(feature_dim), float(scale), float(radius)
        self.embedding = HarmonicEmbedding(n_harmonics, append_input=True)
        self.embed_dim = self.embedding.get_output_dim(3)
        self.layers = nn.ModuleList(
            nn.Linear(self.embed_dim if i == 0 else hidden + (self.embed_dim if i in skip_set else 0), hidden)
            for i in range(n_layers)
        )
        self.output_layer = nn.Linear(hidden, 1 + self.feature_dim)
        self.activation = nn.Softplus(beta=beta)
        if geometric_init:
            self._geometric_init()

    @torch.no_grad()
    def _geometric_init(self) -> None:
        # embedding layout: [sin (3 n), cos (3 n), x (3)]: the raw coordinates are the last three columns
        n_harm = self.embed_dim - 3
        for i, layer in enumerate(self.layers):
            nn.init.normal_(layer.weight, 0.0, math.sqrt(2.0) / math.sqrt(layer.out_features))
            nn.init.zeros_(layer.bias)
            if i == 0:
                layer.weight[:, :n_harm] = 0.0
            elif i in self.skips:
                layer.weight[:, self.hidden : self.hidden + n_harm] = 0.0
        out = self.output_layer
        nn.init.normal_(out.weight[:1], math.sqrt(math.pi) / math.sqrt(self.hidden), 1e-4)
        out.bias[:1] = -self.radius * self.scale
        if self.feature_dim:
            nn.init.normal_(out.weight[1:], 0.0, math.sqrt(2.0) / math.sqrt(out.out_features))
            nn.init.zeros_(out.bias[1:])
        self._calibrate_sphere()

    @torch.no_grad()
    def _calibrate_sphere(self) -> None:
        """Rescale the SDF output so that the initial field fits ``|x| - radius`` in the least-squares sense.

        With finite width and Softplus (whose offset log(2)/beta adds up over the last layer), IGR's initialisation
        gives about ``c |x| + b`` with c ~ 0.8 and b ~ -0.6 radius; one affine correction of the SDF output row,
        fitted on fixed points (Fibonacci directions x radii in (0, 2 radius]), puts the zero level at ``radius``.
        """
        n_dirs, n_radii = 128, 8
        k = torch.arange(n_dirs, dtype=torch.float64) + 0.5
        z = 1.0 - 2.0 * k / n_dirs
        phi = math.pi * (1.0 + math.sqrt(5.0)) * k
        rho = torch.sqrt(1.0 - z * z)
        dirs = torch.stack([rho * torch.cos(phi), rho * torch.sin(phi), z], dim=-1)  # (D, 3) unit
        radii = torch.linspace(2.0 * self.radius / n_radii, 2.0 * self.radius, n_radii, dtype=torch.float64)
        points = (dirs[:, None, :] * radii[None, :, None]).reshape(-1, 3)  # (D R, 3) world
        device, dtype = self.output_layer.weight.device, self.output_layer.weight.dtype
        raw = self.forward_with_features(points.to(device, dtype))[0][:, 0].double() * self.scale  # (D R,)
        target = (points.norm(dim=-1) * self.scale).to(raw.device)
        design = torch.stack([target, torch.ones_like(target)], dim=-1)
        c, b = torch.linalg.lstsq(design, raw[:, None]).solution[:, 0].tolist()
        if not (math.isfinite(c) and c > 1e-3 and math.isfinite(b)):
            return  # degenerate (tiny networks): keep the plain initialisation
        out = self.output_layer
        out.weight[:1] /= c
        out.bias[:1] = (out.bias[:1] - b) / c - self.radius * self.scale

    def extra_repr(self) -> str:
        return f"skips={self.skips}, feature_dim={self.feature_dim}, scale={self.scale}"

    def forward_with_features(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., 3) world points -> (sdf (..., 1), features (..., feature_dim))."""
        check_points(points)
        e = self.embedding(points * self.scale)  # (..., E)
        h = e
        for i, layer in enumerate(self.layers):
            if i in self.skips:
                h = torch.cat([h, e], dim=-1) / math.sqrt(2.0)
            h = self.activation(layer(h))  # (..., hidden)
        out = self.output_layer(h)  # (..., 1 + F)
        return out[..., :1] / self.scale, out[..., 1:]


class HashGridSDF(SDFField):
    """Hash-grid SDF: ``|x - centre| - radius + MLP(hash_encoding(x), x)``, starting as that sphere.

    Args:
        bounds: (lo (3,), hi (3,)) the box the hash grid covers; outside it the encoding is clamped to the border.
        radius: the base sphere's radius (world units); it is centred in the box.
        feature_dim: size of the feature vector next to the SDF (0: none).
        n_levels, n_features_per_level, log2_hashmap_size, base_resolution, finest_resolution: of the encoding
            (``HashGridEncoding``; resolutions over the whole box).
        hidden, n_hidden: width and number of hidden Softplus layers of the MLP.
        beta: Softplus sharpness.

    The encoding is interpolated with plain differentiable tensor ops here (not ``HashGridEncoding.forward``, whose
    backward is once-differentiable), so losses on ``gradient(..., create_graph=True)`` train the table.
    """

    def __init__(
        self,
        bounds: Sequence = ((-1.0, -1.0, -1.0), (1.0, 1.0, 1.0)),
        radius: float = 0.5,
        feature_dim: int = 0,
        n_levels: int = 16,
        n_features_per_level: int = 2,
        log2_hashmap_size: int = 17,
        base_resolution: int = 16,
        finest_resolution: int = 512,
        hidden: int = 64,
        n_hidden: int = 2,
        beta: float = 100.0,
    ) -> None:
        super().__init__()
        lo, hi = check_bounds(bounds)
        if not (math.isfinite(radius) and radius > 0) or feature_dim < 0 or hidden < 1 or n_hidden < 0:
            raise ValueError(
                f"HashGridSDF: need radius > 0, feature_dim >= 0, hidden >= 1, n_hidden >= 0, got {radius}, "
                f"{feature_dim}, {hidden}, {n_hidden}"
            )
        self.register_buffer("bounds_lo", lo)
        self.register_buffer("bounds_hi", hi)
        self.radius, self.feature_dim = float(radius), int(feature_dim)
        self.encoding = HashGridEncoding(
            n_levels, n_features_per_level, log2_hashmap_size, base_resolution, finest_resolution
        )
        layers: list[nn.Module] = []
        dim = self.encoding.output_dim + 3
        for _ in range(n_hidden):
            layers += [nn.Linear(dim, hidden), nn.Softplus(beta=beta)]
            dim = hidden
        self.mlp = nn.Sequential(*layers)
        self.output_layer = nn.Linear(dim, 1 + self.feature_dim)
        with torch.no_grad():  # the SDF correction starts at exactly zero: the field is the base sphere
            self.output_layer.weight[:1].zero_()
            self.output_layer.bias[:1].zero_()

    def _encode(self, unit: torch.Tensor) -> torch.Tensor:
        """(P, 3) box coordinates -> (P, L F) hash features: twice differentiable in ``unit`` and the table when
        ``unit`` requires grad (plain tensor ops), else the encoding's fast gather."""
        if not unit.requires_grad:
            return self.encoding(unit)
        index, weight = self.encoding.corner_indices_and_weights(unit)  # (L, 8, P) each
        table = self.encoding.table  # (F, rows)
        feats = table.index_select(1, index.reshape(-1)).view(table.shape[0], *index.shape)  # (F, L, 8, P)
        out = (feats * weight.to(table.dtype)).sum(2)  # (F, L, P)
        return out.permute(2, 1, 0).reshape(unit.shape[0], -1)

    def _coordinates(self, points: torch.Tensor):
        """(..., 3) world points -> (x (P, 3) flat points, unit (P, 3) box coordinates, lo, hi, centre (3,))."""
        check_points(points)
        lo, hi = self.bounds_lo.to(points.dtype), self.bounds_hi.to(points.dtype)
        x = points.reshape(-1, 3)
        return x, (x - lo) / (hi - lo), lo, hi, 0.5 * (lo + hi)

    def forward_with_features(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., 3) world points -> (sdf (..., 1), features (..., feature_dim))."""
        batch = points.shape[:-1]
        x, unit, lo, hi, centre = self._coordinates(points)
        h = torch.cat([self._encode(unit).to(points.dtype), 2.0 * unit - 1.0], dim=-1)
        out = self.output_layer(self.mlp(h))  # (P, 1 + F)
        base = (x - centre).norm(dim=-1, keepdim=True) - self.radius
        sdf = (base + out[:, :1]).reshape(*batch, 1)
        return sdf, out[:, 1:].reshape(*batch, self.feature_dim)

    def forward_with_gradient(
        self, points: torch.Tensor, create_graph: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """SDF, gradient and features (``SDFField.forward_with_gradient``), the gradient by the chain rule:

        ``grad f = (d MLP / d h) (d h / d x) + (x - centre) / |x - centre|``, with the encoding's Jacobian
        ``d h / d x`` computed next to the features from the same gather (``HashGridEncoding.forward_with_jacobian``,
        linear in the table) and ``d MLP / d h`` by autograd through the small MLP alone. With ``create_graph`` a
        loss on the gradient trains the MLP (second derivatives of the MLP only) and the table (first derivatives):
        the same values and parameter gradients as autograd through the whole network, 1.3x faster on one CPU thread
        and about as fast on two (``benchmarks/bench_sdf.py``: its scatter-add backward parallelises less). Points
        that require grad themselves take the generic autograd path (their second derivatives are kept)."""
        if points.requires_grad:
            return super().forward_with_gradient(points, create_graph)
        batch = points.shape[:-1]
        x, unit, lo, hi, centre = self._coordinates(points)
        with torch.enable_grad():
            enc, jac = self.encoding.forward_with_jacobian(unit)  # (P, E), (P, E, 3)
            enc, jac = enc.to(points.dtype), jac.to(points.dtype)
            h = torch.cat([enc, 2.0 * unit - 1.0], dim=-1)  # (P, E + 3)
            if not h.requires_grad:  # a frozen table: the MLP's input derivative still needs a graph
                h = h.detach().requires_grad_(True)
            out = self.output_layer(self.mlp(h))  # (P, 1 + F)
            (g,) = torch.autograd.grad(out[:, :1], h, torch.ones_like(out[:, :1]), create_graph=create_graph,
                                       retain_graph=True)
            E = enc.shape[1]
            grad_unit = torch.bmm(g[:, None, :E], jac)[:, 0] + 2.0 * g[:, E:]  # (P, 3)
            offset = x - centre
            dist = offset.norm(dim=-1, keepdim=True)
            grad = grad_unit / (hi - lo) + offset / dist.clamp(min=1e-12)
            sdf = dist - self.radius + out[:, :1]
            feats = out[:, 1:]
        if not create_graph:
            sdf, grad, feats = sdf.detach(), grad.detach(), feats.detach()
        return sdf.reshape(*batch, 1), grad.reshape(*batch, 3), feats.reshape(*batch, self.feature_dim)
