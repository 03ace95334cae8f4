"""Training a single-view reconstruction network on the built-in procedural dataset.

``train(TrainConfig(...))`` builds the dataset (generated and cached on first use), a ``SingleViewModel`` and Adam,
then runs ``iterations`` steps with a tqdm bar showing the loss, and writes into ``out_dir``:

- ``checkpoint.pt`` every ``checkpoint_every`` steps, at the end, and when interrupted (Ctrl-C or SIGTERM: the
  current step finishes, the checkpoint is written, then ``TrainingInterrupted`` is raised); always atomically;
- ``loss.png``, the loss curve.

The loop is the training core's (``inverse3d.training.loop.fit_loop``); this module says what single-view training
trains (``SingleViewTraining``: the dataset, the model, Adam, the loss). From the core come:

- safety: when ``out_dir/checkpoint.pt`` exists, ``train`` refuses to start unless ``resume=True`` (continue it) or
  ``overwrite=True`` (start afresh; the old checkpoint is removed once the new run is ready to take its first step);
  the options are checked before any work (``TrainConfig.check``); the process holds ``OutputLock(out_dir)`` for the
  whole run, so a second ``train`` (or ``eval``, ``fit``) into the same folder fails at once with "in use by PID ...";
- exact resume: ``resume=True`` continues from ``out_dir/checkpoint.pt`` where it stopped: weights, optimiser state,
  step, the RNG states of torch, numpy and Python, and the batch order (``ResumableBatchSampler``), so N steps
  straight and k steps + resume + N - k steps give the same weights;
- several processes: run the same command under ``torchrun --nproc_per_node P``. Each process takes its share of
  every epoch and ``batch_size`` shapes per step, gradients are averaged by ``DistributedDataParallel`` (gloo on the
  CPU, NCCL on CUDA), and only rank 0 writes files, holds the output lock and shows the bar.

Losses by model type (``inverse3d.tasks.single_view.losses``): ``vox`` / ``vox_conv``: class-balanced BCE on the
voxels, occupied cells weighted by ``0.5 / mean occupancy of the training set`` (fixed at the start, kept in the model
as ``logit_shift`` = its log so that ``predict`` returns calibrated logits and marching cubes at 0.5 finds the
surface); ``point``: chamfer distance to the shape's surface samples; ``mesh``: ``w_chamfer`` x chamfer between
points sampled on the predicted mesh and the surface samples + ``w_smooth`` x uniform Laplacian smoothing;
``implicit``: BCE between predicted occupancy logits and the trilinearly interpolated voxel occupancy at query
points (half uniform in the box, half near the surface, which balances the classes).

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from inverse3d.tasks.single_view.checkpoint import CheckpointError, load_checkpoint, validate_model_config
from inverse3d.tasks.single_view.losses import mean_occupancy, training_loss
from inverse3d.training.loop import Batches, LoopOptions, LoopResult, Run, Trainable, TrainingInterrupted, fit_loop
from inverse3d.training.options import CHECKPOINT_NAME, RunOptions, check_float, check_folder, check_int, plain_values

__all__ = ["TrainConfig", "TrainResult", "TrainingInterrupted", "SingleViewTraining", "train", "config_to_plain",
           "config_from_plain", "loop_options"]

@dataclass
class TrainConfig(RunOptions):
    """Options of ``inverse3d train``: the model, the data, the optimisation and where results go (the run's options
    are ``RunOptions``, with this command's defaults)."""

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
    return plain_values(config)


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


class SingleViewTraining(Trainable):
    """Single-view training as a task of the training core: the built-in dataset, a ``SingleViewModel`` and Adam,
    and ``training_loss``; the checkpoint also stores the model's constructor arguments (``model_config``)."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.name = f"train {config.type}"
        self.dataset = None
        self.core: torch.nn.Module | None = None

    def read_checkpoint(self, path: Path) -> dict[str, Any]:
        """The checkpoint to resume, which must hold the model this config asks for."""
        ckpt = load_checkpoint(path, model_type=self.config.type)
        if ckpt["model_config"] != self.config.model_config():
            raise CheckpointError(path, f"holds a model {ckpt['model_config']}, the config asks for "
                                        f"{self.config.model_config()}")
        return ckpt

    def batches(self, run: Run) -> Batches:
        from inverse3d.datasets.builtin import collate_batch
        from inverse3d.tasks.single_view import data

        self.dataset = data.make_dataset(self.config, "train", progress=self.config.progress and run.is_main)
        return Batches(self.dataset, collate_batch, self.config.batch_size)

    def build(self, run: Run) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        from inverse3d.models.single_view import SingleViewModel

        config = self.config
        model = SingleViewModel(**config.model_config(), pretrained=config.pretrained).to(run.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        if config.type in ("vox", "vox_conv"):
            occupancy = mean_occupancy(self.dataset)
            if occupancy <= 0:
                raise ValueError("the training voxels are all empty")
            model.logit_shift.fill_(float(np.log(0.5 / occupancy)))
        self.core = model
        return model, optimizer

    def loss(self, model: torch.nn.Module, batch: dict[str, Any], step: int) -> torch.Tensor:
        return training_loss(model, self.core, batch, self.config)

    def checkpoint_entries(self) -> dict[str, Any]:
        return {"model_config": self.core.config}


def loop_options(config: TrainConfig) -> LoopOptions:
    """The training core's options for ``config``."""
    return config.loop_options(config_to_plain(config), save=config.save, workers=config.workers,
                               checkpoint_name=CHECKPOINT_NAME)


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
    config.check()
    result: LoopResult = fit_loop(SingleViewTraining(config), loop_options(config))
    return TrainResult(result.model, result.losses, result.step, result.checkpoint, result.files, result.seconds,
                       result.rank)
