"""Point rasterisation (PyTorch3D's ``rasterize_points``): which points cover each pixel, nearest first.

Each point is a disk of radius ``r`` (NDC units) parallel to the image plane. A point covers a pixel when the
squared NDC distance from the pixel centre to the point's (x, y) is below ``r**2``; points with z < 0 are behind
the camera and skipped. For each pixel the ``points_per_pixel`` covering points of smallest z are kept.

The default (sparse) path splats, visiting the points nearest first (a radix sort of the depths' bits), in
blocks. Each block first drops the points whose disk lies on full pixels only (K nearer points already: a
summed-area table of the pixels with room answers this with eight reads per point), so hidden points in large
clouds cost little; the others list the pixels of their bounding box, keep the (pixel, point) pairs that pass the
exact test, and a stable sort by pixel appends them to each pixel's list. Runs of whole clouds, blocks and
chunks of pairs are bounded, so memory is too. ``bin_size=0`` selects the dense path, every pixel against every
point of its cloud (chunked over rows), which is the obvious vectorised version and gives identical results.
"""

from __future__ import annotations

from typing import Sequence

import torch

# Upper bound on (pixel, point) candidate pairs, resp. pixel x point distances, held at once.
_PAIRS_PER_CHUNK = 1 << 21
_DENSE_PER_CHUNK = 1 << 23
# The nearest-first sweep: packed points (whole clouds) depth-sorted together, candidate pairs aimed at per block
# (smaller blocks cull more, larger ones cost less per point), and the first and largest block, in points.
_POINTS_PER_GROUP = 1 << 21
_PAIRS_PER_BLOCK = 1 << 18
_FIRST_BLOCK, _MAX_BLOCK = 1 << 14, 1 << 19
_BOX_MARGIN = 1e-3  # pixels added to each bounding box against rounding
_CROSS = 0.7072  # just above 1 / sqrt(2)


def parse_image_size(image_size: int | Sequence[int]) -> tuple[int, int]:
    """Returns (H, W) from an int (square) or an (H, W) pair of ints.

    Raises:
        TypeError: not an int or a pair of ints (e.g. 8.5, "8", True); ValueError: a wrong length or a size <= 0.
    """
    from inverse3d.renderer.utils import check_image_size

    return check_image_size(image_size)


def pixel_centres_ndc(
    H: int, W: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """NDC coordinates of pixel centres, per CONVENTIONS.md (the shorter side spans [-1, 1], +X left, +Y up).

    Returns:
        xs: (W,) NDC x of the centre of each column, ``W/S - (2j + 1)/S`` with ``S = min(H, W)``.
        ys: (H,) NDC y of the centre of each row, ``H/S - (2i + 1)/S``.
    """
    S = min(H, W)
    cols = torch.arange(W, device=device, dtype=torch.float64)
    rows = torch.arange(H, device=device, dtype=torch.float64)
    xs = W / S - (2 * cols + 1) / S
    ys = H / S - (2 * rows + 1) / S
    return xs.to(dtype), ys.to(dtype)


def format_radius(radius: float | Sequence[float] | torch.Tensor, pointclouds) -> torch.Tensor:
    """Returns the radius of every packed point, shape (P,), in the points' dtype and device.

    Args:
        radius: a float (one radius for all points), or a tensor / list of shape (N, P_padded) giving a radius
            per point of each cloud (shape (P_padded,) is accepted when N == 1), in NDC units.
        pointclouds: the Pointclouds the radii belong to.
    """
    points = pointclouds.points_packed()
    P = points.shape[0]
    N = len(pointclouds)
    if isinstance(radius, (list, tuple)):
        radius = torch.tensor(radius, dtype=points.dtype, device=points.device)
    if torch.is_tensor(radius):
        if radius.ndim == 0:
            radius = radius.expand(P).to(points)
        else:
            P_padded = pointclouds.points_padded().shape[1]
            if N == 1 and radius.ndim == 1:
                radius = radius[None]
            if tuple(radius.shape) != (N, P_padded):
                raise ValueError(
                    f"radius must be a float or of shape (N, P) = ({N}, {P_padded}); got {tuple(radius.shape)}"
                )
            radius = radius.to(points).reshape(-1)[pointclouds.padded_to_packed_idx()]
    elif isinstance(radius, (float, int)) and not isinstance(radius, bool):
        radius = torch.tensor(float(radius), dtype=points.dtype, device=points.device).expand(P)  # no copies
    else:
        raise ValueError(f"radius must be a float or a tensor of shape (N, P); got {type(radius).__name__}")
    values = radius[:1] if P and radius.stride(0) == 0 else radius  # one value shared by all points: check it once
    if P and (torch.isnan(values).any() or (values < 0).any()):
        raise ValueError("radius must be non-negative and not NaN")
    return radius


def rasterize_points(
    pointclouds,
    image_size: int | tuple[int, int] = 256,
    radius: float | torch.Tensor = 0.01,
    points_per_pixel: int = 8,
    bin_size: int | None = None,
    max_points_per_bin: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rasterises a batch of point clouds given in NDC (x, y) with view-space depth z.

    Args:
        pointclouds: Pointclouds of N clouds; ``points_packed()`` (P, 3) holds NDC x, y and depth z.
        image_size: int or (H, W); non-square images keep square pixels (the shorter side spans [-1, 1]).
        radius: disk radius in NDC units: a float, or a tensor (N, P_padded) with one radius per point.
        points_per_pixel: K, how many nearest points (in z) to keep per pixel.
        bin_size: 0 selects the dense path (every pixel against every point); None or > 0 the sparse splatting
            path. The output is the same either way.
        max_points_per_bin: accepted for PyTorch3D compatibility; no effect (no path here caps a bin).

    Returns:
        idx: (N, H, W, K) int64 packed indices of the covering points in ascending z, -1 where fewer than K cover.
        zbuf: (N, H, W, K) z of those points, -1 where idx is -1.
        dists: (N, H, W, K) squared NDC distance in x/y from the pixel centre to the point, -1 where idx is -1.
        zbuf and dists are differentiable with respect to the points (idx is not); equal z keep packed order.
    """
    del max_points_per_bin
    H, W = parse_image_size(image_size)
    K = int(points_per_pixel)
    if K < 1:
        raise ValueError(f"points_per_pixel must be at least 1; got {points_per_pixel}")
    if bin_size is not None and bin_size < 0:
        raise ValueError(f"bin_size must be None or >= 0; got {bin_size}")
    points = pointclouds.points_packed()  # (P, 3)
    if points.ndim != 2 or points.shape[-1] != 3:
        raise ValueError(f"points must have shape (P, 3); got {tuple(points.shape)}")
    if torch.isnan(points).any():
        raise ValueError("points contain NaN")
    N = len(pointclouds)
    radius = format_radius(radius, pointclouds)  # (P,)
    device, dtype = points.device, points.dtype
    xs, ys = pixel_centres_ndc(H, W, device, dtype)

    with torch.no_grad():
        if points.shape[0] == 0:
            idx = torch.full((N, H, W, K), -1, dtype=torch.long, device=device)
        elif bin_size == 0:
            idx = _rasterize_dense(points.detach(), radius.detach(), pointclouds, H, W, K, xs, ys)
        else:
            cloud = pointclouds.packed_to_cloud_idx()
            idx = _rasterize_sparse(points.detach(), radius.detach(), cloud, N, H, W, K, xs, ys)
    zbuf, dists = _depths_and_dists(points, idx, xs, ys)
    return idx, zbuf, dists


def _depths_and_dists(
    points: torch.Tensor, idx: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """zbuf and squared distances (N, H, W, K) of the points ``idx`` selects, differentiable in ``points``."""
    valid = idx >= 0
    if points.shape[0] == 0:  # nothing to pick: keep the graph by reading a zero row
        points = torch.cat([points, points.new_zeros(1, 3)])
    safe = idx.clamp(min=0).view(-1)

    def picked(c: int) -> torch.Tensor:  # (N, H, W, K) coordinate c of the selected points
        return _take(points[:, c], safe).view(idx.shape)

    dx = xs[None, None, :, None] - picked(0)
    dy = ys[None, :, None, None] - picked(1)
    minus_one = points.new_full((), -1.0)
    zbuf = torch.where(valid, picked(2), minus_one)
    dists = torch.where(valid, dx * dx + dy * dy, minus_one)
    return zbuf, dists


_INT_OF_FLOAT = {torch.float16: torch.int16, torch.bfloat16: torch.int16, torch.float32: torch.int32,
                 torch.float64: torch.int64}


def _take(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """values[index] along dim 0; ``index_select`` is several times faster than advanced indexing on the CPU."""
    return values.index_select(0, index)


def _argsort_depth(z: torch.Tensor) -> torch.Tensor:
    """Stable ascending argsort (Q,) of non-negative finite depths z (Q,); equal depths keep their order.

    The bits of a non-negative IEEE float, read as a signed integer of the same width, order as the float does,
    and integer sorts are radix sorts, several times faster than float sorts on the CPU. -0.0 is made +0.0 first.
    """
    int_dtype = _INT_OF_FLOAT.get(z.dtype)
    if int_dtype is None:
        return torch.sort(z, stable=True).indices
    z = torch.where(z > 0, z, torch.zeros_like(z))
    return torch.sort(z.view(int_dtype), stable=True).indices


def _z_order(points: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """Packed indices of the points that can be drawn (finite, z >= 0, radius > 0), by ascending z."""
    drawable = torch.isfinite(points).all(dim=1) & (points[:, 2] >= 0) & (radius > 0)
    sel = torch.nonzero(drawable).squeeze(1)
    return _take(sel, _argsort_depth(_take(points[:, 2], sel)))


def _pixel_frame(px: torch.Tensor, py: torch.Tensor, r: torch.Tensor, H: int, W: int):
    """Continuous pixel coordinates (column j's centre is at j) of disk centres at NDC (px, py), and their radius
    r in pixels plus a margin against rounding (the exact test decides coverage). All (Q,) float."""
    S = min(H, W)
    col_c = (W - px * S) / 2 - 0.5
    row_c = (H - py * S) / 2 - 0.5
    reach = r * (S / 2) + _BOX_MARGIN
    return col_c, row_c, reach


def _span(centre: torch.Tensor, half: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """First and last (long) of the pixels 0..n-1 whose centres lie within ``half`` of ``centre``; last = first - 1
    when there are none (centre and half finite, or the centre at +-inf with a finite half)."""
    lo = torch.ceil((centre - half).clamp(0, n)).long()
    hi = torch.floor((centre + half).clamp(-1, n - 1)).long()
    return lo, hi


class _Sweep:
    """The points of a run of clouds that may be drawn, nearest first: finite, z >= 0, radius > 0, and the box
    of the disk reaching the image (boxes between pixel centres may hold no pixel). All (Q,).

    q: packed indices; px, py: NDC centres; r: radii; cl: cloud index within the run.
    """

    def __init__(self, points, radius, cloud, c0, c1, p0, p1, H, W):
        pts, rad = points[p0:p1], radius[p0:p1]
        col_c, row_c, reach = _pixel_frame(pts[:, 0], pts[:, 1], rad, H, W)
        z = pts[:, 2]
        keep = (z >= 0) & (z < float("inf")) & (rad > 0)
        keep &= (col_c + reach >= 0) & (col_c - reach <= W - 1) & (row_c + reach >= 0) & (row_c - reach <= H - 1)
        del col_c, row_c, reach  # (an infinite x or y fails these tests: NaN or -inf on one side)
        sel = torch.nonzero(keep).squeeze(1)
        sel = _take(sel, _argsort_depth(_take(z, sel)))
        self.q = sel + p0
        xyz = _take(pts, sel)
        self.px, self.py = xyz[:, 0].contiguous(), xyz[:, 1].contiguous()
        self.r = _take(rad, sel)
        self.cl = _take(cloud, self.q) - c0 if c1 - c0 > 1 else torch.zeros_like(sel)


def _cloud_groups(cloud: torch.Tensor, N: int) -> list[tuple[int, int, int, int]]:
    """Runs of whole clouds (c0, c1, p0, p1): at most ``_POINTS_PER_GROUP`` packed points, or one cloud."""
    ends = torch.cumsum(torch.bincount(cloud, minlength=N), 0).tolist()
    groups, c0, p0 = [], 0, 0
    for c in range(N):
        if c > c0 and ends[c] - p0 > _POINTS_PER_GROUP:
            groups.append((c0, c, p0, ends[c - 1]))
            c0, p0 = c, ends[c - 1]
    groups.append((c0, N, p0, ends[-1]))
    return groups


def _rasterize_sparse(
    points: torch.Tensor,
    radius: torch.Tensor,
    cloud: torch.Tensor,
    N: int,
    H: int,
    W: int,
    K: int,
    xs: torch.Tensor,
    ys: torch.Tensor,
) -> torch.Tensor:
    """Splatting path: the points of a run of clouds are visited nearest first, in blocks.

    Before a block is splatted, its points whose disk lies on full pixels only (K points already, none farther)
    are dropped: a summed-area table of the pixels with room gives the free pixels under two crossed rectangles
    covering each disk in eight reads. The rest list their (pixel, point) pairs that pass the exact test, and a
    stable sort by pixel appends them after the pixel's earlier points. Blocks grow as fewer points get through,
    so far, hidden points cost a few reads each. Memory: O(points of a run of clouds + ``_PAIRS_PER_CHUNK``
    + N H W K).
    """
    device = points.device
    idx = torch.full((N * H * W * K,), -1, dtype=torch.long, device=device)
    filled = torch.zeros(N * H * W, dtype=torch.int32, device=device)  # slots used per pixel
    pix_dtype = torch.int32 if N * H * W < 2**31 else torch.long
    for c0, c1, p0, p1 in _cloud_groups(cloud, N):
        sweep = _Sweep(points, radius, cloud, c0, c1, p0, p1, H, W)
        Q = sweep.q.numel()
        start, block = 0, _FIRST_BLOCK
        while start < Q:
            stop = min(Q, start + block)
            if start == 0:
                live = torch.arange(stop, device=device)
            else:  # keep the points whose disk may cover a pixel with room
                room = _summed_area((filled.view(N, H, W)[c0:c1] < K).to(torch.int32))
                s = slice(start, stop)
                col_c, row_c, reach = _pixel_frame(sweep.px[s], sweep.py[s], sweep.r[s], H, W)
                live = torch.nonzero(_has_room(room, sweep.cl[s], col_c, row_c, reach)).squeeze(1) + start
            n_pairs = _splat(live, sweep, c0 * H * W, idx, filled, H, W, K, xs, ys, pix_dtype)
            # Next block: aim at _PAIRS_PER_BLOCK candidate pairs at this block's pairs per visited point.
            grow = _PAIRS_PER_BLOCK * (stop - start) / max(n_pairs, 1)
            block = int(min(max(grow, block // 2, _FIRST_BLOCK), 4 * block, _MAX_BLOCK))
            start = stop
    return idx.view(N, H, W, K)


def _summed_area(room: torch.Tensor) -> torch.Tensor:
    """Summed-area table (G, H + 1, W + 1) of room (G, H, W): entry (g, i, j) sums room[g, :i, :j]."""
    G, H, W = room.shape
    sat = room.new_zeros(G, H + 1, W + 1)
    sat[:, 1:, 1:] = room.cumsum(1).cumsum(2)
    return sat


def _box_sums(sat: torch.Tensor, cl, col0, col1, row0, row1) -> torch.Tensor:
    """(Q,) sums over the inclusive boxes (Q,) of clouds cl (Q,) from a summed-area table sat (G, H + 1, W + 1);
    0 for empty boxes (col1 = col0 - 1 or row1 = row0 - 1)."""
    H1, W1 = sat.shape[1:]
    flat = sat.view(-1)
    top = (cl * H1 + row0) * W1
    bottom = top + (row1 - row0 + 1) * W1
    right = col1 + 1
    return _take(flat, bottom + right) - _take(flat, bottom + col0) - _take(flat, top + right) + _take(flat, top + col0)


def _has_room(sat: torch.Tensor, cl, col_c, row_c, reach) -> torch.Tensor:
    """(Q,) bool: whether each disk may cover a pixel counted in the summed-area table sat (G, H + 1, W + 1).

    Conservative: a disk of radius rho lies in the union of two crossed rectangles about its centre, 2 rho by
    2 rho / sqrt(2) and 2 rho / sqrt(2) by 2 rho, which leave out the corners of its bounding box.
    """
    H, W = sat.shape[1] - 1, sat.shape[2] - 1
    short = reach * _CROSS + _BOX_MARGIN
    col0, col1 = _span(col_c, reach, W)
    row0, row1 = _span(row_c, short, H)
    wide = _box_sums(sat, cl, col0, col1, row0, row1)
    col0, col1 = _span(col_c, short, W)
    row0, row1 = _span(row_c, reach, H)
    return (wide + _box_sums(sat, cl, col0, col1, row0, row1)) > 0


def _splat(live, sweep, pix0, idx, filled, H, W, K, xs, ys, pix_dtype) -> int:
    """Appends the covered pixels of the sweep's points ``live`` (M,) (positions in the sweep, ascending) to
    idx (N*H*W*K,) and filled (N*H*W,) in place; ``pix0`` is the flat index of the run's first pixel. Works in
    chunks of at most ``_PAIRS_PER_CHUNK`` candidate pairs (at least one point). Returns the candidate pairs."""
    device = idx.device
    px, py, r, cl = (_take(t, live) for t in (sweep.px, sweep.py, sweep.r, sweep.cl))
    col_c, row_c, reach = _pixel_frame(px, py, r, H, W)
    col0, col1 = _span(col_c, reach, W)
    row0, row1 = _span(row_c, reach, H)
    r2 = r * r
    width = (col1 - col0 + 1).clamp(min=0)  # (M,)
    height = (row1 - row0 + 1).clamp(min=0)
    n_pairs = width * height  # (M,) candidate pixels of each point
    corner = (cl * H + row0) * W + col0  # (M,) flat index of each box's first pixel, clouds of the run from 0
    ends = torch.cumsum(n_pairs, 0)
    total = int(ends[-1]) if ends.numel() else 0
    start, done = 0, 0
    while done < total:
        # The next chunk, in z order: the points whose candidate pairs fit in the budget (at least one point).
        stop = max(int(torch.searchsorted(ends, done + _PAIRS_PER_CHUNK, right=True)), start + 1)
        n = int(ends[stop - 1]) - done
        done += n
        if n == 0:
            start = stop
            continue
        s = slice(start, stop)
        box_w, box_h = int(width[s].max()), int(height[s].max())
        if (stop - start) * box_w * box_h <= 2 * n + 1024:
            j, pix = _pairs_stencil(px[s], py[s], r2[s], col0[s], col1[s], row0[s], row1[s], corner[s], box_w, box_h,
                                    xs, ys, W)
        else:
            j, pix = _pairs_listed(px[s], py[s], r2[s], col0[s], row0[s], corner[s], width[s], n_pairs[s], xs, ys, W)
        j = j + start
        start = stop
        # Pairs come in z order; a stable sort by pixel keeps z order within each pixel.
        pix, perm = torch.sort(pix.to(pix_dtype), stable=True)
        j = _take(j, perm)
        first = torch.ones_like(pix, dtype=torch.bool)
        first[1:] = pix[1:] != pix[:-1]
        pos = torch.arange(pix.numel(), device=device)
        pix = pix.long() + pix0
        slot = _take(filled, pix) + (pos - torch.cummax(torch.where(first, pos, 0), 0).values)  # after earlier chunks
        keep = torch.nonzero(slot < K).squeeze(1)
        pix, slot = _take(pix, keep), _take(slot, keep)
        idx.index_copy_(0, pix * K + slot, _take(sweep.q, _take(live, _take(j, keep))))
        filled.index_add_(0, pix, torch.ones_like(pix, dtype=filled.dtype))
    return total


def _pairs_stencil(px, py, r2, col0, col1, row0, row1, corner, box_w, box_h, xs, ys, W):
    """Covered (point, pixel) pairs of points (Q,), testing a (box_h, box_w) stencil at each box's first pixel.

    Returns j (M,) point positions and pix (M,) flat pixel indices ``corner[j] + row * W + column``, by j.
    """
    device = px.device
    cols = col0[:, None] + torch.arange(box_w, device=device)  # (Q, box_w)
    rows = row0[:, None] + torch.arange(box_h, device=device)  # (Q, box_h)
    inf = torch.tensor(float("inf"), dtype=px.dtype, device=device)
    dx = _take(xs, cols.clamp(max=W - 1).view(-1)).view(cols.shape) - px[:, None]
    dy = _take(ys, rows.clamp(max=ys.numel() - 1).view(-1)).view(rows.shape) - py[:, None]
    dx2 = torch.where(cols <= col1[:, None], dx * dx, inf)
    dy2 = torch.where(rows <= row1[:, None], dy * dy, inf)
    hit = dx2[:, None, :] + dy2[:, :, None] < r2[:, None, None]  # (Q, box_h, box_w)
    flat = torch.nonzero(hit.view(-1)).squeeze(1)  # (M,)
    j = flat // (box_h * box_w)
    cell = flat - j * (box_h * box_w)
    row = cell // box_w
    return j, _take(corner, j) + row * W + (cell - row * box_w)


def _pairs_listed(px, py, r2, col0, row0, corner, width, n_pairs, xs, ys, W):
    """As :func:`_pairs_stencil`, listing each point's own bounding box (for boxes of very different sizes)."""
    device = px.device
    n = int(n_pairs.sum())
    j = torch.repeat_interleave(torch.arange(px.numel(), device=device), n_pairs)  # (M,)
    first = torch.cumsum(n_pairs, 0) - n_pairs
    cell = torch.arange(n, device=device) - _take(first, j)
    w = _take(width, j)
    drow = cell // w
    dcol = cell - drow * w
    dx = _take(xs, _take(col0, j) + dcol) - _take(px, j)
    dy = _take(ys, _take(row0, j) + drow) - _take(py, j)
    hit = torch.nonzero(dx * dx + dy * dy < _take(r2, j)).squeeze(1)
    j = _take(j, hit)
    return j, _take(corner, j) + _take(drow, hit) * W + _take(dcol, hit)


def _rasterize_dense(
    points: torch.Tensor,
    radius: torch.Tensor,
    pointclouds,
    H: int,
    W: int,
    K: int,
    xs: torch.Tensor,
    ys: torch.Tensor,
) -> torch.Tensor:
    """Dense path: every pixel against every point of its cloud; chunks of rows x chunks of points, each chunk's
    candidates merged into the running K best by z rank."""
    device = points.device
    N = len(pointclouds)
    P = points.shape[0]
    order = _z_order(points, radius)
    rank = torch.full((P,), P, dtype=torch.long, device=device)
    rank[order] = torch.arange(order.numel(), device=device)  # z rank; P = not drawable
    counts = pointclouds.num_points_per_cloud()  # (N,)
    first = pointclouds.cloud_to_packed_first_idx()  # (N,)
    P_max = max(int(counts.max()), 1)
    slots = torch.arange(P_max, device=device)
    packed = (first[:, None] + slots[None]).clamp(max=P - 1)  # (N, P_max) packed index of each padded slot
    zr = torch.where(slots[None] < counts[:, None], rank[packed], P)  # (N, P_max), padding -> P
    px, py, r2 = points[packed, 0], points[packed, 1], radius[packed] ** 2
    k = min(K, P_max)
    idx = torch.full((N, H, W, K), -1, dtype=torch.long, device=device)
    rows = max(1, min(H, _DENSE_PER_CHUNK // (N * W * min(P_max, 1024))))
    per_chunk = max(1, _DENSE_PER_CHUNK // (N * rows * W))
    for r0 in range(0, H, rows):
        r1 = min(H, r0 + rows)
        best = torch.full((N, r1 - r0, W, k), P, dtype=torch.long, device=device)  # z ranks of the K nearest
        best_idx = torch.full_like(best, -1)
        for p0 in range(0, P_max, per_chunk):
            p1 = min(P_max, p0 + per_chunk)
            dx = xs[None, None, :, None] - px[:, None, None, p0:p1]  # (N, 1, W, Pc)
            dy = ys[None, r0:r1, None, None] - py[:, None, None, p0:p1]  # (N, R, 1, Pc)
            hit = dx * dx + dy * dy < r2[:, None, None, p0:p1]  # (N, R, W, Pc)
            key = torch.where(hit, zr[:, None, None, p0:p1], P)
            cand = packed[:, None, None, p0:p1].expand_as(key)
            key, arg = torch.topk(torch.cat([best, key], -1), k, dim=-1, largest=False, sorted=True)
            best_idx = torch.gather(torch.cat([best_idx, cand], -1), 3, arg)
            best = key
        idx[:, r0:r1, :, :k] = torch.where(best < P, best_idx, -1)
    return idx
