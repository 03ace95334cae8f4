"""Exact, differentiable mesh rasterisation in pure PyTorch (PyTorch3D's ``rasterize_meshes``).

The work is split in two passes:

1. A search without autograd finds, for every pixel, the K nearest faces that cover it. Each face becomes a convex
   polygon in NDC (its triangle, or the part in front of the near plane ``z_clip_value``) with edge forms (signed
   distances to its edge lines) and a depth plane. The pixel bounding boxes of the faces are covered by small
   square tiles; chunks of (face, tile) units of bounded size are tested as dense (T, T, units) blocks by
   broadcasting, the covered pairs are compacted, and the nearest K per pixel are kept with an int64-key
   scatter-min (K = 1) or a sort and a merge into dense (pixels, K) buffers (K > 1).
2. A vectorised pass over the selected (pixel, face) pairs recomputes barycentric coordinates, depths and signed
   distances from the differentiable vertex tensor (per-face factors laid out as contiguous rows, gathered per
   pair), so gradients reach vertex positions through all three. It runs in chunks; with gradients and several
   chunks, each is checkpointed so memory stays bounded in the backward pass too.

No Python loop runs over pixels or faces, only over chunks. On the CPU, ``np.flatnonzero`` replaces the slower
``torch.nonzero`` for compaction; elsewhere everything is torch and runs on any device.

Conventions (CONVENTIONS.md, PyTorch3D): NDC +X points left and +Y up, the shorter image side spans [-1, 1], the
centre of pixel column ``i`` of a width-``W`` image sits at ``x = h * (1 - (2 i + 1) / W)`` with
``h = max(W / H, 1)`` (rows likewise, with ``h = max(H / W, 1)``). A pixel is covered by a face when its centre is in
the closed face (so no cracks open along shared edges), or when its squared NDC distance to the face is below
``blur_radius`` (PyTorch3D compares the *squared* distance with ``blur_radius`` and grows bounding boxes by
``sqrt(blur_radius)``; SoftRas's ``blur_radius = log(1 / 1e-4 - 1) * sigma`` relies on that). As in PyTorch3D, the
depth of a pixel outside its face is that of its (perspective-corrected, optionally clamped) barycentrics, the
perspective correction's denominator clamped at 1e-8, and the pair is dropped only when that depth is negative; the
K kept faces are the K smallest (depth, face index) pairs. ``tests/reference/rasterize_pytorch3d.py`` emulates
PyTorch3D's CPU rasteriser to check that the same faces are kept.
"""

from __future__ import annotations

import math
import sys
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.utils.checkpoint

# Faces whose doubled signed area in NDC is at most this (in magnitude) are skipped, as in PyTorch3D.
kEpsilon = 1e-8
# Edges of squared length at most this are treated as points.
_EDGE_EPS = 1e-20
# (pixel, face) candidate pairs evaluated at once; bounds the search's working memory (~200 bytes a pair).
_PAIR_BUDGET = 1 << 20
_NO_KEY = torch.iinfo(torch.int64).max
# PyTorch3D rejects a bin_size that splits the longer image side into this many bins or more (its kMaxFacesPerBin).
_MAX_BINS_PER_SIDE = 22


def _parse_image_size(image_size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    from inverse3d.renderer.utils import check_image_size

    return check_image_size(image_size)


def pixel_centres_ndc(S1: int, S2: int, device: torch.device = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """NDC coordinates of the pixel centres along one image axis, in image order (left to right or top to bottom).

    Args:
        S1: number of pixels along this axis; S2: number along the other axis.

    Returns:
        (S1,) tensor; entry i is ``h * (1 - (2 i + 1) / S1)`` with ``h = max(S1 / S2, 1)``, so index 0 is the
        largest NDC value (+X is left, +Y is up) and the shorter image side spans [-1, 1].
    """
    half = max(S1 / S2, 1.0)
    i = torch.arange(S1, dtype=torch.float64, device=device)
    return (half - half * (2 * i + 1) / S1).to(dtype)


def rasterize_meshes(
    meshes,
    image_size: Union[int, Tuple[int, int]] = 256,
    blur_radius: float = 0.0,
    faces_per_pixel: int = 8,
    bin_size: Optional[int] = None,
    max_faces_per_bin: Optional[int] = None,
    perspective_correct: bool = False,
    clip_barycentric_coords: bool = False,
    cull_backfaces: bool = False,
    z_clip_value: Optional[float] = None,
    cull_to_frustum: bool = False,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rasterises a batch of meshes whose vertices are already in NDC (x, y) with view-space depth (z).

    Args:
        meshes: Meshes with N meshes; vertex x, y in NDC, z the view-space depth (what ``MeshRasterizer.transform``
            returns).
        image_size: int for square images or (H, W).
        blur_radius: pixels whose squared NDC distance to a face is below this also count the face (0: hard edges).
        faces_per_pixel: K, the number of nearest faces kept per pixel.
        bin_size: PyTorch3D's coarse-to-fine bin size. It does not change the result here (the search tiles the
            image its own way), but a positive bin_size that would give 22 or more bins along the longer image side
            is rejected with PyTorch3D's error, so that code that fails there fails here too.
        max_faces_per_bin: accepted for PyTorch3D compatibility and ignored (no face is ever dropped; memory is
            bounded by chunking instead).
        perspective_correct: barycentrics interpolate linearly in view space rather than in screen space (the
            vertices' z must then be view-space depths of a perspective camera).
        clip_barycentric_coords: negative barycentrics (pixels outside a face, within the blur radius) are clamped
            to 0 and renormalised; the depth is computed from the clamped coordinates.
        cull_backfaces: skip faces whose NDC signed area is negative (clockwise in NDC), as PyTorch3D.
        z_clip_value: faces are clipped against the plane z = z_clip_value: the part behind it is removed, so a face
            crossing it rasterises as the visible triangle or quadrilateral; barycentrics stay relative to the
            original face and distances are measured to the visible polygon. Without it, and with
            ``perspective_correct``, faces with a vertex at z < 1e-8 are skipped (they cannot be projected);
            without perspective correction pixels whose depth is negative are skipped.
        cull_to_frustum: accepted for compatibility; faces outside the image never reach a pixel anyway.

    Returns:
        pix_to_face: (N, H, W, K) long, packed face index of the k-th nearest face at each pixel, -1 where none.
        zbuf: (N, H, W, K) view-space depth of that face at the pixel centre, -1 where none.
        bary_coords: (N, H, W, K, 3) barycentric coordinates of the pixel centre in that face, -1 where none.
        dists: (N, H, W, K) signed squared NDC distance from the pixel centre to the face's boundary (negative
            inside), -1 where none.
        Faces are sorted by increasing depth (ties by face index). zbuf, bary_coords and dists are differentiable
        with respect to the vertex positions.
    """
    del max_faces_per_bin, cull_to_frustum
    if bin_size:  # PyTorch3D's limit on the number of bins per image side (kMaxFacesPerBin = 22)
        bins = 1 + (max(_parse_image_size(image_size)) - 1) // int(bin_size)
        if bins >= _MAX_BINS_PER_SIDE:
            raise ValueError(
                "bin_size too small, number of faces per bin must be less than %d; got %d" % (_MAX_BINS_PER_SIDE, bins)
            )
    verts = meshes.verts_packed()  # (V, 3)
    faces = meshes.faces_packed()  # (F, 3)
    face_verts = verts[faces]  # (F, 3, 3)
    face_to_mesh = meshes.faces_packed_to_mesh_idx()  # (F,)
    return rasterize_face_verts(
        face_verts,
        face_to_mesh,
        len(meshes),
        image_size=image_size,
        blur_radius=blur_radius,
        faces_per_pixel=faces_per_pixel,
        perspective_correct=perspective_correct,
        clip_barycentric_coords=clip_barycentric_coords,
        cull_backfaces=cull_backfaces,
        z_clip_value=z_clip_value,
    )


def rasterize_face_verts(
    face_verts: torch.Tensor,
    face_to_mesh: torch.Tensor,
    num_meshes: int,
    image_size: Union[int, Tuple[int, int]] = 256,
    blur_radius: float = 0.0,
    faces_per_pixel: int = 8,
    perspective_correct: bool = False,
    clip_barycentric_coords: bool = False,
    cull_backfaces: bool = False,
    z_clip_value: Optional[float] = None,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`rasterize_meshes` on packed faces.

    Args:
        face_verts: (F, 3, 3) float, the three vertices (NDC x, NDC y, view z) of every packed face.
        face_to_mesh: (F,) long, the mesh (image) each face belongs to, in [0, num_meshes).
        num_meshes: N, the number of images.
        Other arguments as in :func:`rasterize_meshes`.

    Returns:
        (pix_to_face, zbuf, bary_coords, dists) as in :func:`rasterize_meshes`.
    """
    H, W = _parse_image_size(image_size)
    K = int(faces_per_pixel)
    if K < 1:
        raise ValueError(f"faces_per_pixel must be at least 1, got {faces_per_pixel}")
    blur_radius = float(blur_radius)
    if not blur_radius >= 0.0:
        raise ValueError(f"blur_radius must be >= 0, got {blur_radius}")
    if face_verts.dim() != 3 or face_verts.shape[1:] != (3, 3):
        raise ValueError(f"face_verts must have shape (F, 3, 3), got {tuple(face_verts.shape)}")
    if not face_verts.is_floating_point():
        raise ValueError(f"vertex positions must be floating point, got {face_verts.dtype}")
    if torch.isnan(face_verts).any():
        raise ValueError("vertex positions contain NaN (after projection: check the vertices and the cameras)")
    device, dtype = face_verts.device, face_verts.dtype
    N = int(num_meshes)
    P = N * H * W
    clip = None if z_clip_value is None else float(z_clip_value)

    xs = pixel_centres_ndc(W, H, device, dtype)  # (W,) NDC x of each column
    ys = pixel_centres_ndc(H, W, device, dtype)  # (H,) NDC y of each row

    with torch.no_grad():
        geom = _FaceGeometry(face_verts.detach(), perspective_correct, clip, cull_backfaces)
        sel_pix, sel_k, sel_face = _search(
            geom, face_to_mesh, N, H, W, xs, ys, K, blur_radius, clip_barycentric_coords
        )

    flat = sel_pix * K + sel_k
    pix_to_face = torch.full((P * K,), -1, dtype=torch.int64, device=device).index_copy_(0, flat, sel_face)

    # Differentiable pass over the selected (pixel, face) pairs, in chunks of bounded size. When gradients are
    # needed and there are several chunks, each chunk is checkpointed: its intermediates are recomputed in the
    # backward pass instead of being kept.
    zbuf = torch.full((P * K,), -1.0, dtype=dtype, device=device)
    dists = torch.full((P * K,), -1.0, dtype=dtype, device=device)
    bary_coords = torch.full((P * K, 3), -1.0, dtype=dtype, device=device)
    M = flat.numel()
    checkpointed = M > _PAIR_BUDGET and torch.is_grad_enabled() and face_verts.requires_grad

    def values(pix: torch.Tensor, face: torch.Tensor):
        row = torch.div(pix, W, rounding_mode="floor")
        px = _take(xs, pix - row * W)
        py = _take(ys, row % H if N > 1 else row)
        return _pair_values(face_verts, geom, face, px, py, perspective_correct, clip_barycentric_coords)

    for s in range(0, max(M, 1), _PAIR_BUDGET):  # at least once, so that outputs join the graph
        chunk = (sel_pix[s : s + _PAIR_BUDGET], sel_face[s : s + _PAIR_BUDGET])
        if checkpointed:
            bary, z, dist = torch.utils.checkpoint.checkpoint(values, *chunk, use_reentrant=False)
        else:
            bary, z, dist = values(*chunk)
        where = flat[s : s + _PAIR_BUDGET]
        zbuf.index_copy_(0, where, z)
        dists.index_copy_(0, where, dist)
        bary_coords.index_copy_(0, where, bary)
    if K > 1 and M > 0:
        pix_to_face, zbuf, bary_coords, dists = _order_by_depth(pix_to_face, zbuf, bary_coords, dists, K)
    return (
        pix_to_face.view(N, H, W, K),
        zbuf.view(N, H, W, K),
        bary_coords.view(N, H, W, K, 3),
        dists.view(N, H, W, K),
    )


def _order_by_depth(pix_to_face: torch.Tensor, zbuf: torch.Tensor, bary: torch.Tensor, dists: torch.Tensor, K: int):
    """Orders each pixel's faces by (depth, face index) with the depths of the differentiable pass.

    The search ranks faces by its own evaluation of the depth, which can differ from the final value in the last
    bit; where that changes the order of two faces (typically an exact tie on an edge the faces share, which
    PyTorch3D breaks by the smaller face index), the pixel's entries are reordered. Only those pixels are touched.

    Args:
        pix_to_face (P * K,), zbuf (P * K,), bary (P * K, 3), dists (P * K,), empty slots last.
    Returns:
        the same tensors, reordered within pixels (differentiably).
    """
    p2f = pix_to_face.view(-1, K)
    z = torch.where(p2f >= 0, zbuf.detach().view(-1, K), torch.full_like(zbuf.detach().view(-1, K), math.inf))
    later, earlier = z[:, 1:], z[:, :-1]
    wrong = (later < earlier) | ((later == earlier) & (p2f[:, 1:] >= 0) & (p2f[:, 1:] < p2f[:, :-1]))
    rows = _nonzero(wrong.any(dim=1))
    if rows.numel() == 0:
        return pix_to_face, zbuf, bary, dists
    faces = _take(p2f, rows)
    order = torch.sort(torch.where(faces >= 0, faces, torch.full_like(faces, 2**62)), dim=1, stable=True).indices
    order = torch.gather(order, 1, torch.sort(torch.gather(_take(z, rows), 1, order), dim=1, stable=True).indices)
    flat = (rows[:, None] * K + order).reshape(-1)  # (R * K,) source slots, in the new order
    dest = (rows[:, None] * K + torch.arange(K, device=rows.device)).reshape(-1)
    pix_to_face = pix_to_face.index_copy(0, dest, _take(pix_to_face, flat))
    zbuf = zbuf.index_copy(0, dest, _take(zbuf, flat))
    dists = dists.index_copy(0, dest, _take(dists, flat))
    bary = bary.index_copy(0, dest, _take(bary, flat))
    return pix_to_face, zbuf, bary, dists


# --------------------------------------------------------------------------------------------------------------
# Face geometry: which faces are drawn, their visible polygon, depth plane.
# --------------------------------------------------------------------------------------------------------------


def _clip_polygons(fv: torch.Tensor, clip: float, perspective: bool) -> torch.Tensor:
    """The part of each face in front of the plane z = clip, as a polygon in NDC.

    Args:
        fv: (Fc, 3, 3) faces (NDC x, NDC y, view z) with one or two vertices at z < clip.
        clip: the clipping plane's depth.
        perspective: vertices were projected by a perspective camera, so (x z, y z, z) is linear in view space;
            otherwise (x, y, z) is.

    Returns:
        (Fc, 4, 2) NDC vertices in the face's winding order; a triangle repeats its last vertex.
    """
    z = fv[..., 2]
    behind = z < clip  # (Fc, 3)
    nb = behind.sum(1)
    one_behind = nb == 1
    odd = torch.where(one_behind, behind.long().argmax(1), (~behind).long().argmax(1))  # the lone vertex
    shift = torch.where(one_behind, odd - 2, odd)  # moves it to slot 2 (one behind) or slot 0 (two behind)
    order = (torch.arange(3, device=fv.device)[None] + shift[:, None]) % 3  # (Fc, 3)
    v = torch.gather(fv, 1, order[..., None].expand(-1, -1, 3))  # (Fc, 3, 3) rolled: a, b, c
    xy, vz = v[..., :2], v[..., 2:]
    lifted = xy * vz if perspective else xy  # (Fc, 3, 2) linear in view space, with vz

    def cut(i: int, j: int) -> torch.Tensor:  # where edge i -> j meets z = clip, in NDC
        den = vz[:, j] - vz[:, i]
        den = torch.where(den == 0, torch.ones_like(den), den)
        t = (clip - vz[:, i]) / den
        p = lifted[:, i] + t * (lifted[:, j] - lifted[:, i])
        return p / clip if perspective else p

    i_ab, i_bc, i_ca = cut(0, 1), cut(1, 2), cut(2, 0)
    sel = one_behind[:, None]
    p1 = torch.where(sel, xy[:, 1], i_ab)
    p2 = torch.where(sel, i_bc, i_ca)
    return torch.stack([xy[:, 0], p1, p2, i_ca], dim=1)


def _double_area(poly: torch.Tensor) -> torch.Tensor:
    """Signed doubled area of polygons (..., P, 2) by the shoelace formula (counter-clockwise in x-y positive)."""
    x, y = poly[..., 0], poly[..., 1]
    xn, yn = x.roll(-1, dims=-1), y.roll(-1, dims=-1)
    return (x * yn - xn * y).sum(-1)


def _edge_function(p: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """PyTorch3D's edge function (p - a) x (b - a) on (..., 2) tensors."""
    return (p[..., 0] - a[..., 0]) * (b[..., 1] - a[..., 1]) - (p[..., 1] - a[..., 1]) * (b[..., 0] - a[..., 0])


class _FaceGeometry:
    """Per-face data of the search, computed without autograd from the detached (F, 3, 3) face vertices.

    Attributes:
        active: (F,) bool, faces that may cover pixels.
        clipped_idx: (Fc,) long, faces crossing the near plane (drawn as their visible polygon).
        poly: (F, Pv, 2) NDC polygon of each face (Pv = 3, or 4 when some face is clipped; triangles repeat a vertex).
        edge_forms: (F, Pv, 3) coefficients (a, b, c) of a*x + b*y + c, the signed distance to each polygon edge's
            line (positive inside).
        depth_form: (F, 3) coefficients of the depth plane: 1 / z for perspective, z otherwise.
        back: (F,) bool, faces turned away from the camera (what ``cull_backfaces`` drops).
    """

    def __init__(self, fv: torch.Tensor, perspective: bool, clip: Optional[float], cull_backfaces: bool) -> None:
        F = fv.shape[0]
        self.perspective = perspective
        self.clip = clip
        finite = torch.isfinite(fv).flatten(1).all(1)
        fv = torch.where(finite[:, None, None], fv, torch.ones_like(fv))  # keep the arithmetic below finite
        self.fv = fv
        xy, z = fv[..., :2], fv[..., 2]
        area = _edge_function(xy[:, 2], xy[:, 0], xy[:, 1])  # (F,) PyTorch3D's doubled signed area

        if clip is not None:
            behind = z < clip
            nb = behind.sum(1)
            culled = nb == 3
            is_clipped = (nb > 0) & (nb < 3) & finite
        else:
            culled = (z < 1e-8).any(1) if perspective else (z < 0).all(1)
            is_clipped = torch.zeros(F, dtype=torch.bool, device=fv.device)
        self.clipped_idx = is_clipped.nonzero().squeeze(1)
        self.is_clipped = is_clipped
        Pv = 4 if self.clipped_idx.numel() > 0 else 3

        poly = xy if Pv == 3 else torch.cat([xy, xy[:, 2:3]], dim=1)  # (F, Pv, 2)
        back = area < 0
        poly_area = -area  # shoelace sign convention: -(PyTorch3D's area)
        if self.clipped_idx.numel() > 0:
            fc = fv[self.clipped_idx]
            cpoly = _clip_polygons(fc, clip, perspective)
            poly = poly.index_put((self.clipped_idx,), cpoly)
            poly_area = poly_area.index_put((self.clipped_idx,), _double_area(cpoly))
            if perspective:  # the face's orientation towards the camera, from its view-space vertices
                V = torch.cat([fc[..., :2] * fc[..., 2:], fc[..., 2:]], dim=-1)
                det = torch.linalg.det(V)
                back = back.index_put((self.clipped_idx,), det > 0)
        degenerate = poly_area.abs() <= kEpsilon
        active = finite & ~culled & ~degenerate
        if cull_backfaces:
            active &= ~back
        self.active = active
        self.back = back  # (F,) bool, faces turned away from the camera
        self.poly = poly

        # Edge functions of the polygon: e(p) = (p, 1) . ((P_i, 1) x (P_i+1, 1)), sign-normalised to be >= 0 inside.
        a, b = poly, poly.roll(-1, dims=1)
        ex = a[..., 1] - b[..., 1]
        ey = b[..., 0] - a[..., 0]
        ec = a[..., 0] * b[..., 1] - b[..., 0] * a[..., 1]
        # Divided by the edge length, a form is the signed distance to the edge's line (a zero-length edge gives 0);
        # two faces sharing an edge get exactly opposite values, so no pixel falls through the crack between them.
        length = torch.sqrt(ex * ex + ey * ey)
        scale = torch.where(poly_area < 0, -1.0, 1.0).to(fv.dtype)[:, None] / torch.where(length > 0, length, 1.0)
        self.edge_forms = torch.stack([ex, ey, ec], dim=-1) * scale[..., None]  # (F, Pv, 3)

        # Depth plane through the polygon's first three vertices: u = 1 / z (perspective) or z.
        zpoly = z
        if self.clipped_idx.numel() > 0:
            zc = _clip_depths(fv[self.clipped_idx], clip)
            zpoly = z.index_put((self.clipped_idx,), zc)
        u = 1.0 / zpoly if perspective else zpoly
        u = torch.where(torch.isfinite(u), u, torch.zeros_like(u))
        p0, p1, p2 = poly[:, 0], poly[:, 1], poly[:, 2]
        d1, d2 = p1 - p0, p2 - p0
        det = d1[:, 0] * d2[:, 1] - d2[:, 0] * d1[:, 1]
        det = torch.where(det == 0, torch.ones_like(det), det)
        du1, du2 = u[:, 1] - u[:, 0], u[:, 2] - u[:, 0]
        gx = (du1 * d2[:, 1] - du2 * d1[:, 1]) / det
        gy = (du2 * d1[:, 0] - du1 * d2[:, 0]) / det
        gc = u[:, 0] - gx * p0[:, 0] - gy * p0[:, 1]
        self.depth_form = torch.stack([gx, gy, gc], dim=-1)  # (F, 3)


def _clip_depths(fv: torch.Tensor, clip: float) -> torch.Tensor:
    """View depths (Fc, 3) of the first three vertices of :func:`_clip_polygons`' polygons."""
    z = fv[..., 2]
    behind = z < clip
    one_behind = behind.sum(1) == 1
    odd = torch.where(one_behind, behind.long().argmax(1), (~behind).long().argmax(1))
    shift = torch.where(one_behind, odd - 2, odd)
    order = (torch.arange(3, device=fv.device)[None] + shift[:, None]) % 3
    zr = torch.gather(z, 1, order)  # rolled: a, b, c
    c = torch.full_like(zr[:, 0], clip)
    return torch.stack([zr[:, 0], torch.where(one_behind, zr[:, 1], c), c], dim=1)


# --------------------------------------------------------------------------------------------------------------
# Search: which faces cover which pixels (no autograd).
# --------------------------------------------------------------------------------------------------------------


def _pixel_ranges(lo: torch.Tensor, hi: torch.Tensor, half: float, S: int, margin: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """Index range [first, last] of the pixels (along an axis of S pixels) whose centres may lie in [lo, hi] NDC.

    Pixel i's centre is at half - step * (i + 0.5) with step = 2 * half / S; a thousandth of a pixel of slack
    absorbs rounding (the exact test comes later).
    """
    step = 2.0 * half / S
    first = torch.ceil((half - hi.double() - margin) / step - 0.5 - 1e-3)
    last = torch.floor((half - lo.double() + margin) / step - 0.5 + 1e-3)
    return first.clamp(0, S).long(), last.clamp(-1, S - 1).long()


def _segment_table(poly: torch.Tensor) -> torch.Tensor:
    """Edges (P_i, P_i+1) of polygons (..., P, 2) as (..., P, 5): start x, y, direction x, y, 1 / squared length.

    A zero-length edge becomes the point P_i+1 (direction 0, as PyTorch3D measures to its second end point).
    """
    a, b = poly, poly.roll(-1, dims=-2)
    d = b - a
    l2 = (d * d).sum(-1)
    ok = l2 > _EDGE_EPS
    a = torch.where(ok[..., None], a, b)
    d = torch.where(ok[..., None], d, torch.zeros_like(d))
    inv = torch.where(ok, 1.0 / torch.where(ok, l2, torch.ones_like(l2)), torch.zeros_like(l2))
    return torch.cat([a, d, inv[..., None]], dim=-1)


def _segments_dist2(px: torch.Tensor, py: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
    """Squared distance (M,) from points (px, py) to the nearest of the segments seg (M, P, 5)."""
    p = torch.stack([px, py], dim=-1)[:, None, :]  # (M, 1, 2)
    w = p - seg[..., 0:2]  # (M, P, 2)
    d = seg[..., 2:4]
    t = ((w * d).sum(-1) * seg[..., 4]).clamp(0.0, 1.0)
    r = w - t[..., None] * d
    return (r * r).sum(-1).min(dim=1).values


def _dist2_to_polygon(px: torch.Tensor, py: torch.Tensor, poly: torch.Tensor) -> torch.Tensor:
    """Squared distance (M,) from points (px, py) to the boundary of polygons poly (M, P, 2)."""
    return _segments_dist2(px, py, _segment_table(poly))


def _tile_size(width: torch.Tensor, height: torch.Tensor) -> int:
    """Side T of the square pixel tiles that cover the face bounding boxes (width, height: (Fa,) in pixels).

    Picks the T that minimises a cost model of the search: per-tile overhead plus per-pixel tests.
    """
    best, best_cost = 2, math.inf
    for t in (2, 4, 8, 16, 32):
        log_t = t.bit_length() - 1  # shifts: integer division is slow on the CPU
        n = int((((width + t - 1) >> log_t) * ((height + t - 1) >> log_t)).sum())
        cost = n * (12 + t * t)
        if cost < best_cost:
            best, best_cost = t, cost
    return best


def _take(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """x[idx] along dim 0 (index_select is several times faster than advanced indexing on the CPU)."""
    return x.index_select(0, idx)


def _nonzero(mask: torch.Tensor) -> torch.Tensor:
    """Indices (M,) long of the True entries of a 1-D bool tensor.

    On the CPU, NumPy's flatnonzero is several times faster than torch.nonzero; elsewhere torch's is used.
    """
    if mask.device.type == "cpu":
        return torch.from_numpy(np.flatnonzero(mask.numpy()))
    return mask.nonzero().squeeze(1)


def _band_values(geom: "_FaceGeometry", tri_tab: torch.Tensor, fidx: torch.Tensor, lf: torch.Tensor,
                 px: torch.Tensor, py: torch.Tensor, clip_bary: bool):
    """Squared distance to the visible polygon, and depth (None when neither clip_bary nor perspective: then the
    depth plane's value is the depth), of pixel centres (px, py) (M,) outside their faces fidx[lf] (lf: (M,)
    columns of tri_tab).

    The depth is PyTorch3D's: the (perspective-corrected, optionally clamped) barycentrics times the vertex depths,
    with the perspective correction's denominator clamped at 1e-8. So a pair whose pixel ray meets the face's
    plane behind the camera still counts when it is within the blur radius (with clamped barycentrics its depth
    is that of the nearest part of the face).
    """
    rows = _Rows(tri_tab, lf)
    d2 = _segments_dist2_soa(rows, px, py)
    with_z = clip_bary or geom.perspective
    z = _bary_from_screen(rows, _screen_bary(rows, px, py), geom.perspective, clip_bary)[1] if with_z else None
    if geom.clipped_idx.numel() > 0:  # faces cut by the near plane: their polygon, homogeneous barycentrics
        face = _take(fidx, lf)
        c = _nonzero(_take(geom.is_clipped, face))
        if c.numel() > 0:
            fc, pxc, pyc = _take(face, c), _take(px, c), _take(py, c)
            d2 = d2.index_copy(0, c, _dist2_to_polygon(pxc, pyc, _take(geom.poly, fc)))
            if with_z:
                fvc = _take(geom.fv, fc)
                _, zc, raw = _bary_depth(fvc, geom, fc, pxc, pyc, clip_bary=clip_bary)
                if geom.perspective:  # the ray must meet the clipped face's plane in front of the camera
                    zc = torch.where((raw * fvc[..., 2]).sum(-1) > 0, zc, torch.full_like(zc, -1.0))
                z = z.index_copy(0, c, zc)
    return d2, z


def _occlusion_bounds(geom: "_FaceGeometry", hx: float, hy: float) -> torch.Tensor:
    """A lower bound (F,) of the depth the search computes for each face at any pixel of the image it covers.

    The depth form is affine, so over the polygon it peaks at a vertex; the bound adds a margin (far above the
    float32 rounding of the search's evaluation) and is -inf for faces it does not vouch for (clipped faces,
    faces with no positive depth).
    """
    g = geom.depth_form.double()  # (F, 3)
    poly = geom.poly.double()  # (F, Pv, 2)
    at_verts = g[:, None, 0] * poly[..., 0] + g[:, None, 1] * poly[..., 1] + g[:, None, 2]  # (F, Pv)
    margin = 1e-5 * (g[:, 0].abs() * hx + g[:, 1].abs() * hy + g[:, 2].abs())
    u = at_verts.amax(1) + margin if geom.perspective else at_verts.amin(1) - margin
    ok = ~geom.is_clipped & torch.isfinite(u)
    if geom.perspective:  # the search's depth is 1 / u
        ok &= u > 0
        z = (1.0 - 1e-6) / torch.where(ok, u, torch.ones_like(u))
    else:
        z = u
    return torch.where(ok, z, torch.full_like(z, -math.inf)).to(geom.fv.dtype)


def _window_max_depth(zbest: torch.Tensor, N: int, H: int, W: int, T: int) -> torch.Tensor:
    """(N, H, W): the largest nearest depth so far over the T x T pixels at and below-right of each pixel.

    Args:
        zbest: (N * H * W,) int64 keys of the K = 1 search (float32 depth bits << 32 | face); pixels with no face
            yet count as +inf (or NaN, which torch.maximum propagates and no comparison passes), pixels beyond
            the image as -inf (no face reaches them).
    """
    if sys.byteorder == "little":  # the high words, read in place; a pixel with no face reads NaN, which
        depth = zbest.view(torch.int32)[1::2].view(torch.float32).view(N, H, W)  # torch.maximum propagates
    else:  # and no bound exceeds: as +inf
        depth = (zbest >> 32).to(torch.int32).view(torch.float32)
        depth = torch.where(zbest == _NO_KEY, torch.full_like(depth, math.inf), depth).view(N, H, W)
    depth = torch.nn.functional.pad(depth, (0, T - 1, 0, T - 1), value=-math.inf)
    shift = 1
    while shift < T:  # windows of 2 shift pixels from two of shift pixels
        depth = torch.maximum(depth[:, :, :-shift], depth[:, :, shift:])
        depth = torch.maximum(depth[:, :-shift], depth[:, shift:])
        shift *= 2
    return depth


def _search(
    geom: _FaceGeometry,
    face_to_mesh: torch.Tensor,
    N: int,
    H: int,
    W: int,
    xs: torch.Tensor,
    ys: torch.Tensor,
    K: int,
    blur_radius: float,
    clip_barycentric_coords: bool,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The K nearest covering faces of every pixel.

    Each face's pixel bounding box is covered by T x T tiles. A chunk of U (face, tile) units is tested at once as
    a dense (T, T, U) block (unit index innermost, so that the broadcasts vectorise): per-unit edge forms against
    per-tile pixel coordinates.

    Returns:
        (pix, k, face): (M,) long each; flat pixel index n*H*W + row*W + col, slot k < K, packed face index.
    """
    device = xs.device
    dtype = xs.dtype
    P = N * H * W
    radius = math.sqrt(blur_radius)
    hx, hy = max(W / H, 1.0), max(H / W, 1.0)
    empty = torch.zeros(0, dtype=torch.int64, device=device)

    fidx = _nonzero(geom.active).to(device)  # (Fa,) faces that may draw
    poly = _take(geom.poly, fidx)  # (Fa, Pv, 2)
    c0, c1 = _pixel_ranges(poly[..., 0].amin(1), poly[..., 0].amax(1), hx, W, radius)
    r0, r1 = _pixel_ranges(poly[..., 1].amin(1), poly[..., 1].amax(1), hy, H, radius)
    width = c1 - c0 + 1
    height = r1 - r0 + 1
    keep = _nonzero((width > 0) & (height > 0)).to(device)
    if keep.numel() == 0:
        return empty, empty, empty
    fidx, c0, r0, width, height = (_take(x, keep) for x in (fidx, c0, r0, width, height))

    # K = 1 without blur: faces turned away from the camera come last, and their tiles are skipped where the
    # nearest depths found so far are all below the face's smallest possible depth (see _occlusion_bounds).
    cull = K == 1 and blur_radius == 0 and dtype == torch.float32 and geom.fv.shape[0] < 2**31 and P < 2**32
    if cull:
        back = _take(geom.back, fidx)
        order = torch.cat([_nonzero(~back), _nonzero(back)])
        n_front = int((~back).sum())
        fidx, c0, r0, width, height = (_take(x, order) for x in (fidx, c0, r0, width, height))
    T = _tile_size(width, height)
    log_t = T.bit_length() - 1
    tiles_x = (width + T - 1) >> log_t
    tiles = tiles_x * ((height + T - 1) >> log_t)  # (Fa,)
    toff = torch.cumsum(tiles, 0) - tiles
    n_units = int(tiles.sum())
    Pv = geom.poly.shape[1]
    tri_tab = _triangle_table(_take(geom.fv, fidx), geom.perspective) if blur_radius > 0 else None  # (C, Fa)
    table = torch.cat([geom.edge_forms, geom.depth_form[:, None]], dim=1).flatten(1)  # (F, 3 (Pv + 1))
    table = _take(table, fidx)
    base = _take(face_to_mesh, fidx).long() * (H * W)
    # Pixel centres padded with NaN so that tile pixels beyond the image fail every test.
    nan = torch.full((T,), math.nan, dtype=dtype, device=device)
    xs_pad, ys_pad = torch.cat([xs, nan]), torch.cat([ys, nan])
    ar = torch.arange(T, device=device)
    tile_offsets = (ar[:, None] * W + ar[None, :]).reshape(-1)  # (T * T,) flat pixel offset of tile pixel (i, j)

    keyed = dtype == torch.float32 and geom.fv.shape[0] < 2**31 and P < 2**32
    zbest = fbest = None
    topk = _TopK(P, K, dtype, device) if K > 1 else None
    step = max(1, _PAIR_BUDGET // (T * T))
    if cull:
        n_front_units = int(tiles[:n_front].sum())
        zlow = _take(_occlusion_bounds(geom, hx, hy), fidx)  # (Fa,)
        chunks = [(s, min(s + step, n_front_units)) for s in range(0, n_front_units, step)]
        chunks += [(s, min(s + step, n_units)) for s in range(n_front_units, n_units, step)]
    else:
        chunks = [(s, min(s + step, n_units)) for s in range(0, n_units, step)]
    for s, e in chunks:
        U = e - s
        lo = int(torch.searchsorted(toff, torch.tensor([s], device=device), right=True)) - 1
        hi = int(torch.searchsorted(toff, torch.tensor([e], device=device), right=False))
        seg_start = toff[lo:hi].clamp(min=s)
        seg_end = (toff[lo:hi] + tiles[lo:hi]).clamp(max=e)
        uf = torch.repeat_interleave(torch.arange(lo, hi, device=device), seg_end - seg_start)  # (U,) face of unit
        t = torch.arange(s, e, device=device) - _take(toff, uf)
        tx = _take(tiles_x, uf)
        ty = torch.div(t, tx, rounding_mode="floor")
        row0 = _take(r0, uf) + ty * T  # (U,) first row and column of the tile
        col0 = _take(c0, uf) + (t - ty * tx) * T
        ubase = _take(base, uf) + row0 * W + col0  # (U,) flat index of the tile's first pixel
        if cull and s >= n_front_units and zbest is not None:
            zmax = _take(_window_max_depth(zbest, N, H, W, T).view(-1), ubase)  # (U,) farthest nearest depth
            visible = _nonzero(~(_take(zlow, uf) > zmax))
            uf, row0, col0, ubase = (_take(x, visible) for x in (uf, row0, col0, ubase))
            U = uf.numel()
            if U == 0:
                continue
        px = _take(xs_pad, (ar[:, None] + col0[None, :]).view(-1)).view(T, U)  # (T, U) pixel centres
        py = _take(ys_pad, (ar[:, None] + row0[None, :]).view(-1)).view(T, U)
        tab = _take(table, uf).t().contiguous()  # (3 (Pv + 1), U)

        def plane(k: int) -> torch.Tensor:  # form k at tile pixel (i, j) of unit u: (T, T, U)
            return (tab[3 * k + 1] * py + tab[3 * k + 2])[:, None, :] + (tab[3 * k] * px)[None, :, :]

        # Signed distance of every tile pixel to every edge line; the smallest decides.
        dmin = plane(0)
        for k in range(1, Pv):
            dmin = torch.minimum(dmin, plane(k))
        dmin = dmin.view(-1)
        if blur_radius > 0:
            idx = _nonzero(dmin > -radius)  # inside, or near enough to need the exact distance
            inside = _take(dmin, idx) >= 0
        else:
            idx = _nonzero(dmin >= 0)
            inside = None
        depth = _take(plane(Pv).view(-1), idx)
        ij = torch.div(idx, U, rounding_mode="floor")
        u = idx - ij * U
        pix = _take(ubase, u) + _take(tile_offsets, ij)
        lf = _take(uf, u)
        if geom.perspective:
            ok = depth > 1e-30
            z = torch.reciprocal(depth)  # pairs with depth <= 0 are dropped below
        else:
            ok = depth >= 0
            z = depth
        if inside is not None:
            # Pairs outside their face: keep those within the blur radius whose depth, computed from barycentrics
            # as PyTorch3D does (see _band_values), is not negative.
            out = _nonzero(~inside)
            u_o, ij_o = _take(u, out), _take(ij, out)
            po = (_take(xs, _take(col0, u_o) + (ij_o & (T - 1))), _take(ys, _take(row0, u_o) + (ij_o >> log_t)))
            d2, zo = _band_values(geom, tri_tab, fidx, _take(lf, out), *po, clip_barycentric_coords)
            good = d2 < blur_radius
            if zo is not None:
                z = z.index_copy(0, out, zo)
                good &= zo >= 0
            else:
                good &= _take(ok, out)
            ok = ok.index_copy(0, out, good)
        ki = _nonzero(ok)
        pix, z, face = _take(pix, ki), _take(z, ki), _take(fidx, _take(lf, ki))

        if K == 1 and keyed:
            # One int64 key per pair orders by depth, then face: (bits of the float32 depth >= 0) << 32 | face.
            if zbest is None:
                zbest = torch.full((P,), _NO_KEY, dtype=torch.int64, device=device)
            key = ((z + 0.0).view(torch.int32).long() << 32) | face
            zbest.scatter_reduce_(0, pix, key, reduce="amin")
        elif K == 1:
            if zbest is None:
                zbest = torch.full((P,), math.inf, dtype=dtype, device=device)
                fbest = torch.full((P,), -1, dtype=torch.int64, device=device)
            zold = _take(zbest, pix)
            zbest.scatter_reduce_(0, pix, z, reduce="amin")
            won = _nonzero((z < zold) & (z == _take(zbest, pix)))  # better than earlier chunks (smaller faces)
            fbest.scatter_reduce_(0, _take(pix, won), _take(face, won), reduce="amin", include_self=False)
        else:
            topk.add(pix, z, face)

    if K == 1 and keyed:
        if zbest is None:
            return empty, empty, empty
        sel = _nonzero(zbest != _NO_KEY)
        return sel, torch.zeros_like(sel), _take(zbest, sel) & 0xFFFFFFFF
    if K == 1:
        if fbest is None:
            return empty, empty, empty
        sel = _nonzero(fbest >= 0)
        return sel, torch.zeros_like(sel), _take(fbest, sel)
    return topk.result()


class _TopK:
    """The K nearest faces of every pixel so far, as dense (P, K) buffers sorted by depth, merged chunk by chunk.

    Chunks must come in increasing face order: at equal depth the earlier (smaller) face stays first.
    """

    def __init__(self, P: int, K: int, dtype: torch.dtype, device: torch.device) -> None:
        self.K = K
        self.z = None  # (P, K) depth, inf where empty; allocated on the first chunk
        self.face = None  # (P, K) long, -1 where empty
        self.P, self.dtype, self.device = P, dtype, device

    def add(self, pix: torch.Tensor, z: torch.Tensor, face: torch.Tensor) -> None:
        K = self.K
        pix, z, face, rank = _select_k(pix, z, face, K)  # at most K per pixel, sorted by (pix, z, face)
        if pix.numel() == 0:
            return
        if self.z is None:
            self.z = torch.full((self.P, K), math.inf, dtype=self.dtype, device=self.device)
            self.face = torch.full((self.P, K), -1, dtype=torch.int64, device=self.device)
        touched, inverse = torch.unique_consecutive(pix, return_inverse=True)
        fresh = _take(self.face[:, 0], touched) < 0  # no earlier chunk reached these pixels: just write
        flat = pix * K + rank
        keep = _nonzero(_take(fresh, inverse))
        self.z.view(-1).index_copy_(0, _take(flat, keep), _take(z, keep))
        self.face.view(-1).index_copy_(0, _take(flat, keep), _take(face, keep))
        old = _nonzero(~fresh)
        if old.numel() == 0:
            return
        # Merge with the earlier entries: (Pm, 2K) candidates, earlier ones first, stable sort by depth.
        mine = _nonzero(~_take(fresh, inverse))
        pm = _take(touched, old)
        slot = torch.full((touched.numel(),), -1, dtype=torch.int64, device=self.device)
        slot.index_copy_(0, old, torch.arange(old.numel(), device=self.device))
        row = _take(slot, _take(inverse, mine))
        new_z = torch.full((old.numel(), K), math.inf, dtype=self.dtype, device=self.device)
        new_f = torch.full((old.numel(), K), -1, dtype=torch.int64, device=self.device)
        cell = row * K + _take(rank, mine)
        new_z.view(-1).index_copy_(0, cell, _take(z, mine))
        new_f.view(-1).index_copy_(0, cell, _take(face, mine))
        cz = torch.cat([_take(self.z, pm), new_z], dim=1)
        cf = torch.cat([_take(self.face, pm), new_f], dim=1)
        order = torch.sort(cz, dim=1, stable=True).indices[:, :K]
        self.z.index_copy_(0, pm, torch.gather(cz, 1, order))
        self.face.index_copy_(0, pm, torch.gather(cf, 1, order))

    def result(self) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(pix, k, face) of the filled slots."""
        if self.face is None:
            empty = torch.zeros(0, dtype=torch.int64, device=self.device)
            return empty, empty, empty
        sel = _nonzero(self.face.view(-1) >= 0)
        pix = torch.div(sel, self.K, rounding_mode="floor")
        return pix, sel - pix * self.K, _take(self.face.view(-1), sel)


def _select_k(pix: torch.Tensor, z: torch.Tensor, face: torch.Tensor, K: int):
    """Keeps the K nearest entries per pixel; ties in depth keep the smaller face (as PyTorch3D's sort of
    (depth, face) pairs does; faces sharing a vertex often tie exactly when clamped barycentrics put the pixel at
    that vertex).

    Returns:
        (pix, z, face, rank) of the kept entries, sorted by (pix, z, face); rank is the slot in [0, K).
    """
    if z.dtype == torch.float32 and pix.numel() > 0 and int(pix.max()) < 2**32:
        key = (pix << 31) | (z + 0.0).view(torch.int32).long()  # depths are >= 0: their bits sort as they do
        skey, order = torch.sort(key, stable=True)
        tied = skey[1:] == skey[:-1]
        if bool(tied.any()):  # order runs of equal (pixel, depth) by face: sort by (run, face)
            run = torch.cat([tied.new_zeros(1), ~tied]).long().cumsum(0)
            order = _take(order, torch.sort((run << 32) | _take(face, order)).indices)
    else:
        order = torch.sort(face, stable=True).indices
        order = _take(order, torch.sort(_take(z, order), stable=True).indices)
        order = _take(order, torch.sort(_take(pix, order), stable=True).indices)
    pix, z, face = _take(pix, order), _take(z, order), _take(face, order)
    _, counts = torch.unique_consecutive(pix, return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(pix.numel(), device=pix.device) - torch.repeat_interleave(starts, counts)
    keep = _nonzero(rank < K)
    return _take(pix, keep), _take(z, keep), _take(face, keep), _take(rank, keep)


# --------------------------------------------------------------------------------------------------------------
# Values at (pixel, face) pairs (differentiable).
# --------------------------------------------------------------------------------------------------------------


def _bary_depth(
    fv: torch.Tensor, geom: _FaceGeometry, face: torch.Tensor, px: torch.Tensor, py: torch.Tensor, clip_bary: bool
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Barycentrics and depth of pixel centres in faces.

    Args:
        fv: (M, 3, 3) vertices of the face of each pair (NDC x, NDC y, view z); may require grad.
        face: (M,) packed face indices (to look up whether a face is clipped).
        px, py: (M,) pixel centres in NDC.

    Returns:
        bary (M, 3) (clamped and renormalised if clip_bary), depth (M,), and the unclamped bary (M, 3).
    """
    p = torch.stack([px, py], dim=-1)
    homog = geom.is_clipped[face] if (geom.perspective and geom.clipped_idx.numel() > 0) else None
    if homog is not None and bool(homog.any()):
        hi = homog.nonzero().squeeze(1)
        ri = (~homog).nonzero().squeeze(1)
        b_r = _bary_regular(fv[ri], p[ri], geom.perspective)
        b_h = _bary_homogeneous(fv[hi], p[hi])
        order = torch.cat([ri, hi])
        inv = torch.empty_like(order)
        inv[order] = torch.arange(order.numel(), device=order.device)
        bary = torch.cat([b_r, b_h])[inv]
    else:
        bary = _bary_regular(fv, p, geom.perspective)
    raw = bary
    if clip_bary:
        bary = bary.clamp(min=0.0)
        bary = bary / bary.sum(-1, keepdim=True).clamp(min=1e-5)
    z = (bary * fv[..., 2]).sum(-1)
    return bary, z, raw


def _bary_regular(fv: torch.Tensor, p: torch.Tensor, perspective: bool) -> torch.Tensor:
    """Screen-space barycentrics by edge functions, perspective-corrected if asked (PyTorch3D's formulas)."""
    v0, v1, v2 = fv[:, 0, :2], fv[:, 1, :2], fv[:, 2, :2]
    area = _edge_function(v2, v0, v1)
    area = torch.where(area == 0, torch.ones_like(area), area)
    w = torch.stack([_edge_function(p, v1, v2), _edge_function(p, v2, v0), _edge_function(p, v0, v1)], dim=-1)
    w = w / area[:, None]
    if perspective:
        z = fv[..., 2]
        top = w * torch.stack([z[:, 1] * z[:, 2], z[:, 0] * z[:, 2], z[:, 0] * z[:, 1]], dim=-1)
        den = top.sum(-1, keepdim=True).clamp(min=kEpsilon)  # PyTorch3D's max(denominator, 1e-8)
        w = top / den
    return w


def _bary_homogeneous(fv: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Perspective-correct barycentrics of faces whose vertices may lie behind the camera (2D homogeneous form)."""
    V = torch.cat([fv[..., :2] * fv[..., 2:], fv[..., 2:]], dim=-1)  # (M, 3, 3) linear in view space
    q = torch.cat([p, torch.ones_like(p[:, :1])], dim=-1)  # (M, 3)
    e = torch.stack(
        [
            (q * torch.linalg.cross(V[:, 1], V[:, 2])).sum(-1),
            (q * torch.linalg.cross(V[:, 2], V[:, 0])).sum(-1),
            (q * torch.linalg.cross(V[:, 0], V[:, 1])).sum(-1),
        ],
        dim=-1,
    )
    den = e.sum(-1, keepdim=True)
    den = torch.where(den == 0, torch.ones_like(den), den)
    return e / den


def _pair_values(
    face_verts: torch.Tensor,
    geom: _FaceGeometry,
    face: torch.Tensor,
    px: torch.Tensor,
    py: torch.Tensor,
    perspective: bool,
    clip_bary: bool,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """bary (M, 3), depth (M,), signed squared distance (M,) at the selected pairs, differentiable in face_verts.

    Args:
        face_verts: (F, 3, 3) all faces' vertices (may require grad).
        face: (M,) packed face index of each pair; px, py: (M,) its pixel centre in NDC.
    """
    if geom.clipped_idx.numel() == 0:
        return _pair_values_triangles(face_verts, geom, face, px, py, perspective, clip_bary)
    is_c = _take(geom.is_clipped, face)
    ci = _nonzero(is_c)
    ri = _nonzero(~is_c)
    parts = [
        _pair_values_triangles(face_verts, geom, _take(face, ri), _take(px, ri), _take(py, ri), perspective, clip_bary),
        _pair_values_clipped(face_verts, geom, _take(face, ci), _take(px, ci), _take(py, ci), perspective, clip_bary),
    ]
    order = torch.cat([ri, ci])
    inv = torch.empty_like(order).index_copy_(0, order, torch.arange(order.numel(), device=order.device))
    return tuple(_take(torch.cat([parts[0][j], parts[1][j]]), inv) for j in range(3))


_SAFE_FACE = ((0.0, 0.0, 1.0), (1.0, 0.0, 1.0), (0.0, 1.0, 1.0))

# Rows of the per-face table of _triangle_table: three rows (one per vertex or edge) for each quantity.
_VX, _VY, _NX, _NY, _Z, _ALT, _DX, _DY, _INV, _ZZ = (3 * i for i in range(10))


def _triangle_table(fv: torch.Tensor, perspective: bool) -> torch.Tensor:
    """Per-face factors of :func:`_triangle_values`, one face per column (struct of arrays).

    Args:
        fv: (R, 3, 3) triangles (NDC x, NDC y, view z), none degenerate.

    Returns:
        (C, R) with rows (three each): vertex x, y; n_i = perpendicular of edge (v_i+1, v_i+2) over PyTorch3D's
        doubled area (screen barycentric i = (p - v_i+1) . n_i); z; altitude of vertex i; direction x, y and
        1 / squared length of segment (v_k, v_k+1); and with perspective z_j z_k for the correction.
    """
    x, y, z = fv[..., 0], fv[..., 1], fv[..., 2]  # (R, 3)
    dx, dy = x.roll(-1, 1) - x, y.roll(-1, 1) - y  # segment k: v_k -> v_k+1
    area = (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0]) - (y[:, 2] - y[:, 0]) * (x[:, 1] - x[:, 0])
    area = torch.where(area == 0, torch.ones_like(area), area)[:, None]
    ex, ey = dx.roll(-1, 1), dy.roll(-1, 1)  # column i: edge (v_i+1, v_i+2), opposite vertex i
    l2 = dx * dx + dy * dy
    ok = l2 > _EDGE_EPS
    l2 = torch.where(ok, l2, torch.ones_like(l2))
    inv = torch.where(ok, 1.0 / l2, torch.zeros_like(l2))
    altitude = area.abs() / torch.sqrt(l2.roll(-1, 1))
    rows = [x, y, ey / area, -ex / area, z, altitude, dx, dy, inv]
    if perspective:
        rows.append(torch.stack([z[:, 1] * z[:, 2], z[:, 0] * z[:, 2], z[:, 0] * z[:, 1]], dim=1))
    return torch.cat([r.t() for r in rows], dim=0)


def _screen_bary(tab: torch.Tensor, px: torch.Tensor, py: torch.Tensor):
    """Screen-space barycentrics [w0, w1, w2] (each (M,)) of points in faces; tab: the C table rows, each (M,)."""
    return [
        (px - tab[_VX + (i + 1) % 3]) * tab[_NX + i] + (py - tab[_VY + (i + 1) % 3]) * tab[_NY + i] for i in range(3)
    ]


def _bary_from_screen(tab: torch.Tensor, ws, perspective: bool, clip_bary: bool):
    """Perspective correction (PyTorch3D's) and optional clamping of screen barycentrics; returns (w list, depth)."""
    w = ws
    if perspective:
        top = [ws[i] * tab[_ZZ + i] for i in range(3)]
        den = (top[0] + top[1] + top[2]).clamp(min=kEpsilon)  # PyTorch3D's max(denominator, 1e-8)
        w = [t / den for t in top]
    if clip_bary:
        w = [wi.clamp(min=0.0) for wi in w]
        total = (w[0] + w[1] + w[2]).clamp(min=1e-5)
        w = [wi / total for wi in w]
    return w, w[0] * tab[_Z] + w[1] * tab[_Z + 1] + w[2] * tab[_Z + 2]


def _segments_dist2_soa(tab: torch.Tensor, px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Squared distance (M,) from points to the nearest edge segment of faces; tab: the C table rows, each (M,)."""
    best = None
    for k in range(3):
        wx, wy = px - tab[_VX + k], py - tab[_VY + k]
        dx, dy = tab[_DX + k], tab[_DY + k]
        t = ((wx * dx + wy * dy) * tab[_INV + k]).clamp(0.0, 1.0)
        rx, ry = wx - t * dx, wy - t * dy
        d = rx * rx + ry * ry
        best = d if best is None else torch.minimum(best, d)
    return best


class _Rows:
    """Rows of a per-face table (C, F) gathered at the pairs' faces on first use: row r is ``tab[r][idx]`` (M,).

    Only the rows a computation reads are gathered (the segment rows, for instance, only for pairs outside their
    face); with ``idx`` None the table already has one column per pair.
    """

    def __init__(self, tab: torch.Tensor, idx: Optional[torch.Tensor], parent=None) -> None:
        self.tab, self.idx, self.parent, self.cache = tab, idx, parent, {}

    def __getitem__(self, r: int) -> torch.Tensor:
        row = self.cache.get(r)
        if row is None:
            if self.parent is not None and r in self.parent[0].cache:
                row = _take(self.parent[0].cache[r], self.parent[1])
            elif self.idx is None:
                row = self.tab[r]
            else:
                row = self.tab[r].index_select(0, self.idx)
            self.cache[r] = row
        return row

    def subset(self, sel: torch.Tensor) -> "_Rows":
        """The rows at pairs ``sel`` (M',): taken from the rows already gathered where there are some (so that
        gradients add up in the same order as through one gather of the whole table), else from the table."""
        return _Rows(self.tab, sel if self.idx is None else _take(self.idx, sel), parent=(self, sel))


def _triangle_values(tab: torch.Tensor, idx: Optional[torch.Tensor], px: torch.Tensor, py: torch.Tensor,
                     perspective: bool, clip_bary: bool):
    """bary (M, 3), depth (M,), signed squared distance (M,) of pixel centres in faces.

    Args:
        tab: (C, R) per-face table of :func:`_triangle_table`.
        idx: (M,) long, the column of each pair's face in tab; None when R = M (one column per pair).
        px, py: (M,) pixel centres in NDC.
    """
    rows = _Rows(tab, idx)
    ws = _screen_bary(rows, px, py)
    w, depth = _bary_from_screen(rows, ws, perspective, clip_bary)
    inside = (ws[0] > 0) & (ws[1] > 0) & (ws[2] > 0)
    # Inside a triangle the nearest boundary point is the foot on the nearest edge line, at distance
    # (screen barycentric) x (altitude); outside, measure to the edge segments.
    d = torch.minimum(torch.minimum(ws[0] * rows[_ALT], ws[1] * rows[_ALT + 1]), ws[2] * rows[_ALT + 2])
    d2 = d * d
    out = _nonzero(~inside)
    if out.numel() > 0:
        out_rows = rows.subset(out)
        d_out = _segments_dist2_soa(out_rows, _take(px, out), _take(py, out))
        d2 = d2.index_copy(0, out, d_out)
    return torch.stack(w, dim=-1), depth, torch.where(inside, -d2, d2)


def _pair_values_triangles(
    face_verts: torch.Tensor,
    geom: _FaceGeometry,
    face: torch.Tensor,
    px: torch.Tensor,
    py: torch.Tensor,
    perspective: bool,
    clip_bary: bool,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`_pair_values` for faces that are whole triangles (not clipped by the near plane).

    Per-face factors are computed once per face (or per pair when there are fewer pairs than faces) and gathered,
    so each pair costs a few dozen elementwise operations on contiguous vectors.
    """
    M, F = face.numel(), face_verts.shape[0]
    if M < F:
        fv, active = _take(face_verts, face), _take(geom.active, face)
    else:
        fv, active = face_verts, geom.active
    # Faces that never draw get a harmless stand-in, so that no inf or NaN reaches the gradients.
    fv = torch.where(active[:, None, None], fv, fv.new_tensor(_SAFE_FACE))
    tab = _triangle_table(fv, perspective)  # (C, F), or (C, M) when M < F
    return _triangle_values(tab, face if M >= F else None, px, py, perspective, clip_bary)


def _pair_values_clipped(
    face_verts: torch.Tensor,
    geom: _FaceGeometry,
    face: torch.Tensor,
    px: torch.Tensor,
    py: torch.Tensor,
    perspective: bool,
    clip_bary: bool,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`_pair_values` for faces clipped by the near plane: distances to the visible polygon."""
    fv = face_verts[face]  # (M, 3, 3)
    bary, z, raw = _bary_depth(fv, geom, face, px, py, clip_bary)
    raw_z = (raw * fv[..., 2]).sum(-1)
    inside = (raw > 0).all(-1) & (raw_z >= geom.clip)
    poly = _clip_polygons(fv, geom.clip, perspective)  # (M, 4, 2)
    dist = _dist2_to_polygon(px, py, poly)
    return bary, z, torch.where(inside, -dist, dist)
