"""Points sampled uniformly on a textured mesh, carrying its colours."""

from inverse3d.tour.assets import textured_mesh
from inverse3d.tour.registry import TourContext
from inverse3d.viz.report import Section

NAME = "sampling"
ORDER = 80


def build(ctx: TourContext) -> Section:
    from inverse3d.ops import sample_points_from_meshes
    from inverse3d.structures import Pointclouds

    sec = Section(
        "Sampling points on a mesh",
        "Faces are chosen with probability proportional to their area, then a point is drawn uniformly inside each "
        "chosen triangle with barycentric coordinates (1 - sqrt(r1), sqrt(r1)(1 - r2), sqrt(r1) r2). Points are "
        "uniform over the surface however uneven the triangles are; they carry the texture's colour.",
    )
    mesh, what = textured_mesh(ctx)
    for n in (100, 1000, 3000) if ctx.quick else (1000, 10000, 100000):
        points, normals, colors = sample_points_from_meshes(mesh, n, return_normals=True, return_textures=True)
        cloud = Pointclouds(points=points, normals=normals, features=colors)
        path = ctx.turntable(cloud, f"sampled_{n}.gif", elev=15.0)
        sec.add(path, f"{n} points sampled on {what}.", f"{n} samples")
    return sec
