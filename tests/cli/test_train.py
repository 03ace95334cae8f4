"""``inverse3d train``: run(Args(...)) on a tiny dataset, then --resume to a later step."""

from __future__ import annotations

import tyro

from inverse3d.cli.train import Args, run

TINY = dict(n_train=2, n_val=1, n_test=1, image_size=32, voxel_res=8, data_points=64, batch_size=2,
            checkpoint_every=1000, progress=False)


def test_train_cli_and_resume(tmp_path, capsys):
    args = Args(type="vox_conv", iterations=1, out_dir=tmp_path / "run", data_root=tmp_path / "data", **TINY)
    assert run(args) == 0
    assert "trained vox_conv to step 1" in capsys.readouterr().out
    args = Args(type="vox_conv", iterations=2, resume=True, out_dir=tmp_path / "run", data_root=tmp_path / "data",
                **TINY)
    assert run(args) == 0
    assert "trained vox_conv to step 2" in capsys.readouterr().out


def test_train_cli_parses_options():
    args = tyro.cli(Args, args=["--type", "implicit", "--categories", "chair", "sofa", "--n-queries", "64"])
    assert args.type == "implicit" and args.categories == ("chair", "sofa") and args.n_queries == 64


def test_train_cli_refuses_to_replace_a_checkpoint(tmp_path, capsys):
    import pytest

    opts = dict(type="point", n_points=16, out_dir=str(tmp_path / "run"), data_root=tmp_path / "data", **TINY)
    assert run(Args(iterations=1, **opts)) == 0
    before = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    with pytest.raises(ValueError, match="checkpoint exists already; continue it with --resume or replace it with "
                                         "--overwrite"):
        run(Args(iterations=1, **opts))
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == before
    assert run(Args(iterations=1, overwrite=True, **opts)) == 0
    assert "trained point to step 1" in capsys.readouterr().out


def test_train_cli_documents_overwrite_and_checks_device(capsys):
    import pytest

    with pytest.raises(SystemExit):
        tyro.cli(Args, args=["--help"])
    text = capsys.readouterr().out
    assert "--overwrite" in text and "--resume" in text
    with pytest.raises(ValueError, match="--device 'gpu9': unknown device"):
        run(Args(device="gpu9"))
    with pytest.raises(ValueError, match="--out-dir: empty path"):
        run(Args(out_dir=""))
