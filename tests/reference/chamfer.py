"""Naive chamfer distance: one cloud at a time, full distance matrices, explicit reductions."""

from __future__ import annotations

import torch


def _one_direction(x, y, xn, yn, norm, abs_cosine):
    """x: (P1, D), y: (P2, D) -> per-point distances (P1,), per-point normal terms (P1,) or None."""
    if x.shape[0] == 0:
        return x.new_zeros(0), (x.new_zeros(0) if xn is not None else None)
    if y.shape[0] == 0:  # no neighbour: padding convention gives 0
        return x.sum(1) * 0.0, (x.sum(1) * 0.0 if xn is not None else None)
    diff = x[:, None, :] - y[None, :, :]
    full = (diff * diff).sum(-1) if norm == 2 else diff.abs().sum(-1)
    d, j = full.min(1)
    if xn is None:
        return d, None
    near = yn[j]
    cos = (xn * near).sum(-1) / (xn.norm(dim=-1).clamp(min=1e-6) * near.norm(dim=-1).clamp(min=1e-6))
    return d, 1 - (cos.abs() if abs_cosine else cos)


def chamfer_distance_naive(
    x, y, x_lengths=None, y_lengths=None, x_normals=None, y_normals=None, weights=None,
    batch_reduction="mean", point_reduction="mean", norm=2, single_directional=False, abs_cosine=True,
):
    """Oracle for ``inverse3d.loss.chamfer_distance`` on tensors (weights must not all be zero)."""
    N, P1, _ = x.shape
    P2 = y.shape[1]
    lx = [P1] * N if x_lengths is None else [int(v) for v in x_lengths]
    ly = [P2] * N if y_lengths is None else [int(v) for v in y_lengths]
    with_normals = x_normals is not None and y_normals is not None
    per_dir = {"x": [], "y": []}
    for n in range(N):
        xs, ys = x[n, : lx[n]], y[n, : ly[n]]
        xn = x_normals[n, : lx[n]] if with_normals else None
        yn = y_normals[n, : ly[n]] if with_normals else None
        w = 1.0 if weights is None else weights[n]
        for key, (a, b, an, bn, P) in {"x": (xs, ys, xn, yn, P1), "y": (ys, xs, yn, xn, P2)}.items():
            d, dn = _one_direction(a, b, an, bn, norm, abs_cosine)
            pad = P - a.shape[0]
            d = torch.cat([d * w, d.new_zeros(pad)])
            dn = torch.cat([dn * w, dn.new_zeros(pad)]) if dn is not None else None
            per_dir[key].append((d, dn, max(a.shape[0], 1)))

    def reduce(items):
        if point_reduction is None:
            d = torch.stack([it[0] for it in items])
            dn = torch.stack([it[1] for it in items]) if with_normals else None
            return d, dn
        if point_reduction == "max":
            d = torch.stack([it[0].max() if it[0].numel() else it[0].sum() for it in items])
            return d, None
        div = (lambda it: it[2]) if point_reduction == "mean" else (lambda it: 1)
        d = torch.stack([it[0].sum() / div(it) for it in items])
        dn = torch.stack([it[1].sum() / div(it) for it in items]) if with_normals else None
        return d, dn

    dx, dnx = reduce(per_dir["x"])
    if single_directional:
        loss, loss_n = dx, dnx
    else:
        dy, dny = reduce(per_dir["y"])
        if point_reduction is None:
            return (dx, dy), ((dnx, dny) if with_normals else None)
        loss = torch.maximum(dx, dy) if point_reduction == "max" else dx + dy
        loss_n = dnx + dny if with_normals else None
    if batch_reduction is None or point_reduction is None:
        return loss, loss_n
    div = 1 if batch_reduction == "sum" else (N if weights is None else weights.sum())
    return loss.sum() / div, (loss_n.sum() / div if loss_n is not None else None)
