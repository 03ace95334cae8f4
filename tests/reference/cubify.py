"""Naive cubify: a Python loop over voxels and their six sides, vertices merged with a dict."""

from __future__ import annotations

import torch


def cubify_naive(voxels: torch.Tensor, thresh: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One grid to a mesh of its exposed voxel sides.

    Args:
        voxels: (D, H, W) occupancies; voxel (d, h, w) is occupied when >= thresh.

    Returns:
        verts: (V, 3) float64 corner positions in index units, x from w, y from h, z from d
            (voxel (d, h, w) spans [w, w+1] x [h, h+1] x [d, d+1]).
        faces: (F, 3) int64, two triangles per exposed side, counter-clockwise seen from outside.
    """
    D, H, W = voxels.shape
    occ = (voxels >= thresh).tolist()

    def occupied(d: int, h: int, w: int) -> bool:
        return 0 <= d < D and 0 <= h < H and 0 <= w < W and bool(occ[d][h][w])

    index: dict[tuple[int, int, int], int] = {}
    verts: list[tuple[int, int, int]] = []
    faces: list[list[int]] = []

    def vid(p: tuple[int, int, int]) -> int:
        if p not in index:
            index[p] = len(verts)
            verts.append(p)
        return index[p]

    for d in range(D):
        for h in range(H):
            for w in range(W):
                if not occupied(d, h, w):
                    continue
                xyz = (w, h, d)
                for axis in range(3):
                    for sign in (-1, 1):
                        step = [0, 0, 0]
                        step[axis] = sign
                        nx, ny, nz = xyz[0] + step[0], xyz[1] + step[1], xyz[2] + step[2]
                        if occupied(nz, ny, nx):
                            continue
                        # Square on the side: p0 + {0, e_b, e_b + e_c, e_c}; e_b x e_c = e_axis.
                        b, c = (axis + 1) % 3, (axis + 2) % 3
                        p0 = list(xyz)
                        if sign > 0:
                            p0[axis] += 1
                        quad = []
                        for db, dc in ((0, 0), (1, 0), (1, 1), (0, 1)):
                            p = list(p0)
                            p[b] += db
                            p[c] += dc
                            quad.append(vid(tuple(p)))
                        if sign < 0:
                            quad = quad[::-1]
                        faces.append([quad[0], quad[1], quad[2]])
                        faces.append([quad[0], quad[2], quad[3]])
    return (
        torch.tensor(verts, dtype=torch.float64).reshape(-1, 3),
        torch.tensor(faces, dtype=torch.int64).reshape(-1, 3),
    )
