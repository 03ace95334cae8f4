"""The tour's single-view sections run end to end (with the short run shrunk further to test sizes)."""

from __future__ import annotations

import dataclasses

import inverse3d.engine.showcase as showcase
from inverse3d.viz.report import write_page


def test_tour_section_builds_a_page(tmp_path, monkeypatch):
    tiny = dataclasses.replace(showcase.QUICK, voxel_res=8, fit_steps=2, fit_points=40, train_steps=1, train_points=16,
                               n_train=2,
                               n_test=1, image_size=32, batch_size=2, render_size=24, n_frames=2)
    monkeypatch.setattr(showcase, "QUICK", tiny)
    logs = []
    sections = showcase.tour_section(tmp_path, quick=True, log=logs.append)
    assert [s.title.split(":")[1].strip() for s in sections] == [
        "fitting one shape", "training image-to-3D networks", "evaluation"]
    fit, train, evaluation = sections
    assert len(fit.figures) == 9 and len(train.figures) == 5
    assert "short run" in evaluation.text and "F1@0.05" in evaluation.html_blocks[0]
    assert len(evaluation.figures) == 1 + 5  # the F1 plot and one gallery GIF per decoder
    page = write_page(tmp_path / "index.html", "single view", sections)  # every figure exists
    assert page.is_file() and any("done" in line for line in logs)
