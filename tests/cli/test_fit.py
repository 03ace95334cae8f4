"""``inverse3d fit``: run(Args(...)) on tiny sizes, and the positional kind on the command line."""

from __future__ import annotations

import tyro

from inverse3d.cli.fit import Args, run


def test_fit_cli_writes_outputs(tmp_path, capsys):
    args = Args(kind="point", steps=3, n_points=50, image_size=32, n_frames=2, frame_every=2, out_dir=tmp_path,
                progress=False)
    assert run(args) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"loss.png", "progress.gif", "target_vs_fit.gif"}
    assert "fit point to chair seed 0: 3 steps" in capsys.readouterr().out


def test_fit_kind_is_positional():
    args = tyro.cli(Args, args=["mesh", "--ico-level", "2", "--w-smooth", "0.5", "--w-edge", "2", "--w-normal", "0"])
    assert args.kind == "mesh" and args.ico_level == 2 and args.w_smooth == 0.5
    assert args.w_edge == 2.0 and args.w_normal == 0.0
    default = tyro.cli(Args, args=[])
    assert default.kind == "vox"
    # the mesh regularisers, with the defaults the tour uses (tasks.single_view.fit's documentation says why these)
    assert (default.w_chamfer, default.w_edge, default.w_normal, default.w_smooth) == (1.0, 3.0, 0.01, 0.5)


def test_fit_cli_help_documents_the_regularisers(capsys):
    import pytest

    with pytest.raises(SystemExit):
        tyro.cli(Args, args=["--help"])
    text = capsys.readouterr().out
    assert "--w-edge" in text and "--w-normal" in text and "--w-smooth" in text


def test_fit_cli_checks_before_work(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="--out-dir: empty path"):
        run(Args(out_dir=""))
    with pytest.raises(ValueError, match="--device 'gpu9': unknown device"):
        run(Args(device="gpu9", out_dir=str(tmp_path / "o")))
    with pytest.raises(ValueError, match="--steps 0"):
        run(Args(steps=0, out_dir=str(tmp_path / "o")))
    assert not (tmp_path / "o").exists()
