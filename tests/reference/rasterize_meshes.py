"""Naive mesh rasteriser: a Python loop over images, pixels and faces. The oracle for rasterize_meshes.

Decisions (which faces cover a pixel and in which order) are made with Python floats in double precision; the
values at the K kept faces (depth, barycentrics, signed squared distance) are then recomputed with scalar torch
ops on the given vertex tensor, so autograd gives the reference gradients.

Semantics (see inverse3d.renderer.mesh.rasterize_meshes): pixel centres at ``h * (1 - (2 i + 1) / S)`` NDC; a face
covers a pixel when the pixel centre is in the closed visible polygon or its squared NDC distance to the polygon is
below blur_radius; faces with |doubled NDC area| <= 1e-8 are skipped; faces crossing z = z_clip_value are clipped
(Sutherland-Hodgman in view-linear coordinates) and keep barycentrics relative to the whole face. Perspective
correction is PyTorch3D's (denominator clamped at 1e-8), so a pixel within the blur radius of a face counts even
when its ray meets the face's plane behind the camera, as long as its depth from the (clamped) barycentrics is not
negative; ties in depth keep the smaller face index.
"""

from __future__ import annotations

import math

import torch

EPS_AREA = 1e-8


def pixel_centre(i: int, S1: int, S2: int) -> float:
    half = max(S1 / S2, 1.0)
    return half - half * (2 * i + 1) / S1


def _f(x) -> float:
    """A python float from a float or a (possibly grad-requiring) torch scalar."""
    return float(x.detach()) if isinstance(x, torch.Tensor) else float(x)


def _seg_dist2(p, a, b):
    """Squared distance from point p to segment a-b (python floats); a zero-length segment is the point b."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    l2 = dx * dx + dy * dy
    if l2 <= 1e-20:
        t = 1.0
    else:
        t = min(max(((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / l2, 0.0), 1.0)
    qx, qy = a[0] + t * dx - p[0], a[1] + t * dy - p[1]
    return qx * qx + qy * qy


def _seg_dist2_t(p, a, b):
    """The same with torch scalars (differentiable in a, b)."""
    d = b - a
    l2 = (d * d).sum()
    if _f(l2) <= 1e-20:
        t = torch.ones((), dtype=a.dtype)
    else:
        t = (((p - a) * d).sum() / l2).clamp(0.0, 1.0)
    q = a + t * d - p
    return (q * q).sum()


def _clip_polygon(verts, clip, perspective):
    """Visible polygon of a face (list of 3 vertices, each an indexable (x, y, z)) in front of z = clip.

    Works on python floats or torch scalars alike. Returns the list of NDC (x, y) vertices (empty if none).
    """

    def lift(v):
        return (v[0] * v[2], v[1] * v[2], v[2]) if perspective else (v[0], v[1], v[2])

    L = [lift(v) for v in verts]
    out = []
    for i in range(3):
        P, Q = L[i], L[(i + 1) % 3]
        p_in, q_in = _f(P[2]) >= clip, _f(Q[2]) >= clip
        if p_in:
            out.append(P)
        if p_in != q_in:
            t = (clip - P[2]) / (Q[2] - P[2])
            out.append(tuple(P[k] + t * (Q[k] - P[k]) for k in range(3)))
    if perspective:
        return [(X / Z, Y / Z) for X, Y, Z in out]
    return [(X, Y) for X, Y, _ in out]


def _shoelace(poly):
    s = 0.0
    for i in range(len(poly)):
        a, b = poly[i], poly[(i + 1) % len(poly)]
        s = s + a[0] * b[1] - b[0] * a[1]
    return s


def _screen_bary(p, v):
    """Screen-space barycentrics of p in triangle v (3 x (x, y, ...)) by Cramer's rule; w2 = 1 - w0 - w1."""
    (x0, y0), (x1, y1), (x2, y2) = (v[0][0], v[0][1]), (v[1][0], v[1][1]), (v[2][0], v[2][1])
    d = (x0 - x2) * (y1 - y2) - (x1 - x2) * (y0 - y2)
    w0 = ((p[0] - x2) * (y1 - y2) - (x1 - x2) * (p[1] - y2)) / d
    w1 = ((x0 - x2) * (p[1] - y2) - (p[0] - x2) * (y0 - y2)) / d
    return [w0, w1, 1 - w0 - w1]


def _bary(p, v, perspective, homogeneous):
    """Barycentrics (list of 3) of pixel p relative to face v (3 x (x, y, z)); floats or torch scalars."""
    if homogeneous:  # a vertex may be behind the camera: solve sum_i lam_i V_i = (px, py, 1) in view-linear coords
        if isinstance(v[0][0], torch.Tensor):
            M = torch.stack([torch.stack([vi[0] * vi[2], vi[1] * vi[2], vi[2]]) for vi in v], dim=1)
            q = torch.tensor([p[0], p[1], 1.0], dtype=M.dtype)
            lam = torch.linalg.solve(M, q)
            lam = lam / lam.sum()
            return [lam[0], lam[1], lam[2]]
        M = torch.tensor([[vi[0] * vi[2], vi[1] * vi[2], vi[2]] for vi in v], dtype=torch.float64).T
        lam = torch.linalg.solve(M, torch.tensor([p[0], p[1], 1.0], dtype=torch.float64))
        lam = (lam / lam.sum()).tolist()
        return lam
    w = _screen_bary(p, v)
    if perspective:  # PyTorch3D's correction: w_i z_j z_k over their sum, the sum clamped at 1e-8
        z = [v[i][2] for i in range(3)]
        top = [w[0] * z[1] * z[2], w[1] * z[0] * z[2], w[2] * z[0] * z[1]]
        s = top[0] + top[1] + top[2]
        s = s if _f(s) > 1e-8 else 0.0 * s + 1e-8
        return [t / s for t in top]
    return w


def _clip_bary(b):
    c = [bi if _f(bi) > 0 else 0.0 * bi for bi in b]
    s = c[0] + c[1] + c[2]
    s = s if _f(s) > 1e-5 else 1e-5
    return [ci / s for ci in c]


def rasterize_face_verts_naive(
    face_verts: torch.Tensor,
    face_to_mesh,
    num_meshes: int,
    image_size=8,
    blur_radius: float = 0.0,
    faces_per_pixel: int = 1,
    perspective_correct: bool = False,
    clip_barycentric_coords: bool = False,
    cull_backfaces: bool = False,
    z_clip_value=None,
):
    """Returns (pix_to_face, zbuf, bary_coords, dists) like rasterize_meshes, float64, differentiable."""
    H, W = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    K = faces_per_pixel
    N = num_meshes
    fv_list = face_verts.detach().double().tolist()
    f2m = [int(m) for m in face_to_mesh]
    persp = perspective_correct
    clip = z_clip_value

    # Per-face decisions.
    info = {}
    for f, v in enumerate(fv_list):
        z = [vi[2] for vi in v]
        if not all(math.isfinite(c) for vi in v for c in vi):
            continue
        clipped = False
        if clip is not None:
            nb = sum(zi < clip for zi in z)
            if nb == 3:
                continue
            clipped = nb > 0
        elif persp and min(z) < 1e-8:
            continue
        elif not persp and max(z) < 0:
            continue
        area2d = (v[2][0] - v[0][0]) * (v[1][1] - v[0][1]) - (v[2][1] - v[0][1]) * (v[1][0] - v[0][0])
        if clipped:
            poly = _clip_polygon(v, clip, persp)
            area = _shoelace(poly)
            if persp:
                back = float(torch.linalg.det(torch.tensor([[vi[0] * vi[2], vi[1] * vi[2], vi[2]] for vi in v]))) > 0
            else:
                back = area2d < 0
        else:
            poly = [(vi[0], vi[1]) for vi in v]
            area = area2d
            back = area2d < 0
        if abs(area) <= EPS_AREA or (cull_backfaces and back):
            continue
        info[f] = (v, poly, clipped)

    out_face = torch.full((N, H, W, K), -1, dtype=torch.int64)
    zbuf = torch.full((N, H, W, K), -1.0, dtype=torch.float64)
    bary = torch.full((N, H, W, K, 3), -1.0, dtype=torch.float64)
    dists = torch.full((N, H, W, K), -1.0, dtype=torch.float64)
    values = []  # (n, r, c, k, f) to recompute differentiably
    for n in range(N):
        mesh_faces = [f for f in info if f2m[f] == n]
        for r in range(H):
            py = pixel_centre(r, H, W)
            for c in range(W):
                px = pixel_centre(c, W, H)
                p = (px, py)
                hits = []
                for f in mesh_faces:
                    v, poly, clipped = info[f]
                    b = _bary(p, v, persp, homogeneous=persp and clipped)
                    zu = sum(b[i] * v[i][2] for i in range(3))
                    inside = all(bi >= 0 for bi in b) and (not clipped or zu >= clip)
                    if not inside:
                        d2 = min(_seg_dist2(p, poly[i], poly[(i + 1) % len(poly)]) for i in range(len(poly)))
                        if not d2 < blur_radius:
                            continue
                    if persp and clipped and not zu > 0:
                        continue
                    bz = _clip_bary(b) if clip_barycentric_coords else b
                    zz = sum(bz[i] * v[i][2] for i in range(3))
                    if zz < 0:
                        continue
                    hits.append((zz, f))
                hits.sort()
                for k, (_, f) in enumerate(hits[:K]):
                    out_face[n, r, c, k] = f
                    values.append((n, r, c, k, f, p))

    # Differentiable values at the kept faces.
    for n, r, c, k, f, p in values:
        v_t = face_verts[f].double()
        v = [v_t[i] for i in range(3)]
        _, poly_f, clipped = info[f]
        b = _bary(p, v, persp, homogeneous=persp and clipped)
        zu = sum(b[i] * v[i][2] for i in range(3))
        inside = all(_f(bi) > 0 for bi in b) and (not clipped or _f(zu) >= clip)
        bz = _clip_bary(b) if clip_barycentric_coords else b
        zbuf[n, r, c, k] = sum(bz[i] * v[i][2] for i in range(3))
        bary[n, r, c, k] = torch.stack([bi if isinstance(bi, torch.Tensor) else torch.tensor(bi) for bi in bz])
        poly = _clip_polygon(v, clip, persp) if clipped else [(vi[0], vi[1]) for vi in v]
        pt = torch.tensor(p, dtype=torch.float64)
        polyt = [torch.stack([q[0], q[1]]) for q in poly]
        d2 = torch.stack([_seg_dist2_t(pt, polyt[i], polyt[(i + 1) % len(polyt)]) for i in range(len(polyt))]).min()
        dists[n, r, c, k] = -d2 if inside else d2
    return out_face, zbuf, bary, dists


def rasterize_meshes_naive(meshes, **kwargs):
    """rasterize_face_verts_naive on a Meshes object (vertices in NDC x, y and view z)."""
    verts = meshes.verts_packed()
    faces = meshes.faces_packed()
    return rasterize_face_verts_naive(verts[faces], meshes.faces_packed_to_mesh_idx().tolist(), len(meshes), **kwargs)
