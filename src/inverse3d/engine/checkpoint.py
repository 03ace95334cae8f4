"""Training checkpoints: written atomically, read with ``weights_only=True``, checked before use.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so ``torch.load(...,
weights_only=True)`` reads it and a downloaded file cannot run code:

- ``"format"``: ``"inverse3d-train"``, ``"version"``: 1;
- ``"model_config"``: the ``SingleViewModel`` constructor arguments (``type``, ``voxel_res``, ...);
- ``"train_config"``: the training options as plain values;
- ``"model"``, ``"optimizer"``: state dicts; ``"step"``: optimisation steps done;
- ``"rng"``: one dict per process (rank) of RNG states (``rng_state()``), so ``--resume`` continues exactly;
- ``"losses"``: the loss of every step so far (for the loss curve).

Errors name the file: a truncated or foreign file, a checkpoint of another model type or other tensor shapes all
raise ``CheckpointError`` (a ValueError).
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = "inverse3d-train"
VERSION = 1


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


def save_checkpoint(path: str | Path, checkpoint: dict[str, Any]) -> Path:
    """Writes ``checkpoint`` to ``path`` atomically: to ``path.tmp`` first, then ``os.replace`` (a reader or a
    crash never sees a half-written file). Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(checkpoint, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path, model_type: str | None = None) -> dict[str, Any]:
    """Reads a checkpoint with ``weights_only=True`` onto the CPU and checks its format.

    Args:
        model_type: when given, the checkpoint must hold a model of this type.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: unreadable (truncated, not a checkpoint), another format or version, another model type.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, pickle with code in it, random bytes ...
        raise CheckpointError(path, f"cannot read the checkpoint (truncated or not a checkpoint): {err}") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(path, f"not an inverse3d training checkpoint (no format {FORMAT!r})")
    if ckpt.get("version") != VERSION:
        raise CheckpointError(path, f"checkpoint version {ckpt.get('version')!r}, this inverse3d reads {VERSION}")
    for key in ("model_config", "model", "step"):
        if key not in ckpt:
            raise CheckpointError(path, f"the checkpoint has no {key!r} entry")
    found = ckpt["model_config"].get("type")
    if model_type is not None and found != model_type:
        raise CheckpointError(path, f"holds a {found!r} model, but a {model_type!r} model was asked for")
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
    model.load_state_dict(state)


def model_from_checkpoint(path: str | Path, device: str | torch.device = "cpu", model_type: str | None = None):
    """Rebuilds the ``SingleViewModel`` saved in ``path`` (in eval mode on ``device``); returns (model, checkpoint)."""
    from inverse3d.models.single_view import SingleViewModel

    ckpt = load_checkpoint(path, model_type)
    try:
        model = SingleViewModel(**ckpt["model_config"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(path, f"cannot build the model {ckpt['model_config']}: {err}") from err
    load_model_state(model, ckpt["model"], path)
    return model.to(device).eval(), ckpt
