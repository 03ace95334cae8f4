"""Meshing around: one triangle, turned around."""

import torch

from inverse3d.tour.assets import vertex_colored
from inverse3d.tour.registry import TourContext
from inverse3d.viz.report import Section

NAME = "triangle"
ORDER = 10


def build(ctx: TourContext) -> Section:
    sec = Section(
        "Meshing around: a triangle",
        "Three vertices and one face, rendered from cameras circling it. The rasteriser does not cull back faces "
        "unless asked, so the back is drawn too; Phong shading lights it with ambient light only, as PyTorch3D does.",
    )
    verts = torch.tensor([[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], device=ctx.device)
    faces = torch.tensor([[0, 1, 2]], device=ctx.device)
    path = ctx.turntable(vertex_colored(verts, faces), "triangle.gif", elev=10.0)
    sec.add(path, "Meshes(verts (1, 3, 3), faces (1, 1, 3)) with a constant TexturesVertex colour.", "Triangle")
    return sec
