"""Safe outputs: one writer per output, temporary files unique per process, atomic replacement.

``OutputLock(path)`` makes a second process that writes into the same output folder (or the same output file) fail at
once with ``OutputInUseError`` ("in use by PID ...") instead of interleaving files with the first. A lock left behind
by a process that died is taken over. ``temp_path(path)`` names a temporary sibling of ``path`` that no other process
or thread uses; ``atomic_write(path, write)`` writes through it and renames it into place, so a reader sees either the
old file or the new one, never half of one.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
import uuid
from pathlib import Path
from typing import Callable, Optional

LOCK_NAME = ".inverse3d.lock"


class OutputInUseError(RuntimeError):
    """Another live process holds the output's lock; the message names the output and that process."""


def temp_path(path: str | Path) -> Path:
    """A hidden temporary sibling of ``path``, unique per process and call (same folder, so ``os.replace`` is atomic)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Calls ``write(tmp)`` on a unique temporary path, then renames it to ``path``; removes it on any error."""
    path = Path(path)
    tmp = temp_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    except OSError:
        return False
    return True


def _read_owner(lock: Path) -> tuple[Optional[int], str]:
    try:
        text = lock.read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        return None, ""
    pid = int(text[0]) if text and text[0].isdigit() else None
    host = text[1] if len(text) > 1 else ""
    return pid, host


class OutputLock:
    """Exclusive use of an output folder (``lock`` file inside it) or of an output file (``.NAME.lock`` beside it).

    Use as a context manager::

        with OutputLock(out_dir):
            ...  # write into out_dir

    Raises ``OutputInUseError`` when a live process on this host holds the lock. Re-entrant within one process
    (a process that already holds a lock on the output may take it again).
    """

    _held: dict[Path, int] = {}
    _mutex = threading.Lock()

    def __init__(self, output: str | Path, is_dir: Optional[bool] = None) -> None:
        output = Path(output)
        if is_dir is None:
            is_dir = output.is_dir() or output.suffix == ""
        self.output = output
        self.lock = output / LOCK_NAME if is_dir else output.with_name(f".{output.name}.lock")
        self._key = Path(os.path.realpath(self.lock))  # the same key before and after the folder exists

    def acquire(self) -> "OutputLock":
        with OutputLock._mutex:
            if OutputLock._held.get(self._key, 0):
                OutputLock._held[self._key] += 1
                return self
            self.lock.parent.mkdir(parents=True, exist_ok=True)
            host = socket.gethostname()
            for _ in range(3):
                try:
                    fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                except FileExistsError:
                    pid, owner_host = _read_owner(self.lock)
                    if pid is not None and (owner_host not in ("", host) or _pid_alive(pid)):
                        where = f" on {owner_host}" if owner_host and owner_host != host else ""
                        raise OutputInUseError(
                            f"{self.output}: in use by PID {pid}{where} (lock file {self.lock}); wait for it to "
                            f"finish, or delete the lock file if that process is gone") from None
                    try:  # the owner died: take the lock over
                        self.lock.unlink()
                    except FileNotFoundError:
                        pass
                    continue
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(f"{os.getpid()} {host}\n")
                OutputLock._held[self._key] = 1
                return self
            raise OutputInUseError(f"{self.output}: could not take the lock file {self.lock}")

    def release(self) -> None:
        with OutputLock._mutex:
            count = OutputLock._held.get(self._key, 0)
            if count > 1:
                OutputLock._held[self._key] = count - 1
                return
            OutputLock._held.pop(self._key, None)
            try:
                pid, _ = _read_owner(self.lock)
                if pid == os.getpid():
                    self.lock.unlink()
            except OSError as err:
                if err.errno != errno.ENOENT:
                    raise

    def __enter__(self) -> "OutputLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
