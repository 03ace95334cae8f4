"""The training core on a toy task (no single-view code): exact resume, extra checkpoint entries, batches from a
dataset or a function of the step, the time budget, interruption, the end hook and the checks before any work."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch

from inverse3d.training import Batches, LoopOptions, Trainable, TrainingInterrupted, fit_loop, read_checkpoint


class Line(Trainable):
    """Fits y = 3 x + 1 on random x drawn from the global RNG each step (so resume must restore it)."""

    name = "train line"

    def __init__(self, from_dataset: bool = False) -> None:
        self.from_dataset = from_dataset
        self.restored = None
        self.finished = None

    def batches(self, run):
        if self.from_dataset:
            xs = torch.linspace(-1, 1, 12)[:, None]
            return Batches(dataset=[{"x": x} for x in xs], collate=lambda items: {"x": torch.stack([i["x"] for i in items])},
                           batch_size=4)
        return Batches(of_step=lambda step: {"x": torch.randn(8, 1, device=run.device)})

    def build(self, run):
        self.model = torch.nn.Linear(1, 1).to(run.device)
        return self.model, torch.optim.Adam(self.model.parameters(), lr=0.05)

    def loss(self, model, batch, step):
        x = batch["x"]
        noise = 0.01 * torch.randn_like(x)  # draws from the global RNG during the step as well
        return (model(x) - (3 * x + 1 + noise)).square().mean()

    def checkpoint_entries(self):
        return {"task": "line", "slope_target": torch.tensor(3.0)}

    def restore(self, checkpoint):
        self.restored = checkpoint["task"]

    def finish(self, run, result):
        self.finished = result.step
        path = run.out_dir / "done.txt"
        path.write_text(str(result.step))
        return {"done": path}


def opts(tmp_path: Path, name: str = "run", **kw) -> LoopOptions:
    base = dict(out_dir=tmp_path / name, iterations=6, seed=3, checkpoint_every=100, progress=False,
                config={"what": "line"})
    base.update(kw)
    return LoopOptions(**base)


@pytest.mark.parametrize("from_dataset", [False, True])
def test_resume_is_exact_and_files_are_written(tmp_path, from_dataset):
    straight = fit_loop(Line(from_dataset), opts(tmp_path, "straight"))
    assert straight.step == 6 and len(straight.losses) == 6
    assert sorted(straight.files) == ["checkpoint", "done", "loss"]
    assert sorted(p.name for p in (tmp_path / "straight").iterdir()) == [
        "checkpoint.pt", "config.json", "done.txt", "loss.png"]
    ckpt = read_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    assert ckpt["task"] == "line" and ckpt["train_config"] == {"what": "line"} and ckpt["step"] == 6

    fit_loop(Line(from_dataset), opts(tmp_path, "split", iterations=2))
    task = Line(from_dataset)
    resumed = fit_loop(task, opts(tmp_path, "split", resume=True))
    assert task.restored == "line" and task.finished == 6
    assert resumed.losses == straight.losses
    for a, b in zip(resumed.model.parameters(), straight.model.parameters()):
        assert torch.equal(a, b)


def test_time_budget_and_no_save(tmp_path):
    result = fit_loop(Line(), opts(tmp_path, iterations=50, max_minutes=0.0, save=False))
    assert result.step == 1 and result.checkpoint is None and "checkpoint" not in result.files
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_sigterm_writes_checkpoint_then_raises(tmp_path):
    class Stopping(Line):
        def loss(self, model, batch, step):
            if step == 1:
                os.kill(os.getpid(), signal.SIGTERM)
            return super().loss(model, batch, step)

    with pytest.raises(TrainingInterrupted) as info:
        fit_loop(Stopping(), opts(tmp_path, iterations=50))
    assert info.value.step == 2 and read_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"] == 2


def test_checks_before_any_work(tmp_path):
    class NoWork(Line):
        def batches(self, run):
            raise AssertionError("batches were asked for before the checks")

    with pytest.raises(ValueError, match="--iterations 0: must be at least 1"):
        fit_loop(NoWork(), opts(tmp_path, iterations=0))
    with pytest.raises(FileNotFoundError, match="no checkpoint to --resume from"):
        fit_loop(NoWork(), opts(tmp_path, resume=True))
    fit_loop(Line(), opts(tmp_path, iterations=1))
    with pytest.raises(ValueError, match="checkpoint exists already"):
        fit_loop(NoWork(), opts(tmp_path, iterations=2))
    with pytest.raises(ValueError, match="--resume and --overwrite contradict"):
        fit_loop(NoWork(), opts(tmp_path, resume=True, overwrite=True))


def test_progress_bar_shows_the_tasks_extra_values(tmp_path, capsys):
    class WithPostfix(Line):
        def progress_postfix(self):
            return {"slope": f"{float(self.model.weight.detach()):.3f}"}

    fit_loop(WithPostfix(), opts(tmp_path, progress=True))
    err = capsys.readouterr().err
    assert "loss=" in err and "slope=" in err
