"""Training: every model type runs, resume is exact, interruption writes a checkpoint, torchrun with 2 processes."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from inverse3d.tasks.single_view.checkpoint import CheckpointError, load_checkpoint
from inverse3d.tasks.single_view.losses import occupancy_at
from inverse3d.tasks.single_view.train import TrainingInterrupted, train
from inverse3d.training.data import ResumableBatchSampler
from inverse3d.models.single_view import MODEL_TYPES

REPO = Path(__file__).resolve().parents[2]


def test_sampler_resumes_and_shards():
    full = ResumableBatchSampler(10, 3, seed=4)
    it = iter(full)
    first = [next(it) for _ in range(7)]  # 3 batches per epoch: crosses two epoch boundaries
    assert [full.batch(s) for s in range(7)] == first
    it2 = iter(ResumableBatchSampler(10, 3, seed=4, start_step=5))
    assert [next(it2) for _ in range(2)] == first[5:7]
    assert sorted(sum(first[:3], [])) == sorted(set(sum(first[:3], [])))  # no repeats within an epoch
    r0, r1 = (ResumableBatchSampler(5, 1, seed=1, rank=r, world_size=2) for r in (0, 1))
    shares = r0.epoch_indices(0).tolist() + r1.epoch_indices(0).tolist()
    assert len(shares) == 6 and set(shares) == set(range(5))  # padded by wrapping, as DistributedSampler
    with pytest.raises(ValueError, match="too few"):
        ResumableBatchSampler(3, 4)


def test_occupancy_at_matches_cells():
    vox = torch.zeros(1, 4, 4, 4)
    vox[0, 1, 2, 3] = 1.0  # cell centre: x from w=3, y from h=2, z from d=1
    centre = torch.tensor([[[-0.5 + 3.5 / 4, -0.5 + 2.5 / 4, -0.5 + 1.5 / 4]]])
    assert occupancy_at(vox, centre).item() == pytest.approx(1.0)
    assert occupancy_at(vox, centre + torch.tensor([0.125, 0, 0])).item() == pytest.approx(0.5)
    assert occupancy_at(vox, torch.full((1, 1, 3), 0.9)).item() == 0.0


@pytest.mark.parametrize("kind", MODEL_TYPES)
def test_every_type_trains(kind, tiny_config):
    cfg = tiny_config(kind, type=kind, iterations=1)
    result = train(cfg)
    assert result.step == 1 and len(result.losses) == 1
    assert all(torch.isfinite(torch.tensor(result.losses)))
    assert (cfg.out_dir / "loss.png").is_file() and (cfg.out_dir / "config.json").is_file()
    ckpt = load_checkpoint(cfg.out_dir / "checkpoint.pt", model_type=kind)
    assert ckpt["step"] == 1 and len(ckpt["rng"]) == 1
    if kind in ("vox", "vox_conv"):
        # the positive-class weight of the balanced BCE is fixed from the training set and undone by predict()
        from inverse3d.tasks.single_view.data import make_dataset

        dataset = make_dataset(cfg, "train", progress=False)
        occupancy = torch.stack([dataset[i]["voxels"].mean() for i in range(len(dataset))]).mean()
        torch.testing.assert_close(ckpt["model"]["logit_shift"], torch.log(0.5 / occupancy))
        model = result.model.eval()
        images = dataset[0]["images"][None]
        with torch.no_grad():
            torch.testing.assert_close(model.predict(images)["voxel_logits"], model(images) - model.logit_shift)
    else:
        assert ckpt["model"]["logit_shift"] == 0


def _weights(path):
    return load_checkpoint(path)["model"]


def test_resume_is_exact(tiny_config):
    straight = tiny_config("straight", type="implicit", iterations=4)
    a = train(straight)
    part = tiny_config("part", type="implicit", iterations=2)
    train(part)
    b = train(tiny_config("part", type="implicit", iterations=4, resume=True))
    assert b.step == 4 and b.losses == a.losses
    wa, wb = _weights(straight.out_dir / "checkpoint.pt"), _weights(part.out_dir / "checkpoint.pt")
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_resume_errors(tiny_config):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(tiny_config("none", iterations=1, resume=True))
    cfg = tiny_config("typed", type="point", iterations=1)
    train(cfg)
    with pytest.raises(CheckpointError, match="checkpoint.pt.*'point' model"):
        train(tiny_config("typed", type="vox", iterations=2, resume=True))
    with pytest.raises(CheckpointError, match="checkpoint.pt.*n_points"):
        train(tiny_config("typed", type="point", n_points=33, iterations=2, resume=True))
    path = cfg.out_dir / "checkpoint.pt"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="checkpoint.pt.*truncated"):
        train(tiny_config("typed", type="point", iterations=2, resume=True))


def test_sigterm_writes_checkpoint_then_stops(tiny_config, monkeypatch):
    train_module = importlib.import_module("inverse3d.tasks.single_view.train")

    real = train_module.training_loss
    calls = []

    def loss_then_signal(*args):
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(*args)

    monkeypatch.setattr(train_module, "training_loss", loss_then_signal)
    cfg = tiny_config("stopped", type="point", iterations=50)
    with pytest.raises(TrainingInterrupted) as info:
        train(cfg)
    assert info.value.step == 2 and load_checkpoint(cfg.out_dir / "checkpoint.pt")["step"] == 2
    assert signal.getsignal(signal.SIGTERM) is not loss_then_signal  # handlers restored


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is unavailable")
def test_torchrun_two_processes_gloo(tiny_data_root, tmp_path):
    """``torchrun --nproc_per_node 2`` runs the unchanged command: DDP with gloo, rank 0 alone writes."""
    out = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
        "-m", "inverse3d.cli.train",
        "--type", "vox", "--iterations", "2", "--batch-size", "2", "--checkpoint-every", "1000",
        "--data-root", str(tiny_data_root), "--out-dir", str(out), "--no-progress",
        "--n-train", "4", "--n-val", "1", "--n-test", "2", "--image-size", "32", "--voxel-res", "8",
        "--data-points", "128",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO / "src"))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ckpt = load_checkpoint(out / "checkpoint.pt", model_type="vox")
    assert ckpt["step"] == 2 and len(ckpt["rng"]) == 2  # one RNG state per process
    assert ckpt["train_config"]["batch_size"] == 2
    assert proc.stdout.count("trained vox to step 2") == 1  # only rank 0 reports
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "config.json", "loss.png"]


def test_max_minutes_stops_with_a_checkpoint(tiny_config):
    cfg = tiny_config("timed", type="vox", iterations=50, max_minutes=0.0)
    result = train(cfg)
    assert result.step == 1  # the deadline is checked after each step
    assert load_checkpoint(cfg.out_dir / "checkpoint.pt")["step"] == 1


def test_existing_checkpoint_needs_resume_or_overwrite(tiny_config, monkeypatch):
    import inverse3d.tasks.single_view.data as data_module

    cfg = tiny_config("kept", type="point", iterations=1)
    train(cfg)
    path = cfg.out_dir / "checkpoint.pt"
    before = path.read_bytes()

    def no_work(*args, **kwargs):
        raise AssertionError("the dataset was built before the checks")

    with monkeypatch.context() as m:
        m.setattr(data_module, "make_dataset", no_work)
        with pytest.raises(ValueError, match="checkpoint exists already; continue it with --resume or replace it "
                                             "with --overwrite"):
            train(tiny_config("kept", type="point", iterations=2))
        with pytest.raises(ValueError, match="--resume and --overwrite contradict"):
            train(tiny_config("kept", type="point", iterations=2, resume=True, overwrite=True))
        with pytest.raises(FileNotFoundError, match="no checkpoint to --resume from"):
            train(tiny_config("fresh", type="point", iterations=2, resume=True))
    assert path.read_bytes() == before
    replaced = train(tiny_config("kept", type="point", iterations=2, overwrite=True, seed=5))
    assert replaced.step == 2 and load_checkpoint(path)["step"] == 2 and len(replaced.losses) == 2
    assert load_checkpoint(path)["train_config"]["seed"] == 5


def test_options_are_checked_before_any_work(tiny_config):
    cfg = tiny_config("never", type="point", batch_size=0)
    with pytest.raises(ValueError, match="--batch-size 0: must be at least 1"):
        train(cfg)
    with pytest.raises(ValueError, match="--lr"):
        train(tiny_config("never", lr=float("nan")))
    assert not cfg.out_dir.exists()


def test_train_holds_the_output_lock(tiny_config, monkeypatch):
    train_module = importlib.import_module("inverse3d.tasks.single_view.train")
    from inverse3d.io.outputs import LOCK_NAME, OutputInUseError

    cfg = tiny_config("locked", type="point", iterations=1)
    real = train_module.training_loss
    seen = []

    def loss_checking_the_lock(*args):
        seen.append((cfg.out_dir / LOCK_NAME).read_text().split()[0])
        return real(*args)

    monkeypatch.setattr(train_module, "training_loss", loss_checking_the_lock)
    train(cfg)
    assert seen == [str(os.getpid())] and not (cfg.out_dir / LOCK_NAME).exists()
    (cfg.out_dir / LOCK_NAME).write_text(f"{os.getppid()}\n")  # another live process
    with pytest.raises(OutputInUseError, match=f"in use by PID {os.getppid()}"):
        train(tiny_config("locked", type="point", iterations=2, resume=True))
