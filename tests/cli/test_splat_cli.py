"""``inverse3d splat``: one tiny train -> resume -> render (checkpoint and PLY) -> eval in a subprocess from another
working directory, and one-line errors."""

from __future__ import annotations

import json

import imageio.v3 as iio
import pytest

from .helpers import cli_runner, tiny_lego

TRAIN = ["--image-size", "16", "--iterations", "3", "--init-points", "40", "--sh-degree", "1",
         "--densify-start", "0", "--densify-every", "2", "--grad-threshold", "1e-5", "--progress-every", "2",
         "--no-progress", "--device", "cpu"]


_cli = cli_runner("splat")


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return tiny_lego(tmp_path_factory.mktemp("scenes"))


def test_train_resume_render_eval(scene, tmp_path):
    p = _cli(tmp_path, "train", "--scene", str(scene), "--out-dir", "run", *TRAIN)
    assert p.returncode == 0, p.stderr
    assert "Gaussians to step 3" in p.stdout
    run = tmp_path / "run"
    assert {"checkpoint.pt", "gaussians.ply", "progress.gif", "psnr.png", "loss.png", "config.json",
            "log.json"} <= {f.name for f in run.iterdir()}
    p = _cli(tmp_path, "train", "--scene", str(scene), "--out-dir", "run", *TRAIN)  # never replaced silently
    assert p.returncode == 2 and "--resume" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = _cli(tmp_path, "train", "--scene", str(scene), "--out-dir", "run", "--resume", *TRAIN[:2],
             "--iterations", "4", *TRAIN[4:])
    assert p.returncode == 0 and "to step 4" in p.stdout, p.stderr
    p = _cli(tmp_path, "render", "-i", "run/checkpoint.pt", "-o", "turn.gif", "--frames", "2", "--size", "8",
             "--device", "cpu")
    assert p.returncode == 0, p.stderr
    frames = iio.imread(tmp_path / "turn.gif", index=None)
    assert frames.shape[:3] == (2, 8, 24)  # colour | depth | alpha
    p = _cli(tmp_path, "render", "-i", "run/gaussians.ply", "-o", "ply.gif", "--frames", "2", "--size", "10",
             "--radius", "4", "--elevation", "30", "--device", "cpu")
    assert p.returncode == 0, p.stderr
    assert iio.imread(tmp_path / "ply.gif", index=None).shape[:3] == (2, 10, 30)
    p = _cli(tmp_path, "eval", "-i", "run/checkpoint.pt", "--out-dir", "ev", "--n-views", "2", "--device", "cpu")
    assert p.returncode == 0, p.stderr
    assert "PSNR" in p.stdout and "mean" in p.stdout
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert len(metrics["views"]) == 2 and (tmp_path / "ev" / "view_001.png").is_file()
    p = _cli(tmp_path, "eval", "-i", "run/gaussians.ply", "--scene", str(scene), "--out-dir", "ev2",
             "--n-views", "1", "--no-images", "--eps2d", "0.1", "--device", "cpu")
    assert p.returncode == 0, p.stderr
    p = _cli(tmp_path, "eval", "-i", "run/gaussians.ply", "--out-dir", "ev3", "--device", "cpu")
    assert p.returncode == 2 and "--scene" in p.stderr and len(p.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, match", [
    (["train", "--scene", "nowhere", "--out-dir", "x"], "--scene"),
    (["train", "--sh-degree", "5", "--out-dir", "x"], "--sh-degree"),
    (["train", "--background", "green", "--out-dir", "x"], "--background"),
    (["train", "--densify-every", "0", "--out-dir", "x"], "--densify-every"),
    (["eval", "-i", "missing.pt"], "--source"),
    (["eval", "-i", "missing.pt", "--split", "dev"], "--split"),
    (["render", "-i", "missing.pt", "-o", "x.txt"], "-o"),
    (["render", "-i", "missing.ply"], "--source"),
    (["render", "-i", "bad.ply", "-o", "x.gif"], "bad.ply"),
])
def test_one_line_errors(tmp_path, monkeypatch, capsys, argv, match):
    from inverse3d.cli.main import _run

    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.ply").write_bytes(b"ply\nformat ascii 1.0\nend_header\n")
    assert _run(["splat", *argv]) == 2
    err = capsys.readouterr().err
    assert match in err and len(err.strip().splitlines()) == 1, err


def test_help_documents_options(tmp_path):
    p = _cli(tmp_path, "train", "--help")
    assert p.returncode == 0
    for option in ("--scene", "--init", "--sh-degree", "--densify-every", "--grad-threshold", "--max-gaussians",
                   "--reset-every", "--lr-means", "--ssim-weight", "--max-minutes", "--resume", "--background"):
        assert option in p.stdout
    p = _cli(tmp_path, "render", "--help")
    assert p.returncode == 0 and "--radius" in p.stdout and "--elevation" in p.stdout
