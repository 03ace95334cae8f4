"""``inverse3d invert``: tiny pose / texture / shape runs in a subprocess from another working directory, and one-line
errors for bad input (missing mesh, image of the wrong size, NaN)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from .helpers import cli_runner

TINY_POSE = ["--image-size", "16", "--iterations", "2", "--starts", "2", "--faces-per-pixel", "4", "--no-progress",
             "--device", "cpu"]


_cli = cli_runner("invert", timeout=600)


def _one_line_error(p, *words):
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.mark.slow
def test_pose_texture_shape_end_to_end(tmp_path):
    p = _cli(tmp_path, "pose", "--out-dir", "pose", "--trials", "2", *TINY_POSE)
    assert p.returncode == 0, p.stderr
    assert "rotation error" in p.stdout and "per start" in p.stdout
    pose = json.loads((tmp_path / "pose" / "pose.json").read_text())
    assert len(pose["rotation_error_degrees"]) == 2 and len(pose["start_losses"][0]) == 2
    assert (tmp_path / "pose" / "progress.gif").is_file() and (tmp_path / "pose" / "loss.png").is_file()
    p = _cli(tmp_path, "pose", "--out-dir", "pose", "--trials", "2", *TINY_POSE)  # never replaced silently
    _one_line_error(p, "--resume")
    p = _cli(tmp_path, "texture", "--out-dir", "tex", "--image-size", "16", "--n-views", "2", "--n-test", "1",
             "--texture-size", "8", "--iterations", "2", "--no-progress")
    assert p.returncode == 0, p.stderr
    assert "held-out image PSNR" in p.stdout and "texture PSNR" in p.stdout
    assert (tmp_path / "tex" / "texture.png").is_file() and (tmp_path / "tex" / "mesh.obj").is_file()
    p = _cli(tmp_path, "shape", "--out-dir", "shape", "--image-size", "16", "--n-views", "2", "--views-per-step",
             "1", "--level", "0", "--stages", "2", "--iterations", "2", "--n-points", "500", "--no-progress")
    assert p.returncode == 0, p.stderr
    assert "chamfer" in p.stdout and "F1@0.02" in p.stdout
    assert (tmp_path / "shape" / "mesh.ply").is_file()


def test_bad_input(tmp_path):
    p = _cli(tmp_path, "pose", "--mesh", "missing.obj", "--image", "x.png", *TINY_POSE)
    _one_line_error(p, "missing.obj", "no such file")
    import imageio.v3 as iio

    iio.imwrite(tmp_path / "small.png", np.full((8, 8, 3), 255, np.uint8))
    p = _cli(tmp_path, "pose", "--image", "small.png", *TINY_POSE)
    _one_line_error(p, "small.png", "8x8", "16x16")
    bad = np.zeros((16, 16, 4), np.float32)
    bad[3, 3, 3] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    p = _cli(tmp_path, "pose", "--image", "nan.npy", *TINY_POSE)
    _one_line_error(p, "nan.npy", "NaN")
    (tmp_path / "nan.obj").write_text("v 0 0 0\nv 1 0 nan\nv 0 1 0\nf 1 2 3\n")
    p = _cli(tmp_path, "pose", "--mesh", "nan.obj", "--image", "small.png", *TINY_POSE)
    _one_line_error(p, "nan.obj")
    p = _cli(tmp_path, "shape", "--target", "nowhere", "--no-progress")
    _one_line_error(p, "--target nowhere")
