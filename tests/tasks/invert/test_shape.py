"""``inverse3d.tasks.invert.shape``: the coarse-to-fine model, chamfer decreasing on a tiny run, exact resume across a
stage switch, and one-line errors."""

from __future__ import annotations

import pytest
import torch

from inverse3d.tasks.invert.shape import ShapeConfig, ShapeModel, fit_shape, shape_metrics, stage_boundaries

TINY = dict(image_size=32, n_views=4, views_per_step=2, level=1, stages=2, faces_per_pixel=10, n_points=2000,
            progress=False, frame_every=2, checkpoint_every=3)


def test_stage_boundaries():
    assert stage_boundaries(400, 3) == [0, 133, 267]
    assert stage_boundaries(5, 1) == [0]


def test_model_subdivides_between_stages():
    from inverse3d.ops import SubdivideMeshes
    from inverse3d.structures import Meshes
    from inverse3d.utils.ico_sphere import ico_sphere_verts_faces

    v, f = ico_sphere_verts_faces(1)
    m = ShapeModel(v * 0.5, f, stages=3)
    assert [m.verts(s).shape[0] for s in range(3)] == [42, 162, 642]
    with torch.no_grad():
        m.verts(0).add_(0.01 * torch.randn_like(m.verts(0)))
    m.advance(1)
    want = SubdivideMeshes()(Meshes([m.verts(0)], [m.faces(0)]))
    assert torch.equal(m.verts(1), want.verts_packed()) and torch.equal(m.faces(1), want.faces_packed())
    # midpoints of the colours' logits: a constant colour stays constant
    m.advance(2)
    assert torch.allclose(m.colors(2), torch.full_like(m.colors(2), 0.5))


def test_chamfer_decreases(tmp_path):
    r = fit_shape(ShapeConfig(out_dir=str(tmp_path / "s"), iterations=12, lr=0.02, **TINY))
    assert r.metrics["chamfer"] < 0.8 * r.initial_metrics["chamfer"], (r.initial_metrics, r.metrics)
    assert r.metrics["f1"]["0.05"] > r.initial_metrics["f1"]["0.05"]
    assert r.faces.shape[0] == 320  # level 1 subdivided once
    for name in ("mesh.ply", "metrics.json", "progress.gif", "result.png", "loss.png", "checkpoint.pt"):
        assert (tmp_path / "s" / name).is_file(), name


def test_resume_across_a_stage_switch(tmp_path):
    small = dict(TINY, image_size=16, level=0)
    straight = fit_shape(ShapeConfig(out_dir=str(tmp_path / "a"), iterations=6, **small))
    fit_shape(ShapeConfig(out_dir=str(tmp_path / "b"), iterations=6, max_minutes=0.0, **small))
    resumed = fit_shape(ShapeConfig(out_dir=str(tmp_path / "b"), iterations=6, resume=True, **small))
    assert torch.equal(straight.verts, resumed.verts) and torch.equal(straight.colors, resumed.colors)


def test_shape_metrics_of_identical_meshes():
    from inverse3d.utils import ico_sphere

    m = ico_sphere(2).scale_verts(0.3)  # bounding-box diagonal about 1, as the metrics' units
    out = shape_metrics(m, m, n_points=5000)
    assert out["chamfer"] < 1e-3 and out["f1"]["0.05"] > 99  # two independent samplings of one sphere


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="--target nowhere"):
        fit_shape(ShapeConfig(out_dir=str(tmp_path / "x"), target="nowhere"))
    with pytest.raises(ValueError, match="--template nope.obj: no such file"):
        fit_shape(ShapeConfig(out_dir=str(tmp_path / "x"), template="nope.obj", **TINY))
    with pytest.raises(ValueError, match="--w-edge"):
        fit_shape(ShapeConfig(out_dir=str(tmp_path / "x"), w_edge=-1.0))
    with pytest.raises(ValueError, match="--iterations"):
        fit_shape(ShapeConfig(out_dir=str(tmp_path / "x"), iterations=1, stages=3))
