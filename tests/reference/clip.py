"""Naive near-plane clipping and barycentric conversion: one face, one pixel at a time, with plain Python numbers."""

from __future__ import annotations

import torch


def _outside(fv, frustum) -> bool:
    """All three vertices beyond the same plane of the frustum."""
    if not frustum.cull:
        return False
    planes = [(frustum.left, 0, -1), (frustum.top, 1, -1), (frustum.znear, 2, -1),
              (frustum.right, 0, 1), (frustum.bottom, 1, 1), (frustum.zfar, 2, 1)]
    for value, axis, side in planes:
        if value is None:
            continue
        if all((v[axis] < value) if side < 0 else (v[axis] > value) for v in fv):
            return True
    return False


def _cut(fv, lone: int, z_clip: float, perspective: bool):
    """Points p1..p5 and their barycentric coordinates (lists) for a face whose corner ``lone`` is alone."""
    i1, i2, i3 = lone, (lone + 1) % 3, (lone + 2) % 3
    p1, p2, p3 = fv[i1], fv[i2], fv[i3]
    pts, bary = [p1, p2, p3], []
    for i in (i1, i2, i3):
        b = [0.0, 0.0, 0.0]
        b[i] = 1.0
        bary.append(b)
    for q, iq in ((p2, i2), (p3, i3)):
        w = (p1[2] - z_clip) / (p1[2] - q[2])
        if perspective:
            x = (p1[0] * p1[2] * (1 - w) + q[0] * q[2] * w) / z_clip
            y = (p1[1] * p1[2] * (1 - w) + q[1] * q[2] * w) / z_clip
        else:
            x = p1[0] * (1 - w) + q[0] * w
            y = p1[1] * (1 - w) + q[1] * w
        pts.append([x, y, p1[2] * (1 - w) + q[2] * w])
        b = [0.0, 0.0, 0.0]
        b[i1] = 1 - w
        b[iq] = w
        bary.append(b)
    return pts, bary


def clip_faces_naive(face_verts: torch.Tensor, first_idx: torch.Tensor, num_faces: torch.Tensor, frustum) -> dict:
    """Every field of ClippedFaces (for the case where some face is culled or cut) as nested lists.

    Conversion rows are ordered as PyTorch3D orders them: case 3 faces, then first halves, then second halves of
    case 4 faces.
    """
    fvs = face_verts.tolist()
    out_verts, to_unclipped, kinds, starts = [], [], [], []
    rows3, rows_t1, rows_t2 = [], [], []
    for f, fv in enumerate(fvs):
        starts.append(len(out_verts))
        behind = [frustum.z_clip_value is not None and v[2] < frustum.z_clip_value for v in fv]
        nb = sum(behind)
        if _outside(fv, frustum) or nb == 3:
            continue
        if nb == 0:
            out_verts.append(fv)
            to_unclipped.append(f)
            kinds.append(None)
            continue
        lone = behind.index(False) if nb == 2 else behind.index(True)
        p, b = _cut(fv, lone, frustum.z_clip_value, frustum.perspective_correct)
        tris = [(3, 4, 0)] if nb == 2 else [(3, 1, 4), (4, 1, 2)]
        for h, tri in enumerate(tris):
            out_verts.append([p[k] for k in tri])
            to_unclipped.append(f)
            conv = [[b[tri[col]][row] for col in range(3)] for row in range(3)]
            (rows3 if nb == 2 else (rows_t1 if h == 0 else rows_t2)).append((len(out_verts) - 1, conv))
            kinds.append(("case4", h) if nb == 1 else ("case3", 0))
    starts.append(len(out_verts))
    F_clipped = len(out_verts)
    rows = rows3 + rows_t1 + rows_t2
    to_conversion = [-1] * F_clipped
    for r, (pos, _) in enumerate(rows):
        to_conversion[pos] = r
    neighbor = [-1] * F_clipped
    for pos, kind in enumerate(kinds):
        if kind is not None and kind[0] == "case4":
            neighbor[pos] = pos + 1 if kind[1] == 0 else pos - 1
    first = [starts[i] for i in first_idx.tolist()]
    num = [starts[i + n] - starts[i] for i, n in zip(first_idx.tolist(), num_faces.tolist())]
    return {
        "face_verts": out_verts,
        "mesh_to_face_first_idx": first,
        "num_faces_per_mesh": num,
        "faces_clipped_to_unclipped_idx": to_unclipped,
        "barycentric_conversion": [conv for _, conv in rows] if rows else None,
        "faces_clipped_to_conversion_idx": to_conversion if rows else None,
        "clipped_faces_neighbor_idx": neighbor if rows else None,
    }


def convert_naive(pix_to_face: torch.Tensor, bary: torch.Tensor, to_unclipped, conversion, to_conversion):
    """Map each pixel's (face, barycentrics) on clipped faces to the original face, pixel by pixel."""
    p2f = pix_to_face.clone()
    out = bary.clone()
    N, H, W, K = pix_to_face.shape
    for n in range(N):
        for y in range(H):
            for x in range(W):
                for k in range(K):
                    f = int(pix_to_face[n, y, x, k])
                    if f < 0:
                        continue
                    p2f[n, y, x, k] = to_unclipped[f]
                    r = to_conversion[f] if to_conversion is not None else -1
                    if r >= 0:
                        b = bary[n, y, x, k].tolist()
                        for i in range(3):
                            out[n, y, x, k, i] = sum(conversion[r][i][j] * b[j] for j in range(3))
    return p2f, out
