"""``inverse3d surface``: fit-points and trace end to end in a subprocess (tiny sizes), and one-line errors."""

from __future__ import annotations

import json

import pytest

from .helpers import cli_runner

TINY = ["--n-points", "200", "--iterations", "3", "--batch-size", "32", "--n-layers", "2", "--hidden", "8",
        "--n-harmonics", "1", "--resolution", "12", "--eval-points", "200", "--turntable-frames", "2",
        "--turntable-size", "16", "--no-progress", "--device", "cpu"]


_cli = cli_runner("surface")


@pytest.mark.slow
def test_fit_points_shape_then_cloud_file(tmp_path):
    p = _cli(tmp_path, "fit-points", "--shape", "sphere", "--out-dir", "run", *TINY)
    assert p.returncode == 0, p.stderr
    assert "fitted a mlp SDF to step 3" in p.stdout and "F1@0.01" in p.stdout
    written = {f.name for f in (tmp_path / "run").iterdir()}
    assert {"checkpoint.pt", "mesh.ply", "metrics.json", "input_turntable.gif", "sdf_turntable.gif", "loss.png",
            "config.json"} <= written
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert 0.0 <= metrics["f1@0.01"] <= 100.0
    p = _cli(tmp_path, "fit-points", "--shape", "sphere", "--out-dir", "run", *TINY)  # never replaced silently
    assert p.returncode == 2 and "--resume" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    # a cloud file (the positional CLOUD) with a ground-truth mesh
    from inverse3d.io.ply_io import save_ply
    from inverse3d.utils import ico_sphere

    mesh = ico_sphere(2)
    save_ply(tmp_path / "cloud.ply", mesh.verts_packed() * 3.0)
    save_ply(tmp_path / "gt.ply", mesh.verts_packed() * 3.0, mesh.faces_packed())
    p = _cli(tmp_path, "fit-points", "cloud.ply", "--gt-mesh", "gt.ply", "--out-dir", "run2", *TINY[4:])
    assert p.returncode == 0, p.stderr
    assert "f1@0.01" in json.loads((tmp_path / "run2" / "metrics.json").read_text())
    # the trained network, sphere traced
    p = _cli(tmp_path, "trace", "--scene", "run/checkpoint.pt", "-o", "net.png", "--size", "16", "--device", "cpu")
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "net.png").is_file()


def test_trace_builtin_scenes(tmp_path):
    import imageio.v3 as iio

    p = _cli(tmp_path, "trace", "--scene", "primitives", "-o", "scene.png", "--size", "24", "--device", "cpu")
    assert p.returncode == 0, p.stderr
    assert "26 primitives" in p.stdout
    image = iio.imread(tmp_path / "scene.png")
    assert image.shape[:2] == (24, 24) and image.std() > 10
    p = _cli(tmp_path, "trace", "--scene", "torus", "-o", "torus.gif", "--frames", "2", "--size", "16",
             "--device", "cpu")
    assert p.returncode == 0, p.stderr
    assert iio.imread(tmp_path / "torus.gif", index=None).shape[:3] == (2, 16, 16)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit-points", "missing.ply", "--out-dir", "x"], "missing.ply: no such point cloud file"),
        (["fit-points", "--out-dir", "x"], "exactly one of CLOUD"),
        (["fit-points", "--shape", "teapot", "--out-dir", "x"], "--shape must be one of"),
        (["fit-points", "bad.ply", "--out-dir", "x"], "bad.ply"),
        (["trace", "--scene", "nothing", "-o", "a.png"], "--scene must be torus"),
        (["trace", "--scene", "torus", "-o", "a.gif"], "--frames 1"),
    ],
)
def test_one_line_errors(tmp_path, argv, message):
    (tmp_path / "bad.ply").write_text("ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nend_header\n1\n")
    p = _cli(tmp_path, *argv)
    assert p.returncode == 2, (p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], p.stderr
