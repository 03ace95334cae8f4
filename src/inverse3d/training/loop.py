"""The one training loop every task uses: a task says what to train, ``fit_loop`` does the rest.

A task (``Trainable``) supplies its batches, its model and optimiser, its loss, and optionally extra checkpoint
entries and what to evaluate or draw at the end. ``fit_loop(task, LoopOptions(...))`` then:

- refuses an existing checkpoint unless ``resume`` (continue it) or ``overwrite`` (start afresh; the old checkpoint is
  removed only once the new run is ready to take its first step), before any work;
- joins the torchrun process group when there is one (``inverse3d.training.distributed``), wraps the model in
  ``DistributedDataParallel``, averages the reported loss over processes; rank 0 alone writes, locks and shows the bar;
- holds ``OutputLock(out_dir)`` for the whole run (a second run into the same folder fails at once);
- seeds torch, numpy and Python with ``seed`` before ``Trainable.build`` (the weights' initialisation), then with a
  seed per process for the run itself (the sampling in the losses differs per process);
- on ``resume`` restores weights, optimiser, step, losses, every process's RNG states and the batch order
  (``ResumableBatchSampler``, or the task's batch function of the step), so N steps straight and k steps + resume +
  N - k steps give the same weights;
- runs ``iterations`` steps with a tqdm bar showing the loss, writes ``checkpoint.pt`` atomically every
  ``checkpoint_every`` steps and at the end, stops after ``max_minutes`` (with a checkpoint), and on Ctrl-C or
  SIGTERM finishes the step, writes the checkpoint and raises ``TrainingInterrupted``;
- writes ``config.json`` (the task's options) and ``loss.png`` (the loss curve) into ``out_dir``;
- calls the ``LoopHook``s made active by ``with loop_hooks(hook, ...)`` on rank 0: ``on_start(run, task, model)``
  before the first step, ``on_step(StepInfo)`` after every step, ``on_end(result)`` after ``finish``. A hook
  observes (e.g. ``inverse3d.viewer.LiveViewer`` streams the prediction to a browser); it must not change the
  weights or draw from the global RNG, and it throttles itself (``on_step`` runs inside the timed loop). A command
  adds one around the task's own ``train(config)``, which needs no change: ``with loop_hooks(viewer): train(cfg)``.

A new task in a few lines (see ``inverse3d.tasks.single_view.train`` for a full one)::

    class FitLine(Trainable):
        name = "train line"

        def batches(self, run):
            return Batches(of_step=lambda step: torch.randn(64, 1, device=run.device))

        def build(self, run):
            self.model = torch.nn.Linear(1, 1).to(run.device)
            return self.model, torch.optim.Adam(self.model.parameters(), lr=1e-2)

        def loss(self, model, x, step):
            return (model(x) - (3 * x + 1)).square().mean()

    result = fit_loop(FitLine(), LoopOptions(out_dir=Path("out/line"), iterations=500))
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch

from inverse3d.training.checkpoint import (
    FORMAT,
    VERSION,
    CheckpointError,
    load_model_state,
    read_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from inverse3d.training.distributed import Dist, process_device, setup_distributed, teardown_distributed
from inverse3d.training.options import CHECKPOINT_NAME, check_checkpoint_target, check_float, check_folder, check_int


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C or SIGTERM after writing its checkpoint (``path``)."""

    def __init__(self, path: Path | None, step: int) -> None:
        super().__init__(f"training interrupted at step {step}; checkpoint: {path}")
        self.path, self.step = path, step


@dataclass
class LoopOptions:
    """How the core runs a task: how long, where to, how often to checkpoint, on which device."""

    out_dir: Path
    """Folder for checkpoint.pt, loss.png and config.json (locked while training: one run per folder)."""
    iterations: int
    """Total optimisation steps (a resumed run continues up to this number)."""
    seed: int = 0
    """Seed of the weights' initialisation, the batch order and the run's random sampling."""
    checkpoint_every: int = 200
    """Write the checkpoint every this many steps (also at the end and when interrupted)."""
    resume: bool = False
    """Continue from out_dir/checkpoint.pt exactly."""
    overwrite: bool = False
    """Start afresh even though out_dir/checkpoint.pt exists, replacing it."""
    save: bool = True
    """Write checkpoints (False for throwaway runs)."""
    max_minutes: float | None = None
    """Stop after this many minutes of training (counted from the first step), with a checkpoint."""
    progress: bool = True
    """Show the progress bar."""
    device: str = "cpu"
    """Torch device; under torchrun with CUDA each process takes cuda:LOCAL_RANK."""
    workers: int = 0
    """Data loader worker processes (for a task whose batches come from a dataset)."""
    config: dict[str, Any] = field(default_factory=dict)
    """The task's options as plain values: written to config.json and stored as the checkpoint's train_config."""
    checkpoint_name: str = CHECKPOINT_NAME
    """File name of the checkpoint inside out_dir."""

    def check(self) -> None:
        """Raises ``ValueError`` (one line naming the option) for options that cannot work; creates nothing."""
        check_int("--iterations", self.iterations, 1)
        check_int("--checkpoint-every", self.checkpoint_every, 1)
        check_int("--seed", self.seed, 0)
        check_int("--workers", self.workers, 0, 256)
        if self.max_minutes is not None:
            check_float("--max-minutes", self.max_minutes)
        if self.resume and self.overwrite:
            raise ValueError("--resume and --overwrite contradict each other: continue the checkpoint or replace it")
        check_folder("--out-dir", self.out_dir)


@dataclass
class Run:
    """What a task learns about the run it is part of: options, this process and its device."""

    options: LoopOptions
    dist: Dist
    device: torch.device

    @property
    def rank(self) -> int:
        return self.dist.rank

    @property
    def world_size(self) -> int:
        return self.dist.world_size

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and shows progress."""
        return self.dist.rank == 0

    @property
    def out_dir(self) -> Path:
        return Path(self.options.out_dir)


@dataclass
class Batches:
    """Where a task's batches come from: a map-style ``dataset`` (+ ``collate``, ``batch_size`` per process), drawn
    in a resumable order split across processes; or ``of_step(step)``, a function returning the batch of step
    ``step`` (0-based) on the run's device, e.g. random rays drawn from the global RNG (restored on resume)."""

    dataset: Any = None
    collate: Callable[[list[Any]], Any] | None = None
    batch_size: int = 1
    of_step: Callable[[int], Any] | None = None


@dataclass
class LoopResult:
    """What ``fit_loop`` returns: the model (unwrapped, on its device), the loss of every step, the files written."""

    model: torch.nn.Module
    losses: list[float]
    step: int
    checkpoint: Path | None
    files: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0
    rank: int = 0
    """This process's rank under torchrun (0 alone)."""


class Trainable(Protocol):
    """A task as the core sees it. ``name``, ``batches``, ``build`` and ``loss`` are required; subclassing
    ``Trainable`` gives the defaults of the others."""

    name: str
    """Label of the progress bar and title of the loss curve, e.g. "train vox"."""

    def read_checkpoint(self, path: Path) -> dict[str, Any]:
        """Reads and checks the checkpoint to resume from (called before ``batches``, so a bad file fails before
        a long data preparation). Default: ``inverse3d.training.checkpoint.read_checkpoint``."""
        return read_checkpoint(path)

    def batches(self, run: Run) -> Batches:
        """The training batches. Called on rank 0 first, then (after a barrier) on the other processes, so rank 0
        can prepare a shared cache alone."""
        ...

    def build(self, run: Run) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        """The model (on ``run.device``) and its optimiser, after the core seeded every RNG with ``seed``."""
        ...

    def loss(self, model: torch.nn.Module, batch: Any, step: int) -> torch.Tensor:
        """The scalar loss of ``batch`` at ``step`` (0-based); ``model`` may be DDP-wrapped."""
        ...

    def checkpoint_entries(self) -> dict[str, Any]:
        """Extra entries of the checkpoint (plain data and tensors), e.g. the model's constructor arguments."""
        return {}

    def restore(self, checkpoint: dict[str, Any]) -> None:
        """Takes back what ``checkpoint_entries`` stored, on resume (after the weights and optimiser)."""

    def progress_postfix(self) -> dict[str, str]:
        """Extra values shown in the progress bar after the loss, e.g. ``{"psnr": "24.1 dB"}`` (optional: the core
        asks with ``getattr``, so tasks that do not subclass ``Trainable`` need not define it)."""
        return {}

    def finish(self, run: Run, result: LoopResult) -> dict[str, Path]:
        """Evaluates or draws at the end, on every process (``run.is_main`` writes); returns the files written."""
        return {}


@dataclass
class StepInfo:
    """What ``LoopHook.on_step`` sees after step ``step`` (1-based count of steps done): the step's (process-mean)
    loss, the unwrapped model, the task, the step's batch and the run."""

    step: int
    loss: float
    model: torch.nn.Module
    task: Any
    batch: Any
    run: Run


class LoopHook(Protocol):
    """An observer of ``fit_loop`` on rank 0 (module docstring); every method is optional (asked with getattr)."""

    def on_start(self, run: Run, task: Any, model: torch.nn.Module) -> None: ...

    def on_step(self, info: StepInfo) -> None: ...

    def on_end(self, result: LoopResult) -> None: ...


_HOOKS: contextvars.ContextVar[tuple[Any, ...]] = contextvars.ContextVar("inverse3d_loop_hooks", default=())


@contextlib.contextmanager
def loop_hooks(*hooks: Any):
    """Makes ``hooks`` (``LoopHook``s) active for the ``fit_loop`` calls inside the ``with`` block (nested blocks
    add to the outer ones)."""
    token = _HOOKS.set(_HOOKS.get() + tuple(h for h in hooks if h is not None))
    try:
        yield
    finally:
        _HOOKS.reset(token)


def _call_hooks(hooks: tuple[Any, ...], method: str, *args: Any) -> None:
    for hook in hooks:
        fn = getattr(hook, method, None)
        if fn is not None:
            fn(*args)


class StopFlag:
    """Ctrl-C / SIGTERM set a flag that the loop checks between steps; a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.set = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "StopFlag":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.getsignal(sig)
                signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.set and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.set = True

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def seed_everything(seed: int) -> None:
    """Seeds torch, numpy's global generator and Python's ``random``."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def fit_loop(task: Trainable, options: LoopOptions) -> LoopResult:
    """Trains ``task`` as ``options`` say (module docstring); returns a ``LoopResult``.

    Raises:
        ValueError: an option that cannot work, or an existing checkpoint without ``resume`` / ``overwrite``;
            before any work.
        FileNotFoundError: ``resume`` without a checkpoint.
        OutputInUseError: another process is writing into ``out_dir``.
        TrainingInterrupted: after Ctrl-C / SIGTERM, once the checkpoint is written.
        CheckpointError: ``resume`` with a checkpoint that is corrupt or does not fit the task.
    """
    from inverse3d.io.outputs import OutputLock

    options.check()
    ckpt_path = check_checkpoint_target(options.out_dir, options.resume, options.overwrite, options.checkpoint_name)
    t0 = time.perf_counter()
    dist_info = setup_distributed(options.device)
    # Rank 0 alone writes, so rank 0 alone locks; a second job into the same folder fails on its rank 0.
    lock = OutputLock(Path(options.out_dir), is_dir=True) if dist_info.is_main else None
    try:
        if lock is not None:
            lock.acquire()
        return _fit_loop(task, options, ckpt_path, dist_info, t0)
    finally:
        try:
            if lock is not None:
                lock.release()
        finally:
            teardown_distributed(dist_info)


def _restore(task: Trainable, ckpt: dict[str, Any], ckpt_path: Path, model: torch.nn.Module,
             optimizer: torch.optim.Optimizer, run: Run) -> tuple[int, list[float]]:
    """Loads weights, optimiser state, RNG states and the task's entries from ``ckpt``; returns (step, losses)."""
    load_model_state(model, ckpt["model"], ckpt_path)
    try:
        optimizer.load_state_dict(ckpt["optimizer"])
    except (ValueError, KeyError, RuntimeError) as err:
        raise CheckpointError(ckpt_path, f"optimiser state does not fit the model: {err}") from err
    states = ckpt.get("rng", [])
    if len(states) == run.world_size:
        set_rng_state(states[run.rank])
    elif run.is_main:
        print(f"warning: {ckpt_path} was written by {len(states)} process(es), now {run.world_size}: "
              "random states are re-seeded, the run will not match an uninterrupted one exactly")
    task.restore(ckpt)
    return int(ckpt["step"]), list(ckpt.get("losses", []))


def _batch_source(batches: Batches, options: LoopOptions, run: Run, step: int) -> Callable[[int], Any]:
    """A function of the step returning that step's batch on the run's device."""
    if batches.of_step is not None:
        return batches.of_step
    from inverse3d.training.data import ResumableBatchSampler, to_device

    sampler = ResumableBatchSampler(len(batches.dataset), batches.batch_size, options.seed, run.rank, run.world_size,
                                    start_step=step)
    loader = torch.utils.data.DataLoader(batches.dataset, batch_sampler=sampler, collate_fn=batches.collate,
                                         num_workers=options.workers, pin_memory=run.device.type == "cuda",
                                         # its own generator: creating the iterator must not draw from the
                                         # global one, or a resumed run would not match
                                         generator=torch.Generator().manual_seed(options.seed))
    iterator = None

    def batch(step: int) -> Any:
        nonlocal iterator
        if iterator is None:  # created at the first step, as the loop always did
            iterator = iter(loader)
        out = next(iterator)
        return to_device(out, run.device) if isinstance(out, dict) else out

    return batch


def _fit_loop(task: Trainable, options: LoopOptions, ckpt_path: Path, dist_info: Dist, t0: float) -> LoopResult:
    """The body of ``fit_loop``, with the options checked, the processes joined and the output locked."""
    from tqdm.auto import tqdm

    from inverse3d.io.outputs import atomic_write
    from inverse3d.viz.plots import plot_loss_curve

    run = Run(options, dist_info, process_device(options.device, dist_info))
    rank, world, is_main = run.rank, run.world_size, run.is_main
    out = run.out_dir
    ckpt = task.read_checkpoint(ckpt_path) if options.resume else None  # before the (possibly long) data
    # Data: rank 0 prepares it first (e.g. generates a cache), the others then open it.
    if is_main:
        batches = task.batches(run)
    if dist_info.enabled:
        torch.distributed.barrier()
    if not is_main:
        batches = task.batches(run)

    seed_everything(options.seed)
    model, optimizer = task.build(run)
    step, losses = 0, []
    seed_everything(options.seed * 7919 + rank + 1)  # the sampling in the losses differs per process
    if ckpt is not None:
        step, losses = _restore(task, ckpt, ckpt_path, model, optimizer, run)

    core = model
    if dist_info.enabled:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(model, device_ids=[run.device.index] if run.device.type == "cuda" else None)

    next_batch = _batch_source(batches, options, run, step)
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        if options.overwrite and not options.resume and ckpt_path.is_file():
            ckpt_path.unlink()  # --overwrite: the old run goes only now that the new one is ready to start
        text = json.dumps(options.config, indent=2)
        atomic_write(out / "config.json", lambda tmp: tmp.write_text(text))

    saved_step = -1

    def checkpoint() -> Path | None:
        """Writes the checkpoint (rank 0) after gathering every process's RNG states (a collective call)."""
        nonlocal saved_step
        saved_step = step
        states = rng_state()
        if dist_info.enabled:
            gathered: list[Any] = [None] * world
            torch.distributed.all_gather_object(gathered, states)
        else:
            gathered = [states]
        if not is_main or not options.save:
            return None
        save_checkpoint(ckpt_path, {
            "format": FORMAT,
            "version": VERSION,
            **task.checkpoint_entries(),
            "train_config": options.config,
            "model": core.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "rng": gathered,
            "losses": losses,
        })
        return ckpt_path

    files: dict[str, Path] = {}
    model.train()
    hooks = _HOOKS.get() if is_main else ()
    _call_hooks(hooks, "on_start", run, task, core)
    bar = tqdm(total=options.iterations, initial=min(step, options.iterations), desc=task.name,
               disable=not (options.progress and is_main), dynamic_ncols=True)
    written: Path | None = None
    deadline = None if options.max_minutes is None else time.perf_counter() + 60.0 * options.max_minutes
    with StopFlag() as stop:
        while step < options.iterations:
            batch = next_batch(step)
            loss = task.loss(model, batch, step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            report = torch.stack([loss.detach().float().cpu(), torch.tensor(float(stop.set))])
            if dist_info.enabled:
                torch.distributed.all_reduce(report)  # mean loss over processes; anyone stopping stops all
                report[0] /= world
            losses.append(float(report[0]))
            bar.update(1)
            extra = getattr(task, "progress_postfix", None)
            bar.set_postfix(loss=f"{losses[-1]:.4f}", **(extra() if extra is not None else {}))
            if hooks:
                _call_hooks(hooks, "on_step", StepInfo(step, losses[-1], core, task, batch, run))
            if report[1] > 0:
                written = checkpoint()
                if is_main:
                    plot_loss_curve(out / "loss.png", losses, task.name)
                bar.close()
                raise TrainingInterrupted(written, step)
            out_of_time = torch.tensor(float(deadline is not None and time.perf_counter() > deadline))
            if dist_info.enabled:
                torch.distributed.broadcast(out_of_time, src=0)  # rank 0's clock decides for everyone
            if out_of_time > 0:
                if is_main:
                    bar.write(f"stopping after {options.max_minutes} minutes at step {step} (--max-minutes)")
                break
            if step % options.checkpoint_every == 0 or step == options.iterations:
                written = checkpoint()
    bar.close()
    if saved_step != step and step > 0:  # e.g. resumed at the end already
        written = checkpoint()
    if is_main:
        if options.save:
            files["checkpoint"] = ckpt_path
        if losses:
            files["loss"] = plot_loss_curve(out / "loss.png", losses, task.name)
    result = LoopResult(core, losses, step, written, files, 0.0, rank)
    files.update(task.finish(run, result))
    _call_hooks(hooks, "on_end", result)
    result.seconds = time.perf_counter() - t0
    return result
