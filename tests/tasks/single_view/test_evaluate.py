"""Evaluation of a (briefly) trained checkpoint: tables, plot, gallery and page; checked against direct metrics."""

from __future__ import annotations

import csv
import json
import math

import imageio.v3 as iio
import pytest
import torch

from inverse3d.metrics.shapes import f1_scores
from inverse3d.tasks.single_view.evaluate import EvalConfig, evaluate, print_table, prediction_voxels
from inverse3d.tasks.single_view.train import train


@pytest.mark.parametrize("kind", ["point", "implicit"])
def test_evaluate_checkpoint(kind, tiny_config, tmp_path):
    cfg = tiny_config("train", type=kind, iterations=1)
    train(cfg)
    out = tmp_path / "eval"
    result = evaluate(EvalConfig(checkpoint=cfg.out_dir / "checkpoint.pt", out_dir=out, gallery=(1, 7), n_frames=2,
                                 render_size=32, n_eval_points=64, progress=False))
    assert result.summary["n_shapes"] == 2 and len(result.rows) == 2
    for t in (0.01, 0.02, 0.03, 0.04, 0.05):
        assert 0.0 <= result.summary[f"f1@{t:g}"] <= 100.0
    f1s = [result.summary[f"f1@{t:g}"] for t in (0.01, 0.03, 0.05)]
    assert f1s == sorted(f1s)  # F1 cannot fall as the threshold grows... on average over the same points
    assert math.isnan(result.summary["iou"]) == (kind == "point")
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [r["id"] for r in rows] == [r["id"] for r in result.rows]
    assert json.loads((out / "metrics.json").read_text())["summary"]["n_shapes"] == 2
    assert (out / "f1.png").is_file() and (out / "index.html").is_file()
    gifs = sorted((out / "gallery").glob("*.gif"))
    assert len(gifs) == 1 and gifs[0].name.startswith("001_")  # index 7 is out of range: skipped
    frames = iio.imread(gifs[0])
    assert frames.shape[0] == 2 and frames.shape[2] > 3 * 32  # image | ground truth | prediction
    assert "F1@0.05" in print_table({"m": result.summary}, (0.01, 0.05))


def test_point_model_f1_equals_direct_computation(tiny_config, tmp_path):
    """For a point model, the reported F1 is f1_scores(prediction, stored GT samples) exactly."""
    from inverse3d.tasks.single_view.checkpoint import model_from_checkpoint
    from inverse3d.tasks.single_view.data import make_dataset
    from inverse3d.datasets.builtin import collate_batch

    cfg = tiny_config("train", type="point", iterations=1)
    train(cfg)
    result = evaluate(EvalConfig(checkpoint=cfg.out_dir / "checkpoint.pt", out_dir=tmp_path / "e", gallery=(),
                                 progress=False))
    model, _ = model_from_checkpoint(cfg.out_dir / "checkpoint.pt")
    batch = collate_batch([make_dataset(cfg, "test", progress=False)[i] for i in range(2)])
    direct = f1_scores(model.predict(batch["images"])["points"], batch["points"])["f1"]
    assert result.rows[1]["f1@0.05"] == pytest.approx(float(direct[1, 4]), abs=1e-4)


def test_prediction_voxels_of_a_mesh():
    from inverse3d.utils.ico_sphere import ico_sphere_verts_faces

    v, f = ico_sphere_verts_faces(2)
    occ = prediction_voxels({"verts": (0.3 * v)[None], "faces": f}, 8)
    assert occ.shape == (1, 8, 8, 8)
    assert occ[0, 3:5, 3:5, 3:5].all() and occ[0, 0, 0, 0] == 0
    assert prediction_voxels({"points": torch.zeros(1, 3, 3)}, 8) is None


def test_eval_options_are_checked(tiny_config, tmp_path):
    from inverse3d.tasks.single_view.data import make_dataset
    from inverse3d.tasks.single_view.evaluate import evaluate_model
    from inverse3d.models.single_view import SingleViewModel

    model = SingleViewModel(type="point", n_points=32)
    dataset = make_dataset(tiny_config(), "test", return_mesh=True, progress=False)
    for bad in [(0.0,), (0.01, -0.02), (float("nan"),), (float("inf"),), ()]:
        with pytest.raises(ValueError, match="--thresholds"):
            evaluate_model(model, dataset, EvalConfig(thresholds=bad, out_dir=tmp_path / "e", progress=False))
    assert not (tmp_path / "e").exists()
    with pytest.raises(ValueError, match="is a folder, not a checkpoint file"):
        evaluate(EvalConfig(checkpoint=tmp_path, out_dir=tmp_path / "e"))
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        evaluate(EvalConfig(checkpoint=tmp_path / "none.pt", out_dir=tmp_path / "e"))
    assert not (tmp_path / "e").exists()


def test_eval_writes_atomically_and_leaves_no_temporary_files(tiny_config, tmp_path):
    from inverse3d.tasks.single_view.data import make_dataset
    from inverse3d.tasks.single_view.evaluate import evaluate_model
    from inverse3d.models.single_view import SingleViewModel

    model = SingleViewModel(type="point", n_points=32)
    dataset = make_dataset(tiny_config(), "test", return_mesh=True, progress=False)
    out = tmp_path / "e"
    evaluate_model(model, dataset, EvalConfig(out_dir=out, gallery=(0,), n_frames=2, render_size=16, n_eval_points=32,
                                              progress=False))
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert not [n for n in names if n.endswith(".tmp") or ".tmp." in n or n.endswith(".lock")], names
    assert {"metrics.csv", "metrics.json", "f1.png", "index.html"} <= set(names)
