"""Single view to 3D: fitting, training and evaluating every representation, in short labelled runs."""

from inverse3d.tour.registry import TourContext
from inverse3d.viz.report import Section

NAME = "single_view"
ORDER = 90


def build(ctx: TourContext) -> list[Section]:
    from inverse3d.engine.showcase import QUICK, TINY, tour_section

    return tour_section(ctx.out_dir, log=print, device=str(ctx.device), sizes=TINY if ctx.quick else QUICK)
