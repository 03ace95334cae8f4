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
    args = tyro.cli(Args, args=["mesh", "--ico-level", "2", "--w-smooth", "0.5"])
    assert args.kind == "mesh" and args.ico_level == 2 and args.w_smooth == 0.5
    assert tyro.cli(Args, args=[]).kind == "vox"
