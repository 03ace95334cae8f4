"""A checkpoint written before the training core existed still loads.

``tests/data/checkpoint_v1.pt`` was written by ``inverse3d.engine.checkpoint.save_checkpoint`` (commit c9edb84, before
``engine/`` became ``training/`` and ``tasks/single_view/``) with every entry ``train`` wrote: format, version,
model_config, train_config (``config_to_plain(TrainConfig(type="point", n_points=8, batch_size=2, iterations=3))``),
model (a Linear(4, 3) + PReLU under ``decoder.net.*``, to keep the file small), the Adam state after 3 steps, step 3,
one RNG state, three losses and the checksums. A second test writes a complete single-view checkpoint with plain
``torch.save`` from the documented layout (checksums computed here) and rebuilds the model from it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from inverse3d.tasks.single_view.checkpoint import load_checkpoint, model_from_checkpoint
from inverse3d.tasks.single_view.train import TrainConfig, config_from_plain
from inverse3d.training.checkpoint import FORMAT, VERSION, read_checkpoint, set_rng_state

OLD = Path(__file__).resolve().parents[1] / "data" / "checkpoint_v1.pt"


def test_checkpoint_written_by_the_old_engine_loads():
    ckpt = load_checkpoint(OLD, model_type="point")  # format, version, checksums, model_config all checked
    assert (ckpt["format"], ckpt["version"], ckpt["step"]) == ("inverse3d-train", 1) + (3,)
    assert ckpt["model_config"] == {"type": "point", "voxel_res": 32, "n_points": 8, "ico_level": 4}
    assert ckpt["losses"] == [0.5, 0.25, 0.125]
    assert config_from_plain(ckpt["train_config"]) == TrainConfig(type="point", n_points=8, batch_size=2, iterations=3)
    assert read_checkpoint(OLD)["step"] == 3
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.PReLU())
    net.load_state_dict({k.removeprefix("decoder.net."): v for k, v in ckpt["model"].items()})
    optimizer = torch.optim.Adam(net.parameters())
    optimizer.load_state_dict(ckpt["optimizer"])
    assert optimizer.state_dict()["state"][0]["step"] == 3
    set_rng_state(ckpt["rng"][0])


def _digest(t: torch.Tensor) -> str:
    h = hashlib.sha256(f"{t.dtype}{tuple(t.shape)}".encode())
    if t.numel():
        h.update(t.contiguous().reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()


def test_checkpoint_built_from_the_documented_layout_loads(tmp_path):
    from inverse3d.models.single_view import SingleViewModel

    torch.manual_seed(0)
    model = SingleViewModel("point", n_points=8)
    state = model.state_dict()
    entries = {"format": FORMAT, "version": VERSION, "model_config": model.config, "train_config": {},
               "model": state, "step": 2, "losses": [1.0, 0.5]}
    entries["checksums"] = {f"model/{k}": _digest(v) for k, v in state.items()}
    path = tmp_path / "checkpoint.pt"
    torch.save(entries, path)
    rebuilt, ckpt = model_from_checkpoint(path, model_type="point")
    assert ckpt["step"] == 2
    for k, v in state.items():
        assert torch.equal(rebuilt.state_dict()[k], v), k
