"""The tour, the main job (``inverse3d tour``, ``make demo``): one page that shows every part of inverse3d at work.

Each section is one module in ``inverse3d.tour.sections`` calling the library's and the tasks' public functions;
the page is assembled from the registry of those modules (``registry.sections()``), so a new section is one new
file. ``build_tour(out_dir, ...)`` renders them into ``out_dir`` and writes ``out_dir/index.html``.
"""

from inverse3d.tour.registry import TourContext, TourSection, build_tour, sections

__all__ = ["TourContext", "TourSection", "build_tour", "sections"]
