"""Exact intersection volume and IoU of oriented 3D boxes (PyTorch3D's ``box3d_overlap``).

A box is given by its 8 corners in PyTorch3D's order (the unit cube's corners (0,0,0), (1,0,0), (1,1,0), (0,1,0),
(0,0,1), (1,0,1), (1,1,1), (0,1,1) after any rotation, scaling and translation)::

    (4) +---------+. (5)
        | ` .     |  ` .
        | (0) +---+-----+ (1)
        |     |   |     |
    (7) +-----+---+. (6)|
        ` .   |     ` . |
        (3) ` +---------+ (2)

The intersection of two boxes is a convex polytope whose boundary is made of the faces of each box clipped by
the other box's six half-spaces (Sutherland-Hodgman, batched over all pairs and faces at once). Its volume follows
from the divergence theorem, ``V = 1/3 sum_f area_f * (n_f . (p_f - o))``, over those clipped faces. Faces of the
two boxes lying in the same plane with the same outward normal are counted once.
"""

from __future__ import annotations

import torch

__all__ = ["box3d_overlap"]

# The quad faces of a box, each in cyclic order, and the two triangles of each (PyTorch3D's connectivity).
_box_planes = [[0, 1, 2, 3], [3, 2, 6, 7], [0, 1, 5, 4], [0, 3, 7, 4], [1, 2, 6, 5], [4, 5, 6, 7]]
_box_triangles = [
    [0, 1, 2], [0, 3, 2], [4, 5, 6], [4, 6, 7], [1, 5, 6], [1, 6, 2],
    [0, 4, 7], [0, 7, 3], [3, 2, 6], [3, 6, 7], [0, 1, 5], [0, 4, 5],
]  # fmt: skip

# Box pairs processed at once.
_PAIRS_PER_CHUNK = 1 << 12


def _check_coplanar(boxes: torch.Tensor, eps: float) -> None:
    """Raises unless the 4 corners of every face lie in one plane (within ``eps``)."""
    faces = torch.tensor(_box_planes, device=boxes.device)
    v0, v1, v2, v3 = boxes[:, faces].unbind(2)  # (B, 6, 3) each
    e0 = torch.nn.functional.normalize(v1 - v0, dim=-1)
    e1 = torch.nn.functional.normalize(v2 - v0, dim=-1)
    normal = torch.nn.functional.normalize(torch.linalg.cross(e0, e1, dim=-1), dim=-1)
    # PyTorch3D compares the sum over a box's faces of the out-of-plane offsets
    offsets = ((v3 - v0) * normal).sum(-1).sum(-1)  # (B,)
    if not bool((offsets.abs() < eps).all()):
        raise ValueError("Plane vertices are not coplanar")


def _check_nonzero(boxes: torch.Tensor, eps: float) -> None:
    """Raises if a side triangle of a box has an area below ``eps``."""
    tris = torch.tensor(_box_triangles, device=boxes.device)
    v0, v1, v2 = boxes[:, tris].unbind(2)  # (B, 12, 3)
    areas = torch.linalg.cross(v1 - v0, v2 - v0, dim=-1).norm(dim=-1) / 2
    if bool((areas < eps).any()):
        raise ValueError("Planes have zero areas")


def box3d_overlap(boxes1: torch.Tensor, boxes2: torch.Tensor, eps: float = 1e-4) -> tuple[torch.Tensor, torch.Tensor]:
    """Intersection volume and IoU of every pair of boxes.

    Args:
        boxes1: (N, 8, 3) corners (module docstring for the order).
        boxes2: (M, 8, 3) corners.
        eps: tolerance of the input checks (coplanar face corners, non-zero face areas).

    Returns:
        vol: (N, M) intersection volumes.
        iou: (N, M) ``vol / (vol1 + vol2 - vol)``.
        Both in the dtype of the inputs, not differentiable (as in PyTorch3D).

    Raises:
        ValueError: boxes not of shape (B, 8, 3), non-planar faces, or degenerate faces.
    """
    for boxes in (boxes1, boxes2):
        if not torch.is_tensor(boxes) or boxes.ndim != 3 or boxes.shape[1:] != (8, 3):
            raise ValueError("Each box in the batch must be of shape (8, 3)")
    if not (boxes1.is_floating_point() and boxes2.is_floating_point()):
        raise ValueError("boxes must be floating point")
    with torch.no_grad():
        b1 = boxes1.detach().to(torch.float64)
        b2 = boxes2.to(device=boxes1.device).detach().to(torch.float64)
        for b in (b1, b2):
            if b.numel() and not bool(torch.isfinite(b).all()):
                raise ValueError("boxes contain NaN or infinite values")
            _check_coplanar(b, eps)
            _check_nonzero(b, eps)
        N, M = b1.shape[0], b2.shape[0]
        vol = b1.new_zeros(N, M)
        if N and M:
            planes1, planes2 = _planes(b1), _planes(b2)
            # only pairs whose bounding spheres meet can overlap
            c1, c2 = b1.mean(1), b2.mean(1)
            r1 = (b1 - c1[:, None]).norm(dim=-1).amax(1)
            r2 = (b2 - c2[:, None]).norm(dim=-1).amax(1)
            i, j = (torch.cdist(c1, c2) <= r1[:, None] + r2[None]).nonzero(as_tuple=True)
            for c0 in range(0, i.shape[0], _PAIRS_PER_CHUNK):
                ii, jj = i[c0 : c0 + _PAIRS_PER_CHUNK], j[c0 : c0 + _PAIRS_PER_CHUNK]
                vol[ii, jj] = _intersection_volume(
                    b1[ii], tuple(p[ii] for p in planes1), b2[jj], tuple(p[jj] for p in planes2)
                )
        vol1, vol2 = _box_volume(b1), _box_volume(b2)
        union = vol1[:, None] + vol2[None, :] - vol
        iou = vol / union
    return vol.to(boxes1.dtype), iou.to(boxes1.dtype)


def _planes(boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Outward unit normals (B, 6, 3) and offsets (B, 6) of the faces: inside is ``n . x <= d``."""
    faces = torch.tensor(_box_planes, device=boxes.device)
    quad = boxes[:, faces]  # (B, 6, 4, 3)
    # Newell's normal of the quad, robust to slightly non-planar corners
    nxt = quad.roll(-1, dims=2)
    normal = torch.linalg.cross(quad, nxt, dim=-1).sum(2)  # (B, 6, 3), twice the area vector
    normal = torch.nn.functional.normalize(normal, dim=-1)
    centre = quad.mean(2)  # (B, 6, 3)
    inward = ((boxes.mean(1, keepdim=True) - centre) * normal).sum(-1) > 0
    normal = torch.where(inward[..., None], -normal, normal)
    return normal, (normal * centre).sum(-1)


def _box_volume(boxes: torch.Tensor) -> torch.Tensor:
    """(B,) volumes by the divergence theorem over the 12 side triangles."""
    normal, offset = _planes(boxes)
    faces = torch.tensor(_box_planes, device=boxes.device)
    quad = boxes[:, faces]  # (B, 6, 4, 3)
    area = 0.5 * torch.linalg.cross(quad[:, :, 2] - quad[:, :, 0], quad[:, :, 3] - quad[:, :, 1], dim=-1).norm(dim=-1)
    origin = boxes.mean(1)  # (B, 3)
    height = offset - (normal * origin[:, None]).sum(-1)  # (B, 6) distance of each face plane from the origin
    return (area * height).sum(1) / 3


def _intersection_volume(boxes_a, planes_a, boxes_b, planes_b) -> torch.Tensor:
    """(P,) intersection volume of P box pairs: boxes (P, 8, 3), planes ((P, 6, 3), (P, 6))."""
    faces = torch.tensor(_box_planes, device=boxes_a.device)
    n_a, d_a = planes_a
    n_b, d_b = planes_b
    scale = torch.maximum(
        (boxes_a.amax(1) - boxes_a.amin(1)).amax(1), (boxes_b.amax(1) - boxes_b.amin(1)).amax(1)
    )  # (P,)
    tol = 1e-9 * scale
    origin = 0.5 * (boxes_a.mean(1) + boxes_b.mean(1))  # (P, 3) reference point of the divergence theorem
    # a's faces clipped by b, and b's faces clipped by a: 12 polygons per pair
    polys = torch.cat([boxes_a[:, faces], boxes_b[:, faces]], 1)  # (P, 12, 4, 3)
    normals = torch.cat([n_a, n_b], 1)  # (P, 12, 3) outward normal of each polygon's plane
    offsets = torch.cat([d_a, d_b], 1)  # (P, 12)
    clip_n = torch.cat([n_b[:, None].expand(-1, 6, -1, -1), n_a[:, None].expand(-1, 6, -1, -1)], 1)  # (P, 12, 6, 3)
    clip_d = torch.cat([d_b[:, None].expand(-1, 6, -1), d_a[:, None].expand(-1, 6, -1)], 1)  # (P, 12, 6)
    P = polys.shape[0]
    verts = polys.reshape(P * 12, 4, 3)
    count = torch.full((P * 12,), 4, dtype=torch.int64, device=polys.device)
    cn = clip_n.reshape(P * 12, 6, 3)
    cd = clip_d.reshape(P * 12, 6)
    ctol = tol[:, None].expand(-1, 12).reshape(-1)
    for k in range(6):
        n, d = cn[:, k], cd[:, k]
        K = verts.shape[1]
        valid = torch.arange(K, device=verts.device)[None] < count[:, None]
        inside = ((verts * n[:, None]).sum(-1) - d[:, None]) <= ctol[:, None]
        some_in = (valid & inside).any(1)
        some_out = (valid & ~inside).any(1)
        count = count.masked_fill(~some_in, 0)  # wholly outside: nothing left
        verts = torch.cat([verts, verts.new_zeros(verts.shape[0], 1, 3)], 1)  # room for one more corner
        rows = (some_in & some_out).nonzero(as_tuple=True)[0]  # only polygons the plane cuts change
        if rows.numel():
            verts[rows], count[rows] = _clip(verts[rows, :K], count[rows], n[rows], d[rows], ctol[rows])
    area = _polygon_area(verts, count, normals.reshape(P * 12, 3)).view(P, 12)  # (P, 12)
    # a face of b in the plane of a face of a with the same outward normal bounds the same region: count it once
    same_dir = (n_b[:, :, None] * n_a[:, None]).sum(-1) > 1 - 1e-9  # (P, 6 b, 6 a)
    same_plane = (d_b[:, :, None] - d_a[:, None]).abs() <= 1e-7 * scale[:, None, None]
    duplicate = (same_dir & same_plane).any(2)  # (P, 6)
    area = torch.cat([area[:, :6], area[:, 6:].masked_fill(duplicate, 0.0)], 1)
    height = offsets - (normals * origin[:, None]).sum(-1)  # (P, 12)
    return ((area * height).sum(1) / 3).clamp(min=0)


def _clip(verts: torch.Tensor, count: torch.Tensor, n: torch.Tensor, d: torch.Tensor, tol: torch.Tensor):
    """One Sutherland-Hodgman step: the part of each convex polygon with ``n . x <= d`` (+ tol).

    Args:
        verts: (R, K, 3) polygon corners in cyclic order, the first ``count`` valid; count: (R,) long.
        n: (R, 3), d: (R,), tol: (R,).

    Returns:
        verts (R, K + 1, 3) and count (R,) of the clipped polygons.
    """
    R, K, _ = verts.shape
    device = verts.device
    slot = torch.arange(K, device=device)
    valid = slot[None] < count[:, None]  # (R, K)
    nxt = (slot[None] + 1) % count.clamp(min=1)[:, None]  # (R, K) index of the next corner
    s = (verts * n[:, None]).sum(-1) - d[:, None]  # (R, K) signed distance, <= 0 inside
    inside = s <= tol[:, None]
    s_next = s.gather(1, nxt)
    inside_next = inside.gather(1, nxt)
    v_next = verts.gather(1, nxt[..., None].expand(-1, -1, 3))
    crossing = valid & (inside != inside_next)
    t = (s / torch.where(crossing, s - s_next, torch.ones_like(s))).clamp(0.0, 1.0)
    cut = verts + t[..., None] * (v_next - verts)
    out = torch.stack([verts, cut], 2).reshape(R, 2 * K, 3)  # corner i, then the cut after it
    keep = torch.stack([valid & inside, crossing], 2).reshape(R, 2 * K)
    # move the kept slots to the front, in order (a convex polygon gains at most one corner per cut)
    position = torch.cumsum(keep, 1) - 1
    target = torch.where(keep & (position <= K), position, torch.full_like(position, K + 1))  # K + 1: discarded
    compact = verts.new_zeros(R, K + 2, 3).scatter_(1, target[..., None].expand(-1, -1, 3), out)
    return compact[:, : K + 1], keep.sum(1).clamp(max=K + 1)


def _polygon_area(verts: torch.Tensor, count: torch.Tensor, normal: torch.Tensor) -> torch.Tensor:
    """(R,) unsigned area of convex polygons (fan from the first corner); 0 below 3 corners."""
    R, K, _ = verts.shape
    slot = torch.arange(K, device=verts.device)
    a = verts - verts[:, :1]  # (R, K, 3) corners relative to the first
    b = a.roll(-1, dims=1)
    fan = (slot[None] >= 1) & (slot[None] + 1 < count[:, None])  # triangles (0, i, i + 1)
    cross = torch.linalg.cross(a, b, dim=-1) * fan[..., None]
    return 0.5 * (cross.sum(1) * normal).sum(-1).abs()
