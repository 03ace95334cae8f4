"""Naive marching cubes: cell by cell with Python dicts, following PyTorch3D's conventions step by step."""

from __future__ import annotations

import torch

from inverse3d.ops.marching_cubes_data import CORNER_ORDER, EDGE_CORNERS, TRIANGLES

EPS = 1e-5


def marching_cubes_loops(vol_batch, isolevel=None):
    """Per grid: verts (V, 3) x y z in index units and faces (F, 3), in PyTorch3D's order (float32 arithmetic)."""
    out_v, out_f = [], []
    for vol in vol_batch:
        D, H, W = vol.shape
        vol32 = vol.float()
        level = float((vol32.max() + vol32.min()) / 2) if isolevel is None else isolevel
        level_t = torch.tensor(level, dtype=torch.float32)
        vertex_of_edge, verts, faces = {}, [], []
        for z in range(D - 1):
            for y in range(H - 1):
                for x in range(W - 1):
                    corner = [(x + (v & 1), y + ((v >> 1) & 1), z + ((v >> 2) & 1)) for v in range(8)]
                    config = 0
                    for bit, v in enumerate(CORNER_ORDER):
                        cx, cy, cz = corner[v]
                        if vol32[cz, cy, cx] < level_t:
                            config |= 1 << bit
                    tri = TRIANGLES[config]
                    for t in range(0, len(tri), 3):
                        keys, pos = [], []
                        for e in tri[t : t + 3]:
                            a, b = (corner[c] for c in EDGE_CORNERS[e])
                            keys.append((a, b))
                            pos.append(_interp(a, b, vol32, level_t))
                        if any(_same(pos[i], pos[(i + 1) % 3]) for i in range(3)):
                            continue
                        face = []
                        for key, p in zip(keys, pos):
                            if key not in vertex_of_edge:
                                vertex_of_edge[key] = len(verts)
                                verts.append(p)
                            face.append(vertex_of_edge[key])
                        faces.append(face)
        out_v.append(torch.stack(verts) if verts else torch.zeros(0, 3))
        out_f.append(torch.tensor(faces, dtype=torch.int64).reshape(-1, 3))
    return out_v, out_f


def _interp(a, b, vol, level):
    v1 = vol[a[2], a[1], a[0]]
    v2 = vol[b[2], b[1], b[0]]
    p1 = torch.tensor(a, dtype=torch.float32)
    p2 = torch.tensor(b, dtype=torch.float32)
    if (level - v1).abs() < EPS:
        return p1
    if (level - v2).abs() < EPS:
        return p2
    if (v1 - v2).abs() < EPS:
        return p1
    r = (level - v1) / (v2 - v1)
    return p1 * (1 - r) + p2 * r


def _same(p, q) -> bool:
    return bool(((p - q).abs() < EPS).all())
