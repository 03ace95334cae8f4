"""Naive mesh regularisers (Python loops over meshes, faces, edges and vertices) and small test meshes."""

from __future__ import annotations

import itertools
import math

import torch

from inverse3d.utils import ico_sphere


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


# ----------------------------------------------------------------------------------------------------------
# Small meshes shared by the regulariser tests

CUBE_VERTS = torch.tensor(
    [[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1], [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]],
    dtype=torch.float64,
)
CUBE_FACES = torch.tensor(
    [[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4],
     [2, 3, 7], [2, 7, 6], [1, 2, 6], [1, 6, 5], [0, 4, 7], [0, 7, 3]]
)


def grid(n: int = 4, flip_some: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """A flat n x n grid in the plane z = 0.3, triangulated, some faces wound the other way."""
    ys, xs = torch.meshgrid(torch.arange(n + 1.0), torch.arange(n + 1.0), indexing="ij")
    verts = torch.stack([xs.flatten(), ys.flatten(), torch.full(((n + 1) ** 2,), 0.3)], 1).double()
    faces = []
    for r in range(n):
        for c in range(n):
            a, b, d, e = r * (n + 1) + c, r * (n + 1) + c + 1, (r + 1) * (n + 1) + c, (r + 1) * (n + 1) + c + 1
            faces += [[a, b, e], [a, e, d] if not (flip_some and (r + c) % 2) else [a, d, e]]
    return verts, torch.tensor(faces)


def random_batch(seed: int = 0) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """A perturbed ico sphere, a perturbed cube and a bumpy grid (float64 lists)."""
    gen = torch.Generator().manual_seed(seed)
    sphere = ico_sphere(1)
    sv = sphere.verts_packed().double()
    gv, gf = grid(3)
    verts = [
        sv + 0.05 * torch.randn(sv.shape, generator=gen, dtype=torch.float64),
        CUBE_VERTS + 0.1 * torch.randn(CUBE_VERTS.shape, generator=gen, dtype=torch.float64),
        gv + 0.2 * torch.randn(gv.shape, generator=gen, dtype=torch.float64),
    ]
    faces = [sphere.faces_packed(), CUBE_FACES, gf]
    return verts, faces
