"""Training VolSDF or NeuS on any scene the data layer reads, through the training core (``fit_loop``).

Each step draws ``rays_per_step`` random rays over all training views (the NeRF task's ``RayPool``, from the global
RNG, so a resumed run draws the same rays), renders them (``render.render_rays``) and minimises

    L = |rgb - target|_1 + eikonal_weight * mean((|grad f| - 1)^2) + mask_weight * BCE(opacity, alpha)

(the L1 colour loss of VolSDF/NeuS, IGR's eikonal term on the SDF gradients of the ray samples evaluated with
gradients and of ``eikonal_points`` uniform points in the scene box, and for scenes with alpha NeuS's mask loss). RGBA
scenes are composited over white (``--background white``, the default: the evaluation's
background too), black or a random colour per ray. The learning rate warms up linearly over ``warmup`` steps and
then decays with a cosine to ``lr * lr_final`` over the steps, or with ``--max-minutes`` over whichever of the steps
and the time budget ends first (``RunClock``: training seconds kept across resumes; without a time budget the schedule
is a function of the step, exact on resume).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from inverse3d.datasets.scenes.training import SceneTrainOptions
from inverse3d.tasks.surface.render import SurfaceModel, SurfaceOptions
from inverse3d.training import Batches, LoopResult, Run, Trainable, fit_loop
from inverse3d.training.clock import RunClock

__all__ = ["SurfaceTrainConfig", "train_surface", "load_surface_checkpoint", "SurfaceTask", "learning_rate_at"]

BUILTIN = ("lego", "materials", "box", "forward")
BACKGROUNDS = ("white", "black", "random")
DEFAULT_LR = {"mlp": 5e-4, "hashgrid": 1e-2}


@dataclass
class SurfaceTrainConfig(SceneTrainOptions, SurfaceOptions):
    """Options of ``inverse3d surface train`` (the model's options are ``SurfaceOptions``, the scene's and the run's
    ``SceneTrainOptions``)."""

    # SceneTrainOptions' fields with the surfaces' own default or help
    out_dir: str = "out/surface"
    checkpoint_every: int = 250
    max_minutes: float | None = None
    """Stop after this many minutes (with a checkpoint); the learning rate then decays over whichever of
    --iterations and the time budget ends first."""
    rays_per_step: int = 2048
    """Random rays per step, over all training views (those that meet no occupied cell cost almost nothing)."""
    lr: float | None = None
    """Adam's learning rate (default: 5e-4 for --sdf mlp, 1e-2 for hashgrid)."""
    lr_final: float = 0.05
    """The learning rate decays (cosine) to lr * lr_final at the last step."""
    warmup: int = 100
    """Steps of linear learning-rate warm-up."""
    eikonal_weight: float = 0.1
    """Weight of the eikonal term."""
    eikonal_points: int = 512
    """Points drawn uniformly in the scene box each step for the eikonal term, beside the rendered samples
    (VolSDF's choice): keeps the SDF a distance in empty space, whose samples are skipped (--skip-weight)."""
    mask_weight: float = 0.1
    """Weight of the mask loss (BCE of the opacity against the images' alpha; scenes with alpha only)."""
    background: str = "white"
    """RGBA scenes: composite the training pixels over "white", "black" or a "random" colour per ray."""
    bound: float | None = None
    """Half-size of the scene box [-bound, bound]^3 (default: the scene's own bounds, padded 10%, or 1.5)."""
    log_every: int = 100
    """Print the loss and PSNR every this many steps."""
    threads: int | None = None
    """CPU threads for torch (default: torch's own choice, one per core; 1 is often faster on a busy machine)."""

    def check(self) -> None:
        SurfaceOptions.check(self)
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"--threads must be >= 1; got {self.threads}")
        if self.background not in BACKGROUNDS:
            raise ValueError(f"--background must be one of {', '.join(BACKGROUNDS)}; got {self.background!r}")
        if self.iterations < 1 or self.rays_per_step < 1 or self.log_every < 1 or self.checkpoint_every < 1:
            raise ValueError("--iterations, --rays-per-step, --checkpoint-every and --log-every must be >= 1")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"--lr must be positive; got {self.lr}")
        if not 0 < self.lr_final <= 1:
            raise ValueError(f"--lr-final must be in (0, 1]; got {self.lr_final}")
        if self.warmup < 0:
            raise ValueError(f"--warmup must be >= 0; got {self.warmup}")
        if self.eikonal_points < 0:
            raise ValueError(f"--eikonal-points must be >= 0; got {self.eikonal_points}")
        for name in ("eikonal_weight", "mask_weight"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"--{name.replace('_', '-')} must be >= 0; got {v}")
        if self.bound is not None and not (math.isfinite(self.bound) and self.bound > 0):
            raise ValueError(f"--bound must be positive; got {self.bound}")
        self.check_scene_options()

    def model_options(self) -> SurfaceOptions:
        return SurfaceOptions(**{k: getattr(self, k) for k in SurfaceOptions.__dataclass_fields__})

    def learning_rate(self) -> float:
        return DEFAULT_LR[self.sdf] if self.lr is None else float(self.lr)


def learning_rate_at(config: SurfaceTrainConfig, step: int, fraction: float | None = None) -> float:
    """The learning rate of step ``step`` (0-based): linear warm-up, then cosine decay to ``lr * lr_final``.

    ``fraction``: how far the run is in [0, 1] when a time budget may end it first (``RunClock.fraction``); the
    decay then follows the larger of it and the steps' progress."""
    lr = config.learning_rate()
    if step < config.warmup:
        return lr * (step + 1) / config.warmup
    span = max(config.iterations - config.warmup, 1)
    progress = min((step - config.warmup) / span, 1.0)
    if fraction is not None:
        progress = max(progress, min(fraction, 1.0))
    return lr * (config.lr_final + (1.0 - config.lr_final) * 0.5 * (1.0 + math.cos(math.pi * progress)))


BETA_LR = 5e-4
"""VolSDF's learning rate, at most, for its beta: a linear parameter of size ~0.01 that Adam moves by about the
learning rate per step (at the hash grid's 1e-2 it jumps by its own size and the colour loss spikes)."""


def density_lr_scale(config: SurfaceTrainConfig) -> float:
    """The density parameter's learning rate relative to the network's: ``min(lr, BETA_LR) / lr`` for VolSDF's beta,
    1 for NeuS's ``s = exp(10 variance)`` (a log-scale parameter)."""
    if config.method != "volsdf":
        return 1.0
    lr = config.learning_rate()
    return min(lr, BETA_LR) / lr


def _scene_path(config: SurfaceTrainConfig, progress: bool = False) -> Path:
    from inverse3d.datasets.scenes.training import scene_path

    return scene_path(config, progress)  # reads .scene, .data_root, .image_size


class SurfaceTask(Trainable):
    name = "surface"

    def __init__(self, config: SurfaceTrainConfig) -> None:
        self.config = config
        self.name = f"train {config.method}"
        self.log: list[dict[str, float]] = []
        self.clock = RunClock()  # training time, resumes included

    def read_checkpoint(self, path: Path) -> dict[str, Any]:
        from inverse3d.training.checkpoint import CheckpointError, read_checkpoint

        ckpt = read_checkpoint(path)
        self.clock = RunClock(float(ckpt.get("train_seconds", 0.0)))
        old = ckpt.get("surface_config", {})
        mine = self.config.model_options().to_dict()
        for key in ("method", "sdf"):
            if old.get(key) != mine[key]:
                raise CheckpointError(path, f"holds a --{key} {old.get(key)!r} model, not --{key} {mine[key]}")
        return ckpt

    def batches(self, run: Run) -> Batches:
        from inverse3d.datasets.scenes.rays import RayPool
        from inverse3d.datasets.scenes.training import camera_summary, open_scene, scene_bounds

        cfg = self.config
        self.path = _scene_path(cfg, progress=run.is_main and cfg.progress)
        scene = open_scene(self.path, "train", cfg.downscale, white_background=False)
        self.scene_meta = {"path": str(self.path), "near": scene.near, "far": scene.far,
                           "bounds": scene_bounds(scene, self.path, cfg.bound), "cameras": camera_summary(scene),
                           "format": scene.format}
        self.pool = RayPool(scene, run.device)
        self.scene_meta["has_alpha"] = self.pool.has_alpha
        n = cfg.rays_per_step
        return Batches(of_step=lambda step: self.pool.sample(n))

    def build(self, run: Run):
        cfg = self.config
        self.model = SurfaceModel(cfg.model_options(), self.scene_meta["bounds"], self.scene_meta["near"],
                                  self.scene_meta["far"]).to(run.device)
        eps = 1e-15 if cfg.sdf == "hashgrid" else 1e-8
        density = list(self.model.density.parameters())
        ids = {id(p) for p in density}
        groups = [{"params": [p for p in self.model.parameters() if id(p) not in ids], "lr_scale": 1.0}]
        if density:
            groups.append({"params": density, "lr_scale": density_lr_scale(cfg)})
        self.optimizer = torch.optim.Adam(groups, lr=cfg.learning_rate(), eps=eps)
        return self.model, self.optimizer

    def loss(self, model, batch, step: int) -> torch.Tensor:
        cfg = self.config
        core: SurfaceModel = getattr(model, "module", model)
        self.clock.tick()
        fraction = None if cfg.max_minutes is None else self.clock.fraction(step, cfg.iterations, cfg.max_minutes)
        lr = learning_rate_at(cfg, step, fraction)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        bg = None
        if self.pool.has_alpha:
            if cfg.background == "random":
                bg = torch.rand(batch.rgb.shape[0], 3, device=batch.rgb.device)
            elif cfg.background == "white":
                bg = torch.ones(3, device=batch.rgb.device)
        target = batch.target(bg)
        core.update_occupancy(step)
        out = model(batch.origins, batch.directions, stratified=True, background=bg, with_gradients=True)
        from inverse3d.tasks.surface.losses import eikonal_loss, random_points_in_box

        gradients = out["gradients"]
        if cfg.eikonal_points > 0 and cfg.eikonal_weight > 0:
            box = random_points_in_box(cfg.eikonal_points, core.bounds_lo, core.bounds_hi)
            gradients = torch.cat([gradients, core.sdf.forward_with_gradient(box, create_graph=True)[1]])
        color = (out["rgb"] - target).abs().mean()
        loss = color
        if gradients.shape[0] > 0:  # none when every sample was skipped and no box points are drawn
            loss = loss + cfg.eikonal_weight * eikonal_loss(gradients)
        if self.pool.has_alpha and cfg.mask_weight > 0:
            opacity = out["opacity"].clamp(1e-4, 1 - 1e-4)
            loss = loss + cfg.mask_weight * torch.nn.functional.binary_cross_entropy(opacity, batch.alpha)
        mse = float((out["rgb"].detach() - target).square().mean())
        self._last_mse = mse
        if (step + 1) % cfg.log_every == 0:
            psnr = -10.0 * math.log10(max(mse, 1e-12))
            self.log.append({"step": step + 1, "loss": float(loss.detach()), "psnr": psnr,
                             "seconds": round(self.clock.seconds(), 3), **core.sharpness()})
            if cfg.progress:
                from tqdm.auto import tqdm

                extra = "  ".join(f"{k} {v:.4g}" for k, v in core.sharpness().items())
                tqdm.write(f"step {step + 1}: loss {float(loss.detach()):.5f}  train PSNR {psnr:.2f} dB  {extra}")
        return loss

    def progress_postfix(self) -> dict[str, str]:
        mse = getattr(self, "_last_mse", None)
        return {} if mse is None else {"psnr": f"{-10.0 * math.log10(max(mse, 1e-12)):.2f} dB"}

    def checkpoint_entries(self) -> dict[str, Any]:
        return {"surface_config": self.config.model_options().to_dict(), "scene": self.scene_meta,
                "train_log": list(self.log), "train_seconds": self.clock.seconds()}

    def restore(self, checkpoint: dict[str, Any]) -> None:
        self.log = list(checkpoint.get("train_log", []))

    def finish(self, run: Run, result: LoopResult) -> dict[str, Path]:
        if not run.is_main:
            return {}
        from inverse3d.io.outputs import atomic_write

        path = run.out_dir / "log.json"
        text = json.dumps({"log": self.log, "step": result.step}, indent=2)
        atomic_write(path, lambda tmp: tmp.write_text(text))
        return {"log": path}


def config_dict(config: SurfaceTrainConfig) -> dict[str, Any]:
    return {k: getattr(config, k) for k in config.__dataclass_fields__}


def train_surface(config: SurfaceTrainConfig, save: bool = True) -> LoopResult:
    """Trains VolSDF / NeuS as ``config`` says (module docstring); returns the core's ``LoopResult``."""
    config.check()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    return fit_loop(SurfaceTask(config), config.loop_options(config_dict(config), save=save))


def load_surface_checkpoint(path: str | Path, device: str | torch.device = "cpu"
                            ) -> tuple[SurfaceModel, dict[str, Any]]:
    """The trained model (eval mode) and the checkpoint's entries from a ``surface train`` checkpoint."""
    from inverse3d.training.checkpoint import CheckpointError, load_model_state, read_checkpoint

    path = Path(path)
    ckpt = read_checkpoint(path)
    if "surface_config" not in ckpt or "scene" not in ckpt:
        raise CheckpointError(path, "is not a surface checkpoint (no surface_config): train one with "
                                    "inverse3d surface train")
    try:
        # checkpoints from before the occupancy grid hold no grid: their model renders without one
        options = SurfaceOptions(**{"occupancy": False, **ckpt["surface_config"]})
        options.check()
    except (TypeError, ValueError) as err:
        raise CheckpointError(path, f"invalid surface_config: {err}") from err
    meta = ckpt["scene"]
    model = SurfaceModel(options, meta["bounds"], meta["near"], meta["far"])
    load_model_state(model, ckpt["model"], path)
    return model.to(device).eval(), ckpt
