"""Entry point of the ``inverse3d`` command: a tyro subcommand per module of this package.

Each command module defines a dataclass ``Args`` (its options, each documented by the docstring under it) and
``run(args: Args)``. ``inverse3d --help`` lists the commands; ``inverse3d CMD --help`` documents every option.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from typing import Sequence

# name -> module under inverse3d.cli. Order is the order in --help.
COMMANDS: dict[str, str] = {
    "tour": "tour",
    "info": "info",
    "render": "render",
    "fit": "fit",
    "train": "train",
    "eval": "eval",
    "scenes": "scenes",
    "nerf": "nerf",
    "surface": "surface",
    "splat": "splat",
    "invert": "invert",
    "view": "view",
}


def _load() -> dict[str, object]:
    return {name: importlib.import_module(f"inverse3d.cli.{module}") for name, module in COMMANDS.items()}


def main(argv: Sequence[str] | None = None) -> int:
    """Parses ``argv`` (default: sys.argv[1:]), runs the chosen command and returns its exit status."""
    import tyro

    from inverse3d.training.memory import keep_freed_memory

    keep_freed_memory()  # training and rendering reuse freed activations instead of faulting in fresh pages
    modules = _load()
    by_type = {mod.Args: mod for mod in modules.values()}
    args = tyro.extras.subcommand_cli_from_dict(
        {name: mod.Args for name, mod in modules.items()},
        prog="inverse3d",
        description="inverse3d: learning 3D vision through inverse graphics, in pure PyTorch.",
        args=argv,
    )
    result = by_type[type(args)].run(args)
    return int(result or 0)


def error_message(err: BaseException) -> str | None:
    """The one-line message for an error a user can fix (bad option or file, file-system fault), else None.

    OSError (permission denied, file exists, not a directory, read-only file system, disk full, ...) is reported
    as ``PATH: reason`` from its ``filename`` and ``errno``; ``ValueError`` (``MeshFileError``, ``CheckpointError``),
    ``OutputInUseError`` and running out of memory by their own message. Anything else is a bug: None.
    """
    import torch

    from inverse3d.io.errors import MeshFileError
    from inverse3d.io.outputs import OutputInUseError

    if isinstance(err, (MeshFileError, ValueError, OutputInUseError)):
        text = str(err)
    elif isinstance(err, OSError):
        text = _os_error_message(err)
    elif isinstance(err, (MemoryError, getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError))):
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        text = f"out of memory: {first}; try smaller sizes (e.g. --size) or another --device"
    else:
        return None
    return " ".join(text.split()) or type(err).__name__


def _os_error_message(err: OSError) -> str:
    """``PATH: reason`` (``SRC -> DST: reason`` for renames) of a file-system error."""
    reason = err.strerror or (os.strerror(err.errno) if err.errno else "")
    if err.filename is None:  # e.g. a write on a full disk: the reason without "[Errno 28]"
        return reason if err.strerror else (str(err) or type(err).__name__)
    where = os.fsdecode(err.filename) if isinstance(err.filename, bytes) else str(err.filename)
    if err.filename2 is not None:
        where += f" -> {err.filename2}"
    return f"{where}: {reason or type(err).__name__}"


def entrypoint(argv: Sequence[str] | None = None) -> None:
    """Console script: errors a user can fix are printed in one line (``inverse3d: error: ...``, exit status 2),
    not as a traceback; bugs keep their traceback. SIGTERM exits through SystemExit, so that temporary files are
    removed and output locks released on the way out, as on Ctrl-C."""
    import signal

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        status = _run(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    sys.exit(status)


def _run(argv: Sequence[str] | None) -> int:
    """``main(argv)``'s status, or 2 after printing the one-line message of an error a user can fix."""
    try:
        return main(argv)
    except KeyboardInterrupt:
        print("inverse3d: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        message = error_message(err)
        if message is None:
            raise
        print(f"inverse3d: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    entrypoint()
