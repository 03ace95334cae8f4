"""Slow, obvious versions of the batched-structure views and geometry, used as test oracles.

Everything here loops over meshes, faces or vertices in Python; nothing is vectorised.
"""

from __future__ import annotations

import torch


def packed_views(items: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Packed tensor and index maps of a list of (M_i, K) tensors, built one row at a time."""
    rows, to_item, first, num = [], [], [], []
    for i, item in enumerate(items):
        first.append(len(rows))
        num.append(item.shape[0])
        for r in range(item.shape[0]):
            rows.append(item[r])
            to_item.append(i)
    width = items[0].shape[1] if items else 3
    dtype = items[0].dtype if items else torch.float32
    packed = torch.stack(rows) if rows else torch.zeros((0, width), dtype=dtype)
    return {
        "packed": packed,
        "to_item": torch.tensor(to_item, dtype=torch.int64),
        "first": torch.tensor(first, dtype=torch.int64),
        "num": torch.tensor(num, dtype=torch.int64),
    }


def padded_view(items: list[torch.Tensor], max_len: int, pad_value: float) -> torch.Tensor:
    """(N, max_len, K) with each item's rows first and pad_value after."""
    width = items[0].shape[1]
    out = torch.full((len(items), max_len, width), pad_value, dtype=items[0].dtype)
    for i, item in enumerate(items):
        for r in range(item.shape[0]):
            out[i, r] = item[r]
    return out


def faces_packed(verts: list[torch.Tensor], faces: list[torch.Tensor]) -> torch.Tensor:
    """Faces of all meshes with indices shifted into the packed vertex list."""
    out, offset = [], 0
    for v, f in zip(verts, faces):
        for r in range(f.shape[0]):
            out.append([int(f[r, k]) + offset for k in range(3)])
        offset += v.shape[0]
    return torch.tensor(out, dtype=torch.int64).reshape(-1, 3)


def face_areas_normals(verts: torch.Tensor, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-face area (F,) and unit normal (F, 3) (zero normal for a zero-area face), face by face."""
    areas, normals = [], []
    for f in faces.tolist():
        a, b, c = verts[f[0]], verts[f[1]], verts[f[2]]
        n = torch.linalg.cross(b - a, c - a)
        length = torch.sqrt((n * n).sum())
        areas.append(0.5 * length)
        normals.append(n / length if float(length) > 1e-6 else torch.zeros_like(n))
    if not faces.shape[0]:
        return verts.new_zeros((0,)), verts.new_zeros((0, 3))
    return torch.stack(areas), torch.stack(normals)


def vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Area-weighted vertex normals: for each vertex, sum area * unit normal over its faces, normalise."""
    areas, normals = face_areas_normals(verts, faces)
    out = []
    for v in range(verts.shape[0]):
        total = torch.zeros(3, dtype=verts.dtype)
        for i, f in enumerate(faces.tolist()):
            if v in f:
                total = total + 2 * areas[i] * normals[i]
        length = float(torch.sqrt((total * total).sum()))
        out.append(total / length if length > 1e-6 else torch.zeros(3, dtype=verts.dtype))
    return torch.stack(out) if out else verts.new_zeros((0, 3))


def unique_edges(faces_packed: torch.Tensor) -> list[tuple[int, int]]:
    """Sorted list of the undirected edges (a < b) of packed faces."""
    edges = set()
    for a, b, c in faces_packed.tolist():
        for u, v in ((a, b), (b, c), (c, a)):
            edges.add((min(u, v), max(u, v)))
    return sorted(edges)


def uniform_laplacian(num_verts: int, edges: list[tuple[int, int]]) -> torch.Tensor:
    """Dense (V, V): L[i, j] = 1 / deg(i) for neighbours j, L[i, i] = -1."""
    neighbours: list[set[int]] = [set() for _ in range(num_verts)]
    for a, b in edges:
        neighbours[a].add(b)
        neighbours[b].add(a)
    L = torch.zeros((num_verts, num_verts))
    for i in range(num_verts):
        L[i, i] = -1.0
        for j in neighbours[i]:
            L[i, j] = 1.0 / len(neighbours[i])
    return L


def packed_to_padded(inputs: torch.Tensor, first_idxs: torch.Tensor, max_size: int) -> torch.Tensor:
    """Loop version of ops.packed_to_padded for (F, D) inputs."""
    n = first_idxs.shape[0]
    out = inputs.new_zeros((n, max_size, inputs.shape[1]))
    for b in range(n):
        start = int(first_idxs[b])
        end = int(first_idxs[b + 1]) if b + 1 < n else inputs.shape[0]
        for i in range(start, min(end, start + max_size)):
            out[b, i - start] = inputs[i]
    return out


def padded_to_packed(inputs: torch.Tensor, first_idxs: torch.Tensor, num_inputs: int) -> torch.Tensor:
    """Loop version of ops.padded_to_packed for (N, M, D) inputs."""
    n, m = inputs.shape[:2]
    out = inputs.new_zeros((num_inputs, inputs.shape[2]))
    for b in range(n):
        start = int(first_idxs[b])
        end = int(first_idxs[b + 1]) if b + 1 < n else num_inputs
        for i in range(start, end):
            if i - start < m:
                out[i] = inputs[b, i - start]
    return out
