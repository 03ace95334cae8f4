"""Bad and hostile checkpoints: every row of CASES is one input, with the substring its one-line message must hold.

Every row ends in a one-line ``CheckpointError`` (or FileNotFoundError) starting with the file's path, except the
old checkpoint without checksums (loads, with a warning) and the CLI rows (``inverse3d: error: PATH: ...``, exit 2).
No message repeats torch's advice to load with ``weights_only=False``.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from inverse3d.tasks.single_view.checkpoint import load_checkpoint, model_from_checkpoint
from inverse3d.training.checkpoint import FORMAT, VERSION, save_checkpoint, tensor_checksums

CASES = [
    ("random bytes", "not a PyTorch checkpoint (random bytes or another format"),
    ("0-byte file", "is empty (0 bytes), not a checkpoint"),
    ("plain text", "not a PyTorch checkpoint"),
    ("truncated checkpoint (first half)", "truncated or damaged checkpoint"),
    ("pickle that would run code", "refused: it holds Python objects other than tensors and plain data"),
    ("a folder named checkpoint.pt", "is a directory, expected a checkpoint file"),
    ("missing file", "no such checkpoint"),
    ("a foreign PyTorch file (a state dict)", "not an inverse3d training checkpoint"),
    ("another checkpoint version", "checkpoint version 99, this inverse3d reads 1"),
    ("no 'model' entry", "the checkpoint has no 'model' entry"),
    ("a flipped byte in the weights' data", "does not match its checksum"),
    ("a flipped byte in the optimiser state's data", "does not match its checksum"),
    ("a tensor's checksum removed", "has no checksum (the file was altered)"),
    ("a tensor removed, its checksum kept", "is missing (it has a checksum)"),
    ("checksums not a table", "its 'checksums' entry is not a table of digests"),
    ("old checkpoint without checksums (warning, still loads)", "a checkpoint without checksums"),
    ("model_config of a vox model with voxel_res 512 (137 G parameters)", "refused before building it"),
    ("model_config of a point model with 10^6 points", "over the limit of 1,000,000,000"),
    ("model_config voxel_res 10^6", "voxel_res = 1000000 is outside [2, 512]"),
    ("model_config ico_level 30", "ico_level = 30 is outside [0, 7]"),
    ("model_config voxel_res as a string", "voxel_res should be an integer, got str"),
    ("model_config n_points as a bool", "n_points should be an integer, got bool"),
    ("model_config of an unknown type", "model_config type 'transformer' is not one of"),
    ("model_config with an unknown key", "model_config has unknown keys ['width']"),
    ("model_config not a dict", "model_config should be a dict, got list"),
    ("vox_conv model_config with voxel_res 24", "a vox_conv model needs 4 * 2^k"),
    ("negative step", "step should be a non-negative integer"),
    ("NaN in the weights", "model weights contain NaN or inf"),
    ("weights of other shapes than the config", "model weights have other shapes"),
    ("a point model where a vox model is asked for", "holds a 'point' model, but a 'vox' model was asked for"),
    ("CLI: inverse3d eval --checkpoint random-bytes.pt", "not a PyTorch checkpoint"),
    ("CLI: inverse3d eval --checkpoint with a crafted config", "refused before building it"),
]

BUILDERS: dict[str, tuple[Callable, str]] = {}


def case(description: str, outcome: str = "error"):
    """Registers the builder of a CASES row: ``fn(tmp_path, model) -> (path, call)``; outcome "error", "warning"
    or "cli"."""
    def register(fn):
        BUILDERS[description] = (fn, outcome)
        return fn
    return register


@pytest.fixture(scope="module")
def model():
    from inverse3d.models.single_view import SingleViewModel

    torch.manual_seed(0)
    return SingleViewModel("point", n_points=4)


def ckpt_of(model, **extra) -> dict:
    optimizer = torch.optim.Adam(model.decoder.net[-1].parameters(), lr=1e-3)
    for p in model.decoder.net[-1].parameters():
        p.grad = torch.ones_like(p)
    optimizer.step()
    for p in model.decoder.net[-1].parameters():
        p.grad = None
    return {"format": FORMAT, "version": VERSION, "model_config": model.config, "model": model.state_dict(),
            "optimizer": optimizer.state_dict(), "step": 3, "losses": [1.0], **extra}


def light(**entries) -> dict:
    """A checkpoint whose weights are a stand-in (enough for every check made before a model is built)."""
    return {"format": FORMAT, "version": VERSION, "model_config": {"type": "point", "n_points": 4},
            "model": {"w": torch.zeros(2)}, "step": 0} | entries


def flip(path: Path, tensor: torch.Tensor) -> Path:
    """Flips one byte in the middle of ``tensor``'s data where the file stores it (found by its bytes)."""
    data = bytearray(path.read_bytes())
    raw = tensor.detach().contiguous().numpy().tobytes()
    at = data.find(raw)
    assert at > 0 and data.find(raw, at + 1) < 0, "the tensor's bytes should occur once in the file"
    data[at + len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return path


# ------------------------------------------------------------------------------------------------ unreadable


@case("random bytes")
def _(tmp, model):
    path = tmp / "random.pt"
    path.write_bytes(np.random.default_rng(0).bytes(4000))
    return path, lambda: load_checkpoint(path)


@case("0-byte file")
def _(tmp, model):
    path = tmp / "empty.pt"
    path.write_bytes(b"")
    return path, lambda: load_checkpoint(path)


@case("plain text")
def _(tmp, model):
    path = tmp / "notes.pt"
    path.write_text("these are not weights\n" * 10)
    return path, lambda: model_from_checkpoint(path)


@case("truncated checkpoint (first half)")
def _(tmp, model):
    path = save_checkpoint(tmp / "ckpt.pt", light())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path, lambda: load_checkpoint(path)


class Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


@case("pickle that would run code")
def _(tmp, model):
    path = tmp / "evil.pt"
    torch.save({"format": FORMAT, "x": Evil()}, path, pickle_module=pickle)
    return path, lambda: model_from_checkpoint(path)


@case("a folder named checkpoint.pt")
def _(tmp, model):
    (tmp / "checkpoint.pt").mkdir()
    return tmp / "checkpoint.pt", lambda: load_checkpoint(tmp / "checkpoint.pt")


@case("missing file")
def _(tmp, model):
    return tmp / "gone.pt", lambda: load_checkpoint(tmp / "gone.pt")


@case("a foreign PyTorch file (a state dict)")
def _(tmp, model):
    torch.save({"weight": torch.zeros(2)}, tmp / "foreign.pt")
    return tmp / "foreign.pt", lambda: load_checkpoint(tmp / "foreign.pt")


@case("another checkpoint version")
def _(tmp, model):
    path = save_checkpoint(tmp / "v.pt", light(version=99))
    return path, lambda: load_checkpoint(path)


@case("no 'model' entry")
def _(tmp, model):
    entries = light()
    del entries["model"]
    path = save_checkpoint(tmp / "m.pt", entries)
    return path, lambda: load_checkpoint(path)


# ------------------------------------------------------------------------------------------------ checksums


@case("a flipped byte in the weights' data")
def _(tmp, model):
    entries = ckpt_of(model)
    path = save_checkpoint(tmp / "ckpt.pt", entries)
    flip(path, entries["model"]["decoder.net.4.weight"])
    return path, lambda: model_from_checkpoint(path)


@case("a flipped byte in the optimiser state's data")
def _(tmp, model):
    entries = ckpt_of(model)
    path = save_checkpoint(tmp / "ckpt.pt", entries)
    flip(path, entries["optimizer"]["state"][0]["exp_avg"])
    return path, lambda: load_checkpoint(path)


@case("a tensor's checksum removed")
def _(tmp, model):
    entries = light()
    entries["checksums"] = {}
    torch.save(entries, tmp / "c.pt")
    return tmp / "c.pt", lambda: load_checkpoint(tmp / "c.pt")


@case("a tensor removed, its checksum kept")
def _(tmp, model):
    entries = light()
    entries["checksums"] = tensor_checksums(entries) | {"model/extra": "0" * 64}
    torch.save(entries, tmp / "c.pt")
    return tmp / "c.pt", lambda: load_checkpoint(tmp / "c.pt")


@case("checksums not a table")
def _(tmp, model):
    torch.save(light(checksums=[1, 2]), tmp / "c.pt")
    return tmp / "c.pt", lambda: load_checkpoint(tmp / "c.pt")


@case("old checkpoint without checksums (warning, still loads)", "warning")
def _(tmp, model):
    torch.save(ckpt_of(model), tmp / "old.pt")
    return tmp / "old.pt", lambda: model_from_checkpoint(tmp / "old.pt")


# ------------------------------------------------------------------------------------------------ model_config


def crafted(name: str, config) -> Callable:
    @case(name)
    def build(tmp, model):
        path = save_checkpoint(tmp / "crafted.pt", light(model_config=config))
        return path, lambda: model_from_checkpoint(path)
    return build


crafted("model_config of a vox model with voxel_res 512 (137 G parameters)", {"type": "vox", "voxel_res": 512})
crafted("model_config of a point model with 10^6 points", {"type": "point", "n_points": 10**6})
crafted("model_config voxel_res 10^6", {"type": "vox", "voxel_res": 10**6})
crafted("model_config ico_level 30", {"type": "mesh", "ico_level": 30})
crafted("model_config voxel_res as a string", {"type": "vox", "voxel_res": "32"})
crafted("model_config n_points as a bool", {"type": "point", "n_points": True})
crafted("model_config of an unknown type", {"type": "transformer"})
crafted("model_config with an unknown key", {"type": "vox", "width": 10**12})
crafted("model_config not a dict", ["vox", 32])
crafted("vox_conv model_config with voxel_res 24", {"type": "vox_conv", "voxel_res": 24})


@case("negative step")
def _(tmp, model):
    path = save_checkpoint(tmp / "s.pt", light(step=-5))
    return path, lambda: load_checkpoint(path)


@case("NaN in the weights")
def _(tmp, model):
    entries = ckpt_of(model)
    entries["model"] = {k: v.clone() for k, v in entries["model"].items()}
    entries["model"]["decoder.net.4.bias"][0] = float("nan")
    path = save_checkpoint(tmp / "nan.pt", entries)  # checksums of the NaN: the file is what was written
    return path, lambda: model_from_checkpoint(path)


@case("weights of other shapes than the config")
def _(tmp, model):
    path = save_checkpoint(tmp / "shapes.pt", ckpt_of(model) | {"model_config": dict(model.config, n_points=5)})
    return path, lambda: model_from_checkpoint(path)


@case("a point model where a vox model is asked for")
def _(tmp, model):
    path = save_checkpoint(tmp / "p.pt", light())
    return path, lambda: load_checkpoint(path, model_type="vox")


# ------------------------------------------------------------------------------------------------ CLI


def eval_cli(path: Path, tmp: Path) -> Callable:
    from inverse3d.cli.main import entrypoint

    return lambda: entrypoint(["eval", "--checkpoint", str(path), "--out-dir", str(tmp / "eval"), "--device", "cpu"])


@case("CLI: inverse3d eval --checkpoint random-bytes.pt", "cli")
def _(tmp, model):
    path = tmp / "random.pt"
    path.write_bytes(np.random.default_rng(1).bytes(2000))
    return path, eval_cli(path, tmp)


@case("CLI: inverse3d eval --checkpoint with a crafted config", "cli")
def _(tmp, model):
    path = save_checkpoint(tmp / "crafted.pt", light(model_config={"type": "vox", "voxel_res": 512}))
    return path, eval_cli(path, tmp)


# ------------------------------------------------------------------------------------------------ the test


def test_every_row_has_a_builder():
    assert [d for d, _ in CASES] == list(dict.fromkeys(d for d, _ in CASES))
    assert {d for d, _ in CASES} == set(BUILDERS)


@pytest.mark.parametrize("description,expected", CASES, ids=[d for d, _ in CASES])
def test_bad_checkpoint(description, expected, tmp_path, model, capsys):
    build, outcome = BUILDERS[description]
    path, call = build(tmp_path, model)
    if outcome == "warning":
        with pytest.warns(UserWarning) as caught:
            call()
        hits = [str(w.message) for w in caught if expected in str(w.message)]
        assert hits and hits[0].startswith(str(path)) and "\n" not in hits[0]
    elif outcome == "cli":
        with pytest.raises(SystemExit) as exit_:
            call()
        err = capsys.readouterr().err.strip()
        assert exit_.value.code == 2 and err.startswith(f"inverse3d: error: {path}: ") and expected in err, err
        assert "\n" not in err and "weights_only" not in err
        assert not (tmp_path / "eval").exists()  # refused before any work
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises((ValueError, FileNotFoundError)) as err:
                call()
        message = str(err.value)
        assert message.startswith(f"{path}: ") and expected in message, message
        assert "\n" not in message and "weights_only" not in message
