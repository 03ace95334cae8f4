"""Single-view checkpoints: the ``model_config`` entry that says which ``SingleViewModel`` the weights belong to.

The file format is the training core's (``inverse3d.training.checkpoint``: atomic, ``weights_only``, checksums, RNG
states); a single-view checkpoint adds ``"model_config"``, the ``SingleViewModel`` constructor arguments (``type``,
``voxel_res``, ``n_points``, ``ico_level``).

``load_checkpoint`` validates that ``model_config`` (keys, types, ranges, and the parameter count it implies,
computed arithmetically) before anything is built from it, so a crafted file cannot make inverse3d allocate
terabytes: at most ``MAX_MODEL_PARAMETERS`` parameters (1e9, about 4 GB of float32 weights; the environment variable
``INVERSE3D_MAX_MODEL_PARAMETERS`` raises it). An invalid configuration or a checkpoint of another model type raises
``CheckpointError`` (one line naming the file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from inverse3d.training.checkpoint import (
    ENV_MAX_MODEL_PARAMETERS,
    MAX_MODEL_PARAMETERS,  # noqa: F401  (the limit named in the docstring, re-exported)
    CheckpointError,
    load_model_state,
    max_model_parameters,
    read_checkpoint,
)

# Parameters of the parts of SingleViewModel (inverse3d.models) that do not depend on the configuration; the tests
# check these numbers and model_parameter_count against models built for real.
ENCODER_PARAMETERS = 11_176_512  # torchvision's ResNet-18 without its classifier
_FEATURES, _HIDDEN_MLP = 512, (1024, 2048)
# Ranges of the stored configuration: (low, high) per integer key.
MODEL_CONFIG_RANGES = {"voxel_res": (2, 512), "n_points": (1, 10**6), "ico_level": (0, 7)}
MODEL_CONFIG_DEFAULTS = {"type": "vox", "voxel_res": 32, "n_points": 2048, "ico_level": 4}


def _mlp_parameters(sizes: list[int]) -> int:
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def model_parameter_count(config: dict[str, Any]) -> int:
    """The parameters ``SingleViewModel(**config)`` would have, computed without building anything.

    ``config`` must already hold valid types (see ``validate_model_config``); works for any size, however large.
    """
    kind, R = config["type"], config["voxel_res"]
    if kind == "vox":
        decoder = _mlp_parameters([_FEATURES, 1024]) + 1 + _mlp_parameters([1024, R**3])  # Linear, PReLU, Linear
    elif kind == "vox_conv":
        channels = 128
        decoder = _mlp_parameters([_FEATURES, channels * 4**3])
        c, size = channels, 4
        while size < R:
            c_out = max(c // 2, 8)
            decoder += c * c_out * 4**3 + c_out + 2 * c_out  # ConvTranspose3d(k=4) and BatchNorm3d
            c, size = c_out, size * 2
        decoder += c + 1  # Conv3d(c, 1, 1)
    elif kind == "point":
        decoder = _mlp_parameters([_FEATURES, *_HIDDEN_MLP, 3 * config["n_points"]])
    elif kind == "mesh":
        decoder = _mlp_parameters([_FEATURES, *_HIDDEN_MLP, 3 * (10 * 4 ** config["ico_level"] + 2)])
    else:  # implicit: ImplicitDecoder(512, hidden=256, n_blocks=5, n_freqs=4)
        hidden, blocks = 256, 5
        decoder = (_mlp_parameters([3 + 6 * 4, hidden]) + blocks * _mlp_parameters([_FEATURES, hidden])
                   + blocks * 2 * _mlp_parameters([hidden, hidden]) + _mlp_parameters([hidden, 1]))
    return ENCODER_PARAMETERS + decoder


def validate_model_config(config: Any, path: str | Path = "model_config") -> dict[str, Any]:
    """Checks a stored ``model_config`` before any model is built from it.

    Keys must be among ``type``, ``voxel_res``, ``n_points``, ``ico_level`` (missing ones take the model's defaults);
    ``type`` one of the model types; the others integers in ``MODEL_CONFIG_RANGES`` (``voxel_res`` of ``vox_conv``
    4 times a power of two); and the model it describes at most ``max_model_parameters()`` parameters.

    Returns:
        the configuration with defaults filled in.
    Raises:
        CheckpointError naming ``path`` and the offending key.
    """
    from inverse3d.models.single_view import MODEL_TYPES

    if not isinstance(config, dict):
        raise CheckpointError(path, f"model_config should be a dict, got {type(config).__name__}")
    unknown = sorted(str(k) for k in config if k not in MODEL_CONFIG_DEFAULTS)
    if unknown:
        raise CheckpointError(path, f"model_config has unknown keys {unknown[:5]} (known: "
                                    f"{', '.join(MODEL_CONFIG_DEFAULTS)})")
    config = {**MODEL_CONFIG_DEFAULTS, **config}
    if not isinstance(config["type"], str) or config["type"] not in MODEL_TYPES:
        raise CheckpointError(path, f"model_config type {str(config['type'])[:40]!r} is not one of {MODEL_TYPES}")
    for key, (low, high) in MODEL_CONFIG_RANGES.items():
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise CheckpointError(path, f"model_config {key} should be an integer, got {type(value).__name__}")
        if not low <= value <= high:
            raise CheckpointError(path, f"model_config {key} = {value} is outside [{low}, {high}]")
        config[key] = int(value)
    R = config["voxel_res"]
    if config["type"] == "vox_conv" and (R < 4 or R & (R - 1)):
        raise CheckpointError(path, f"model_config voxel_res = {R}: a vox_conv model needs 4 * 2^k (4, 8, 16, ...)")
    count, limit = model_parameter_count(config), max_model_parameters()
    if count > limit:
        raise CheckpointError(path, f"model_config describes a {config['type']} model of {count:,} parameters "
                                    f"({4 * count / 2**30:.1f} GiB of float32), over the limit of {limit:,} "
                                    f"(environment variable {ENV_MAX_MODEL_PARAMETERS}); refused before building it")
    return config


def load_checkpoint(path: str | Path, model_type: str | None = None) -> dict[str, Any]:
    """Reads a single-view checkpoint with ``weights_only=True`` onto the CPU and checks it: what every checkpoint
    holds (``inverse3d.training.checkpoint.read_checkpoint``: format, version, entries, checksums) and its
    ``model_config`` (``validate_model_config``, stored back with defaults filled).

    Args:
        model_type: when given, the checkpoint must hold a model of this type.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError (one line naming the file): unreadable (empty, truncated, random bytes, code inside),
            another format or version, a tensor that does not match its checksum, an invalid or oversized
            model_config, another model type.
    """
    ckpt = read_checkpoint(path, required=("model_config", "model", "step"))
    ckpt["model_config"] = validate_model_config(ckpt["model_config"], path)
    found = ckpt["model_config"]["type"]
    if model_type is not None and found != model_type:
        raise CheckpointError(path, f"holds a {found!r} model, but a {model_type!r} model was asked for")
    return ckpt


def model_from_checkpoint(path: str | Path, device: str | torch.device = "cpu", model_type: str | None = None):
    """Rebuilds the ``SingleViewModel`` saved in ``path`` (in eval mode on ``device``); returns (model, checkpoint)."""
    from inverse3d.models.single_view import SingleViewModel

    ckpt = load_checkpoint(path, model_type)  # model_config validated there, before anything is built
    try:
        model = SingleViewModel(**ckpt["model_config"])
    except (TypeError, ValueError) as err:
        text = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointError(path, f"cannot build the model {ckpt['model_config']}: {text}") from err
    load_model_state(model, ckpt["model"], path)
    return model.to(device).eval(), ckpt
