"""Parametric surfaces sampled into point clouds at three densities."""

from inverse3d.tour.registry import TourContext
from inverse3d.viz.report import Section

NAME = "parametric"
ORDER = 60


def build(ctx: TourContext) -> Section:
    from inverse3d.utils import parametric_sphere, parametric_torus

    sec = Section(
        "Parametric surfaces",
        "A parametric function maps (u, v) to a point on the surface: a sphere "
        "(sin v cos u, cos v, sin v sin u) and a torus ((R + r cos v) cos u, (R + r cos v) sin u, r sin v). Sampling "
        "(u, v) gives a point cloud, with no connectivity; colours follow (u, v).",
    )
    counts = (10, 20, 40) if ctx.quick else (50, 300, 1000)
    for name, fn in (("sphere", parametric_sphere), ("torus", parametric_torus)):
        for n in counts:
            cloud = fn(n, device=ctx.device)
            path = ctx.turntable(cloud, f"parametric_{name}_{n}.gif", elev=20.0)
            sec.add(path, f"{n} samples per parameter: a {n} x {n} grid of (u, v), "
                    f"{int(cloud.num_points_per_cloud()[0])} points.", f"{name.capitalize()}, {n} samples")
    return sec
