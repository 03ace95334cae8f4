"""Bad command lines and file-system faults: ``inverse3d`` prints one line ``inverse3d: error: ...`` and exits with 2.

``CASES`` is the table of inputs and the message each must produce, taken from ``_TABLE`` whose rows also hold the
command line (run in a temporary working directory holding ``tri.obj``, a folder ``folder`` and ``points.npy``)
and an optional setup (faults are raised by monkeypatching, which works as root too). Rows marked ``early`` must
fail before any file is read or rendered and before any folder is created.
"""

from __future__ import annotations

import errno
import os
import socket

import numpy as np
import pytest
import torch

from inverse3d.cli.main import entrypoint

TRIANGLE = "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
_TINY = ["--size", "16", "--frames", "2", "--no-progress"]


def _no_cuda(mp):
    mp.setattr(torch.cuda, "is_available", lambda: False)


def _one_cuda(mp):
    mp.setattr(torch.cuda, "is_available", lambda: True)
    mp.setattr(torch.cuda, "device_count", lambda: 1)


def _no_mps(mp):
    mp.setattr(torch.backends.mps, "is_available", lambda: False)


def _locked(mp):
    """Another live process (our parent) holds the lock of out.gif."""
    with open(".out.gif.lock", "w", encoding="utf-8") as f:
        f.write(f"{os.getppid()} {socket.gethostname()}\n")


def _writing_fails(err: OSError):
    """The GIF writer raises ``err`` (as the file system would) after rendering."""

    def setup(mp):
        def fail(*args, **kwargs):
            raise err

        mp.setattr("inverse3d.viz.images._write_gif", fail)

    return setup


_TABLE = [  # (description, argv, expected message, setup or None, early)
    ("render --device cuda without a GPU", ["render", "tri.obj", "--device", "cuda"],
     "--device cuda: no CUDA GPU is available here (torch.cuda.is_available() is False); use --device cpu",
     _no_cuda, True),
    ("render --device cuda:3 with one GPU", ["render", "tri.obj", "--device", "cuda:3"],
     "--device cuda:3: there is no CUDA GPU 3; this machine has 1", _one_cuda, True),
    ("render --device mps without MPS", ["render", "tri.obj", "--device", "mps"],
     "--device mps: no Apple MPS GPU is available here", _no_mps, True),
    ("render --device gpu (unknown)", ["render", "tri.obj", "--device", "gpu"],
     "--device 'gpu': unknown device; choose one of auto, cpu, cuda, cuda:N, mps", None, True),
    ("render -o out.png (unsupported extension)", ["render", "tri.obj", "-o", "new/out.png"],
     "-o new/out.png: unsupported suffix '.png'; use .gif, .mp4 or a folder (no suffix)", None, True),
    ('render -o ""', ["render", "tri.obj", "-o", ""], "-o: empty path", None, True),
    ("render -o below a file", ["render", "tri.obj", "-o", "tri.obj/out.gif"], "tri.obj is a file, not a folder",
     None, True),
    ("render -o an existing file as the frame folder", ["render", "tri.obj", "-o", "points"],
     "-o points: is a file, not a folder", lambda mp: open("points", "w").close(), True),
    ("render --size 100000", ["render", "tri.obj", "--size", "100000"],
     "--size 100000: rendering 100000 x 100000 pixel frames needs about", None, True),
    ("render --size 0", ["render", "tri.obj", "--size", "0"], "--size must be positive; got 0", None, True),
    ("render --frames 0", ["render", "tri.obj", "--frames", "0"], "--frames must be positive; got 0", None, True),
    ("render --fov 180", ["render", "tri.obj", "--fov", "180"], "--fov must be in (0, 180) degrees; got 180.0",
     None, True),
    ("render --fps 0", ["render", "tri.obj", "--fps", "0"], "--fps must be positive; got 0.0", None, True),
    ("render --color 2 0 0", ["render", "tri.obj", "--color", "2", "0", "0"],
     "--color must be RGB values in [0, 1]; got 2.0 0.0 0.0", None, True),
    ("render --point-radius 0", ["render", "points.npy", "--point-radius", "0"],
     "--point-radius must be a positive number", None, True),
    ("render a folder", ["render", "folder"], "folder: is a folder; expected a mesh, point-cloud or voxel-grid file",
     None, False),
    ("render a missing file", ["render", "missing.obj"], "missing.obj: no such file", None, False),
    ("render an output another process writes", ["render", "tri.obj", "-o", "out.gif"],
     "out.gif: in use by PID", _locked, False),
    ("render, permission denied", ["render", "tri.obj", "-o", "out.gif"], "/ro/out.gif: Permission denied",
     _writing_fails(PermissionError(errno.EACCES, "Permission denied", "/ro/out.gif")), False),
    ("render, file exists", ["render", "tri.obj", "-o", "out.gif"], "/x/out.gif: File exists",
     _writing_fails(FileExistsError(errno.EEXIST, "File exists", "/x/out.gif")), False),
    ("render, not a directory", ["render", "tri.obj", "-o", "out.gif"], "/f/out.gif: Not a directory",
     _writing_fails(NotADirectoryError(errno.ENOTDIR, "Not a directory", "/f/out.gif")), False),
    ("render, is a directory", ["render", "tri.obj", "-o", "out.gif"], "/d/out.gif: Is a directory",
     _writing_fails(IsADirectoryError(errno.EISDIR, "Is a directory", "/d/out.gif")), False),
    ("render, read-only file system", ["render", "tri.obj", "-o", "out.gif"], "/ro/out.gif: Read-only file system",
     _writing_fails(OSError(errno.EROFS, os.strerror(errno.EROFS), "/ro/out.gif")), False),
    ("render, disk full (a write names no file)", ["render", "tri.obj", "-o", "out.gif"],
     "out.gif: No space left on device", _writing_fails(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))), False),
    ("info a folder", ["info", "folder"], "folder: is a folder; expected a mesh or point-cloud file", None, False),
    ("info a missing file", ["info", "missing.obj"], "missing.obj", None, False),
    ("tour --mesh missing.obj", ["tour", "-o", "site", "--mesh", "missing.obj"], "--mesh missing.obj: no such file",
     None, True),
    ("tour --mesh a folder", ["tour", "-o", "site", "--mesh", "folder"],
     "--mesh folder: is a folder; expected a mesh file", None, True),
    ('tour -o ""', ["tour", "-o", ""], "-o: empty path", None, True),
    ("tour -o an existing file", ["tour", "-o", "tri.obj"], "-o tri.obj: is a file, not a folder", None, True),
    ("tour --device gpu", ["tour", "-o", "site", "--device", "gpu"], "--device 'gpu': unknown device", None, True),
    ("tour --size 0", ["tour", "-o", "site", "--size", "0"], "--size must be positive; got 0", None, True),
]

CASES = [(description, message) for description, _, message, _, _ in _TABLE]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tri.obj").write_text(TRIANGLE)
    (tmp_path / "folder").mkdir()
    np.save(tmp_path / "points.npy", np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32))
    return tmp_path


def _snapshot(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("description,argv,message,setup,early", _TABLE, ids=[row[0] for row in _TABLE])
def test_bad_command_line_gets_one_line(description, argv, message, setup, early, workdir, monkeypatch, capsys):
    if setup is not None:
        setup(monkeypatch)
    if early:  # nothing may be read or rendered
        def reached(*args, **kwargs):
            raise AssertionError(f"{description}: work started before the options were checked")

        monkeypatch.setattr("inverse3d.cli.render.load_renderable", reached)
        monkeypatch.setattr("inverse3d.tour.build_tour", reached)
    before = _snapshot(workdir)
    with pytest.raises(SystemExit) as exc:
        entrypoint(argv + (_TINY if argv[0] == "render" and "--size" not in argv and "--frames" not in argv else
                           ["--no-progress"] if argv[0] == "render" else []))
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("inverse3d: error: "), err
    assert message in lines[0], lines[0]
    if early:
        assert _snapshot(workdir) == before, f"{description}: files or folders were created"
    assert not list(workdir.glob(".*.tmp*")), "a temporary file was left behind"
