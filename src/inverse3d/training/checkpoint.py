"""Training checkpoints: written atomically, read with ``weights_only=True``, checked before use.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so ``torch.load(...,
weights_only=True)`` reads it and a downloaded file cannot run code. The core (``inverse3d.training.loop``) writes:

- ``"format"``: ``"inverse3d-train"``, ``"version"``: 1;
- the task's own entries (``Trainable.checkpoint_entries``), e.g. single-view's ``"model_config"`` (the
  ``SingleViewModel`` constructor arguments);
- ``"train_config"``: the training options as plain values;
- ``"model"``, ``"optimizer"``: state dicts; ``"step"``: optimisation steps done;
- ``"rng"``: one dict per process (rank) of RNG states (``rng_state()``), so ``--resume`` continues exactly;
- ``"losses"``: the loss of every step so far (for the loss curve);
- ``"checksums"``: ``{"model/decoder.net.0.weight": sha256 hex, ...}``, one per tensor of the checkpoint (keys are
  the tensor's path in the dict; the digest covers dtype, shape and bytes). Written by ``save_checkpoint``, verified
  by ``read_checkpoint``: a changed byte in any tensor is a ``CheckpointError``. A checkpoint written before
  checksums existed loads with a warning that it cannot be verified.

A task validates its own entries after ``read_checkpoint`` (single-view: ``inverse3d.tasks.single_view.checkpoint``
checks ``model_config`` and the parameter count it implies against ``max_model_parameters()`` before building
anything, so a crafted file cannot make inverse3d allocate terabytes).

Errors are one line naming the file: a truncated, empty, random or foreign file, Python objects that would run code,
a corrupt tensor, a checkpoint of other tensor shapes all raise ``CheckpointError`` (a ValueError).
"""

from __future__ import annotations

import hashlib
import os
import random
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

FORMAT = "inverse3d-train"
VERSION = 1
CHECKSUMS = "checksums"
MAX_MODEL_PARAMETERS = 1_000_000_000
ENV_MAX_MODEL_PARAMETERS = "INVERSE3D_MAX_MODEL_PARAMETERS"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message starts with the file's path."""

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem


def rng_state() -> dict[str, Any]:
    """The RNG states of torch (CPU and, where present, CUDA), numpy's global generator and Python's ``random``,
    as tensors and numbers only."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "numpy_pos": int(pos),
        "numpy_has_gauss": int(has_gauss),
        "numpy_cached": float(cached),
        "python_version": int(version),
        "python_internal": torch.tensor(internal, dtype=torch.int64),
        "python_gauss": float("nan") if gauss_next is None else float(gauss_next),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restores what ``rng_state()`` returned."""
    torch.set_rng_state(state["torch"].cpu())
    keys = state["numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, state["numpy_pos"], state["numpy_has_gauss"], state["numpy_cached"]))
    gauss = state["python_gauss"]
    random.setstate((state["python_version"], tuple(int(v) for v in state["python_internal"].tolist()),
                     None if gauss != gauss else gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tensors(obj: Any, prefix: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    """(path, tensor) for every tensor inside nested dicts, lists and tuples, e.g. ("optimizer/state/0/exp_avg", t)."""
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            if not (prefix == "" and key == CHECKSUMS):
                yield from _tensors(value, f"{prefix}/{key}" if prefix else str(key))
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from _tensors(value, f"{prefix}/{i}" if prefix else str(i))


def tensor_digest(tensor: torch.Tensor) -> str:
    """sha256 (hex) of a tensor's dtype, shape and bytes (CPU copy, contiguous)."""
    t = tensor.detach().to("cpu").contiguous()
    h = hashlib.sha256(f"{t.dtype}{tuple(t.shape)}".encode())
    if t.numel():
        h.update(t.reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()


def tensor_checksums(checkpoint: dict[str, Any]) -> dict[str, str]:
    """{path: ``tensor_digest``} for every tensor of ``checkpoint`` (its ``"checksums"`` entry excluded)."""
    return {key: tensor_digest(t) for key, t in _tensors(checkpoint)}


def save_checkpoint(path: str | Path, checkpoint: dict[str, Any]) -> Path:
    """Writes ``checkpoint``, with the checksums of its tensors added under ``"checksums"``, to ``path``
    atomically: into a temporary file unique to this process first (``inverse3d.io.outputs.atomic_write``), then
    ``os.replace`` (a reader or a crash never sees a half-written file, two writers never share a temporary file).
    Returns ``path``."""
    from inverse3d.io.outputs import atomic_write

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {k: v for k, v in checkpoint.items() if k != CHECKSUMS}
    payload[CHECKSUMS] = tensor_checksums(payload)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())

    atomic_write(path, write)
    return path


def _read_error(path: Path, data_head: bytes, err: Exception) -> CheckpointError:
    """One line for what ``torch.load`` raised (torch's own text runs over many lines and suggests
    ``weights_only=False``, which would run whatever code the file holds)."""
    text = str(err)
    if "Unsupported global" in text or "not an allowed global" in text or "unrecognized function" in text:
        return CheckpointError(path, "refused: it holds Python objects other than tensors and plain data (loading "
                                     "them could run code); inverse3d reads only the checkpoints it writes")
    if data_head.startswith(b"PK\x03\x04"):
        return CheckpointError(path, "truncated or damaged checkpoint: its zip archive cannot be read (an "
                                     "interrupted copy or download?)")
    if isinstance(err, EOFError):
        return CheckpointError(path, "truncated checkpoint: the data ends early")
    return CheckpointError(path, "not a PyTorch checkpoint (random bytes or another format; truncated?)")


def _check_checksums(path: Path, ckpt: dict[str, Any]) -> None:
    stored = ckpt.get(CHECKSUMS)
    if stored is None:
        warnings.warn(f"{path}: a checkpoint without checksums (written by an older inverse3d); its tensors cannot "
                      "be verified", stacklevel=3)
        return
    if not isinstance(stored, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in stored.items()):
        raise CheckpointError(path, "corrupt checkpoint: its 'checksums' entry is not a table of digests")
    seen = set()
    for key, tensor in _tensors(ckpt):
        seen.add(key)
        if key not in stored:
            raise CheckpointError(path, f"corrupt checkpoint: tensor {key!r} has no checksum (the file was altered)")
        if tensor_digest(tensor) != stored[key]:
            raise CheckpointError(path, f"corrupt checkpoint: tensor {key!r} does not match its checksum (a byte "
                                        "changed on disk or in transfer); use another copy or retrain")
    missing = sorted(set(stored) - seen)
    if missing:
        raise CheckpointError(path, f"corrupt checkpoint: tensor {missing[0]!r} is missing (it has a checksum)")


def max_model_parameters() -> int:
    """``MAX_MODEL_PARAMETERS``, or ``$INVERSE3D_MAX_MODEL_PARAMETERS`` when set."""
    text = os.environ.get(ENV_MAX_MODEL_PARAMETERS, "").strip()
    if not text:
        return MAX_MODEL_PARAMETERS
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or value < 1:
        raise ValueError(f"environment variable {ENV_MAX_MODEL_PARAMETERS}={text!r}: expected a positive number "
                         f"of parameters, e.g. {MAX_MODEL_PARAMETERS}")
    return int(value)


def read_checkpoint(path: str | Path, required: tuple[str, ...] = ("model", "step")) -> dict[str, Any]:
    """Reads a checkpoint with ``weights_only=True`` onto the CPU and checks what every task's checkpoint holds:
    format, version, the ``required`` entries, the checksums of its tensors, ``step`` (an int >= 0) and ``model``
    (a table of named tensors). The task checks its own entries afterwards.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError (one line naming the file): unreadable (empty, truncated, random bytes, code inside),
            another format or version, a missing entry, a tensor that does not match its checksum.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    if path.is_dir():
        raise CheckpointError(path, "is a directory, expected a checkpoint file")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as err:
        raise CheckpointError(path, f"cannot be read ({err.strerror or type(err).__name__})") from err
    if not head:
        raise CheckpointError(path, "is empty (0 bytes), not a checkpoint")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as err:
        raise CheckpointError(path, f"cannot be read ({err.strerror or type(err).__name__})") from err
    except Exception as err:  # truncated zip, pickle with code in it, random bytes ...
        raise _read_error(path, head, err) from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(path, f"not an inverse3d training checkpoint (no format {FORMAT!r})")
    if ckpt.get("version") != VERSION:
        raise CheckpointError(path, f"checkpoint version {repr(ckpt.get('version'))[:20]}, this inverse3d reads "
                                    f"{VERSION}")
    for key in required:
        if key not in ckpt:
            raise CheckpointError(path, f"the checkpoint has no {key!r} entry")
    _check_checksums(path, ckpt)
    step = ckpt.get("step", 0)
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise CheckpointError(path, f"step should be a non-negative integer, got {repr(step)[:20]}")
    model = ckpt.get("model", {})
    if not isinstance(model, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in model.items()):
        raise CheckpointError(path, "the 'model' entry is not a table of named tensors")
    return ckpt


def load_model_state(model: torch.nn.Module, state: dict[str, torch.Tensor], path: str | Path) -> None:
    """``model.load_state_dict(state)`` with a clear error naming ``path`` on missing keys or other shapes."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise CheckpointError(path, f"model weights do not match: missing {missing[:5]}, unexpected {unexpected[:5]}")
    wrong = [f"{k}: {tuple(state[k].shape)} in file, {tuple(v.shape)} in model"
             for k, v in own.items() if tuple(state[k].shape) != tuple(v.shape)]
    if wrong:
        raise CheckpointError(path, "model weights have other shapes: " + "; ".join(wrong[:5]))
    not_finite = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if not_finite:
        raise CheckpointError(path, f"model weights contain NaN or inf (in {not_finite[:3]}): the training diverged "
                                    "or the file is damaged")
    model.load_state_dict(state)


