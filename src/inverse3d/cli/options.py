"""Checks of command-line options shared by the commands, each raising a one-line ``ValueError`` naming the option.

Call them at the top of a command's ``run``, before any work and before any folder is created, so that a typo costs
nothing:

    device = resolve_device(args.device)
    out = check_output_path(args.output, {".gif", ".mp4", ""})   # a file or a folder of frames
    out_dir = check_output_folder(args.out_dir, "--out-dir")      # a folder of any name

Give output options the type ``str`` in the ``Args`` dataclass (metavar ``PATH``): tyro turns ``-o ""`` into
``Path("")``, which is ``Path(".")``, and an empty path can no longer be told apart from the current folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import torch

DEVICE_CHOICES = "auto, cpu, cuda, cuda:N, mps"


def resolve_device(name: str, option: str = "--device") -> torch.device:
    """The torch device named by a ``--device`` option, checked against the hardware present.

    ``auto`` picks CUDA, then MPS, then the CPU. ``cuda`` / ``cuda:N`` need a CUDA GPU (with index N), ``mps`` an
    Apple GPU.

    Raises:
        ValueError: an unknown name, or a device that this machine does not have (one line, with what to use).
    """
    text = str(name).strip()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError, TypeError):
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{option} {name!r}: unknown device; choose one of {DEVICE_CHOICES}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"{option} {text}: no CUDA GPU is available here (torch.cuda.is_available() is False); "
                f"use {option} cpu")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ValueError(
                f"{option} {text}: there is no CUDA GPU {device.index}; this machine has {count} "
                f"(cuda:0 to cuda:{count - 1})")
    if device.type == "mps" and not _mps_available():
        raise ValueError(
            f"{option} {text}: no Apple MPS GPU is available here (torch.backends.mps.is_available() is False); "
            f"use {option} cpu")
    return device


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def _describe_suffixes(suffixes: Iterable[str]) -> str:
    names = sorted(s for s in suffixes if s)
    if "" in suffixes:
        names.append("a folder (no suffix)")
    return ", ".join(names) if len(names) < 2 else ", ".join(names[:-1]) + " or " + names[-1]


def check_output_path(path: str | os.PathLike, suffixes: set[str], option: str = "-o") -> Path:
    """Checks an output path before any work and returns it as a ``Path``; creates nothing.

    Args:
        path: the option's value, preferably the raw string (see the module docstring).
        suffixes: allowed lower-case suffixes, e.g. ``{".gif", ".mp4"}``; ``""`` allows a folder (a path without a
            suffix, or an existing folder).
        option: the option's name for the messages.
    Raises:
        ValueError: an empty path; a suffix not allowed; a file where a folder is expected (the output itself or
            a folder above it) or a folder where a file is expected.
    """
    text = os.fsdecode(os.fspath(path))
    if not text.strip():
        raise ValueError(f"{option}: empty path")
    out = Path(text)
    wants_folder = "" in suffixes
    if out.is_dir():
        if not wants_folder:
            raise ValueError(
                f"{option} {out}: is a folder; expected a file ending in {_describe_suffixes(suffixes)}")
    else:
        suffix = out.suffix.lower()
        if suffix not in suffixes:
            what = f"unsupported suffix {suffix!r}" if suffix else "no suffix"
            raise ValueError(f"{option} {out}: {what}; use {_describe_suffixes(suffixes)}")
        if suffix == "" and out.exists():
            raise ValueError(f"{option} {out}: is a file, not a folder")
    _check_parents(out, option)
    return out


def check_output_folder(path: str | os.PathLike, option: str = "-o") -> Path:
    """Checks an output folder (any name) before any work and returns it as a ``Path``; creates nothing.

    Raises:
        ValueError: an empty path, an existing file, or a file where a folder above it should be.
    """
    text = os.fsdecode(os.fspath(path))
    if not text.strip():
        raise ValueError(f"{option}: empty path")
    out = Path(text)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{option} {out}: is a file, not a folder")
    _check_parents(out, option)
    return out


def _check_parents(out: Path, option: str) -> None:
    """The closest existing folder above ``out`` must be a folder: creating folders below a file fails half-way."""
    for parent in out.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{option} {out}: {parent} is a file, not a folder")
            return


def run_training(args, train, describe) -> int:
    """What every ``... train`` command does around its task's ``train(config)``: resolve ``--device``, check the
    options before any work, stream to the browser viewer when ``--viewer`` asks, report an interruption (exit status
    130, the checkpoint to ``--resume``), and on rank 0 print ``describe(result)`` and the files written.

    Args:
        args: the command's options (a config dataclass with ``device``, ``check()`` and ``viewer``).
        train: the task's ``train(config) -> LoopResult``.
        describe: ``result -> str``, the line summarising the run (``"trained ... to step N in S s, ..."``).
    """
    from inverse3d.training import TrainingInterrupted
    from inverse3d.viewer.live import training_viewer

    args.device = str(resolve_device(args.device))
    args.check()
    try:
        with training_viewer(getattr(args, "viewer", None)):
            result = train(args)
    except TrainingInterrupted as stop:
        if stop.path is not None:
            print(f"interrupted at step {stop.step}; checkpoint: {stop.path} (continue with --resume)")
        return 130
    if getattr(result, "rank", 0) == 0:
        print(describe(result))
        for name, path in result.files.items():
            print(f"  {name}: {path}")
    return 0


def last_loss(result) -> str:
    """The run's last loss, formatted (nan when no step ran)."""
    return f"{result.losses[-1] if result.losses else float('nan'):.4g}"
