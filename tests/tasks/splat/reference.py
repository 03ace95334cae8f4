"""Slow, obvious references of the splatting task's density control: Python loops over Gaussians."""

from __future__ import annotations

import math

import torch


def quat_to_rot(q: list[float]) -> list[list[float]]:
    """3x3 rotation (column-vector convention) of a wxyz quaternion, normalised first."""
    n = math.sqrt(sum(v * v for v in q))
    w, x, y, z = (v / n for v in q)
    return [[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]]


def accumulate_loop(sums, counts, max_radii, grad, radii, width, height):
    """One view's statistics, Gaussian by Gaussian: grad (N, 2), radii (N,)."""
    for i in range(len(sums)):
        if radii[i] > 0:
            gx, gy = grad[i][0] * width / 2, grad[i][1] * height / 2
            sums[i] += math.sqrt(gx * gx + gy * gy)
            counts[i] += 1
        max_radii[i] = max(max_radii[i], radii[i] / max(width, height))


def densify_loop(gaussians: list[dict], options, extent: float, step: int, noise: torch.Tensor) -> list[dict]:
    """Clone / split / prune a list of Gaussians, each a dict of the parameters (plain lists), the Adam moments
    ``m_NAME`` / ``v_NAME`` and the statistics ``sum``, ``count``, ``max_radius``. ``noise``: (S, 2, 3) standard
    normal samples for the S split Gaussians in index order. Returns the new list (statistics zeroed)."""
    n = len(gaussians)
    grads = [g["sum"] / max(g["count"], 1.0) for g in gaussians]
    grow = [gr >= options.grad_threshold for gr in grads]
    budget = max(options.max_gaussians - n, 0)
    if sum(grow) > budget:
        ranked = sorted([i for i in range(n) if grow[i]], key=lambda i: -grads[i])  # stable: lower index first
        chosen = set(ranked[:budget])
        grow = [i in chosen for i in range(n)]
    scales = [[math.exp(v) for v in g["log_scales"]] for g in gaussians]
    small = [max(s) <= options.percent_dense * extent for s in scales]
    clones = [i for i in range(n) if grow[i] and small[i]]
    splits = [i for i in range(n) if grow[i] and not small[i]]

    def fresh(g: dict) -> dict:
        c = {k: (list(v) if isinstance(v, list) else v) for k, v in g.items()}
        for k in c:
            if k.startswith("m_") or k.startswith("v_"):
                c[k] = [0.0] * len(c[k]) if isinstance(c[k], list) else 0.0
        c["sum"] = c["count"] = c["max_radius"] = 0.0
        return c

    new = [fresh(gaussians[i]) for i in clones]
    for j, i in enumerate(splits):
        g = gaussians[i]
        rot = quat_to_rot(g["quats"])
        for s in range(2):
            local = [float(noise[j, s, a]) * scales[i][a] for a in range(3)]
            c = fresh(g)
            c["means"] = [sum(rot[r][a] * local[a] for a in range(3)) + g["means"][r] for r in range(3)]
            c["log_scales"] = [v - math.log(1.6) for v in g["log_scales"]]
            new.append(c)
    every = gaussians + new
    remove = [False] * len(every)
    for i in splits:
        remove[i] = True
    big = options.reset_every > 0 and step > options.reset_every
    for k, g in enumerate(every):
        opacity = 1 / (1 + math.exp(-g["opacity_logits"]))
        if opacity < options.prune_opacity:
            remove[k] = True
        if big:
            if max(math.exp(v) for v in g["log_scales"]) > options.prune_scale * extent:
                remove[k] = True
            if options.prune_screen > 0 and g["max_radius"] > options.prune_screen:
                remove[k] = True
    if all(remove):
        best = max(range(len(every)), key=lambda k: every[k]["opacity_logits"])
        remove[best] = False
    out = []
    for k, g in enumerate(every):
        if not remove[k]:
            g = dict(g)
            g["sum"] = g["count"] = g["max_radius"] = 0.0
            out.append(g)
    return out
