"""Implicit surfaces meshed by marching cubes on grids of three resolutions."""

from inverse3d.tour.registry import TourContext
from inverse3d.viz.report import Section

NAME = "implicit"
ORDER = 70


def build(ctx: TourContext) -> Section:
    from inverse3d.utils import implicit_torus

    sec = Section(
        "Implicit surfaces and marching cubes",
        "An implicit torus F(x, y, z) = (R - sqrt(x^2 + z^2))^2 + y^2 - r^2 is evaluated on a voxel grid and its zero "
        "level set is meshed by marching cubes. Finer grids give smoother meshes; unlike a point cloud, the result has "
        "connectivity.",
    )
    for n in (8, 12, 16) if ctx.quick else (20, 30, 80):
        mesh = implicit_torus(n, device=ctx.device)
        path = ctx.turntable(mesh, f"implicit_torus_{n}.gif", elev=30.0, color=(0.4, 0.8, 0.5))
        sec.add(path, f"Grid {n}^3: {mesh.verts_packed().shape[0]} vertices, {mesh.faces_packed().shape[0]} faces.",
                f"Torus on a {n}^3 grid")
    return sec
