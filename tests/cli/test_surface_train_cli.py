"""``inverse3d surface train / eval / mesh / render / beta-study``: one tiny end-to-end run in subprocesses from
another working directory, and one-line errors."""

from __future__ import annotations

import json

import imageio.v3 as iio
import pytest

from .helpers import cli_runner, tiny_lego

TINY = ["--rays-per-step", "64", "--n-samples", "8", "--n-importance", "4", "--hash-levels", "4",
        "--hash-log2-size", "10", "--hash-finest", "32", "--hash-hidden", "16", "--feature-dim", "4",
        "--appearance-width", "16", "--no-progress", "--device", "cpu"]


_cli = cli_runner("surface")


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return tiny_lego(tmp_path_factory.mktemp("scenes"))


@pytest.mark.slow
def test_train_resume_eval_mesh_render(scene, tmp_path):
    p = _cli(tmp_path, "train", "--scene", str(scene), "--out-dir", "run", "--iterations", "3", "--method", "neus",
             *TINY)
    assert p.returncode == 0, p.stderr
    assert "trained neus (hashgrid SDF) to step 3" in p.stdout
    assert {"checkpoint.pt", "loss.png", "config.json", "log.json"} <= {f.name for f in (tmp_path / "run").iterdir()}
    p = _cli(tmp_path, "train", "--scene", str(scene), "--out-dir", "run", "--iterations", "3", "--method", "neus",
             *TINY)  # never replaced silently
    assert p.returncode == 2 and "--resume" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = _cli(tmp_path, "train", "--scene", str(scene), "--out-dir", "run", "--iterations", "4", "--method", "neus",
             "--resume", *TINY)
    assert p.returncode == 0 and "step 4" in p.stdout, p.stderr
    p = _cli(tmp_path, "eval", "--checkpoint", "run/checkpoint.pt", "--out-dir", "ev", "--n-views", "2",
             "--resolution", "16", "--n-points", "500", "--device", "cpu")
    assert p.returncode == 0, p.stderr
    assert "PSNR" in p.stdout and "mean" in p.stdout and "F1@0.02" in p.stdout
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert len(metrics["views"]) == 2 and (tmp_path / "ev" / "view_001.png").is_file() and "s" in metrics
    p = _cli(tmp_path, "mesh", "--checkpoint", "run/checkpoint.pt", "-o", "m.ply", "--resolution", "16",
             "--device", "cpu")
    assert p.returncode == 0 and (tmp_path / "m.ply").is_file(), p.stderr
    p = _cli(tmp_path, "render", "--checkpoint", "run/checkpoint.pt", "-o", "turn.gif", "--frames", "2",
             "--size", "8", "--device", "cpu")
    assert p.returncode == 0, p.stderr
    assert iio.imread(tmp_path / "turn.gif", index=None).shape[:3] == (2, 8, 16)  # colour | geometry


@pytest.mark.slow
def test_beta_study(scene, tmp_path):
    p = _cli(tmp_path, "beta-study", "--scene", str(scene), "--out-dir", "study", "--iterations", "2",
             "--betas", "0.05", "0.2", "--n-views", "1", "--resolution", "12", *TINY)
    assert p.returncode == 0, p.stderr
    assert "| 0.05 |" in p.stdout and "| 0.2 |" in p.stdout
    assert (tmp_path / "study" / "beta_study.md").is_file()


@pytest.mark.parametrize("argv,needle", [
    (["train", "--scene", "no/such/scene"], "--scene"),
    (["train", "--method", "idr"], "--method"),
    (["eval", "--checkpoint", "missing.pt"], "--checkpoint"),
    (["mesh", "--checkpoint", "missing.pt"], "--checkpoint"),
    (["beta-study", "--betas", "0", "0.1"], "--betas"),
])
def test_one_line_errors(tmp_path, argv, needle):
    p = _cli(tmp_path, *argv, "--device", "cpu")
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert needle in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
