"""``inverse3d render``: meshes, point clouds and voxel grids from files to GIF / PNG frames, on tiny sizes."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tyro

from inverse3d.cli.render import Args, run

TINY = dict(size=32, frames=4, progress=False, device="cpu")

CUBE_OBJ = """# unit cube
v -0.5 -0.5 -0.5
v 0.5 -0.5 -0.5
v 0.5 0.5 -0.5
v -0.5 0.5 -0.5
v -0.5 -0.5 0.5
v 0.5 -0.5 0.5
v 0.5 0.5 0.5
v -0.5 0.5 0.5
f 1 4 3
f 1 3 2
f 5 6 7
f 5 7 8
f 1 2 6
f 1 6 5
f 4 8 7
f 4 7 3
f 1 5 8
f 1 8 4
f 2 3 7
f 2 7 6
"""


def _points_ply(path: Path, n: int = 200) -> Path:
    rng = np.random.default_rng(0)
    xyz = rng.normal(size=(n, 3)) * 0.3
    rgb = rng.integers(0, 256, size=(n, 3))
    lines = ["ply", "format ascii 1.0", f"element vertex {n}", "property float x", "property float y",
             "property float z", "property uchar red", "property uchar green", "property uchar blue", "end_header"]
    lines += [f"{x:.5f} {y:.5f} {z:.5f} {r} {g} {b}" for (x, y, z), (r, g, b) in zip(xyz, rgb)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _voxels() -> np.ndarray:
    grid = np.zeros((6, 6, 6), np.float32)
    grid[1:5, 1:5, 1:5] = 1.0
    return grid


def _check_gif(path: Path, frames: int = 4, size: int = 32) -> np.ndarray:
    video = iio.imread(path)
    assert video.shape == (frames, size, size, 3)
    assert (video != 255).any(axis=-1).mean() > 0.02  # something was drawn on the white background
    return video


def test_voxels_npy_and_npz(tmp_path):
    np.save(tmp_path / "v.npy", _voxels())
    run(Args(path=tmp_path / "v.npy", output=tmp_path / "v.gif", **TINY))
    _check_gif(tmp_path / "v.gif")
    np.savez(tmp_path / "v.npz", logits=_voxels()[None] * 10 - 5)
    run(Args(path=tmp_path / "v.npz", output=tmp_path / "frames", **TINY))
    assert len(list((tmp_path / "frames").glob("frame_*.png"))) == 4


def test_points_npy_with_colours_and_overrides(tmp_path):
    rng = np.random.default_rng(1)
    data = np.concatenate([rng.normal(size=(300, 3)) * 0.3, rng.random((300, 3))], axis=1).astype(np.float32)
    np.save(tmp_path / "p.npy", data)
    run(Args(path=tmp_path / "p.npy", output=tmp_path / "p.gif", point_radius=0.05, background=(0.0, 0.0, 0.0),
             color=(1.0, 0.0, 0.0), **TINY))
    video = iio.imread(tmp_path / "p.gif")
    drawn = video.max(axis=-1) > 40
    assert drawn.any()
    assert (video[..., 0][drawn] > video[..., 1][drawn]).all()  # the red override


def test_points_npz(tmp_path):
    rng = np.random.default_rng(2)
    np.savez(tmp_path / "p.npz", points=rng.normal(size=(200, 3)).astype(np.float32) * 0.3,
             colors=rng.integers(0, 256, size=(200, 3)).astype(np.uint8))
    run(Args(path=tmp_path / "p.npz", output=tmp_path / "p.gif", point_radius=0.05, **TINY))
    _check_gif(tmp_path / "p.gif")


def test_tyro_parses_the_command_line(tmp_path):
    np.save(tmp_path / "v.npy", _voxels())
    argv = [str(tmp_path / "v.npy"), "-o", str(tmp_path / "o.gif"), "--size", "32", "--frames", "4", "--elev", "30",
            "--fov", "50", "--color", "0.2", "0.4", "0.9", "--no-texture", "--background", "0", "0", "0", "--fps", "8",
            "--voxel-threshold", "0.5", "--device", "cpu", "--no-progress"]
    args = tyro.cli(Args, args=argv)
    assert args.size == 32 and args.color == (0.2, 0.4, 0.9) and args.texture is False and args.output.name == "o.gif"
    run(args)
    video = iio.imread(tmp_path / "o.gif")
    assert video.shape == (4, 32, 32, 3)


def test_obj_mesh(tmp_path):
    pytest.importorskip("inverse3d.io.mesh_io")
    (tmp_path / "cube.obj").write_text(CUBE_OBJ)
    run(Args(path=tmp_path / "cube.obj", output=tmp_path / "cube.gif", **TINY))
    _check_gif(tmp_path / "cube.gif")


def test_ply_point_cloud(tmp_path):
    pytest.importorskip("inverse3d.io.ply_io")
    ply = _points_ply(tmp_path / "pts.ply")
    run(Args(path=ply, output=tmp_path / "pts.gif", point_radius=0.04, **TINY))
    _check_gif(tmp_path / "pts.gif")


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        run(Args(path=tmp_path / "missing.obj", output=tmp_path / "o.gif", **TINY))
    (tmp_path / "x.xyz").write_text("1 2 3\n")
    with pytest.raises(ValueError, match="unsupported file type"):
        run(Args(path=tmp_path / "x.xyz", output=tmp_path / "o.gif", **TINY))
    (tmp_path / "bad.npy").write_bytes(b"not numpy at all")
    with pytest.raises(ValueError, match="cannot read"):
        run(Args(path=tmp_path / "bad.npy", output=tmp_path / "o.gif", **TINY))
    np.save(tmp_path / "flat.npy", np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match="neither a voxel grid"):
        run(Args(path=tmp_path / "flat.npy", output=tmp_path / "o.gif", **TINY))
    np.save(tmp_path / "empty.npy", np.zeros((4, 4, 4), np.float32))
    with pytest.raises(ValueError, match="threshold"):
        run(Args(path=tmp_path / "empty.npy", output=tmp_path / "o.gif", **TINY))
    np.save(tmp_path / "v.npy", _voxels())
    with pytest.raises(ValueError, match="unsupported output"):
        run(Args(path=tmp_path / "v.npy", output=tmp_path / "o.avi", **TINY))
    with pytest.raises(ValueError, match="voxel grids are read"):
        run(Args(path=tmp_path / "x.xyz", output=tmp_path / "o.gif", kind="voxels", **TINY))
