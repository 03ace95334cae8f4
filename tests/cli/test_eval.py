"""``inverse3d eval``: run(Args(...)) on a checkpoint trained for one step on a tiny dataset."""

from __future__ import annotations

import pytest

from inverse3d.cli.eval import Args, run
from inverse3d.tasks.single_view.checkpoint import CheckpointError
from inverse3d.tasks.single_view.train import TrainConfig, train


def test_eval_cli(tmp_path, capsys):
    cfg = TrainConfig(type="mesh", iterations=1, ico_level=1, n_points=32, batch_size=2, n_train=2, n_val=1,
                      n_test=2, image_size=32, voxel_res=8, data_points=64, out_dir=tmp_path / "run",
                      data_root=tmp_path / "data", progress=False)
    train(cfg)
    args = Args(checkpoint=tmp_path / "run" / "checkpoint.pt", out_dir=tmp_path / "eval", gallery=(0,), n_frames=2,
                render_size=32, n_eval_points=64, max_shapes=1, progress=False)
    assert run(args) == 0
    out = capsys.readouterr().out
    assert "F1@0.05" in out and "1 test shapes" in out
    assert (tmp_path / "eval" / "index.html").is_file()


def test_eval_cli_bad_checkpoint(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="bad.pt"):
        run(Args(checkpoint=bad, out_dir=tmp_path / "eval", progress=False))


def test_eval_cli_checkpoint_folder_or_missing(tmp_path):
    with pytest.raises(ValueError, match="is a folder, not a checkpoint file"):
        run(Args(checkpoint=tmp_path, out_dir=str(tmp_path / "eval"), progress=False))
    with pytest.raises(FileNotFoundError, match="none.pt: no such checkpoint"):
        run(Args(checkpoint=tmp_path / "none.pt", out_dir=str(tmp_path / "eval"), progress=False))
    with pytest.raises(ValueError, match="--thresholds 0.0"):
        run(Args(checkpoint=tmp_path / "none.pt", thresholds=(0.0,), out_dir=str(tmp_path / "eval")))
    assert not (tmp_path / "eval").exists()
