"""Checkpoints: atomic write, weights_only round trip, RNG states, clear errors on bad files."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest
import torch

from inverse3d.engine.checkpoint import (
    FORMAT,
    VERSION,
    CheckpointError,
    load_checkpoint,
    load_model_state,
    model_from_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from inverse3d.models.single_view import SingleViewModel


def _ckpt(model, **extra):
    return {"format": FORMAT, "version": VERSION, "model_config": model.config, "model": model.state_dict(),
            "step": 3, "rng": [rng_state()], "losses": [1.0, 0.5], **extra}


@pytest.fixture(scope="module")
def point_model():
    torch.manual_seed(0)
    return SingleViewModel("point", n_points=8)


def test_round_trip_weights_only(tmp_path, point_model):
    path = save_checkpoint(tmp_path / "a" / "ckpt.pt", _ckpt(point_model))
    assert path.is_file() and not (tmp_path / "a" / "ckpt.pt.tmp").exists()
    torch.load(path, weights_only=True)  # plain data only
    model, ckpt = model_from_checkpoint(path)
    assert ckpt["step"] == 3 and not model.training
    for k, v in point_model.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k


def test_rng_state_round_trip():
    state = rng_state()
    a = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(state)
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


def test_truncated_file_names_the_file(tmp_path, point_model):
    path = save_checkpoint(tmp_path / "ckpt.pt", _ckpt(point_model))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="ckpt.pt.*truncated"):
        load_checkpoint(path)


def test_code_in_pickle_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this must never run",))

    path = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "x": Evil()}, path, pickle_module=pickle)
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_checkpoint(path)


def test_foreign_and_missing_files(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="other.pt.*not an inverse3d"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="nothere.pt"):
        load_checkpoint(tmp_path / "nothere.pt")


def test_wrong_type_and_wrong_shapes(tmp_path, point_model):
    path = save_checkpoint(tmp_path / "ckpt.pt", _ckpt(point_model))
    with pytest.raises(CheckpointError, match="'point' model, but a 'vox' model"):
        load_checkpoint(path, model_type="vox")
    other = SingleViewModel("point", n_points=9)
    with pytest.raises(CheckpointError, match="ckpt.pt.*other shapes.*decoder"):
        load_model_state(other, torch.load(path, weights_only=True)["model"], path)
    ckpt = _ckpt(point_model)
    ckpt["model_config"] = dict(ckpt["model_config"], n_points=9)
    save_checkpoint(path, ckpt)
    with pytest.raises(CheckpointError, match="other shapes"):
        model_from_checkpoint(path)
    ckpt["model_config"] = dict(ckpt["model_config"], type="mesh")
    save_checkpoint(path, ckpt)
    with pytest.raises(CheckpointError, match="do not match"):
        model_from_checkpoint(path)
