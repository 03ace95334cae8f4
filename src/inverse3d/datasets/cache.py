"""A generated-once cache of dataset samples: one file per sample, a JSON manifest with checksums, atomic writes.

Layout of a cache (``root/<key>/``, where ``key = params_key(params)`` hashes the generation parameters):

- ``manifest.json``: ``{"format", "params", "inverse3d_version", "splits": {split: [sample ids]},
  "files": {file name: sha256 hex}}``.
- ``<sample id>.pt``: one sample, a dict of tensors saved with ``torch.save`` and read back with
  ``torch.load(weights_only=True)`` (so a cache file cannot run code).
- ``.lock``: taken (``fcntl.flock``, where the platform has it) while samples are generated, so that several
  processes opening the same dataset (e.g. the ranks of a ``torchrun`` job) generate it once.

Every file is written to a temporary name in the same folder and moved into place with ``os.replace``, so a
reader never sees half a file and an interrupted generation resumes where it stopped: finished samples stay,
the rest are generated on the next run.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import multiprocessing
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import torch

MANIFEST = "manifest.json"
CACHE_FORMAT = 1


def params_key(params: dict[str, Any], length: int = 16) -> str:
    """A short stable hash of JSON-serialisable ``params`` (key order does not matter)."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_sample(path: str | os.PathLike, sample: dict[str, Any]) -> str:
    """Saves a dict of tensors / str / numbers atomically; returns the sha256 of the bytes written."""
    buf = io.BytesIO()
    torch.save(sample, buf)
    data = buf.getvalue()
    atomic_write_bytes(path, data)
    return sha256_bytes(data)


def load_sample(path: str | os.PathLike) -> dict[str, Any]:
    """Loads a sample written by ``save_sample`` (``weights_only=True``: tensors and plain containers only)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def read_manifest(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The manifest of a cache folder, or None when it is absent or unreadable (then it is rebuilt)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        warnings.warn(f"{path}: unreadable manifest ({err}); the cache is checked file by file", stacklevel=2)
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != CACHE_FORMAT:
        return None
    return manifest


def write_manifest(folder: str | os.PathLike, manifest: dict[str, Any]) -> None:
    atomic_write_bytes(Path(folder) / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[None]:
    """Holds an exclusive lock on ``folder/.lock`` (a no-op where ``fcntl`` is missing, e.g. Windows)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(Path(folder) / ".lock", "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def check_files(
    folder: str | os.PathLike, names: Iterable[str], checksums: dict[str, str]
) -> tuple[list[str], dict[str, str]]:
    """Which of ``names`` must be (re)generated.

    A file is good when it exists and its sha256 matches ``checksums``. A file that exists without a recorded
    checksum (written by a run that stopped before saving the manifest) is good when it loads; a file whose
    checksum differs is reported in a warning naming it.

    Returns:
        (names to generate, {name: sha256} of the good files).
    """
    folder = Path(folder)
    todo, good = [], {}
    for name in names:
        path = folder / name
        if not path.is_file():
            todo.append(name)
            continue
        digest = sha256_file(path)
        expected = checksums.get(name)
        if expected is None:
            try:
                load_sample(path)
            except Exception as err:  # an unreadable leftover: regenerate it
                warnings.warn(f"{path}: unreadable cache file ({type(err).__name__}); regenerating it", stacklevel=2)
                todo.append(name)
                continue
        elif digest != expected:
            warnings.warn(f"{path}: checksum mismatch (corrupt or modified cache file); regenerating it", stacklevel=2)
            todo.append(name)
            continue
        good[name] = digest
    return todo, good


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def run_jobs(
    fn: Callable[[Any], Any],
    jobs: Sequence[Any],
    workers: int = 0,
    desc: str = "generating",
    progress: bool = True,
) -> Iterator[Any]:
    """Yields ``fn(job)`` for every job, in completion order, with a tqdm progress bar.

    Args:
        fn: a picklable top-level function (workers use the ``spawn`` start method, safe with CUDA and threads).
        jobs: its arguments.
        workers: 0 runs in this process; more starts that many processes, each with ``torch.set_num_threads(1)``.
    """
    from tqdm.auto import tqdm

    with tqdm(total=len(jobs), desc=desc, disable=not progress or len(jobs) == 0, unit="sample") as bar:
        if workers <= 0 or len(jobs) <= 1:
            for job in jobs:
                yield fn(job)
                bar.update(1)
            return
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(min(workers, len(jobs)), initializer=_init_worker, initargs=(1,)) as pool:
            for result in pool.imap_unordered(fn, jobs, chunksize=1):
                yield result
                bar.update(1)
