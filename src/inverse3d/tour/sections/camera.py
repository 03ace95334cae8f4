"""Meshing around: moving the camera (roll, translation, dolly zoom) instead of the mesh."""

import math

import torch

from inverse3d.tour.assets import textured_mesh
from inverse3d.tour.registry import TourContext
from inverse3d.viz.report import Section

NAME = "camera"
ORDER = 40


def build(ctx: TourContext) -> Section:
    from inverse3d.transforms import euler_angles_to_matrix
    from inverse3d.viz.images import save_frames
    from inverse3d.viz.turntable import camera_path_frames, save_dolly_zoom

    sec = Section(
        "Camera moves",
        "Moving the camera instead of the mesh: a roll about the optical axis (R changes), a sideways translation "
        "(T changes, R stays), and a dolly zoom, where the field of view widens while the camera moves in so that the "
        "subject keeps its size and the perspective changes around it.",
    )
    mesh, _ = textured_mesh(ctx)
    n = ctx.n_frames
    t = torch.linspace(0, 2 * math.pi, n + 1, device=ctx.device)[:-1]
    zeros = torch.zeros_like(t)
    roll = euler_angles_to_matrix(torch.stack([zeros, zeros, t], -1), "XYZ")
    path = save_frames(camera_path_frames(mesh, rotations=roll, image_size=ctx.image_size, progress=False),
                       ctx.path("camera_roll.gif"), fps=ctx.fps)
    sec.add(path, "Rolling the camera about its optical axis: R_t = R0 @ Rz(t), T_t = T0 @ Rz(t).", "Rotation (roll)")
    shift = torch.stack([0.8 * torch.sin(t), zeros, zeros], -1)
    path = save_frames(camera_path_frames(mesh, translations=shift, image_size=ctx.image_size, progress=False),
                       ctx.path("camera_translate.gif"), fps=ctx.fps)
    sec.add(path, "Translating the camera sideways: T_t = T0 + (0.8 sin t, 0, 0), R fixed.", "Translation")
    path = save_dolly_zoom(mesh, ctx.path("dolly_zoom.gif"), n_frames=n, image_size=ctx.image_size, fps=ctx.fps,
                           fov_range=(10.0, 100.0), progress=False)
    sec.add(path, "Dolly zoom: fov from 10 to 100 degrees, distance = half-width / tan(fov / 2).", "Dolly zoom")
    return sec
