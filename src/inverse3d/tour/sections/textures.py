"""Meshing around: a textured mesh (TexturesUV), and the same mesh retextured with a colour gradient."""

import torch

from inverse3d.tour.assets import textured_mesh
from inverse3d.tour.registry import TourContext
from inverse3d.viz.report import Section

NAME = "textures"
ORDER = 30


def build(ctx: TourContext) -> Section:
    from inverse3d.renderer import TexturesVertex

    sec = Section(
        "Rendering a textured mesh, and retexturing it",
        "TexturesUV samples an image at per-corner UV coordinates (bilinear); TexturesVertex interpolates one colour "
        "per vertex. Retexturing blends two colours along the z axis: alpha = (z - z_min) / (z_max - z_min), "
        "colour = alpha * colour2 + (1 - alpha) * colour1.",
    )
    mesh, what = textured_mesh(ctx)
    sec.add(ctx.turntable(mesh, "textured.gif", elev=15.0), f"Textured: {what}.", "TexturesUV")
    verts = mesh.verts_packed()
    z = verts[:, 2]
    alpha = ((z - z.min()) / (z.max() - z.min()).clamp_min(1e-12))[:, None]
    c1 = torch.tensor([0.0, 0.0, 1.0], device=verts.device)
    c2 = torch.tensor([1.0, 0.0, 0.0], device=verts.device)
    retextured = mesh.clone()
    retextured.textures = TexturesVertex([alpha * c2 + (1 - alpha) * c1])
    sec.add(ctx.turntable(retextured, "retextured.gif", elev=15.0),
            "Retextured: blue at the back (z min) to red at the front (z max), a TexturesVertex.", "Gradient along z")
    return sec
