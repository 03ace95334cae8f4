"""Training a single-view reconstruction network on the built-in procedural dataset.

``train(TrainConfig(...))`` builds the dataset (generated and cached on first use), a ``SingleViewModel`` and Adam,
then runs ``iterations`` steps with a tqdm bar showing the loss, and writes into ``out_dir``:

- ``checkpoint.pt`` every ``checkpoint_every`` steps, at the end, and when interrupted (Ctrl-C or SIGTERM: the
  current step finishes, the checkpoint is written, then ``TrainingInterrupted`` is raised); always atomically;
- ``loss.png``, the loss curve.

A finished run is never replaced by accident: when ``out_dir/checkpoint.pt`` exists, ``train`` refuses to start
unless ``resume=True`` (continue it) or ``overwrite=True`` (start afresh; the old checkpoint is removed once the new
run is ready to take its first step). The options are checked before any work (``TrainConfig.check``), and the
process holds ``OutputLock(out_dir)`` for the whole run, so a second ``train`` (or ``eval``, ``fit``) into the same
folder fails at once with "in use by PID ..." instead of interleaving files.

``resume=True`` continues from ``out_dir/checkpoint.pt`` exactly where it stopped: weights, optimiser state, step,
the RNG states of torch, numpy and Python, and the batch order (``ResumableBatchSampler``), so N steps straight and
k steps + resume + N - k steps give the same weights.

Several processes: run the same command under ``torchrun --nproc_per_node P``. Each process takes its share of every
epoch and ``batch_size`` shapes per step, gradients are averaged by ``DistributedDataParallel`` (gloo on the CPU,
NCCL on CUDA), and only rank 0 writes files, holds the output lock and shows the bar.

Losses by model type: ``vox`` / ``vox_conv``: class-balanced BCE on the voxels, occupied cells weighted by
``0.5 / mean occupancy of the training set`` (fixed at the start, kept in the model as ``logit_shift`` = its log so
that ``predict`` returns calibrated logits and marching cubes at 0.5 finds the surface); ``point``: chamfer distance
to the shape's surface samples; ``mesh``: ``w_chamfer`` x chamfer between points sampled on the predicted mesh and the
surface samples + ``w_smooth`` x uniform Laplacian smoothing; ``implicit``: BCE between predicted occupancy logits
and the trilinearly interpolated voxel occupancy at query points (half uniform in the box, half near the surface,
which balances the classes).

Quality-target runs (30 CPU minutes each on the built-in chairs, then the test-set F1@0.05; targets voxels >= 85,
points >= 95, meshes >= 90)::

    COMMON="--data-root data/procedural --image-size 64 --batch-size 32 --lr 5e-4 --iterations 100000 \
            --max-minutes 30 --checkpoint-every 100"
    inverse3d train --type vox   $COMMON --out-dir out/q/vox
    inverse3d train --type point $COMMON --out-dir out/q/point --n-points 1024
    inverse3d train --type mesh  $COMMON --out-dir out/q/mesh  --n-points 1024 --ico-level 4 --w-smooth 0.05
    inverse3d eval --checkpoint out/q/vox/checkpoint.pt --out-dir out/q/vox/eval   # likewise point, mesh
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from inverse3d.engine.checkpoint import (
    FORMAT,
    VERSION,
    CheckpointError,
    load_checkpoint,
    load_model_state,
    rng_state,
    save_checkpoint,
    set_rng_state,
    validate_model_config,
)

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
class TrainConfig:
    """Options of ``inverse3d train``: the model, the data, the optimisation and where results go."""

    type: Literal["vox", "vox_conv", "point", "mesh", "implicit"] = "vox"
    """Decoder: vox (MLP to voxels), vox_conv (3D transposed convolutions), point (MLP to points), mesh (ico-sphere
    vertex offsets), implicit (occupancy network queried at 3D points)."""
    batch_size: int = 32
    """Shapes per step (per process under torchrun)."""
    lr: float = 4e-4
    """Adam learning rate."""
    iterations: int = 2000
    """Total optimisation steps (a resumed run continues up to this number)."""
    seed: int = 0
    """Seed of the weights' initialisation, the batch order and the sampling in the losses."""
    checkpoint_every: int = 200
    """Write out_dir/checkpoint.pt every this many steps (also at the end and when interrupted)."""
    resume: bool = False
    """Continue from out_dir/checkpoint.pt (exactly: weights, optimiser, step, RNG states and data order)."""
    overwrite: bool = False
    """Start afresh even though out_dir/checkpoint.pt exists, replacing it (without this or --resume, train refuses
    to touch an existing checkpoint)."""
    out_dir: Path = Path("out/train")
    """Folder for checkpoint.pt, loss.png and config.json (locked while training: one run per folder)."""
    device: str = "cpu"
    """Torch device (cpu, cuda, cuda:1; the command line also takes auto); under torchrun with CUDA each process
    takes cuda:LOCAL_RANK."""
    workers: int = 0
    """Data loader worker processes (and dataset generation processes on first use)."""
    data_root: Path = Path("data/procedural")
    """Cache folder of the built-in dataset (generated there on first use)."""
    categories: tuple[str, ...] = ("chair",)
    """Categories of the built-in dataset: any of chair, table, sofa."""
    n_train: int = 800
    """Training shapes per category."""
    n_val: int = 50
    """Validation shapes per category."""
    n_test: int = 100
    """Test shapes per category."""
    image_size: int = 137
    """Input image side in pixels (137 as R2N2), 8 to 1024."""
    voxel_res: int = 32
    """Voxel grid side of the data and of vox / vox_conv / implicit predictions, 2 to 128."""
    data_points: int = 5000
    """Surface samples stored per shape (ground truth of the point and mesh losses and of F1), at most 10^6."""
    data_seed: int = 0
    """Seed of the dataset (which shapes and views)."""
    n_points: int = 2048
    """Points predicted by the point decoder; points sampled on predicted meshes per step; ground-truth points
    used per shape and step by the chamfer losses (a random subset of the stored samples)."""
    ico_level: int = 4
    """Subdivision level of the mesh decoder's ico-sphere (4: 2562 vertices), 0 to 6."""
    w_chamfer: float = 1.0
    """Weight of the chamfer term (mesh)."""
    w_smooth: float = 0.2
    """Weight of the Laplacian smoothing term (mesh)."""
    n_queries: int = 2048
    """Query points per shape and step (implicit)."""
    pretrained: bool = False
    """Start the encoder from ImageNet weights found in the local torch hub cache (never downloaded)."""
    save: bool = True
    """Write checkpoints (False for throwaway runs, e.g. the tour's short run: nothing to resume from)."""
    max_minutes: float | None = None
    """Stop after this many minutes of training (counted from the first step; a checkpoint is written) even if
    fewer than --iterations steps are done; a later --resume continues."""
    progress: bool = True
    """Show the progress bar."""

    def model_config(self) -> dict[str, Any]:
        """The ``SingleViewModel`` arguments this config asks for (stored in checkpoints)."""
        return dict(type=self.type, voxel_res=self.voxel_res, n_points=self.n_points, ico_level=self.ico_level)

    def check(self) -> None:
        """Raises ``ValueError`` (one line naming the option, as on the command line) for options that cannot
        work: called by ``train`` before any work and before any folder is created."""
        from inverse3d.datasets.procedural import CATEGORIES
        from inverse3d.models.single_view import MODEL_TYPES

        if self.type not in MODEL_TYPES:
            raise ValueError(f"--type {self.type!r}: unknown model type; choose one of {', '.join(MODEL_TYPES)}")
        check_int("--batch-size", self.batch_size, 1)
        check_int("--iterations", self.iterations, 1)
        check_int("--checkpoint-every", self.checkpoint_every, 1)
        check_int("--seed", self.seed, 0)
        check_int("--workers", self.workers, 0, 256)
        check_int("--n-train", self.n_train, 1)
        check_int("--n-val", self.n_val, 0)
        check_int("--n-test", self.n_test, 0)
        check_int("--image-size", self.image_size, 8, 1024)
        check_int("--voxel-res", self.voxel_res, 2, 128)
        check_int("--data-points", self.data_points, 1, 10**6)
        check_int("--data-seed", self.data_seed, 0)
        check_int("--n-points", self.n_points, 1, 10**6)
        check_int("--ico-level", self.ico_level, 0, 6)
        check_int("--n-queries", self.n_queries, 1, 10**6)
        check_float("--lr", self.lr, positive=True)
        check_float("--w-chamfer", self.w_chamfer)
        check_float("--w-smooth", self.w_smooth)
        if self.max_minutes is not None:
            check_float("--max-minutes", self.max_minutes)
        categories = (self.categories,) if isinstance(self.categories, str) else tuple(self.categories)
        if not categories:
            raise ValueError(f"--categories: name at least one of {', '.join(CATEGORIES)}")
        for c in categories:
            if c not in CATEGORIES:
                raise ValueError(f"--categories: unknown category {c!r}; choose from {', '.join(CATEGORIES)}")
        if len(set(categories)) != len(categories):
            raise ValueError(f"--categories: a category is named twice in {' '.join(categories)}")
        try:  # the model must be one that eval can load again (same rules, same size limit)
            validate_model_config(self.model_config())
        except CheckpointError as err:
            option = {"vox": "--voxel-res", "vox_conv": "--voxel-res", "point": "--n-points",
                      "mesh": "--ico-level"}.get(self.type, "--type")
            raise ValueError(f"--type {self.type} {option}: {err.problem}") from None
        if self.resume and self.overwrite:
            raise ValueError("--resume and --overwrite contradict each other: continue the checkpoint or replace it")
        check_folder("--out-dir", self.out_dir)
        check_folder("--data-root", self.data_root)


def check_int(option: str, value: Any, low: int | None = None, high: int | None = None) -> None:
    """Raises ``ValueError`` naming ``option`` unless ``value`` is an int (not a bool) in [low, high]."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{option}: expected an integer, got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{option} {value}: must be at least {low}")
    if high is not None and value > high:
        raise ValueError(f"{option} {value}: must be at most {high}")


def check_float(option: str, value: Any, positive: bool = False) -> None:
    """Raises ``ValueError`` naming ``option`` unless ``value`` is a finite number, >= 0 (> 0 with ``positive``)."""
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{option}: expected a number, got {value!r}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{option} {value}: must be a finite number {'> 0' if positive else '>= 0'}")


def check_folder(option: str, path: Any) -> None:
    """Raises ``ValueError`` naming ``option`` when ``path`` is empty, is a file, or lies below a file (creating
    it would fail half-way). Creates nothing."""
    text = os.fspath(path) if isinstance(path, (str, os.PathLike)) else None
    if text is None:
        raise ValueError(f"{option}: expected a folder path, got {path!r}")
    if not str(text).strip():
        raise ValueError(f"{option}: empty path")
    folder = Path(text)
    for p in (folder, *folder.absolute().parents):
        if p.exists():
            if not p.is_dir():
                where = "is a file" if p == folder else f"lies below {p}, a file"
                raise ValueError(f"{option} {folder}: {where}, not a folder")
            return


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C or SIGTERM after writing its checkpoint (``path``)."""

    def __init__(self, path: Path | None, step: int) -> None:
        super().__init__(f"training interrupted at step {step}; checkpoint: {path}")
        self.path, self.step = path, step


def check_checkpoint_target(config: TrainConfig) -> Path:
    """Where the run's checkpoint goes, after checking that starting there loses nothing: an existing checkpoint
    needs ``resume`` or ``overwrite``; ``resume`` needs one. Returns the path. Creates nothing."""
    path = Path(config.out_dir) / CHECKPOINT_NAME
    if path.is_dir():
        raise ValueError(f"{path}: a folder where the checkpoint goes; move it away or choose another --out-dir")
    if config.resume:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no checkpoint to --resume from (start without --resume)")
    elif path.exists() and not config.overwrite:
        raise ValueError(f"{path}: a checkpoint exists already; continue it with --resume or replace it with "
                         "--overwrite (or choose another --out-dir)")
    return path


@dataclass
class TrainResult:
    """What ``train`` returns: the model (unwrapped, on its device), the loss of every step, the files written."""

    model: torch.nn.Module
    losses: list[float]
    step: int
    checkpoint: Path | None
    files: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0
    rank: int = 0
    """This process's rank under torchrun (0 alone)."""


def config_to_plain(config: TrainConfig) -> dict[str, Any]:
    """The config as plain values (paths as str, tuples as lists) for checkpoints and config.json."""
    out = {}
    for f in dataclasses.fields(config):
        v = getattr(config, f.name)
        out[f.name] = str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v
    return out


def config_from_plain(values: dict[str, Any], **overrides: Any) -> TrainConfig:
    """Inverse of ``config_to_plain`` (unknown keys are ignored), with ``overrides`` applied."""
    names = {f.name: f for f in dataclasses.fields(TrainConfig)}
    kw = {k: v for k, v in values.items() if k in names}
    for k in ("out_dir", "data_root"):
        if k in kw:
            kw[k] = Path(kw[k])
    if "categories" in kw:
        kw["categories"] = tuple(kw["categories"])
    kw.update(overrides)
    return TrainConfig(**kw)


# ---------------------------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------------------------


def _subsample(points: torch.Tensor, n: int) -> torch.Tensor:
    """(B, P, 3) -> (B, min(n, P), 3): a random subset of each cloud (torch's global generator)."""
    B, P, _ = points.shape
    if P <= n:
        return points
    idx = torch.rand(B, P, device=points.device).argsort(dim=1)[:, :n]  # (B, n)
    return points.gather(1, idx[..., None].expand(B, n, 3))


def occupancy_at(voxels: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Trilinear interpolation of (B, D, H, W) occupancies (cells over [-0.5, 0.5]^3, ``voxel_grid`` layout) at
    (B, Q, 3) world points -> (B, Q) in [0, 1]; 0 outside the box."""
    grid = (2.0 * points)[:, :, None, None, :]  # (B, Q, 1, 1, 3): x, y, z -> w, h, d in [-1, 1]
    out = F.grid_sample(voxels[:, None].to(points.dtype), grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)  # (B, 1, Q, 1, 1)
    return out[:, 0, :, 0, 0].clamp(0.0, 1.0)  # rounding can step a hair outside


def implicit_queries(points: torch.Tensor, n: int, noise: float = 0.03) -> torch.Tensor:
    """(B, n, 3) query points: half uniform in [-0.55, 0.55]^3, half surface samples plus Gaussian noise."""
    B = points.shape[0]
    n_near = n // 2
    uniform = (torch.rand(B, n - n_near, 3, device=points.device, dtype=points.dtype) - 0.5) * 1.1
    near = _subsample(points, n_near)
    if near.shape[1] < n_near:  # fewer stored samples than asked: repeat them
        near = near.repeat(1, -(-n_near // near.shape[1]), 1)[:, :n_near]
    near = near + noise * torch.randn_like(near)
    return torch.cat([uniform, near], dim=1)


def mean_occupancy(dataset, max_items: int = 256) -> float:
    """Mean voxel occupancy over (up to ``max_items`` evenly spaced) items of ``dataset``."""
    n = len(dataset)
    idx = sorted({int(i * n / min(n, max_items)) for i in range(min(n, max_items))})
    return float(torch.stack([dataset[i]["voxels"].float().mean() for i in idx]).mean())


def training_loss(model: torch.nn.Module, core, batch: dict[str, Any], config: TrainConfig) -> torch.Tensor:
    """The loss of one batch (module docstring). ``model`` may be DDP-wrapped; ``core`` is the unwrapped model."""
    from inverse3d.loss import chamfer_distance, mesh_laplacian_smoothing, voxel_bce_loss

    images = batch["images"]
    kind = core.type
    if kind in ("vox", "vox_conv"):
        return voxel_bce_loss(model(images), batch["voxels"], pos_weight=float(core.logit_shift.exp()))
    gt = _subsample(batch["points"], config.n_points)
    if kind == "point":
        return chamfer_distance(model(images), gt)[0]
    if kind == "mesh":
        from inverse3d.ops import sample_points_from_meshes

        meshes = core.decoder.meshes(model(images))
        samples = sample_points_from_meshes(meshes, config.n_points)
        loss = config.w_chamfer * chamfer_distance(samples, gt)[0]
        if config.w_smooth:
            loss = loss + config.w_smooth * mesh_laplacian_smoothing(meshes, method="uniform")
        return loss
    queries = implicit_queries(batch["points"], config.n_queries)
    target = occupancy_at(batch["voxels"], queries)  # (B, Q) soft occupancies in [0, 1]
    return F.binary_cross_entropy_with_logits(model(images, queries), target)


# ---------------------------------------------------------------------------------------------------------------
# Processes, signals
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class _Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    initialised_here: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def _setup_distributed(device: str) -> _Dist:
    """Joins the process group when started by torchrun (WORLD_SIZE > 1); gloo on the CPU, NCCL on CUDA."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    import torch.distributed as dist

    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    here = False
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        dist.init_process_group(backend=backend)
        here = True
    return _Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), here)


class _StopFlag:
    """Ctrl-C / SIGTERM set a flag that the loop checks between steps; a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.set = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "_StopFlag":
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


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


# ---------------------------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------------------------


def train(config: TrainConfig) -> TrainResult:
    """Trains the model described by ``config`` (module docstring); returns a ``TrainResult``.

    Raises:
        ValueError: an option that cannot work (``TrainConfig.check``), or an existing checkpoint without
            ``resume`` / ``overwrite``; before any work.
        FileNotFoundError: ``resume`` without a checkpoint.
        OutputInUseError: another process is writing into ``out_dir``.
        TrainingInterrupted: after Ctrl-C / SIGTERM, once the checkpoint is written.
        CheckpointError: ``resume`` with a checkpoint that is corrupt or holds another model.
    """
    from inverse3d.io.outputs import OutputLock

    config.check()
    ckpt_path = check_checkpoint_target(config)
    t0 = time.perf_counter()
    dist_info = _setup_distributed(config.device)
    # Rank 0 alone writes, so rank 0 alone locks; a second job into the same folder fails on its rank 0.
    lock = OutputLock(Path(config.out_dir), is_dir=True) if dist_info.rank == 0 else None
    try:
        if lock is not None:
            lock.acquire()
        return _train(config, ckpt_path, dist_info, t0)
    finally:
        try:
            if lock is not None:
                lock.release()
        finally:
            if dist_info.initialised_here:
                torch.distributed.destroy_process_group()


def _train(config: TrainConfig, ckpt_path: Path, dist_info: _Dist, t0: float) -> TrainResult:
    """The body of ``train``, with the options checked, the processes joined and the output locked."""
    from tqdm.auto import tqdm

    from inverse3d.datasets.builtin import collate_batch
    from inverse3d.engine.data import ResumableBatchSampler, make_dataset, to_device
    from inverse3d.engine.plots import plot_loss_curve
    from inverse3d.io.outputs import atomic_write
    from inverse3d.models.single_view import SingleViewModel

    rank, world = dist_info.rank, dist_info.world_size
    is_main = rank == 0
    device = torch.device(config.device)
    if device.type == "cuda" and dist_info.enabled:
        device = torch.device("cuda", dist_info.local_rank)
        torch.cuda.set_device(device)
    out = Path(config.out_dir)
    ckpt = None
    if config.resume:  # read and checked before the (possibly long) dataset generation
        ckpt = load_checkpoint(ckpt_path, model_type=config.type)
        if ckpt["model_config"] != config.model_config():
            raise CheckpointError(ckpt_path, f"holds a model {ckpt['model_config']}, the config asks for "
                                             f"{config.model_config()}")
    # Data: rank 0 generates the cache first, the others then open it.
    if is_main:
        dataset = make_dataset(config, "train", progress=config.progress)
    if dist_info.enabled:
        torch.distributed.barrier()
    if not is_main:
        dataset = make_dataset(config, "train", progress=False)

    _seed_everything(config.seed)
    model = SingleViewModel(**config.model_config(), pretrained=config.pretrained).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    step, losses = 0, []
    if config.type in ("vox", "vox_conv"):
        occupancy = mean_occupancy(dataset)
        if occupancy <= 0:
            raise ValueError("the training voxels are all empty")
        model.logit_shift.fill_(float(np.log(0.5 / occupancy)))
    _seed_everything(config.seed * 7919 + rank + 1)  # the sampling in the losses differs per process
    if ckpt is not None:
        load_model_state(model, ckpt["model"], ckpt_path)
        try:
            optimizer.load_state_dict(ckpt["optimizer"])
        except (ValueError, KeyError, RuntimeError) as err:
            raise CheckpointError(ckpt_path, f"optimiser state does not fit the model: {err}") from err
        step, losses = int(ckpt["step"]), list(ckpt.get("losses", []))
        states = ckpt.get("rng", [])
        if len(states) == world:
            set_rng_state(states[rank])
        elif is_main:
            print(f"warning: {ckpt_path} was written by {len(states)} process(es), now {world}: "
                  "random states are re-seeded, the run will not match an uninterrupted one exactly")

    core = model
    if dist_info.enabled:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    sampler = ResumableBatchSampler(len(dataset), config.batch_size, config.seed, rank, world, start_step=step)
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_batch,
                                         num_workers=config.workers, pin_memory=device.type == "cuda",
                                         # its own generator: creating the iterator must not draw from the
                                         # global one, or a resumed run would not match
                                         generator=torch.Generator().manual_seed(config.seed))
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        if config.overwrite and not config.resume and ckpt_path.is_file():
            ckpt_path.unlink()  # --overwrite: the old run goes only now that the new one is ready to start
        text = json.dumps(config_to_plain(config), indent=2)
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
        if not is_main or not config.save:
            return None
        save_checkpoint(ckpt_path, {
            "format": FORMAT,
            "version": VERSION,
            "model_config": core.config,
            "train_config": config_to_plain(config),
            "model": core.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "rng": gathered,
            "losses": losses,
        })
        return ckpt_path

    files: dict[str, Path] = {}
    model.train()
    bar = tqdm(total=config.iterations, initial=min(step, config.iterations), desc=f"train {config.type}",
               disable=not (config.progress and is_main), dynamic_ncols=True)
    written: Path | None = None
    deadline = None if config.max_minutes is None else time.perf_counter() + 60.0 * config.max_minutes
    with _StopFlag() as stop:
        batches = iter(loader)
        while step < config.iterations:
            batch = to_device(next(batches), device)
            loss = training_loss(model, core, batch, config)
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
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            if report[1] > 0:
                written = checkpoint()
                if is_main:
                    plot_loss_curve(out / "loss.png", losses, f"train {config.type}")
                bar.close()
                raise TrainingInterrupted(written, step)
            out_of_time = torch.tensor(float(deadline is not None and time.perf_counter() > deadline))
            if dist_info.enabled:
                torch.distributed.broadcast(out_of_time, src=0)  # rank 0's clock decides for everyone
            if out_of_time > 0:
                if is_main:
                    bar.write(f"stopping after {config.max_minutes} minutes at step {step} (--max-minutes)")
                break
            if step % config.checkpoint_every == 0 or step == config.iterations:
                written = checkpoint()
    bar.close()
    if saved_step != step and step > 0:  # e.g. resumed at the end already
        written = checkpoint()
    if is_main:
        if config.save:
            files["checkpoint"] = ckpt_path
        if losses:
            files["loss"] = plot_loss_curve(out / "loss.png", losses, f"train {config.type}")
    return TrainResult(core, losses, step, written, files, time.perf_counter() - t0, rank)
