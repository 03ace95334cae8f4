"""PyTorch3D 0.7.9's CPU mesh rasteriser (``RasterizeMeshesNaiveCpu``) emulated in float32 NumPy, per pixel.

Every rule and every float32 operation follows the order of PyTorch3D's C++ code, so that near-ties resolve as
there: for each pixel (centre ``-1 + (2 i + 1) / S`` in float32 along each axis), each face of the pixel's mesh is
skipped when its NDC area is within 1e-8 of 0, its smallest depth is below 1e-8 or the pixel is outside its
bounding box grown by ``sqrt(blur_radius)``; otherwise barycentrics (edge functions over the area plus 1e-8),
perspective-corrected (``w_i z_j z_k`` over their sum, clamped at 1e-8), optionally clamped to >= 0 and
renormalised (sum clamped at 1e-5), give the depth; a negative depth is skipped; the squared distance to the nearest
edge segment (an edge shorter than 1e-4 is its second end point) must be below ``blur_radius`` unless all three
perspective-corrected barycentrics are > 0. The K smallest (depth, face index) pairs are kept in that order.

No clipping (``z_clip_value``) and no culling of faces crossing the near plane: the emulation is for scenes in
front of the camera. Loops over image rows; within a row NumPy works on all (pixel, face) candidates at once.
"""

from __future__ import annotations

import numpy as np

f32 = np.float32


def _edge(px, py, ax, ay, bx, by):
    return (px - ax) * (by - ay) - (py - ay) * (bx - ax)


def _segment_dist2(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    l2 = dx * dx + dy * dy
    point = l2.astype(np.float64) <= 1e-8
    t = (dx * (px - ax) + dy * (py - ay)) / np.where(point, f32(1), l2)
    t = np.minimum(np.maximum(t, f32(0)), f32(1))
    qx, qy = ax + t * dx, ay + t * dy
    d = (px - qx) * (px - qx) + (py - qy) * (py - qy)
    d_point = (px - bx) * (px - bx) + (py - by) * (py - by)
    return np.where(point, d_point, d)


def rasterize_pytorch3d_cpu(face_verts, face_to_mesh, num_meshes, H, W, K, blur_radius, perspective_correct=True,
                            clip_barycentric_coords=True, cull_backfaces=False):
    """Returns pix_to_face (N, H, W, K) int64, zbuf and dists (N, H, W, K) float32, as PyTorch3D's CPU path.

    Args:
        face_verts: (F, 3, 3) NDC x, NDC y, view depth (converted to float32).
        face_to_mesh: (F,) mesh of each face.
    """
    fv = np.asarray(face_verts, dtype=f32)
    f2m = np.asarray(face_to_mesh)
    x0, y0, z0 = fv[:, 0, 0], fv[:, 0, 1], fv[:, 0, 2]
    x1, y1, z1 = fv[:, 1, 0], fv[:, 1, 1], fv[:, 1, 2]
    x2, y2, z2 = fv[:, 2, 0], fv[:, 2, 1], fv[:, 2, 2]
    blur = f32(blur_radius)
    r = np.sqrt(blur)
    xmin = np.minimum(x0, np.minimum(x1, x2)) - r
    xmax = np.maximum(x0, np.maximum(x1, x2)) + r
    ymin = np.minimum(y0, np.minimum(y1, y2)) - r
    ymax = np.maximum(y0, np.maximum(y1, y2)) + r
    zmin = np.minimum(z0, np.minimum(z1, z2))
    area = _edge(x0, y0, x1, y1, x2, y2).astype(np.float64)
    drawn = ~((area <= 1e-8) & (area >= -1e-8)) & ~(zmin.astype(np.float64) < 1e-8)
    if cull_backfaces:
        drawn &= ~(area < 0)
    bary_area = (_edge(x2, y2, x0, y0, x1, y1).astype(np.float64) + 1e-8).astype(f32)
    hx, hy = max(W / H, 1.0), max(H / W, 1.0)

    out_face = np.full((num_meshes, H, W, K), -1, np.int64)
    out_z = np.full((num_meshes, H, W, K), -1, f32)
    out_d = np.full((num_meshes, H, W, K), -1, f32)
    cols = np.arange(W)
    xf = (f32(-hx) + (f32(2 * hx) * (W - 1 - cols).astype(f32) + f32(hx)) / f32(W)).astype(f32)
    for n in range(num_meshes):
        mine = drawn & (f2m == n)
        for row in range(H):
            yf = f32(-hy) + (f32(2 * hy) * f32(H - 1 - row) + f32(hy)) / f32(H)
            inside_box = (mine[None] & ~(xf[:, None] > xmax[None]) & ~(xf[:, None] < xmin[None])
                          & ~(yf > ymax)[None] & ~(yf < ymin)[None])
            col, f = np.nonzero(inside_box)
            px = xf[col]
            py = np.full(px.shape, yf, f32)
            a0, b0, c0 = x0[f], y0[f], z0[f]
            a1, b1, c1 = x1[f], y1[f], z1[f]
            a2, b2, c2 = x2[f], y2[f], z2[f]
            area_f = bary_area[f]
            w0 = _edge(px, py, a1, b1, a2, b2) / area_f
            w1 = _edge(px, py, a2, b2, a0, b0) / area_f
            w2 = _edge(px, py, a0, b0, a1, b1) / area_f
            if perspective_correct:
                t0, t1, t2 = w0 * c1 * c2, w1 * c0 * c2, w2 * c0 * c1
                den = np.maximum((t0 + t1) + t2, f32(1e-8))
                w0, w1, w2 = t0 / den, t1 / den, t2 / den
            q0, q1, q2 = w0, w1, w2
            if clip_barycentric_coords:
                q0, q1, q2 = np.maximum(w0, f32(0)), np.maximum(w1, f32(0)), np.maximum(w2, f32(0))
                total = np.maximum((q0 + q1) + q2, f32(1e-5))
                q0, q1, q2 = q0 / total, q1 / total, q2 / total
            z = (q0 * c0 + q1 * c1) + q2 * c2
            d = np.minimum(np.minimum(_segment_dist2(px, py, a0, b0, a1, b1), _segment_dist2(px, py, a0, b0, a2, b2)),
                           _segment_dist2(px, py, a1, b1, a2, b2))
            inside = (w0 > 0) & (w1 > 0) & (w2 > 0)
            keep = ~(z < 0) & ~(~inside & (d >= blur))
            col, f, z, d = col[keep], f[keep], z[keep], np.where(inside, -d, d)[keep]
            order = np.lexsort((f, z, col))  # by pixel, then depth, then face
            col, f, z, d = col[order], f[order], z[order], d[order]
            rank = np.arange(col.size) - np.searchsorted(col, cols)[col]
            k = rank < K
            out_face[n, row, col[k], rank[k]] = f[k]
            out_z[n, row, col[k], rank[k]] = z[k]
            out_d[n, row, col[k], rank[k]] = d[k]
    return out_face, out_z, out_d
