"""Meshing around: a cube built one triangle at a time."""

from inverse3d.tour.assets import cube, vertex_colored
from inverse3d.tour.registry import TourContext
from inverse3d.viz.report import Section

NAME = "cube"
ORDER = 20


def build(ctx: TourContext) -> Section:
    from inverse3d.renderer import look_at_view_transform
    from inverse3d.viz.images import save_frames
    from inverse3d.viz.turntable import render_views

    sec = Section(
        "Building a cube face by face",
        "A cube needs 8 vertices and 12 triangles, two per square side. Each frame adds one triangle while the "
        "camera turns; the last frames show the closed, watertight cube.",
    )
    verts, faces = cube()
    verts, faces = verts.to(ctx.device), faces.to(ctx.device)
    frames = []
    for k in range(1, faces.shape[0] + 1):
        mesh = vertex_colored(verts, faces[:k], (1.0, 0.75, 0.3))
        R, T = look_at_view_transform(2.6, 25.0, 30.0 * k, device=ctx.device)
        frames.append(render_views(mesh, R, T, image_size=ctx.image_size)[0].cpu().numpy())
    frames += frames[-1:] * 6
    path = save_frames(frames, ctx.path("cube_face_by_face.gif"), fps=4)
    sec.add(path, "12 frames, one new triangle each (faces[:k] for k = 1..12).", "Cube, face by face")
    path = ctx.turntable(vertex_colored(verts, faces, (1.0, 0.75, 0.3)), "cube.gif", elev=25.0)
    sec.add(path, "The finished cube: 8 vertices, 12 faces.", "Cube")
    return sec
