"""Tile binning: which projected Gaussians can touch which image tiles, sorted front to back within each tile."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

ALPHA_MIN = 1.0 / 255.0  # alphas below this are skipped, as in 3DGS


@dataclass(frozen=True)
class TileBins:
    """Gaussians binned by tile, each tile's list sorted by depth (the stage between binning and compositing).

    Attributes:
        gauss_ids: (I,) long, for each (Gaussian, tile) intersection its Gaussian (an index into the projected
            list given to ``isect_tiles``), sorted by tile and, within a tile, front to back.
        tile_ids: (I,) long tile of each intersection; tiles are numbered camera-major, then row-major in the image.
        counts: (T,) long number of Gaussians of each of the T = C * tiles_y * tiles_x tiles.
        starts: (T,) long first intersection of each tile.
        tiles_x, tiles_y, tile_size: the tile grid.
        n_isects: I.
    """

    gauss_ids: torch.Tensor
    tile_ids: torch.Tensor
    counts: torch.Tensor
    starts: torch.Tensor
    tiles_x: int
    tiles_y: int
    tile_size: int
    n_isects: int


@torch.no_grad()
def isect_tiles(
    means2d: torch.Tensor,
    covars2d: torch.Tensor,
    opacities: torch.Tensor,
    depths: torch.Tensor,
    camera_ids: torch.Tensor,
    n_cameras: int,
    width: int,
    height: int,
    tile_size: int = 16,
) -> TileBins:
    """Bins projected Gaussians into tiles, front to back.

    A Gaussian is listed in every tile holding a pixel centre where its alpha ``opacity * exp(-q / 2)`` can reach
    ``1 / 255`` (the level set ``q <= 2 ln(255 opacity)`` of its 2D Gaussian, whose bounding box is
    ``sqrt(2 ln(255 opacity) sigma_xx)`` by ``sqrt(... sigma_yy)``): beyond it compositing skips the Gaussian anyway,
    so the tiled result equals evaluating every Gaussian at every pixel. This is at most gsplat's 3.33-sigma box
    and much less for faint Gaussians.

    Args:
        means2d: (P, 2) pixel centres of the P projected Gaussians (visible ones only).
        covars2d: (P, 3) 2D covariances (xx, xy, yy). opacities: (P,) in [0, 1]. depths: (P,) sort keys.
        camera_ids: (P,) long camera of each entry, in [0, n_cameras).
        width, height, tile_size: image and tile size in pixels.
    Returns:
        TileBins.
    """
    device = means2d.device
    tiles_x, tiles_y = math.ceil(width / tile_size), math.ceil(height / tile_size)
    n_tiles = n_cameras * tiles_x * tiles_y
    k2 = 2.0 * torch.log((255.0 * opacities).clamp_min(1e-30))  # (P,) squared Mahalanobis cut-off
    ok = k2 > 0
    ex = (k2.clamp_min(0) * covars2d[:, 0].clamp_min(0)).sqrt() * (1 + 1e-4) + 1e-3  # (P,) x half-extent, pixels
    ey = (k2.clamp_min(0) * covars2d[:, 2].clamp_min(0)).sqrt() * (1 + 1e-4) + 1e-3
    # pixel columns i whose centre i + 0.5 lies within [mx - ex, mx + ex], clamped to the image
    x0 = torch.ceil(means2d[:, 0] - ex - 0.5).clamp(0, width - 1).long()
    x1 = torch.floor(means2d[:, 0] + ex - 0.5).clamp(-1, width - 1).long()
    y0 = torch.ceil(means2d[:, 1] - ey - 0.5).clamp(0, height - 1).long()
    y1 = torch.floor(means2d[:, 1] + ey - 0.5).clamp(-1, height - 1).long()
    ok &= (x1 >= x0) & (y1 >= y0) & (means2d[:, 0] - ex - 0.5 <= width) & (means2d[:, 1] - ey - 0.5 <= height)
    tx0, tx1 = x0 // tile_size, x1 // tile_size
    ty0, ty1 = y0 // tile_size, y1 // tile_size
    nx = (tx1 - tx0 + 1).clamp_min(0)
    ny = (ty1 - ty0 + 1).clamp_min(0)
    per = torch.where(ok, nx * ny, torch.zeros_like(nx))  # (P,) tiles touched
    order = torch.argsort(depths, stable=True)  # front to back
    per_sorted = per.index_select(0, order)
    n_isects = int(per_sorted.sum())
    if n_isects == 0:
        empty = torch.zeros(0, dtype=torch.long, device=device)
        zeros = torch.zeros(n_tiles, dtype=torch.long, device=device)
        return TileBins(empty, empty, zeros, zeros, tiles_x, tiles_y, tile_size, 0)
    # per Gaussian in depth order: its id, its top-left tile, its tile-row width, its first pair; repeated once per
    # pair (one repeat_interleave of a (P, 4) table rather than several gathers of (I,) tensors)
    first_tile = (camera_ids * tiles_y + ty0) * tiles_x + tx0  # (P,)
    first_pair = torch.cumsum(per_sorted, 0) - per_sorted
    table = torch.stack([order, first_tile.index_select(0, order), nx.index_select(0, order), first_pair], dim=1)
    gauss, tile0, w, first = torch.repeat_interleave(table, per_sorted, dim=0).unbind(1)  # (I,) each
    local = torch.arange(n_isects, device=device) - first  # rank of the pair among its Gaussian's tiles
    row = local // w
    tile = tile0 + row * tiles_x + (local - row * w)  # (I,)
    # group by tile, keeping the depth order inside each tile (int32 keys sort about twice as fast as int64)
    key = tile.to(torch.int32) if n_tiles < 2**31 else tile
    key, perm = torch.sort(key, stable=True)
    tile = key.long()
    gauss = gauss.index_select(0, perm)
    counts = torch.bincount(tile, minlength=n_tiles)  # (T,)
    starts = torch.cumsum(counts, 0) - counts
    return TileBins(gauss, tile, counts, starts, tiles_x, tiles_y, tile_size, n_isects)
