"""Naive point-mesh distances: PyTorch3D's scalar formulas, one point and one triangle / segment at a time."""

from __future__ import annotations

import math

import torch

EPS = 1e-8


def _sub(a, b):
    return [a[0] - b[0], a[1] - b[1], a[2] - b[2]]


def _dot(a, b):
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _cross(a, b):
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]


def point_segment_sq(p, v0, v1) -> float:
    """Squared distance from p to segment (v0, v1); a segment with squared length <= 1e-8 is its end v1."""
    d = _sub(v1, v0)
    l2 = _dot(d, d)
    if l2 <= EPS:
        e = _sub(p, v1)
        return _dot(e, e)
    t = min(max(_dot(d, _sub(p, v0)) / l2, 0.0), 1.0)
    q = [v0[i] + t * d[i] for i in range(3)]
    e = _sub(p, q)
    return _dot(e, e)


def point_triangle_sq(p, v0, v1, v2, min_area) -> float:
    """PyTorch3D's point-to-triangle squared distance (plane distance if the projection is inside, else edges)."""
    raw = _cross(_sub(v2, v0), _sub(v1, v0))
    length = math.sqrt(_dot(raw, raw))
    n = [c / (length + EPS) for c in raw]
    t = _dot(_sub(v0, p), n)
    p0 = [p[i] + t * n[i] for i in range(3)]
    a = _cross(_sub(v1, v0), _sub(v2, v0))
    area = 0.5 * math.sqrt(_dot(a, a))
    inside = False
    if area >= min_area:
        e0, e1, e2 = _sub(v1, v0), _sub(v2, v0), _sub(p0, v0)
        d00, d01, d11 = _dot(e0, e0), _dot(e0, e1), _dot(e1, e1)
        d20, d21 = _dot(e2, e0), _dot(e2, e1)
        denom = d00 * d11 - d01 * d01 + EPS
        w1 = (d11 * d20 - d01 * d21) / denom
        w2 = (d00 * d21 - d01 * d20) / denom
        w0 = 1.0 - w1 - w2
        inside = all(0.0 <= w <= 1.0 for w in (w0, w1, w2))
    if inside and length > EPS:
        return t * t
    return min(point_segment_sq(p, v0, v1), point_segment_sq(p, v0, v2), point_segment_sq(p, v1, v2))


def _ranges(first_idx, total):
    first = [int(v) for v in first_idx]
    return [(first[n], first[n + 1] if n + 1 < len(first) else total) for n in range(len(first))]


def closest_naive(points, points_first_idx, hulls, hulls_first_idx, points_are_queries, min_area=5e-3):
    """Brute-force kernel: for each query, the minimum over the other set of the same element (0 if none).

    Args:
        points: (P, 3) tensor; hulls: (H, k, 3) with k = 3 (triangles) or 2 (segments).

    Returns:
        list of floats, one per query (points if ``points_are_queries`` else hulls).
    """
    pts = points.double().tolist()
    hl = hulls.double().tolist()
    p_ranges = _ranges(points_first_idx, len(pts))
    h_ranges = _ranges(hulls_first_idx, len(hl))

    def dist(p, h):
        return point_triangle_sq(p, *h, min_area) if len(h) == 3 else point_segment_sq(p, *h)

    out = []
    for (p0, p1), (h0, h1) in zip(p_ranges, h_ranges):
        if points_are_queries:
            for i in range(p0, p1):
                out.append(min((dist(pts[i], hl[j]) for j in range(h0, h1)), default=0.0))
        else:
            for j in range(h0, h1):
                out.append(min((dist(pts[i], hl[j]) for i in range(p0, p1)), default=0.0))
    return out


def point_mesh_face_distance_naive(meshes, pcls, min_area=5e-3) -> float:
    """Mean over the batch of (mean point-to-face + mean face-to-point) distance, element by element."""
    total = 0.0
    for verts, faces, points in zip(meshes.verts_list(), meshes.faces_list(), pcls.points_list()):
        tris = verts[faces]
        first = [0]
        pf = closest_naive(points, first, tris, first, True, min_area)
        fp = closest_naive(points, first, tris, first, False, min_area)
        total += (sum(pf) / max(len(pf), 1) if pf else 0.0) + (sum(fp) / max(len(fp), 1) if fp else 0.0)
    return total / len(meshes)


def point_mesh_edge_distance_naive(meshes, pcls) -> float:
    """As :func:`point_mesh_face_distance_naive` with the unique edges of each mesh."""
    total = 0.0
    for n, points in enumerate(pcls.points_list()):
        verts, faces = meshes.verts_list()[n], meshes.faces_list()[n]
        edges = {tuple(sorted((int(f[a]), int(f[b])))) for f in faces for a, b in ((0, 1), (1, 2), (2, 0))}
        segms = verts[torch.tensor(sorted(edges), dtype=torch.int64).reshape(-1, 2)]
        first = [0]
        pe = closest_naive(points, first, segms, first, True)
        ep = closest_naive(points, first, segms, first, False)
        total += (sum(pe) / max(len(pe), 1) if pe else 0.0) + (sum(ep) / max(len(ep), 1) if ep else 0.0)
    return total / len(meshes)
