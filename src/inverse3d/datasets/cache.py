"""A generated-once cache of dataset samples: one file per sample, a JSON manifest with checksums, atomic writes.

Layout of a cache (``root/<key>/``, where ``key = params_key(params)`` hashes the generation parameters):

- ``manifest.json``: ``{"format", "params", "inverse3d_version", "splits": {split: [sample ids]},
  "files": {file name: sha256 hex}}``.
- ``<sample id>.pt``: one sample, a dict of tensors saved with ``torch.save`` and read back with
  ``torch.load(weights_only=True)`` (so a cache file cannot run code).
- ``.lock``: taken (``fcntl.flock``, where the platform has it) while samples are generated, so that several
  processes opening the same dataset (e.g. the ranks of a ``torchrun`` job) generate it once.

Every file is written to a temporary name unique to the process and call (``inverse3d.io.outputs.temp_path``) in the
same folder and moved into place with ``os.replace``, so a reader never sees half a file and an interrupted
generation resumes where it stopped: finished samples stay, the rest are generated on the next run.

Nothing found in a cache folder is trusted: a manifest that is not valid JSON or has entries of the wrong types is
ignored (with a warning) and rebuilt; a sample file is read only when it is a zip archive of stored (uncompressed)
entries, as ``torch.save`` writes, and then with ``torch.load(weights_only=True)`` (tensors and plain containers,
never code); a file without a recorded checksum must also pass the dataset's check of its contents. What fails is
regenerated. Regeneration writes and replaces only the files the cache names (``manifest.json``, ``.lock``, and the
sample files of the manifest); any other file in the folder is left where it is, untouched (a warning lists them).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import multiprocessing
import os
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import torch

from inverse3d.io.outputs import temp_path

MANIFEST = "manifest.json"
LOCK = ".lock"
CACHE_FORMAT = 1
_SHA256 = re.compile(r"[0-9a-f]{64}")


class CacheFileError(ValueError):
    """A cache file that cannot be used (not written by this cache, damaged); the message starts with its path."""


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
    tmp = temp_path(path)
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
    """Loads a sample written by ``save_sample``: a dict, read with ``weights_only=True`` (tensors and plain
    containers only, never code).

    The file must be what ``torch.save`` writes, a zip archive whose entries are stored uncompressed: the legacy
    pickle format and compressed entries (which could expand far beyond the file's size) are refused unread.

    Raises:
        FileNotFoundError: no file at ``path``.
        CacheFileError: anything else (one line starting with the path).
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise CacheFileError(f"{path}: not a cache sample (not a torch zip archive: {err})") from None
    if not infos or any(i.compress_type != zipfile.ZIP_STORED for i in infos):
        raise CacheFileError(f"{path}: not a cache sample (compressed or empty archive)")
    try:
        with warnings.catch_warnings():  # torch's notes on foreign pickles: the error below says it all
            warnings.simplefilter("ignore")
            sample = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError for code in the pickle, RuntimeError for a damaged archive, ...
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
        raise CacheFileError(f"{path}: not a cache sample ({type(err).__name__}: {first})") from None
    if not isinstance(sample, dict):
        raise CacheFileError(f"{path}: not a cache sample (holds a {type(sample).__name__}, not a dict)")
    return sample


def manifest_problem(manifest: Any) -> str | None:
    """What is wrong with the structure of a parsed manifest (module docstring), or None when it is well formed."""
    if not isinstance(manifest, dict):
        return f"a JSON {type(manifest).__name__}, not an object"
    if manifest.get("format") != CACHE_FORMAT:
        return f"format {manifest.get('format')!r}, this inverse3d writes {CACHE_FORMAT}"
    if not isinstance(manifest.get("params"), dict):
        return "'params' is not an object"
    files = manifest.get("files")
    if not isinstance(files, dict):
        return "'files' is not an object"
    for name, digest in files.items():
        if Path(name).name != name or name in ("", ".", "..") or not name.endswith(".pt"):
            return f"'files' names {name!r}, not a sample file of the folder"
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            return f"'files' holds {digest!r} for {name!r}, not a sha256 hex digest"
    splits = manifest.get("splits")
    if not isinstance(splits, dict) or not all(
        isinstance(ids, list) and all(isinstance(i, str) for i in ids) for ids in splits.values()
    ):
        return "'splits' is not an object of lists of sample ids"
    return None


def read_manifest(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The manifest of a cache folder, or None when it is absent, unreadable or malformed (then it is rebuilt and
    every file is checked by its contents; a warning names the manifest)."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as err:
        warnings.warn(f"{path}: unreadable manifest ({type(err).__name__}: {str(err)[:200]}); the cache is checked "
                      "file by file", stacklevel=2)
        return None
    problem = manifest_problem(manifest)
    if problem is not None:
        warnings.warn(f"{path}: malformed manifest ({problem}); the cache is checked file by file", stacklevel=2)
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
    with open(Path(folder) / LOCK, "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def check_files(
    folder: str | os.PathLike,
    names: Iterable[str],
    checksums: dict[str, str],
    validate: Callable[[str, dict[str, Any]], None] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """Which of ``names`` must be (re)generated.

    A file is good when it exists and its sha256 matches ``checksums``. A file that exists without a recorded
    checksum (written by a run that stopped before saving the manifest, or put there by someone else) is good when
    ``load_sample`` reads it and ``validate(name, sample)`` (when given) does not raise ``ValueError``; a bad file
    is reported in a warning naming it, and so is a file whose checksum differs.

    Returns:
        (names to generate, {name: sha256} of the good files).
    """
    folder = Path(folder)
    todo, good = [], {}
    for name in names:
        path = folder / name
        if path.is_dir():
            raise CacheFileError(f"{path}: a folder where the cache keeps a sample file; move it out of the cache")
        if not path.is_file():  # missing, or a dangling link (replaced, the link only)
            todo.append(name)
            continue
        digest = sha256_file(path)
        expected = checksums.get(name)
        if expected is None:
            try:
                sample = load_sample(path)
                if validate is not None:
                    validate(name, sample)
            except ValueError as err:  # not one of ours, or damaged: regenerate it
                warnings.warn(f"{err}; regenerating it", stacklevel=2)
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
