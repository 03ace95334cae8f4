"""Checkpoints: atomic write, weights_only round trip, RNG states, clear errors on bad files."""

from __future__ import annotations

import copy
import os
import pickle
import random
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from inverse3d.tasks.single_view.checkpoint import (
    ENCODER_PARAMETERS,
    load_checkpoint,
    model_from_checkpoint,
    model_parameter_count,
    validate_model_config,
)
from inverse3d.training.checkpoint import (
    FORMAT,
    VERSION,
    CheckpointError,
    load_model_state,
    rng_state,
    save_checkpoint,
    set_rng_state,
    tensor_checksums,
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


# ------------------------------------------------------------------------------------------------ checksums


def flip_byte_in_tensor_data(path, which: int = -1) -> str:
    """Flips one byte in the middle of a tensor's data record inside the checkpoint's zip (the largest record by
    default); returns the record's name."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        records = sorted((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    info = records[which]
    data = bytearray(path.read_bytes())
    name_len, extra_len = int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little"), \
        int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    data[start + info.file_size // 2] ^= 0x10
    path.write_bytes(bytes(data))
    return info.filename


@pytest.fixture(scope="module")
def with_optimizer(point_model, tmp_path_factory) -> bytes:
    """The bytes of a checkpoint with an Adam state (of the decoder, kept small) as train writes it."""
    model = copy.deepcopy(point_model)
    optimizer = torch.optim.Adam(model.decoder.parameters(), lr=1e-3)
    for p in model.decoder.parameters():
        p.grad = torch.ones_like(p)
    optimizer.step()
    path = save_checkpoint(tmp_path_factory.mktemp("opt") / "ckpt.pt", _ckpt(model, optimizer=optimizer.state_dict()))
    return path.read_bytes()


def test_checksums_cover_every_tensor(tmp_path, with_optimizer):
    path = tmp_path / "ckpt.pt"
    path.write_bytes(with_optimizer)
    stored = torch.load(path, weights_only=True)["checksums"]
    assert "model/decoder.net.0.weight" in stored and "optimizer/state/0/exp_avg" in stored
    assert "rng/0/torch" in stored and all(len(v) == 64 for v in stored.values())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ckpt = load_checkpoint(path)
    assert ckpt["checksums"] == stored


@pytest.mark.parametrize("which", [-1, 0, 5])
def test_a_flipped_byte_in_tensor_data_is_detected(tmp_path, with_optimizer, which):
    path = tmp_path / "ckpt.pt"
    path.write_bytes(with_optimizer)
    flip_byte_in_tensor_data(path, which)
    with pytest.raises(CheckpointError, match=r"ckpt\.pt: corrupt checkpoint: tensor '.*' does not match its "
                                              r"checksum") as err:
        model_from_checkpoint(path)
    assert "\n" not in str(err.value)


def test_old_checkpoints_without_checksums_still_load(tmp_path, point_model):
    path = tmp_path / "old.pt"
    torch.save(_ckpt(point_model), path)
    with pytest.warns(UserWarning, match=r"old\.pt: a checkpoint without checksums"):
        model, _ = model_from_checkpoint(path)
    assert torch.equal(model.state_dict()["decoder.net.0.weight"], point_model.state_dict()["decoder.net.0.weight"])


def test_altered_checksum_tables(tmp_path, point_model):
    ckpt = _ckpt(point_model)
    ckpt["checksums"] = tensor_checksums(ckpt)
    ckpt["checksums"].pop("model/decoder.net.0.weight")
    torch.save(ckpt, tmp_path / "a.pt")
    with pytest.raises(CheckpointError, match="tensor 'model/decoder.net.0.weight' has no checksum"):
        load_checkpoint(tmp_path / "a.pt")
    ckpt["checksums"] = tensor_checksums(ckpt)
    del ckpt["model"]["decoder.net.0.weight"]
    torch.save(ckpt, tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match="tensor 'model/decoder.net.0.weight' is missing"):
        load_checkpoint(tmp_path / "b.pt")


def test_temporary_files_are_unique_per_process_and_call(tmp_path, point_model, monkeypatch):
    names = []
    real_save = torch.save
    monkeypatch.setattr(torch, "save", lambda obj, f, *a, **k: names.append(Path(f.name).name) or real_save(obj, f))
    save_checkpoint(tmp_path / "ckpt.pt", _ckpt(point_model))
    save_checkpoint(tmp_path / "ckpt.pt", _ckpt(point_model))
    assert len(set(names)) == 2 and all(str(os.getpid()) in n and n != "ckpt.pt.tmp" for n in names)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]


# ------------------------------------------------------------------------------------------------ unreadable files


def test_random_bytes_empty_and_folders_are_one_line(tmp_path):
    (tmp_path / "rand.pt").write_bytes(np.random.default_rng(0).bytes(4000))
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "text.pt").write_text("hello\n" * 20)
    (tmp_path / "dir.pt").mkdir()
    cases = [("rand.pt", "not a PyTorch checkpoint"), ("empty.pt", r"is empty \(0 bytes\)"),
             ("text.pt", "not a PyTorch checkpoint"), ("dir.pt", "is a directory, expected a checkpoint file")]
    for name, message in cases:
        with pytest.raises(CheckpointError, match=rf"{name}: {message}") as err:
            load_checkpoint(tmp_path / name)
        assert "\n" not in str(err.value) and "weights_only" not in str(err.value)


# ------------------------------------------------------------------------------------------------ model_config


@pytest.mark.parametrize("config", [dict(type="vox", voxel_res=8), dict(type="vox_conv", voxel_res=4),
                                    dict(type="vox_conv", voxel_res=16), dict(type="point", n_points=10),
                                    dict(type="mesh", ico_level=1), dict(type="implicit")])
def test_parameter_count_is_exact(config):
    model = SingleViewModel(**config)
    assert model_parameter_count(validate_model_config(config)) == sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for p in model.encoder.parameters()) == ENCODER_PARAMETERS


BAD_CONFIGS = [
    (dict(type="vox", voxel_res=512), r"describes a vox model of 137,584,873,025 parameters .* refused before"),
    (dict(type="point", n_points=10**6), r"describes a point model of .* over the limit of 1,000,000,000"),
    (dict(type="mesh", ico_level=7), r"describes a mesh model"),
    (dict(type="vox", voxel_res=10**6), r"voxel_res = 1000000 is outside \[2, 512\]"),
    (dict(type="mesh", ico_level=40), r"ico_level = 40 is outside \[0, 7\]"),
    (dict(type="point", n_points=0), r"n_points = 0 is outside"),
    (dict(type="vox", voxel_res="32"), r"voxel_res should be an integer, got str"),
    (dict(type="vox", voxel_res=True), r"voxel_res should be an integer, got bool"),
    (dict(type="vox", voxel_res=32.0), r"voxel_res should be an integer, got float"),
    (dict(type="vox_conv", voxel_res=24), r"a vox_conv model needs 4 \* 2\^k"),
    (dict(type="rnn"), r"model_config type 'rnn' is not one of"),
    (dict(type="vox", hidden=10**9), r"unknown keys \['hidden'\]"),
    ("vox", r"model_config should be a dict, got str"),
]


@pytest.mark.parametrize("config,message", BAD_CONFIGS)
def test_crafted_configs_are_refused_before_any_model_is_built(tmp_path, monkeypatch, config, message):
    import inverse3d.models.single_view as single_view

    ckpt = {"format": FORMAT, "version": VERSION, "model_config": config, "model": {"w": torch.zeros(2)}, "step": 0}
    path = save_checkpoint(tmp_path / "ckpt.pt", ckpt)

    def forbidden(*args, **kwargs):
        raise AssertionError("a model was built from an unchecked config")

    monkeypatch.setattr(single_view.SingleViewModel, "__init__", forbidden)
    with pytest.raises(CheckpointError, match=r"ckpt\.pt: .*" + message) as err:
        model_from_checkpoint(path)
    assert "\n" not in str(err.value)


def test_parameter_limit_from_the_environment(tmp_path, point_model, monkeypatch):
    path = save_checkpoint(tmp_path / "ckpt.pt", _ckpt(point_model))
    monkeypatch.setenv("INVERSE3D_MAX_MODEL_PARAMETERS", "1000")
    with pytest.raises(CheckpointError, match="over the limit of 1,000"):
        load_checkpoint(path)
    monkeypatch.setenv("INVERSE3D_MAX_MODEL_PARAMETERS", "lots")
    with pytest.raises(ValueError, match="INVERSE3D_MAX_MODEL_PARAMETERS='lots'"):
        load_checkpoint(path)


def test_non_finite_weights_and_bad_entries(tmp_path):
    layer = torch.nn.Linear(2, 2)
    state = {"weight": torch.full((2, 2), float("nan")), "bias": torch.zeros(2)}
    with pytest.raises(CheckpointError, match=r"nan\.pt: model weights contain NaN or inf \(in \['weight'\]\)"):
        load_model_state(layer, state, tmp_path / "nan.pt")
    light = {"format": FORMAT, "version": VERSION, "model_config": {"type": "point"}, "model": {"w": torch.zeros(1)}}
    path = save_checkpoint(tmp_path / "step.pt", light | {"step": -1})
    with pytest.raises(CheckpointError, match="step should be a non-negative integer"):
        load_checkpoint(path)
    path = save_checkpoint(tmp_path / "model.pt", light | {"step": 0, "model": [1, 2]})
    with pytest.raises(CheckpointError, match="'model' entry is not a table of named tensors"):
        load_checkpoint(path)
