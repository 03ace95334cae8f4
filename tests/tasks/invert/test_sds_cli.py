"""The score-distillation command (``inverse3d invert sds``, the module ``inverse3d.cli.invert_sds``) in
a subprocess from another folder: a 2-step mesh run on the tiny random model, and one-line errors."""

from __future__ import annotations

import pytest

from tests.cli.helpers import cli_runner

_cli = cli_runner("invert", "sds")


def test_missing_model_folder_is_one_line(tmp_path):
    p = _cli(tmp_path, "--prompt", "a cat", "--model-dir", "no/such/folder", "--device", "cpu")
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "--model-dir no/such/folder: no such folder" in lines[0]
    assert not (tmp_path / "out").exists()
    p = _cli(tmp_path, "--target", "teapot", "--device", "cpu")
    assert p.returncode == 2 and "--target" in p.stderr and len(p.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_mesh_run(tmp_path):
    pytest.importorskip("diffusers")
    pytest.importorskip("transformers")
    from inverse3d.tasks.invert.sds_tiny import write_tiny_model

    write_tiny_model(tmp_path / "tiny", image_size=16)
    p = _cli(tmp_path, "--prompt", "a red apple", "--target", "mesh", "--model-dir", "tiny", "--out-dir", "run",
             "--iterations", "2", "--render-size", "8", "--turntable-frames", "2", "--no-progress", "--device", "cpu")
    assert p.returncode == 0, p.stderr
    assert "score distillation of a mesh from 'a red apple': step 2" in p.stdout
    names = {f.name for f in (tmp_path / "run").iterdir()}
    assert {"progress.gif", "loss.png", "result.ply", "turntable.gif", "checkpoint.pt", "config.json"} <= names
    p = _cli(tmp_path, "--target", "mesh", "--model-dir", "tiny", "--out-dir", "run", "--device", "cpu")
    assert p.returncode == 2 and "--resume" in p.stderr and len(p.stderr.strip().splitlines()) == 1
