"""Files that a mesh file refers to (an OBJ's ``mtllib``, an MTL's ``map_Kd``, a glTF's buffer and image URIs)
resolve inside the mesh's folder.

A reference that escapes the folder (an absolute path, ``..``, or a symbolic link pointing out of it) is refused
unless the caller opts in with ``allow_external_files=True`` (``--allow-external-files`` on the command line): a
mesh downloaded from somewhere must not make inverse3d read ``/etc/passwd`` or ``~/.ssh``. The refusal is a
warning naming the reference (the mesh still loads, with a plain colour instead) for materials and textures, and
an error for geometry a mesh cannot do without (glTF buffers).

Exporters often write the absolute path of the artist's machine (``C:\\Users\\bob\\wood.png``); when a file of
that base name sits in the referencing file's folder it is used, as before, since it is inside.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple, Optional

EXTERNAL_HINT = "pass allow_external_files=True (--allow-external-files) to read it"


class Reference(NamedTuple):
    """Where a reference leads: ``path`` (None when refused), and whether it was refused for leaving the folder."""

    path: Optional[Path]
    outside: bool


def is_within(path: os.PathLike | str, root: os.PathLike | str) -> bool:
    """Whether ``path``, with ``..`` and symbolic links resolved, lies inside the folder ``root``."""
    try:
        return Path(path).resolve().is_relative_to(Path(root).resolve())
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte in the name
        return False


def resolve_reference(root: Path, base: Path, written: str, allow_external: bool = False) -> Reference:
    """Resolves a file name written inside a mesh file (or inside a file it refers to).

    Tries ``base / written``, then the base name of ``written`` in ``base``. Without ``allow_external``, a
    candidate outside ``root`` (symbolic links followed) is never used, whether or not it exists.

    Args:
        root: the mesh's folder: nothing outside it is read without ``allow_external``.
        base: the folder of the file holding the reference (``root`` or a folder inside it).
        written: the name as written in the file.
    Returns:
        Reference(path, outside): ``path`` is the file to read (it may not exist: the caller says "not found"),
        or None with ``outside=True`` when the reference leaves ``root`` and no inside fallback exists.
    """
    def usable(p: Path) -> bool:
        return allow_external or is_within(p, root)

    if "\x00" in written:
        return Reference(None, True)
    candidate = base / written
    fallback = base / Path(written).name if Path(written).name else None
    if usable(candidate):
        if candidate.is_file() or fallback is None or not fallback.is_file() or not usable(fallback):
            return Reference(candidate, False)
        return Reference(fallback, False)
    if fallback is not None and fallback.is_file() and usable(fallback):
        return Reference(fallback, False)
    return Reference(None, True)
