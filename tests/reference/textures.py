"""Slow, obvious references for TexturesAtlas sampling, TexturesUV with several maps per mesh, the texel positions
of ``centers_for_image`` and rectangle packings: Python loops over fragments, vertices and rectangles."""

from __future__ import annotations

import torch

from reference.shading import sample_uv


def atlas_sample(atlas_packed, pix_to_face, bary):
    """Atlas texel of each fragment: cell (x, y) = (trunc(R w0), trunc(R w1)) clamped to [0, R - 1], mirrored to
    (R - 1 - x, R - 1 - y) when R (w0 + w1) - x - y > 1; zero for empty fragments."""
    N, H, W, K = pix_to_face.shape
    R, C = atlas_packed.shape[1], atlas_packed.shape[-1]
    out = torch.zeros(N, H, W, K, C, dtype=atlas_packed.dtype)
    for n in range(N):
        for y in range(H):
            for x in range(W):
                for k in range(K):
                    f = int(pix_to_face[n, y, x, k])
                    if f < 0:
                        continue
                    w0, w1 = float(bary[n, y, x, k, 0]), float(bary[n, y, x, k, 1])
                    cx = min(max(int(w0 * R), 0), R - 1)
                    cy = min(max(int(w1 * R), 0), R - 1)
                    if (w0 + w1) * R - cx - cy > 1.0:
                        cx, cy = R - 1 - cx, R - 1 - cy
                    out[n, y, x, k] = atlas_packed[f, cy, cx]
    return out


def multi_map_sample(maps, maps_ids, faces_uvs, verts_uvs, pix_to_face, bary, faces_per_mesh, align_corners=True,
                     mode="bilinear"):
    """Per fragment: the uv interpolated in its face, sampled (border padding) in the face's own map of its mesh.

    maps: per-mesh (M_i, H, W, C); maps_ids / faces_uvs / verts_uvs: per-mesh lists; pix_to_face packed. Empty
    fragments sample uv (0, 0) of their mesh's map 0, as the library does.
    """
    N, H, W, K = pix_to_face.shape
    C = maps[0].shape[-1]
    first = [sum(faces_per_mesh[:i]) for i in range(len(faces_per_mesh))]
    out = torch.zeros(N, H, W, K, C, dtype=maps[0].dtype)
    for n in range(N):
        for y in range(H):
            for x in range(W):
                for k in range(K):
                    f = int(pix_to_face[n, y, x, k])
                    if f < 0:
                        out[n, y, x, k] = sample_uv(maps[n][0], 0.0, 0.0, align_corners, mode)
                        continue
                    local = f - first[n]
                    u = v = 0.0
                    for j in range(3):
                        t = int(faces_uvs[n][local, j])
                        u += float(bary[n, y, x, k, j]) * float(verts_uvs[n][t, 0])
                        v += float(bary[n, y, x, k, j]) * float(verts_uvs[n][t, 1])
                    out[n, y, x, k] = sample_uv(maps[n][int(maps_ids[n][local])], u, v, align_corners, mode)
    return out


def texel_centres(uvs, H, W, align_corners=True):
    """(V, 2) column and row in an H x W image of each uv (v up), clamped to the image (border padding)."""
    out = torch.zeros(len(uvs), 2)
    for i, (u, v) in enumerate(uvs.tolist()):
        if align_corners:
            x, y = u * (W - 1), (1.0 - v) * (H - 1)
        else:
            x, y = u * W - 0.5, (1.0 - v) * H - 0.5
        out[i, 0] = min(max(x, 0.0), W - 1.0)
        out[i, 1] = min(max(y, 0.0), H - 1.0)
    return out


def rectangles_overlap(placed):
    """True when two of the rectangles (x, y, xsize, ysize) share any area."""
    for i in range(len(placed)):
        for j in range(i + 1, len(placed)):
            xa, ya, wa, ha = placed[i]
            xb, yb, wb, hb = placed[j]
            if xa < xb + wb and xb < xa + wa and ya < yb + hb and yb < ya + ha:
                return True
    return False
