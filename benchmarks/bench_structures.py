"""Meshes views: building packed / padded views, index maps, vertex normals and edges of a batch of meshes
(vs. the obvious per-mesh loop doing the same with the same torch ops)."""

from __future__ import annotations

import torch

from benchmarks.harness import Case


def _batch(n_meshes: int, n_verts: int, n_faces: int, seed: int = 0):
    """n_meshes random meshes with sizes within +-20% of (n_verts, n_faces)."""
    g = torch.Generator().manual_seed(seed)
    verts, faces = [], []
    for _ in range(n_meshes):
        v = int(n_verts * (0.8 + 0.4 * torch.rand((), generator=g)))
        f = int(n_faces * (0.8 + 0.4 * torch.rand((), generator=g)))
        verts.append(torch.randn(v, 3, generator=g))
        faces.append(torch.randint(0, v, (f, 3), generator=g))
    return verts, faces


def _ours(n_meshes: int, n_verts: int, n_faces: int):
    def make():
        from inverse3d.structures import Meshes

        verts, faces = _batch(n_meshes, n_verts, n_faces)

        def run():
            m = Meshes(verts, faces)
            return m.verts_packed(), m.faces_packed(), m.verts_padded(), m.faces_padded(), m.verts_normals_packed(), m.edges_packed()

        return run

    return make


def _per_mesh_loop(n_meshes: int, n_verts: int, n_faces: int):
    def make():
        verts, faces = _batch(n_meshes, n_verts, n_faces)

        def run():
            max_v, max_f = max(len(v) for v in verts), max(len(f) for f in faces)
            verts_padded = verts[0].new_zeros((len(verts), max_v, 3))
            faces_padded = torch.full((len(faces), max_f, 3), -1, dtype=torch.int64)
            packed_faces, normals, edges, offset = [], [], [], 0
            for i, (v, f) in enumerate(zip(verts, faces)):
                assert bool(torch.isfinite(v).all()) and int(f.min()) >= 0 and int(f.max()) < len(v)
                verts_padded[i, : len(v)] = v
                faces_padded[i, : len(f)] = f
                packed_faces.append(f + offset)
                tri = v[f]
                cross = torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=1)
                n = torch.zeros_like(v)
                for k in range(3):
                    n.index_add_(0, f[:, k], cross)
                normals.append(torch.nn.functional.normalize(n, dim=1, eps=1e-6))
                e = torch.cat([f[:, [1, 2]], f[:, [2, 0]], f[:, [0, 1]]]).sort(1).values
                edges.append(torch.unique(e, dim=0) + offset)
                offset += len(v)
            return torch.cat(verts), torch.cat(packed_faces), verts_padded, faces_padded, torch.cat(normals), torch.cat(edges)

        return run

    return make


def cases() -> list[Case]:
    big = (32, 2500, 5000)
    tiny = (4, 60, 100)
    return [
        Case(
            "meshes views+normals+edges 32 x 2.5k v / 5k f",
            _ours(*big),
            comparator=("per-mesh loop", _per_mesh_loop(*big)),
            repeats=5,
        ),
        Case(
            "meshes views+normals+edges 4 x 60 v / 100 f",
            _ours(*tiny),
            comparator=("per-mesh loop", _per_mesh_loop(*tiny)),
            repeats=5,
            tiny=True,
        ),
    ]
