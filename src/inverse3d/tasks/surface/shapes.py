"""Built-in target surfaces for the neural SDF, normalised as ShapeNet (centred, bounding-box diagonal 1).

``builtin_surface(name, seed)`` gives a ``SurfaceTarget``: closed parts (the procedural chair / table / sofa of
``inverse3d.datasets.procedural`` are unions of convex parts; the torus, sphere and cube one part each) and
``sample_surface(target, n)`` draws points uniformly on the outer surface with outward normals (points buried inside
another part are dropped, ``inverse3d.datasets.builtin.sample_union_surface``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

SHAPES = ("chair", "table", "sofa", "torus", "sphere", "cube")


@dataclass
class SurfaceTarget:
    """A closed surface made of closed parts, in normalised coordinates.

    Fields:
        name: e.g. "chair-0".
        parts: list of (verts (V_k, 3) float32, faces (F_k, 3) int64) closed, outward-wound parts.
        convex: every part is convex (then buried samples can be found by half-space tests).
    """

    name: str
    parts: list[tuple[torch.Tensor, torch.Tensor]]
    convex: bool

    def mesh(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All parts as one (verts (V, 3), faces (F, 3)) mesh."""
        verts, faces, offset = [], [], 0
        for v, f in self.parts:
            verts.append(v)
            faces.append(f + offset)
            offset += v.shape[0]
        return torch.cat(verts), torch.cat(faces)


def _normalised(parts: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    allv = np.concatenate([v for v, _ in parts])
    lo, hi = allv.min(0), allv.max(0)
    centre, diag = (lo + hi) / 2, float(np.linalg.norm(hi - lo))
    return [(torch.tensor((v - centre) / diag, dtype=torch.float32), torch.tensor(f, dtype=torch.int64))
            for v, f in parts]


def builtin_surface(name: str, seed: int = 0) -> SurfaceTarget:
    """The built-in shape ``name`` (one of ``SHAPES``; ``seed`` picks the procedural chair / table / sofa)."""
    if name not in SHAPES:
        raise ValueError(f"unknown shape {name!r}; choose one of {', '.join(SHAPES)}")
    if name in ("chair", "table", "sofa"):
        from inverse3d.datasets.procedural import make_shape

        shape = make_shape(name, seed)[0]
        parts = [(np.asarray(p.verts, dtype=np.float64), np.asarray(p.faces, dtype=np.int64)) for p in shape.parts]
        return SurfaceTarget(f"{name}-{seed}", _normalised(parts), convex=True)
    if name == "torus":
        from inverse3d.utils import torus

        mesh = torus(r=0.25, R=0.75, sides=48, rings=96)
        convex = False
    elif name == "sphere":
        from inverse3d.utils import ico_sphere

        mesh = ico_sphere(4)
        convex = True
    else:
        from inverse3d.utils.primitives import cube

        mesh = cube()
        convex = True
    parts = [(mesh.verts_list()[0].double().numpy(), mesh.faces_list()[0].numpy())]
    return SurfaceTarget(name, _normalised(parts), convex=convex)


def sample_surface(target: SurfaceTarget, n_points: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_points`` points uniform on the outer surface of ``target`` with outward unit normals, from torch's global
    RNG -> (points (n, 3), normals (n, 3)) float32."""
    if n_points < 1:
        raise ValueError(f"n_points must be >= 1, got {n_points}")
    if target.convex:
        from inverse3d.datasets.builtin import sample_union_surface

        return sample_union_surface([v for v, _ in target.parts], [f for _, f in target.parts], n_points)
    from inverse3d.ops import sample_points_from_meshes
    from inverse3d.structures import Meshes

    verts, faces = target.mesh()
    points, normals = sample_points_from_meshes(Meshes([verts], [faces]), n_points, return_normals=True)
    return points[0], normals[0]
