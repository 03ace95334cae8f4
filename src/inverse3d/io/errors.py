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


def check_file(path: str | os.PathLike, expected: str = "a mesh file") -> Path:
    """``path`` as a Path after checking that it names an existing file (not a folder).

    Raises:
        MeshFileNotFoundError: nothing there; MeshFileError: "PATH: is a directory, expected a mesh file".
    """
    name = os.fspath(path)
    p = Path(path)
    try:
        exists = p.exists()
    except OSError as err:  # e.g. a name too long, a parent without search permission
        raise MeshFileError(name, f"cannot be accessed ({err.strerror or err})") from None
    if not exists:
        raise MeshFileNotFoundError(name)
    if p.is_dir():
        raise MeshFileError(name, f"is a directory, expected {expected}")
    return p


def read_error(name: str, err: OSError, expected: str = "a mesh file") -> MeshFileError:
    """The one-line MeshFileError for an OSError met while reading ``name`` (permission denied, I/O error, ...)."""
    if isinstance(err, PermissionError):
        return MeshFileError(name, "permission denied (the file cannot be read)")
    if isinstance(err, IsADirectoryError):
        return MeshFileError(name, f"is a directory, expected {expected}")
    return MeshFileError(name, f"cannot be read ({err.strerror or type(err).__name__})")


def numpy_problem(head: bytes, what: str, err: Exception) -> str:
    """What is wrong with a file ``np.load`` rejected, from its first bytes and the error (one line; numpy's own
    text about pickles, which suggests loading them unsafely, is never repeated)."""
    if not head.startswith((b"\x93NUMPY", b"PK\x03\x04")):
        return f"not {what} (it does not start as one: random bytes or another format)"
    if "pickle" in str(err):
        return f"holds pickled Python objects, which inverse3d never loads (they could run code); expected {what}"
    text = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
    return f"cannot be read as {what} ({text})"


def read_source(f: PathOrFile, expected: str = "a mesh file") -> tuple[bytes, str, Path | None]:
    """Reads a whole file given as a path or an open file object (text or binary).

    Returns:
        (contents as bytes, name for messages, folder of the file or None for nameless file objects); the
        folder is where relative references inside the file (MTL, textures) are looked up.
    Raises:
        MeshFileNotFoundError: the path does not exist; MeshFileError: it is a directory or cannot be read
        (permission denied, I/O error), one line naming the file.
    """
    name = source_name(f)
    if isinstance(f, (str, os.PathLike)):
        path = check_file(f, expected)
        try:
            return path.read_bytes(), name, path.parent
        except OSError as err:
            raise read_error(name, err, expected) from err
    try:
        data = f.read()
    except OSError as err:
        raise read_error(name, err) from err
    if isinstance(data, str):
        data = data.encode("utf-8")
    file_name = getattr(f, "name", None)
    folder = Path(file_name).parent if isinstance(file_name, str) and file_name else None
    return bytes(data), name, folder
