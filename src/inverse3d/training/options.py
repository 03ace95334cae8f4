"""Checks of training options, made before any work: numbers, folders, and the checkpoint a run would replace.

Every check raises a one-line ``ValueError`` naming the option as the command line spells it (``--batch-size 0:
must be at least 1``), so ``inverse3d train`` reports it as ``inverse3d: error: ...`` and exits 2.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
class RunOptions:
    """The options of every command that trains or fits through the training core (``fit_loop``): where it writes,
    how many steps, the seed, checkpoints and resuming, a time budget, the device and the progress bar.

    A command's config derives from it and redeclares a field whose default or help differs there (a field
    redeclared without a docstring keeps this help); ``loop_options`` makes the core's ``LoopOptions``."""

    out_dir: str = "out"
    """Folder for checkpoint.pt, loss.png and config.json (locked while running: one run per folder)."""
    iterations: int = 1000
    """Optimisation steps (a resumed run continues up to this number)."""
    seed: int = 0
    """Seed of the initialisation and of every random draw of the run."""
    checkpoint_every: int = 200
    """Write out_dir/checkpoint.pt (atomically) every this many steps, also at the end and when interrupted."""
    max_minutes: float | None = None
    """Stop after this many minutes (with a checkpoint; --resume continues)."""
    resume: bool = False
    """Continue out_dir/checkpoint.pt exactly (weights, optimiser, step and random states)."""
    overwrite: bool = False
    """Replace an existing checkpoint in out_dir (without this or --resume a run refuses to touch it)."""
    device: str = "auto"
    """Torch device: auto, cpu, cuda, cuda:N or mps."""
    progress: bool = True
    """Show the progress bar."""

    def loop_options(self, config: dict[str, Any] | None = None, **more: Any):
        """The training core's ``LoopOptions`` for these options: ``config`` is written to config.json and stored
        in the checkpoint (default: every option as plain values); ``more``: other ``LoopOptions`` fields, or
        values that replace these (a resolved ``device``, say)."""
        from inverse3d.training.loop import LoopOptions

        values = dict(out_dir=Path(self.out_dir), iterations=self.iterations, seed=self.seed,
                      checkpoint_every=self.checkpoint_every, resume=self.resume, overwrite=self.overwrite,
                      max_minutes=self.max_minutes, progress=self.progress, device=self.device,
                      config=plain_values(self) if config is None else config)
        return LoopOptions(**{**values, **more})


def check_int(option: str, value: Any, low: int | None = None, high: int | None = None) -> None:
    """Raises ``ValueError`` naming ``option`` unless ``value`` is an int (not a bool) in [low, high]."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{option}: expected an integer, got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{option} {value}: must be at least {low}")
    if high is not None and value > high:
        raise ValueError(f"{option} {value}: must be at most {high}")


def check_float(option: str, value: Any, positive: bool = False) -> None:
    """Raises ``ValueError`` naming ``option`` unless ``value`` is a finite number, >= 0 (> 0 with ``positive``)."""
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{option}: expected a number, got {value!r}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{option} {value}: must be a finite number {'> 0' if positive else '>= 0'}")


def check_folder(option: str, path: Any) -> None:
    """Raises ``ValueError`` naming ``option`` when ``path`` is empty, is a file, or lies below a file (creating
    it would fail half-way). Creates nothing."""
    text = os.fspath(path) if isinstance(path, (str, os.PathLike)) else None
    if text is None:
        raise ValueError(f"{option}: expected a folder path, got {path!r}")
    if not str(text).strip():
        raise ValueError(f"{option}: empty path")
    folder = Path(text)
    for p in (folder, *folder.absolute().parents):
        if p.exists():
            if not p.is_dir():
                where = "is a file" if p == folder else f"lies below {p}, a file"
                raise ValueError(f"{option} {folder}: {where}, not a folder")
            return


def check_checkpoint_target(out_dir: str | Path, resume: bool, overwrite: bool, name: str = CHECKPOINT_NAME) -> Path:
    """Where a run's checkpoint goes (``out_dir/name``), after checking that starting there loses nothing: an
    existing checkpoint needs ``resume`` or ``overwrite``; ``resume`` needs one. Returns the path. Creates nothing."""
    path = Path(out_dir) / name
    if path.is_dir():
        raise ValueError(f"{path}: a folder where the checkpoint goes; move it away or choose another --out-dir")
    if resume:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no checkpoint to --resume from (start without --resume)")
    elif path.exists() and not overwrite:
        raise ValueError(f"{path}: a checkpoint exists already; continue it with --resume or replace it with "
                         "--overwrite (or choose another --out-dir)")
    return path


def plain_values(config: Any) -> dict[str, Any]:
    """A dataclass of options as plain values (paths as str, tuples as lists), for checkpoints and config.json."""
    out = {}
    for f in dataclasses.fields(config):
        v = getattr(config, f.name)
        out[f.name] = str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v
    return out
