"""Distances between point clouds and meshes (PyTorch3D's ``loss.point_mesh_distance``).

The four packed kernels ``point_face_distance``, ``face_point_distance``, ``point_edge_distance`` and
``edge_point_distance`` find, for each item of one set, the closest item of the other set within the same batch
element, and return the squared distance. They use PyTorch3D's definitions:

- point to segment ``(v0, v1)``: squared distance to the closest point of the segment; a segment shorter than
  1e-4 (squared length <= 1e-8) counts as its end point ``v1``;
- point to triangle ``(v0, v1, v2)``: the squared distance to the triangle's plane when the point's projection
  falls inside the triangle (barycentric coordinates in [0, 1]), else the smallest point-to-edge distance over the
  edges (v0, v1), (v0, v2), (v1, v2). Triangles of area below ``min_triangle_area`` (default 5e-3, in squared
  scene units, as PyTorch3D) are always treated through their edges.

The search is exact and never builds a points x faces matrix (``inverse3d.ops._closest``: Morton-ordered blocks
with box pruning), so 100k points against 100k faces fit in a few hundred MB. Gradients flow to the points and
the vertices through the closest pair, as in PyTorch3D's backward.
"""

from __future__ import annotations

import torch

from inverse3d.ops import _closest

__all__ = [
    "point_face_distance",
    "face_point_distance",
    "point_edge_distance",
    "edge_point_distance",
    "point_mesh_face_distance",
    "point_mesh_edge_distance",
]

_DEFAULT_MIN_TRIANGLE_AREA: float = 5e-3
_EPS = 1e-8  # PyTorch3D's kEpsilon / vEpsilon


# ----------------------------------------------------------------------------------------------------------
# Pair distances from per-item features (elementwise, broadcasting)

# Layout of the triangle features (T, 37): v0, v1, normal, a1, a2, e01, e02, e12 (3 each), the inverse squared
# lengths of the three edges (0 for a short edge), the start offsets of the three edges (so that a short edge
# measures from its end point, as PyTorch3D), and 1.0 where the plane test applies. Features sit on axis 1 of
# every tensor below, so that each is a contiguous plane and the rest broadcasts.
_V0, _V1, _N, _A1, _A2, _E01, _E02, _E12, _INV, _O01, _O02, _O12 = range(0, 36, 3)
_PLANAR = 36


def _triangle_features(tris: torch.Tensor, min_triangle_area: float) -> torch.Tensor:
    """(T, 3, 3) triangles -> (T, 37) features for ``_point_triangle_sq`` (differentiable in ``tris``)."""
    v0, v1, v2 = tris.unbind(-2)
    e01, e02, e12 = v1 - v0, v2 - v0, v2 - v1
    raw = torch.linalg.cross(e02, e01, dim=-1)
    length = torch.linalg.vector_norm(raw, dim=-1)
    normal = raw / (length + _EPS)[..., None]
    d00 = (e01 * e01).sum(-1)
    d01 = (e01 * e02).sum(-1)
    d11 = (e02 * e02).sum(-1)
    denom = (d00 * d11 - d01 * d01 + _EPS)[..., None]
    # barycentric weights of the projection q of p: w1 = q . a1, w2 = q . a2 (a1, a2 lie in the plane)
    a1 = (d11[..., None] * e01 - d01[..., None] * e02) / denom
    a2 = (d00[..., None] * e02 - d01[..., None] * e01) / denom
    edges = torch.stack([e01, e02, e12], -2)  # (T, 3, 3)
    l2 = (edges * edges).sum(-1)  # (T, 3)
    short = l2 <= _EPS
    inv = torch.where(short, torch.zeros_like(l2), 1.0 / torch.where(short, torch.ones_like(l2), l2))
    offsets = edges * short[..., None]  # a short edge (a, b) is measured from b = a + e
    planar = ((0.5 * length >= min_triangle_area) & (length > _EPS)).to(tris.dtype)
    return torch.cat([v0, v1, normal, a1, a2, e01, e02, e12, inv, offsets.flatten(-2), planar[..., None]], -1)


def _segment_features(segms: torch.Tensor) -> torch.Tensor:
    """(S, 2, 3) segments -> (S, 10) features: start, direction, inverse squared length, start offset."""
    a, b = segms.unbind(-2)
    e = b - a
    l2 = (e * e).sum(-1, keepdim=True)
    short = l2 <= _EPS
    inv = torch.where(short, torch.zeros_like(l2), 1.0 / torch.where(short, torch.ones_like(l2), l2))
    return torch.cat([a, e, inv, e * short], -1)


def _dot(x: tuple, f: torch.Tensor, k: int) -> torch.Tensor:
    """x . f[:, k:k+3] for a vector given as its three component planes."""
    return x[0] * f[:, k] + x[1] * f[:, k + 1] + x[2] * f[:, k + 2]


def _segment_sq(pa: tuple, f: torch.Tensor, e: int, inv: torch.Tensor) -> torch.Tensor:
    """Squared distance from the point at ``pa`` (relative to the segment start) to start + [0, 1] * f[:, e:e+3]."""
    t = (_dot(pa, f, e) * inv).clamp(0.0, 1.0)
    out = 0.0
    for c in range(3):
        d = pa[c] - t * f[:, e + c]
        out = out + d * d
    return out


def _point_triangle_sq(p: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """PyTorch3D's point-to-triangle squared distance: points p (M, 3, ...), features f (M, 37, ...), broadcasting
    over the trailing dims -> (M, ...)."""
    pv0 = tuple(p[:, c] - f[:, _V0 + c] for c in range(3))
    t = _dot(pv0, f, _N)  # signed distance to the plane
    w1 = _dot(pv0, f, _A1)
    w2 = _dot(pv0, f, _A2)
    w0 = 1.0 - w1 - w2
    inside = (f[:, _PLANAR] > 0.5) & (w0 >= 0) & (w1 >= 0) & (w2 >= 0) & (w0 <= 1) & (w1 <= 1) & (w2 <= 1)
    pa01 = tuple(pv0[c] - f[:, _O01 + c] for c in range(3))
    pa02 = tuple(pv0[c] - f[:, _O02 + c] for c in range(3))
    pa12 = tuple(p[:, c] - f[:, _V1 + c] - f[:, _O12 + c] for c in range(3))
    d01 = _segment_sq(pa01, f, _E01, f[:, _INV])
    d02 = _segment_sq(pa02, f, _E02, f[:, _INV + 1])
    d12 = _segment_sq(pa12, f, _E12, f[:, _INV + 2])
    return torch.where(inside, t * t, torch.minimum(torch.minimum(d01, d02), d12))


def _point_segment_sq(p: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """PyTorch3D's point-to-segment squared distance: p (M, 3, ...), features f (M, 10, ...) -> (M, ...)."""
    pa = tuple(p[:, c] - f[:, c] - f[:, 7 + c] for c in range(3))
    return _segment_sq(pa, f, 3, f[:, 6])


# ----------------------------------------------------------------------------------------------------------
# Packed kernels


def _check_packed(points, points_first_idx, hulls, hulls_first_idx, corners: int, name: str) -> None:
    if not torch.is_tensor(points) or points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"{name}: points must be (P, 3), got {tuple(points.shape) if torch.is_tensor(points) else points}")
    if not torch.is_tensor(hulls) or hulls.ndim != 3 or hulls.shape[1:] != (corners, 3):
        shape = tuple(hulls.shape) if torch.is_tensor(hulls) else type(hulls).__name__
        raise ValueError(f"{name}: expected ({'T' if corners == 3 else 'S'}, {corners}, 3) items, got {shape}")
    if not (points.is_floating_point() and hulls.is_floating_point()):
        raise ValueError(f"{name}: points and {'tris' if corners == 3 else 'segms'} must be floating point")
    if points.device != hulls.device:
        raise ValueError(f"{name}: points are on {points.device} but the mesh items on {hulls.device}")
    for first in (points_first_idx, hulls_first_idx):
        if not torch.is_tensor(first) or first.ndim != 1:
            raise ValueError(f"{name}: first_idx tensors must be 1-D (N,)")
    if points_first_idx.shape != hulls_first_idx.shape:
        raise ValueError(f"{name}: points_first_idx and the mesh first_idx must both have N entries")
    for t in (points, hulls):
        if t.numel() and not bool(torch.isfinite(t.detach()).all()):
            raise ValueError(f"{name}: inputs contain NaN or infinite values")


def _batch_of(first_idx: torch.Tensor, total: int) -> torch.Tensor:
    """(total,) long batch element of each packed row from (N,) first rows."""
    rows = torch.arange(total, device=first_idx.device)
    return (torch.searchsorted(first_idx.to(torch.int64).contiguous(), rows, right=True) - 1).clamp(min=0)


def _boxes(items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Centre, lower and upper corner (each (M, 3)) of items (M, k, 3)."""
    lo, hi = items.amin(1), items.amax(1)
    return 0.5 * (lo + hi), lo, hi


def _features(hulls: torch.Tensor, min_triangle_area: float) -> torch.Tensor:
    return _triangle_features(hulls, min_triangle_area) if hulls.shape[1] == 3 else _segment_features(hulls)


def _distance(points: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
    """Point-hull distances from points (..., 3) and hull features (..., F), broadcasting."""
    return _point_triangle_sq(points, feats) if feats.shape[1] == 37 else _point_segment_sq(points, feats)


def _closest_hulls(points, points_first_idx, hulls, hulls_first_idx, min_triangle_area, points_are_queries):
    """Index of the closest hull (triangle or segment) to each point, or of the closest point to each hull."""
    N = points_first_idx.shape[0]
    P, H = points.shape[0], hulls.shape[0]
    device = points.device
    if N == 0:
        return torch.full((P if points_are_queries else H,), -1, dtype=torch.int64, device=device)
    p_batch = _batch_of(points_first_idx, P)
    h_batch = _batch_of(hulls_first_idx, H)
    with torch.no_grad():
        pts = points.detach()
        hl = hulls.detach()
        feats = _features(hl, min_triangle_area)
        p_side = (pts, pts, pts, p_batch, pts)
        h_side = (*_boxes(hl), h_batch, feats)
        if points_are_queries:
            _, idx = _closest.closest(*p_side, *h_side, N, _distance)
        else:
            _, idx = _closest.closest(*h_side, *p_side, N, lambda h, p: _distance(p, h))
    return idx


def _query_distances(queries_are_points, points, points_first_idx, hulls, hulls_first_idx, min_triangle_area):
    """Differentiable distance of each query to its closest partner (0 without one)."""
    idx = _closest_hulls(points, points_first_idx, hulls, hulls_first_idx, min_triangle_area, queries_are_points)
    missing = idx < 0
    safe = idx.clamp(min=0)
    keep_graph = 0.0 * points.sum() + 0.0 * hulls.sum()
    if queries_are_points:
        if hulls.shape[0] == 0:
            return points.new_zeros(points.shape[0]) + keep_graph
        d = _distance(points, _features(hulls[safe], min_triangle_area))
    else:
        if points.shape[0] == 0:
            return hulls.new_zeros(hulls.shape[0]) + keep_graph
        d = _distance(points[safe], _features(hulls, min_triangle_area))
    return d.masked_fill(missing, 0.0)


def point_face_distance(
    points: torch.Tensor,
    points_first_idx: torch.Tensor,
    tris: torch.Tensor,
    tris_first_idx: torch.Tensor,
    max_points: int | None = None,
    min_triangle_area: float = _DEFAULT_MIN_TRIANGLE_AREA,
) -> torch.Tensor:
    """Squared distance from each point to the closest triangle of its batch element.

    Args:
        points: (P, 3) float packed points; points_first_idx: (N,) long first point of each element.
        tris: (T, 3, 3) float packed triangles (corners); tris_first_idx: (N,) long first triangle of each element.
        max_points: accepted for PyTorch3D compatibility (unused).
        min_triangle_area: triangles of smaller area are measured through their edges only.

    Returns:
        (P,) float, differentiable with respect to ``points`` and ``tris``; 0 for a point whose element has no
        triangle.
    """
    _check_packed(points, points_first_idx, tris, tris_first_idx, 3, "point_face_distance")
    return _query_distances(True, points, points_first_idx, tris, tris_first_idx, min_triangle_area)


def face_point_distance(
    points: torch.Tensor,
    points_first_idx: torch.Tensor,
    tris: torch.Tensor,
    tris_first_idx: torch.Tensor,
    max_tris: int | None = None,
    min_triangle_area: float = _DEFAULT_MIN_TRIANGLE_AREA,
) -> torch.Tensor:
    """Squared distance from each triangle to the closest point of its batch element.

    Arguments as :func:`point_face_distance` (``max_tris`` unused). Returns (T,) float, 0 for a triangle whose
    element has no point.
    """
    _check_packed(points, points_first_idx, tris, tris_first_idx, 3, "face_point_distance")
    return _query_distances(False, points, points_first_idx, tris, tris_first_idx, min_triangle_area)


def point_edge_distance(
    points: torch.Tensor,
    points_first_idx: torch.Tensor,
    segms: torch.Tensor,
    segms_first_idx: torch.Tensor,
    max_points: int | None = None,
) -> torch.Tensor:
    """Squared distance from each point to the closest segment of its batch element.

    Args:
        points: (P, 3) float; points_first_idx: (N,) long.
        segms: (S, 2, 3) float segment end points; segms_first_idx: (N,) long.
        max_points: accepted for PyTorch3D compatibility (unused).

    Returns:
        (P,) float, 0 for a point whose element has no segment.
    """
    _check_packed(points, points_first_idx, segms, segms_first_idx, 2, "point_edge_distance")
    return _query_distances(True, points, points_first_idx, segms, segms_first_idx, 0.0)


def edge_point_distance(
    points: torch.Tensor,
    points_first_idx: torch.Tensor,
    segms: torch.Tensor,
    segms_first_idx: torch.Tensor,
    max_segms: int | None = None,
) -> torch.Tensor:
    """Squared distance from each segment to the closest point of its batch element: (S,) float."""
    _check_packed(points, points_first_idx, segms, segms_first_idx, 2, "edge_point_distance")
    return _query_distances(False, points, points_first_idx, segms, segms_first_idx, 0.0)


# ----------------------------------------------------------------------------------------------------------
# Losses


def _check_batches(meshes, pcls) -> int:
    if len(meshes) != len(pcls):
        raise ValueError("meshes and pointclouds must be equal sized batches")
    return len(meshes)


def _per_element_mean(values: torch.Tensor, element: torch.Tensor, counts: torch.Tensor, N: int) -> torch.Tensor:
    """sum_i values_i / counts[element_i], divided by N: the mean over elements of each element's mean."""
    weights = 1.0 / counts.to(values.dtype)[element]
    return (values * weights).sum() / N


def point_mesh_face_distance(meshes, pcls, min_triangle_area: float = _DEFAULT_MIN_TRIANGLE_AREA) -> torch.Tensor:
    """Point-to-face plus face-to-point squared distance between each (mesh, cloud) pair, averaged over the batch.

    For each pair: the mean over the cloud's points of the squared distance to the closest face, plus the mean
    over the mesh's faces of the squared distance to the closest point (PyTorch3D's definition, see the module
    docstring); the batch average of these sums is returned.

    Args:
        meshes: ``Meshes`` with N meshes; pcls: ``Pointclouds`` with N clouds.
        min_triangle_area: faces of smaller area are measured through their edges only.

    Returns:
        () float, differentiable with respect to the points and the vertices.
    """
    N = _check_batches(meshes, pcls)
    points = pcls.points_packed()
    points_first_idx = pcls.cloud_to_packed_first_idx()
    tris = meshes.verts_packed()[meshes.faces_packed()]  # (T, 3, 3)
    tris_first_idx = meshes.mesh_to_faces_packed_first_idx()
    point_to_face = point_face_distance(points, points_first_idx, tris, tris_first_idx, None, min_triangle_area)
    face_to_point = face_point_distance(points, points_first_idx, tris, tris_first_idx, None, min_triangle_area)
    point_dist = _per_element_mean(point_to_face, pcls.packed_to_cloud_idx(), pcls.num_points_per_cloud(), N)
    face_dist = _per_element_mean(face_to_point, meshes.faces_packed_to_mesh_idx(), meshes.num_faces_per_mesh(), N)
    return point_dist + face_dist


def point_mesh_edge_distance(meshes, pcls) -> torch.Tensor:
    """Point-to-edge plus edge-to-point squared distance between each (mesh, cloud) pair, averaged over the batch.

    As :func:`point_mesh_face_distance` with the mesh's unique edges (``meshes.edges_packed()``) instead of its
    faces. Returns a () float tensor.
    """
    N = _check_batches(meshes, pcls)
    points = pcls.points_packed()
    points_first_idx = pcls.cloud_to_packed_first_idx()
    segms = meshes.verts_packed()[meshes.edges_packed()]  # (S, 2, 3)
    segms_first_idx = meshes.mesh_to_edges_packed_first_idx()
    point_to_edge = point_edge_distance(points, points_first_idx, segms, segms_first_idx)
    edge_to_point = edge_point_distance(points, points_first_idx, segms, segms_first_idx)
    point_dist = _per_element_mean(point_to_edge, pcls.packed_to_cloud_idx(), pcls.num_points_per_cloud(), N)
    edge_dist = _per_element_mean(edge_to_point, meshes.edges_packed_to_mesh_idx(), meshes.num_edges_per_mesh(), N)
    return point_dist + edge_dist
