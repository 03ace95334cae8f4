"""The error raised for unreadable mesh and point-cloud files, and the helper that opens them.

Every ``MeshFileError`` message starts with the file (and the line, where there is one), then says what is
wrong, e.g. ``cow.obj line 12: face index 4000 out of range (2930 vertices)``.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import IO, Union

PathOrFile = Union[str, os.PathLike, IO]


class MeshFileError(ValueError):
    """A mesh or point-cloud file that cannot be read as asked.

    Attributes:
        path: the file, as given (or the file object's ``name``).
        problem: what is wrong, without the file name.
        line: 1-based line number of the offending line in a text file, or None.
    """

    def __init__(self, path: object, problem: str, line: int | None = None) -> None:
        self.path = str(path)
        self.problem = problem
        self.line = line
        where = self.path if line is None else f"{self.path} line {line}"
        self.message = f"{where}: {problem}"
        super().__init__(self.message)
        self.args = (self.message,)

    def __str__(self) -> str:  # OSError's __str__ would win in the subclass below
        return self.message


class MeshFileNotFoundError(MeshFileError, FileNotFoundError):
    """A missing file: catchable as MeshFileError, ValueError, FileNotFoundError and OSError."""

    def __init__(self, path: object, problem: str = "no such file") -> None:
        super().__init__(path, problem)
        self.errno = errno.ENOENT
        self.strerror = problem
        self.filename = str(path)


def source_name(f: PathOrFile) -> str:
    """The name used in error messages for a path or a file object."""
    if isinstance(f, (str, os.PathLike)):
        return os.fspath(f)
    return str(getattr(f, "name", "<file object>"))


def read_source(f: PathOrFile) -> tuple[bytes, str, Path | None]:
    """Reads a whole file given as a path or an open file object (text or binary).

    Returns:
        (contents as bytes, name for messages, folder of the file or None for nameless file objects); the
        folder is where relative references inside the file (MTL, textures) are looked up.
    Raises:
        MeshFileNotFoundError: the path does not exist; MeshFileError: it is a folder or cannot be read.
    """
    name = source_name(f)
    if isinstance(f, (str, os.PathLike)):
        path = Path(f)
        if not path.exists():
            raise MeshFileNotFoundError(name)
        if path.is_dir():
            raise MeshFileError(name, "is a folder, not a file")
        try:
            return path.read_bytes(), name, path.parent
        except OSError as err:
            raise MeshFileError(name, f"cannot be read ({err.strerror or err})") from err
    data = f.read()
    if isinstance(data, str):
        data = data.encode("utf-8")
    file_name = getattr(f, "name", None)
    folder = Path(file_name).parent if isinstance(file_name, str) and file_name else None
    return bytes(data), name, folder
