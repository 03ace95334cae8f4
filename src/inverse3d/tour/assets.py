"""Meshes the tour's sections share, all made by inverse3d's own code (or the user's --mesh)."""

from __future__ import annotations

from pathlib import Path

import torch

from inverse3d.tour.registry import TourContext


def vertex_colored(verts: torch.Tensor, faces: torch.Tensor, color=(0.7, 0.7, 1.0)):
    """A one-mesh ``Meshes`` with a constant ``TexturesVertex`` colour; verts (V, 3), faces (F, 3)."""
    from inverse3d.renderer import TexturesVertex
    from inverse3d.structures import Meshes

    rgb = torch.ones_like(verts) * torch.tensor(color, dtype=verts.dtype, device=verts.device)
    return Meshes(verts=[verts], faces=[faces], textures=TexturesVertex([rgb]))


def cube() -> tuple[torch.Tensor, torch.Tensor]:
    """The unit cube centred at the origin: verts (8, 3), faces (12, 3), two triangles per side, outward."""
    verts = torch.tensor(
        [[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1], [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]],
        dtype=torch.float32,
    ) * 0.5
    faces = torch.tensor(
        [[0, 3, 2], [0, 2, 1], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4],
         [3, 7, 6], [3, 6, 2], [0, 4, 7], [0, 7, 3], [1, 2, 6], [1, 6, 5]]
    )
    return verts, faces


def textured_mesh(ctx: TourContext):
    """The user's mesh (--mesh) or the built-in textured globe; returns (mesh, description)."""
    if ctx.mesh_path is not None:
        from inverse3d.io import load_mesh

        return load_mesh(ctx.mesh_path, device=ctx.device), f"{Path(ctx.mesh_path).name}, loaded with its textures"
    from inverse3d.viz.assets import textured_globe

    return textured_globe(device=ctx.device), "the built-in globe: a UV sphere with a procedural TexturesUV map"


def furniture_scene(device):
    """A built-in scene: a procedural chair beside a procedural table, with their part colours."""
    from inverse3d.datasets.procedural import make_shape
    from inverse3d.renderer import TexturesVertex
    from inverse3d.structures import Meshes

    verts, faces, colors = [], [], []
    for category, seed, scale, shift in (("chair", 3, 1.0, (-0.45, 0.0, 0.1)), ("table", 5, 1.3, (0.45, 0.0, -0.1))):
        _, v, f, c = make_shape(category, seed)
        v = torch.as_tensor(v) * scale
        v = v - torch.tensor([0.0, float(v[:, 1].min()), 0.0]) + torch.tensor(shift)  # stand on y = 0
        faces.append(torch.as_tensor(f) + sum(len(x) for x in verts))
        verts.append(v)
        colors.append(torch.as_tensor(c))
    return Meshes(verts=[torch.cat(verts).to(device)], faces=[torch.cat(faces).to(device)],
                  textures=TexturesVertex([torch.cat(colors).to(device)]))
