"""Naive mesh regularisers: Python loops over meshes, faces, edges and vertices."""

from __future__ import annotations

import itertools
import math

import torch


def _edges(faces: torch.Tensor) -> list[tuple[int, int]]:
    out = set()
    for f in faces.tolist():
        for a, b in ((f[0], f[1]), (f[1], f[2]), (f[2], f[0])):
            out.add((min(a, b), max(a, b)))
    return sorted(out)


def mesh_edge_loss_naive(verts_list, faces_list, target_length=0.0):
    total = 0.0
    for verts, faces in zip(verts_list, faces_list):
        edges = _edges(faces)
        terms = [((verts[a] - verts[b]).norm() - target_length) ** 2 for a, b in edges]
        total = total + sum(terms) / len(terms)
    return total / len(verts_list)


def mesh_laplacian_smoothing_naive(verts_list, faces_list, method="uniform"):
    total = 0.0
    for verts, faces in zip(verts_list, faces_list):
        V = verts.shape[0]
        vd = verts.detach()
        weights = [dict() for _ in range(V)]  # weights[i][j] = L[i, j], i != j
        areas = [0.0] * V
        if method == "uniform":
            for a, b in _edges(faces):
                weights[a][b] = 1.0
                weights[b][a] = 1.0
            for i in range(V):
                deg = len(weights[i])
                for j in weights[i]:
                    weights[i][j] = 1.0 / deg
        else:
            for f in faces.tolist():
                p = [vd[k].double() for k in f]
                la, lb, lc = (p[1] - p[2]).norm(), (p[0] - p[2]).norm(), (p[0] - p[1]).norm()
                s = 0.5 * (la + lb + lc)
                area = math.sqrt(max(float(s * (s - la) * (s - lb) * (s - lc)), 1e-12))
                for k in range(3):  # angle at corner k faces the edge of the other two corners
                    i, j = f[(k + 1) % 3], f[(k + 2) % 3]
                    e1 = p[(k + 1) % 3] - p[k]
                    e2 = p[(k + 2) % 3] - p[k]
                    cot = float((e1 @ e2) / (2.0 * area))  # |e1||e2| cos / (|e1||e2| sin); 2 area = |e1 x e2|
                    weights[i][j] = weights[i].get(j, 0.0) + cot
                    weights[j][i] = weights[j].get(i, 0.0) + cot
                for k in f:
                    areas[k] += area
        per_vertex = []
        for i in range(V):
            lv = sum((w * verts[j] for j, w in weights[i].items()), torch.zeros_like(verts[i]))
            row = sum(weights[i].values())
            if method == "uniform":
                term = lv - verts[i]
            elif method == "cot":
                term = lv * (1.0 / row if row > 0 else row) - verts[i]
            else:
                inv_area = 1.0 / areas[i] if areas[i] > 0 else 0.0
                term = (lv - row * verts[i]) * 0.25 * inv_area
            per_vertex.append(term.norm())
        total = total + sum(per_vertex) / V
    return total / len(verts_list)


def mesh_normal_consistency_naive(verts_list, faces_list):
    total = 0.0
    for verts, faces in zip(verts_list, faces_list):
        by_edge = {}
        for f in faces.tolist():
            for k in range(3):
                a, b = f[(k + 1) % 3], f[(k + 2) % 3]
                by_edge.setdefault((min(a, b), max(a, b)), []).append(f[k])
        terms = []
        for (a, b), opposite in by_edge.items():
            e = verts[b] - verts[a]
            for c, d in itertools.combinations(opposite, 2):
                n0 = torch.linalg.cross(e, verts[c] - verts[a], dim=0)
                n1 = -torch.linalg.cross(e, verts[d] - verts[a], dim=0)
                terms.append(1 - torch.cosine_similarity(n0, n1, dim=0))
        total = total + sum(terms) / len(terms)
    return total / len(verts_list)
