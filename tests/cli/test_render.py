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
    assert args.size == 32 and args.color == (0.2, 0.4, 0.9) and args.texture is False and Path(args.output).name == "o.gif"
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
    with pytest.raises(ValueError, match="unsupported suffix"):
        run(Args(path=tmp_path / "v.npy", output=tmp_path / "o.avi", **TINY))
    with pytest.raises(ValueError, match="voxel grids are read"):
        run(Args(path=tmp_path / "x.xyz", output=tmp_path / "o.gif", kind="voxels", **TINY))


# ----------------------------------------------------------------------------------------------------------------
# Outputs: streamed frames, stale frames, locks, temporary files, memory check, OBJ references


class _Stop(Exception):
    pass


def test_frames_are_streamed_to_the_writer(tmp_path, monkeypatch):
    """--frames 100000000: frames reach the GIF writer a batch at a time; memory does not grow with the count."""
    import inverse3d.viz.turntable as turntable

    np.save(tmp_path / "v.npy", _voxels())
    rendered = []
    render_mesh = turntable._render_mesh

    def counting(scene, R, T, fov, size, bg):
        rendered.append(R.shape[0])
        return render_mesh(scene, R, T, fov, size, bg)

    def three_frames_then_stop(frames, path, fps):
        for t, frame in enumerate(frames):
            assert frame.shape == (64, 64, 3)
            if t == 2:
                raise _Stop

    monkeypatch.setattr(turntable, "_render_mesh", counting)
    monkeypatch.setattr("inverse3d.viz.images._write_gif", three_frames_then_stop)
    with pytest.raises(_Stop):
        run(Args(path=tmp_path / "v.npy", output=tmp_path / "v.gif", size=64, frames=100_000_000, progress=False,
                 device="cpu"))
    assert rendered == [turntable.frames_per_batch(100_000_000, 64)]  # one batch, not 10^8 frames
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.npy"]  # no output, temporary file or lock left


def test_png_folder_replaces_stale_frames(tmp_path):
    np.save(tmp_path / "v.npy", _voxels())
    out = tmp_path / "frames"
    run(Args(path=tmp_path / "v.npy", output=out, **TINY))
    (out / "notes.txt").write_text("mine")
    run(Args(path=tmp_path / "v.npy", output=out, **{**TINY, "frames": 2}))
    assert sorted(p.name for p in out.iterdir()) == ["frame_0000.png", "frame_0001.png", "notes.txt"]


def test_output_written_through_a_temporary_file_of_this_process(tmp_path, monkeypatch):
    import os

    np.save(tmp_path / "v.npy", _voxels())
    moves = []
    replace = os.replace

    def recording(src, dst):
        moves.append((Path(src), Path(dst)))
        replace(src, dst)

    monkeypatch.setattr(os, "replace", recording)
    run(Args(path=tmp_path / "v.npy", output=tmp_path / "v.gif", **TINY))
    src, dst = moves[-1]
    assert dst == tmp_path / "v.gif" and src.parent == tmp_path
    assert src.name.startswith(f".v.gif.{os.getpid()}.") and not src.exists()
    _check_gif(dst)


def test_output_locked_by_another_process(tmp_path):
    import os
    import socket

    from inverse3d.io.outputs import OutputInUseError

    np.save(tmp_path / "v.npy", _voxels())
    (tmp_path / ".v.gif.lock").write_text(f"{os.getppid()} {socket.gethostname()}\n")
    with pytest.raises(OutputInUseError, match=f"in use by PID {os.getppid()}"):
        run(Args(path=tmp_path / "v.npy", output=tmp_path / "v.gif", **TINY))
    assert not (tmp_path / "v.gif").exists()


def test_memory_is_checked_before_rendering(tmp_path, monkeypatch):
    np.save(tmp_path / "v.npy", _voxels())
    monkeypatch.setattr("inverse3d.viz.turntable.available_memory_bytes", lambda device=None: 50 << 20)
    monkeypatch.setattr("inverse3d.cli.render.load_renderable", lambda *a, **k: pytest.fail("loaded the file"))
    with pytest.raises(ValueError, match=r"--size 512: rendering 512 x 512 pixel frames needs about .* MB of memory, "
                                         r"more than the 52.4 MB available on cpu; use a smaller --size"):
        run(Args(path=tmp_path / "v.npy", output=tmp_path / "v.gif", **{**TINY, "size": 512}))
    assert not (tmp_path / "v.gif").exists()


@pytest.mark.parametrize("flag", [[], ["--allow-external-files"]])
def test_allow_external_files_reaches_the_loaders(tmp_path, monkeypatch, flag):
    import inverse3d.io as io

    (tmp_path / "cube.obj").write_text(CUBE_OBJ)
    seen = {}
    load_mesh, describe_file = io.load_mesh, io.describe_file

    def recording_load(path, device="cpu", **kwargs):
        seen["render"] = kwargs.get("allow_external_files")
        return load_mesh(path, device=device, **kwargs)

    def recording_describe(path, **kwargs):
        seen["info"] = kwargs.get("allow_external_files")
        return describe_file(path, **kwargs)

    monkeypatch.setattr(io, "load_mesh", recording_load)
    monkeypatch.setattr(io, "describe_file", recording_describe)
    from inverse3d.cli.main import main

    main(["render", str(tmp_path / "cube.obj"), "-o", str(tmp_path / "c.gif"), "--size", "16", "--frames", "1",
          "--no-progress", *flag])
    main(["info", str(tmp_path / "cube.obj"), *flag])
    assert seen == {"render": bool(flag), "info": bool(flag)}
