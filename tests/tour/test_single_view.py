"""The tour's single-view sections run end to end (with the short run shrunk further to test sizes)."""

from __future__ import annotations

import inverse3d.tour.sections.single_view as showcase
from inverse3d.viz.report import write_page


def test_tour_section_builds_a_page(tmp_path, monkeypatch):
    logs = []
    sections = showcase.tour_section(tmp_path, log=logs.append, sizes=showcase.TINY)
    assert [s.title.split(":")[1].strip() for s in sections] == [
        "fitting one shape", "training image-to-3D networks", "evaluation"]
    fit, train, evaluation = sections
    assert len(fit.figures) == 9 and len(train.figures) == 5
    assert "short run" in evaluation.note and "F1@0.05" in evaluation.html_blocks[0]
    assert len(evaluation.figures) == 1 + 5  # the F1 plot and one gallery GIF per decoder
    page = write_page(tmp_path / "index.html", "single view", sections)  # every figure exists
    assert page.is_file() and any("done" in line for line in logs)
