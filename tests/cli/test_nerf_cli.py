"""``inverse3d nerf``: one tiny end-to-end train -> render -> eval -> mesh in a subprocess, and one-line errors."""

from __future__ import annotations

import json

import imageio.v3 as iio
import pytest

from .helpers import cli_runner, tiny_lego

TRAIN = ["--image-size", "16", "--iterations", "3", "--rays-per-step", "128", "--n-samples", "12",
         "--hash-log2-size", "10", "--hash-levels", "4", "--hash-finest", "32", "--occupancy-resolution", "8",
         "--no-progress", "--device", "cpu"]


_cli = cli_runner("nerf")


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return tiny_lego(tmp_path_factory.mktemp("scenes"))


@pytest.mark.slow
def test_train_render_eval_mesh(scene, tmp_path):
    p = _cli(tmp_path, "train", "--scene", str(scene), "--out-dir", "run", *TRAIN)
    assert p.returncode == 0, p.stderr
    assert "trained hashgrid NeRF to step 3" in p.stdout
    assert {"checkpoint.pt", "loss.png", "config.json", "log.json"} <= {f.name for f in (tmp_path / "run").iterdir()}
    p = _cli(tmp_path, "train", "--scene", str(scene), "--out-dir", "run", *TRAIN)  # never replaced silently
    assert p.returncode == 2 and "--resume" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = _cli(tmp_path, "train", "--scene", str(scene), "--out-dir", "run", "--resume", *TRAIN[:2], "--iterations",
             "4", *TRAIN[4:])
    assert p.returncode == 0 and "step 4" in p.stdout, p.stderr
    p = _cli(tmp_path, "render", "--checkpoint", "run/checkpoint.pt", "-o", "turn.gif", "--frames", "2",
             "--size", "8", "--device", "cpu")
    assert p.returncode == 0, p.stderr
    frames = iio.imread(tmp_path / "turn.gif", index=None)
    assert frames.shape[:3] == (2, 8, 24)
    p = _cli(tmp_path, "eval", "--checkpoint", "run/checkpoint.pt", "--out-dir", "ev", "--n-views", "2",
             "--device", "cpu")
    assert p.returncode == 0, p.stderr
    assert "PSNR" in p.stdout and "mean" in p.stdout
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert len(metrics["views"]) == 2 and (tmp_path / "ev" / "view_001.png").is_file()
    p = _cli(tmp_path, "mesh", "--checkpoint", "run/checkpoint.pt", "-o", "m.ply", "--resolution", "8",
             "--level", "1e9", "--device", "cpu")
    assert p.returncode == 2 and "--level" in p.stderr and len(p.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_fit_box(tmp_path):
    from inverse3d.datasets.scenes import make_scene

    box = make_scene("box", tmp_path / "box", image_size=16, n_val=1, n_test=1, progress=False, n_points=100)
    p = _cli(tmp_path, "fit-box", "--scene", str(box), "--iterations", "60", "--rays-per-step", "256",
             "--n-samples", "32", "--init-center", "0.2", "0.3", "0.05", "--init-sides", "1.9", "1.55", "1.45",
             "-o", "fit.json", "--no-progress", "--device", "cpu")
    assert p.returncode == 0, p.stderr
    fit = json.loads((tmp_path / "fit.json").read_text())
    assert fit["max_center_error"] < 0.05 and fit["max_sides_error"] < 0.05
    assert "max error" in p.stdout


@pytest.mark.parametrize("argv, match", [
    (["fit-box", "--scene", "nowhere"], "--scene"),
    (["train", "--field", "voxels", "--out-dir", "x"], "--field"),
    (["train", "--background", "green", "--out-dir", "x"], "--background"),
    (["eval", "--checkpoint", "missing.pt"], "--checkpoint"),
    (["render", "--checkpoint", "missing.pt", "-o", "x.txt"], "-o"),
    (["mesh", "--checkpoint", "missing.pt", "-o", "x.ply"], "--checkpoint"),
])
def test_one_line_errors(tmp_path, monkeypatch, capsys, argv, match):
    from inverse3d.cli.main import _run

    monkeypatch.chdir(tmp_path)
    assert _run(["nerf", *argv]) == 2
    err = capsys.readouterr().err
    assert match in err and len(err.strip().splitlines()) == 1, err


def test_help_documents_options(tmp_path):
    p = _cli(tmp_path, "train", "--help")
    assert p.returncode == 0
    for option in ("--field", "--n-fine", "--background", "--max-minutes", "--resume", "--occupancy"):
        assert option in p.stdout
