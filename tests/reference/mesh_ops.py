"""Naive mesh operators: dense Laplacians, graph sums, face areas and subdivision, one element at a time."""

from __future__ import annotations

import math

import torch


def laplacian_dense(V: int, edges) -> torch.Tensor:
    """L[i, j] = 1 / deg(i) per edge (both directions), L[i, i] = -1, as a dense (V, V) float64 matrix."""
    L = torch.zeros(V, V, dtype=torch.float64)
    deg = [0] * V
    for a, b in edges.tolist():
        deg[a] += 1
        deg[b] += 1
    for a, b in edges.tolist():
        L[a, b] += 1.0 / deg[a]
        L[b, a] += 1.0 / deg[b]
    for i in range(V):
        L[i, i] -= 1.0
    return L


def cot_laplacian_dense(verts, faces, eps=1e-12):
    """Cotangent weights (cot a + cot b) / 2 per edge from corner angles, and inverse vertex areas, by loops."""
    V = verts.shape[0]
    L = torch.zeros(V, V, dtype=torch.float64)
    areas = [0.0] * V
    vs = verts.double().tolist()
    for f in faces.tolist():
        p = [vs[i] for i in f]
        side = [math.dist(p[(k + 1) % 3], p[(k + 2) % 3]) for k in range(3)]  # opposite corner k
        s = sum(side) / 2
        area = math.sqrt(max(s * (s - side[0]) * (s - side[1]) * (s - side[2]), eps))
        for k in range(3):
            a, b, c = side[k], side[(k + 1) % 3], side[(k + 2) % 3]
            cot = (b * b + c * c - a * a) / (4 * area)  # cot(angle at corner k) / 2
            i, j = f[(k + 1) % 3], f[(k + 2) % 3]
            L[i, j] += cot
            L[j, i] += cot
        for i in f:
            areas[i] += area
    inv = torch.tensor([1.0 / a if a > 0 else 0.0 for a in areas], dtype=torch.float64)[:, None]
    return L, inv


def norm_laplacian_dense(verts, edges, eps=1e-12) -> torch.Tensor:
    """L[i, j] = L[j, i] = 1 / (|v_i - v_j| + eps) per edge, dense."""
    V = verts.shape[0]
    L = torch.zeros(V, V, dtype=torch.float64)
    for a, b in edges.tolist():
        w = 1.0 / (float((verts[a].double() - verts[b].double()).norm()) + eps)
        L[a, b] += w
        L[b, a] += w
    return L


def taubin_naive(verts, edges, lambd, mu, num_iter):
    """Taubin smoothing with a dense inverse-distance neighbour mean, vertex by vertex."""
    v = verts.double().clone()
    for _ in range(num_iter):
        for w in (lambd, mu):
            L = norm_laplacian_dense(v, edges)
            new = v.clone()
            for i in range(v.shape[0]):
                total = float(L[i].sum())
                mean = (L[i] @ v) / total if total > 0 else v[i]
                new[i] = (1 - w) * v[i] + w * mean
            v = new
    return v


def gather_scatter_naive(x, edges, directed=False):
    """out[i] = sum of x[j] over edges (i, j) (and (j, i) when undirected), edge by edge."""
    out = torch.zeros_like(x)
    for a, b in edges.tolist():
        out[a] += x[b]
        if not directed:
            out[b] += x[a]
    return out


def face_areas_normals_naive(verts, faces):
    """Area |c| / 2 and normal c / max(|c|, 1e-6), c = (v1 - v0) x (v2 - v0), face by face."""
    areas, normals = [], []
    for f in faces.tolist():
        v0, v1, v2 = (verts[i] for i in f)
        c = torch.linalg.cross(v1 - v0, v2 - v0)
        n = c.norm()
        areas.append(n / 2)
        normals.append(c / max(float(n), 1e-6))
    return torch.stack(areas), torch.stack(normals)


def subdivide_naive(verts, faces):
    """Midpoint subdivision of one mesh: new vertices for sorted unique edges, faces f0 block, f1, f2, f3."""
    V = verts.shape[0]
    edge_set = sorted({tuple(sorted((f[a], f[b]))) for f in faces.tolist() for a, b in ((0, 1), (1, 2), (2, 0))})
    index = {e: V + k for k, e in enumerate(edge_set)}
    new_verts = [verts[i] for i in range(V)] + [(verts[a] + verts[b]) / 2 for a, b in edge_set]
    blocks = [[], [], [], []]
    for v0, v1, v2 in faces.tolist():
        m01, m12, m20 = index[tuple(sorted((v0, v1)))], index[tuple(sorted((v1, v2)))], index[tuple(sorted((v2, v0)))]
        blocks[0].append([v0, m01, m20])
        blocks[1].append([v1, m12, m01])
        blocks[2].append([v2, m20, m12])
        blocks[3].append([m12, m20, m01])
    faces_out = torch.tensor(blocks[0] + blocks[1] + blocks[2] + blocks[3], dtype=torch.int64).reshape(-1, 3)
    return torch.stack(new_verts), faces_out
