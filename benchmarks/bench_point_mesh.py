"""Point-mesh distances: point_mesh_face_distance (forward + backward) between an ico sphere and points sampled near
its surface, and the point-to-face kernel alone at 100k points x 82k faces.

Comparator: the same PyTorch3D formula evaluated for every (point, face) pair in dense chunks (what PyTorch3D's CPU
kernel computes, one pair at a time); at 100k x 82k that is 8e9 pairs, so it is only run on the smaller sizes.
"""

from __future__ import annotations

import torch

from benchmarks.harness import Case


def _scene(level: int, n_points: int):
    from inverse3d.ops import sample_points_from_meshes
    from inverse3d.utils import ico_sphere

    torch.manual_seed(0)
    mesh = ico_sphere(level)
    pts = sample_points_from_meshes(mesh, n_points)[0] * (1 + 0.02 * torch.randn(n_points, 1))
    return mesh, pts


def _loss_ours(level: int, n_points: int):
    def make():
        from inverse3d.loss import point_mesh_face_distance
        from inverse3d.structures import Meshes, Pointclouds

        mesh, pts = _scene(level, n_points)
        verts = mesh.verts_packed().clone().requires_grad_(True)
        faces = mesh.faces_packed()
        pts = pts.requires_grad_(True)

        def run():
            point_mesh_face_distance(Meshes([verts], [faces]), Pointclouds([pts])).backward()

        return run

    return make


def _kernel_ours(level: int, n_points: int):
    def make():
        from inverse3d.loss.point_mesh_distance import point_face_distance

        mesh, pts = _scene(level, n_points)
        tris = mesh.verts_packed()[mesh.faces_packed()]
        first = torch.zeros(1, dtype=torch.int64)
        return lambda: point_face_distance(pts, first, tris, first)

    return make


def _kernel_dense(level: int, n_points: int):
    """Every (point, face) pair with the same formula, 2M pairs at a time (no pruning)."""

    def make():
        from inverse3d.loss.point_mesh_distance import _point_triangle_sq, _triangle_features

        mesh, pts = _scene(level, n_points)
        feats = _triangle_features(mesh.verts_packed()[mesh.faces_packed()], 5e-3).T[None]  # (1, 37, F)
        rows = max(1, (1 << 21) // feats.shape[-1])

        def run():
            return torch.cat([_point_triangle_sq(pts[r : r + rows, :, None], feats).amin(1) for r in range(0, len(pts), rows)])

        return run

    return make


def cases() -> list[Case]:
    return [
        Case("point_face_distance 20k pts x 20k faces", _kernel_ours(5, 20_000),
             comparator=("dense pairs", _kernel_dense(5, 20_000)), repeats=3),
        Case("point_face_distance 100k pts x 82k faces", _kernel_ours(6, 100_000), repeats=1),
        Case("point_mesh_face_distance 20k pts x 20k faces fwd+bwd", _loss_ours(5, 20_000), repeats=3),
        Case("point_mesh_face_distance 100k pts x 82k faces fwd+bwd", _loss_ours(6, 100_000), repeats=1),
        Case("point_face_distance 1k pts x 320 faces (tiny)", _kernel_ours(2, 1000),
             comparator=("dense pairs", _kernel_dense(2, 1000)), repeats=3, tiny=True),
    ]
