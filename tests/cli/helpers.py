"""Helpers of the command tests: the ``inverse3d`` program in a subprocess, run from another working directory than
the repository (as a user runs it), and the tiny built-in scene the scene-training commands train on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable


def cli_runner(*command: str, timeout: float = 300) -> Callable[..., subprocess.CompletedProcess]:
    """``run(cwd, *argv)``: ``python -m inverse3d.cli.main COMMAND... ARGV`` (``inverse3d COMMAND... ARGV``) in the
    folder ``cwd`` with one OpenMP thread, its stdout and stderr captured as text."""

    def run(cwd, *argv: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, OMP_NUM_THREADS="1")
        return subprocess.run([sys.executable, "-m", "inverse3d.cli.main", *command, *argv], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=timeout)

    return run


def tiny_lego(folder: Path, n_points: int = 100) -> Path:
    """The built-in lego scene at 16 pixels (4 train, 1 val, 2 test views, ``n_points`` points) in
    ``folder/lego16``."""
    from inverse3d.datasets.scenes import make_scene

    return make_scene("lego", folder / "lego16", image_size=16, n_train=4, n_val=1, n_test=2, progress=False,
                      n_points=n_points)
