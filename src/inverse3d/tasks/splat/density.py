"""Adaptive density control of 3D Gaussian splatting (Kerbl et al. 2023, section 5.2), with the optimiser kept in
step: Gaussians added or removed take their Adam moments with them (new ones start at zero moments).

Statistics (``accumulate_grad2d``, called from a gradient hook on the rasteriser's ``means2d`` during backward):
for every Gaussian visible in the view (screen radius > 0) the norm of the loss's gradient with respect to its
projected centre, scaled to NDC units (x by W / 2, y by H / 2, as gsplat does, so the threshold does not depend on
the resolution), is summed, with the number of such views and the largest screen radius (a fraction of the larger
image side).

Every ``every`` steps between ``start`` and ``stop`` (``densify_and_prune``):

- a Gaussian whose mean gradient reaches ``grad_threshold`` (0.0002) is *cloned* (an identical copy) when its
  largest scale is at most ``percent_dense`` (0.01) of the scene extent, else *split* into two whose centres are
  drawn from the Gaussian itself and whose scales are divided by 1.6; the original of a split is removed;
- Gaussians with opacity below ``prune_opacity`` (0.005) are removed, and, once the opacities have been reset
  once, those larger than ``prune_scale`` (0.1) of the extent in the world or ``prune_screen`` (0.15) of the image
  on the screen;
- at most ``max_gaussians`` exist afterwards: when the candidates for growth would exceed it, those with the
  largest gradients are taken;
- the statistics restart from zero.

Every ``reset_every`` steps (before ``stop``) the opacities are clamped to at most ``0.01`` (``reset_opacity``) and
their Adam moments zeroed, so that Gaussians the scene does not need fade out and get pruned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from inverse3d.tasks.splat.model import BUFFERS, PARAMETERS, GaussianModel, logit

__all__ = ["DensityOptions", "accumulate_grad2d", "densify_and_prune", "reset_opacity", "edit_gaussians",
           "keep_gaussians", "append_gaussians", "DensifyStats"]


@dataclass
class DensityOptions:
    """Adaptive density control (module docstring); the 3DGS defaults, its schedule shortened tenfold."""

    densify: bool = True
    """Clone, split and prune during training."""
    start: int = 100
    """First step of densification."""
    stop: int = 1500
    """No densification nor opacity reset from this step on."""
    every: int = 100
    """Steps between densifications."""
    grad_threshold: float = 2e-4
    """Mean view-space positional gradient norm (NDC units) above which a Gaussian grows."""
    percent_dense: float = 0.01
    """Gaussians with largest scale up to this fraction of the scene extent are cloned, larger ones split."""
    prune_opacity: float = 0.005
    """Gaussians less opaque than this are removed."""
    prune_scale: float = 0.1
    """After the first opacity reset, Gaussians with a scale above this fraction of the extent are removed."""
    prune_screen: float = 0.15
    """After the first opacity reset, Gaussians whose screen radius exceeded this fraction of the image's larger
    side are removed (0 turns it off)."""
    reset_every: int = 1000
    """Steps between opacity resets (0: never)."""
    max_gaussians: int = 200_000
    """Cap on the number of Gaussians."""

    def check(self) -> None:
        from inverse3d.training.options import check_float, check_int

        check_int("--densify-start", self.start, 0)
        check_int("--densify-stop", self.stop, 0)
        check_int("--densify-every", self.every, 1)
        check_int("--reset-every", self.reset_every, 0)
        check_int("--max-gaussians", self.max_gaussians, 1)
        check_float("--grad-threshold", self.grad_threshold, positive=True)
        check_float("--percent-dense", self.percent_dense, positive=True)
        check_float("--prune-opacity", self.prune_opacity)
        check_float("--prune-scale", self.prune_scale, positive=True)
        check_float("--prune-screen", self.prune_screen)
        if self.prune_opacity >= 1:
            raise ValueError(f"--prune-opacity {self.prune_opacity}: must be below 1")

    def densify_at(self, step: int) -> bool:
        """Whether ``densify_and_prune`` runs before step ``step`` (0-based: after ``step`` optimiser steps)."""
        return self.densify and self.start < step < self.stop and step % self.every == 0

    def reset_at(self, step: int) -> bool:
        """Whether the opacities are reset before step ``step``."""
        return self.densify and self.reset_every > 0 and 0 < step < self.stop and step % self.reset_every == 0

    def pruning_big(self, step: int) -> bool:
        """Whether big Gaussians are pruned at ``step``: after the first opacity reset."""
        return self.reset_every > 0 and step > self.reset_every


@dataclass
class DensifyStats:
    """What one ``densify_and_prune`` did."""

    cloned: int = 0
    split: int = 0
    pruned: int = 0
    before: int = 0
    after: int = 0


@torch.no_grad()
def accumulate_grad2d(model: GaussianModel, grad: torch.Tensor, radii: torch.Tensor, width: int,
                      height: int) -> None:
    """Adds one view's statistics to ``model``'s buffers.

    Args:
        grad: (N, 2) or (C, N, 2) gradient of the loss with respect to the projected centres in pixels.
        radii: (N,), (C, N) or (C, N, 2) screen radii in pixels, 0 where the Gaussian was culled.
        width, height: the image size.
    """
    n = len(model)
    g = grad.reshape(-1, n, 2).to(model.grad2d_sum.dtype)
    r = radii.reshape(g.shape[0], n, -1).amax(-1).to(model.grad2d_sum.dtype)  # (C, N)
    scale = torch.tensor([width / 2.0, height / 2.0], dtype=g.dtype, device=g.device)
    norms = (g * scale).norm(dim=-1)  # (C, N)
    visible = r > 0
    model.grad2d_sum += (norms * visible).sum(0)
    model.grad2d_count += visible.sum(0).to(model.grad2d_count.dtype)
    model.max_radii.copy_(torch.maximum(model.max_radii, (r / max(width, height)).amax(0)))


def edit_gaussians(model: GaussianModel, optimizer: torch.optim.Optimizer | None,
                   param_fn: Callable[[str, torch.Tensor], torch.Tensor],
                   state_fn: Callable[[str, str, torch.Tensor], torch.Tensor],
                   buffer_fn: Callable[[str, torch.Tensor], torch.Tensor]) -> None:
    """Replaces every parameter of ``model`` by ``param_fn(name, old)`` (a new ``nn.Parameter``), every tensor of
    its Adam state (``exp_avg``, ``exp_avg_sq``) by ``state_fn(name, key, old)`` and every buffer by
    ``buffer_fn(name, old)``. The optimiser's groups (one per parameter, named by ``"name"``) then hold the new
    parameters, with the state (step count included) carried over."""
    new_params = {}
    for name in PARAMETERS:
        old = getattr(model, name)
        new = nn.Parameter(param_fn(name, old.detach()).contiguous(), requires_grad=old.requires_grad)
        new_params[name] = (old, new)
        setattr(model, name, new)
    for name in BUFFERS:
        setattr(model, name, buffer_fn(name, getattr(model, name)).contiguous())
    if optimizer is None:
        return
    for group in optimizer.param_groups:
        name = group.get("name")
        if name not in new_params:
            raise ValueError(f"edit_gaussians: optimiser group {name!r} is not one of {PARAMETERS}")
        old, new = new_params[name]
        if group["params"][0] is not old:
            raise ValueError(f"edit_gaussians: optimiser group {name!r} does not hold the model's parameter")
        state = optimizer.state.pop(old, None)
        if state:
            for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
                if key in state:
                    state[key] = state_fn(name, key, state[key]).contiguous()
            optimizer.state[new] = state
        group["params"][0] = new


def keep_gaussians(model: GaussianModel, optimizer: torch.optim.Optimizer | None, keep: torch.Tensor) -> None:
    """Keeps the Gaussians where ``keep`` (N,) bool is True (parameters, Adam moments and statistics)."""
    idx = keep.nonzero().squeeze(1)
    edit_gaussians(model, optimizer, lambda n, t: t[idx], lambda n, k, t: t[idx], lambda n, t: t[idx])


def append_gaussians(model: GaussianModel, optimizer: torch.optim.Optimizer | None,
                     values: dict[str, torch.Tensor]) -> None:
    """Appends Gaussians: ``values[name]`` (M, ...) for every name of ``PARAMETERS``; their Adam moments and
    statistics start at zero."""
    m = values["means"].shape[0]

    def zeros_after(t: torch.Tensor) -> torch.Tensor:
        return torch.cat([t, t.new_zeros(m, *t.shape[1:])])

    edit_gaussians(model, optimizer, lambda n, t: torch.cat([t, values[n].to(t)]), lambda n, k, t: zeros_after(t),
                   lambda n, t: zeros_after(t))


@torch.no_grad()
def reset_opacity(model: GaussianModel, optimizer: torch.optim.Optimizer | None, value: float = 0.01) -> None:
    """Clamps every opacity to at most ``value`` and zeroes the opacity's Adam moments (3DGS's reset)."""
    cap = logit(value)

    def param(name: str, t: torch.Tensor) -> torch.Tensor:
        return t.clamp(max=cap) if name == "opacity_logits" else t

    def state(name: str, key: str, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(t) if name == "opacity_logits" else t

    edit_gaussians(model, optimizer, param, state, lambda n, t: t)


@torch.no_grad()
def densify_and_prune(model: GaussianModel, optimizer: torch.optim.Optimizer | None, options: DensityOptions,
                      extent: float, step: int) -> DensifyStats:
    """Clones, splits and prunes as the module docstring says; resets the statistics. The split Gaussians' new
    centres use ``torch.randn`` of shape (S, 2, 3) from the global RNG (S split Gaussians, in index order)."""
    from inverse3d.transforms import quaternion_to_matrix

    n = len(model)
    stats = DensifyStats(before=n)
    grads = model.grad2d_sum / model.grad2d_count.clamp(min=1)
    max_scale = model.scales.amax(-1)
    grow = grads >= options.grad_threshold
    budget = max(options.max_gaussians - n, 0)
    if int(grow.sum()) > budget:  # the largest gradients first
        order = torch.argsort(torch.where(grow, grads, torch.full_like(grads, -1.0)), descending=True, stable=True)
        limited = torch.zeros_like(grow)
        limited[order[:budget]] = True
        grow &= limited
    small = max_scale <= options.percent_dense * extent
    clone = grow & small
    split = grow & ~small

    # split: two samples from each selected Gaussian, scales / 1.6; clones: copies; both appended
    s_idx = split.nonzero().squeeze(1)
    c_idx = clone.nonzero().squeeze(1)
    samples = torch.randn(s_idx.shape[0], 2, 3, dtype=model.means.dtype, device=model.means.device)
    samples = samples * model.scales[s_idx][:, None]  # (S, 2, 3) in the Gaussians' frames
    rot = quaternion_to_matrix(model.quats[s_idx])  # (S, 3, 3)
    split_means = (samples @ rot.transpose(1, 2) + model.means[s_idx][:, None]).reshape(-1, 3)  # (2S, 3)

    def pick(name: str) -> torch.Tensor:
        t = getattr(model, name).detach()
        split_vals = t[s_idx].repeat_interleave(2, dim=0)
        if name == "means":
            split_vals = split_means
        elif name == "log_scales":
            split_vals = split_vals - torch.log(torch.tensor(1.6, dtype=t.dtype, device=t.device))
        return torch.cat([t[c_idx], split_vals])

    added = {name: pick(name) for name in PARAMETERS}
    stats.cloned, stats.split = int(c_idx.shape[0]), int(s_idx.shape[0])
    if added["means"].shape[0]:
        append_gaussians(model, optimizer, added)

    # prune: the split originals, transparent ones, and (after the first reset) big ones
    total = len(model)
    remove = torch.zeros(total, dtype=torch.bool, device=model.means.device)
    remove[s_idx] = True
    remove |= model.opacities < options.prune_opacity
    if options.pruning_big(step):
        remove |= model.scales.amax(-1) > options.prune_scale * extent
        if options.prune_screen > 0:
            remove |= model.max_radii > options.prune_screen
    if bool(remove.all()):  # never empty the scene: keep the most opaque one
        remove[torch.argmax(model.opacities)] = False
    stats.pruned = int(remove.sum()) - stats.split
    if bool(remove.any()):
        keep_gaussians(model, optimizer, ~remove)
    for name in BUFFERS:
        getattr(model, name).zero_()
    stats.after = len(model)
    return stats
