"""NeRF training on any scene the data layer reads, through the training core (``inverse3d.training.fit_loop``).

Each step draws ``rays_per_step`` random rays over all training views (``RayPool``, from the global RNG, so a resumed
run draws the same rays), renders them (``model.render_rays``: stratified + optional hierarchical samples, occupancy
skipping) and minimises the MSE to the pixels (plus the coarse pass's MSE when there is a fine one, plus total
variation for the dense grid). RGBA scenes are composited over a random colour per ray (``--background random``,
which makes empty space transparent) or over white/black. The learning rate decays exponentially from ``lr`` to
``lr * lr_final`` over the run: over the steps (a function of the step, exact on resume), or, with ``--max-minutes``,
over whichever of the steps and the time budget runs out first (the fraction done is the larger of the two, so a
time-limited run still ends at the low rate that sharpens the field; such a run is not bit-exact on resume, since
its schedule depends on the clock). The occupancy grid is refreshed every 16
steps (its values replaced during the first 256 steps, so empty space is pruned as soon as it is transparent;
``NeRFTask._update_occupancy``); the dense grid grows at ``grid_upsample_steps`` (its optimiser state restarts there).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from inverse3d.datasets.scenes.training import (BUILTIN, SceneTrainOptions, camera_summary, open_scene, scene_bounds,
                                                scene_path)
from inverse3d.tasks.nerf.model import FieldOptions, NeRFModel, grid_resolution_at
from inverse3d.training import Batches, LoopResult, Run, Trainable, fit_loop
from inverse3d.training.clock import RunClock

__all__ = ["NeRFTrainConfig", "train", "open_scene", "scene_bounds", "load_nerf_checkpoint", "NeRFTask"]

DEFAULT_LR = {"mlp": 5e-4, "hashgrid": 1e-2, "grid": 1e-1}
BACKGROUNDS = ("random", "white", "black")
OCC_EVERY = 16
"""Steps between occupancy-grid updates."""
OCC_WARMUP = 256
"""Steps during which each occupancy update visits every cell and replaces its value."""


@dataclass
class NeRFTrainConfig(SceneTrainOptions, FieldOptions):
    """Options of ``inverse3d nerf train`` (the field's options are ``FieldOptions``, the scene's and the run's
    ``SceneTrainOptions``)."""

    # SceneTrainOptions' fields with NeRF's own default or help
    out_dir: str = "out/nerf"
    max_minutes: float | None = None
    """Stop after this many minutes (with a checkpoint); the learning rate then decays over the time budget too."""
    rays_per_step: int = 4096
    """Random rays per step, over all training views."""
    lr: float | None = None
    """Adam's learning rate (default: 5e-4 mlp, 1e-2 hashgrid, 1e-1 grid)."""
    lr_final: float = 0.1
    """The learning rate decays exponentially to lr * lr_final at the last step."""
    tv_weight: float = 1e-5
    """Total-variation weight of the dense grid."""
    background: str = "random"
    """RGBA scenes: composite the training pixels over a random colour per ray ("random"), "white" or "black"."""
    bound: float | None = None
    """Half-size of the scene box [-bound, bound]^3 (default: the scene's own bounds, padded 10%, or 1.5)."""
    log_every: int = 100
    """Print the loss and PSNR every this many steps."""
    threads: int | None = None
    """CPU threads for torch (default: torch's own choice, one per core)."""

    def check(self) -> None:
        FieldOptions.check(self)
        if self.background not in BACKGROUNDS:
            raise ValueError(f"--background must be one of {', '.join(BACKGROUNDS)}; got {self.background!r}")
        if self.iterations < 1 or self.rays_per_step < 1 or self.log_every < 1:
            raise ValueError("--iterations, --rays-per-step and --log-every must be >= 1")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"--lr must be positive; got {self.lr}")
        if not 0 < self.lr_final <= 1:
            raise ValueError(f"--lr-final must be in (0, 1]; got {self.lr_final}")
        if self.tv_weight < 0:
            raise ValueError(f"--tv-weight must be >= 0; got {self.tv_weight}")
        if self.bound is not None and not (math.isfinite(self.bound) and self.bound > 0):
            raise ValueError(f"--bound must be positive; got {self.bound}")
        if self.n_fine > 0 and self.n_samples < 3:
            raise ValueError("hierarchical sampling (--n-fine > 0) needs --n-samples >= 3")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"--threads must be >= 1; got {self.threads}")
        self.check_scene_options()

    def field_options(self) -> FieldOptions:
        return FieldOptions(**{k: getattr(self, k) for k in FieldOptions.__dataclass_fields__})

    def learning_rate(self) -> float:
        return DEFAULT_LR[self.field] if self.lr is None else float(self.lr)






class NeRFTask(Trainable):
    name = "nerf"

    def __init__(self, config: NeRFTrainConfig) -> None:
        self.config = config
        self.log: list[dict[str, float]] = []
        self.resume_step = 0
        self.clock = RunClock()  # training time, resumes included

    def read_checkpoint(self, path: Path) -> dict[str, Any]:
        from inverse3d.training.checkpoint import CheckpointError, read_checkpoint

        ckpt = read_checkpoint(path)
        if ckpt.get("nerf_config", {}).get("field") != self.config.field:
            raise CheckpointError(path, f"holds a {ckpt.get('nerf_config', {}).get('field')!r} field, not "
                                        f"--field {self.config.field}")
        self.resume_step = int(ckpt["step"])
        self.clock = RunClock(float(ckpt.get("train_seconds", 0.0)))
        return ckpt

    def batches(self, run: Run) -> Batches:
        from inverse3d.tasks.nerf.rays import RayPool

        cfg = self.config
        self.path = scene_path(cfg, progress=run.is_main and cfg.progress)
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
        self.model = NeRFModel(cfg.field_options(), self.scene_meta["bounds"], self.scene_meta["near"],
                               self.scene_meta["far"], step=self.resume_step).to(run.device)
        eps = 1e-15 if cfg.field == "hashgrid" else 1e-8
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.learning_rate(), eps=eps)
        self.device = run.device
        return self.model, self.optimizer

    def _grow_grid(self, model: NeRFModel, step: int) -> None:
        """Dense grid: upsample at the scheduled steps; the new grids replace the old in the optimiser."""
        res = grid_resolution_at(self.config, step)
        if res == model.field.resolution[0]:
            return
        for p in model.field.parameters():
            self.optimizer.state.pop(p, None)  # Adam restarts on the new grids
        model.field.upsample(res)
        # the parameter order of model.parameters(), as at build, so that a resumed optimiser lines up
        self.optimizer.param_groups[0]["params"] = list(model.parameters())

    def _update_occupancy(self, core: NeRFModel, step: int) -> None:
        """Every ``OCC_EVERY`` steps: the occupancy grid thresholds each cell's opacity over one sample interval,
        ``density * step`` with ``step`` the spacing of the samples along the box's diagonal (an upper bound of
        the spacing along any ray clipped to the box). During the first ``OCC_WARMUP`` steps every cell is
        re-evaluated and its value replaced (decay 0): the field's empty space, which starts at a uniform density
        above the threshold, is pruned as soon as training has made it transparent, instead of after the moving
        maximum of the initial density has decayed; afterwards the moving maximum decays by 0.95 per visit
        (Instant-NGP)."""
        occ = core.occupancy
        if step % OCC_EVERY != 0:
            return
        if not hasattr(self, "_occ_step_size"):
            lo, hi = (torch.as_tensor(b, dtype=torch.float64) for b in self.scene_meta["bounds"])
            span = float((hi - lo).norm()) if self.config.clip_to_box else core.far - core.near
            self._occ_step_size = span / self.config.n_samples
        step_size = self._occ_step_size
        decay = 0.0 if step < OCC_WARMUP else 0.95
        occ.update(lambda p: core.field.density(p) * step_size, step, decay=decay, warmup_steps=OCC_WARMUP,
                   update_every=OCC_EVERY)

    def loss(self, model, batch, step: int) -> torch.Tensor:
        cfg = self.config
        core: NeRFModel = getattr(model, "module", model)
        self.clock.tick()
        for group in self.optimizer.param_groups:
            group["lr"] = cfg.learning_rate() * cfg.lr_final ** self.schedule_fraction(step)
        if cfg.field == "grid":
            self._grow_grid(core, step)
        if core.occupancy is not None:
            self._update_occupancy(core, step)
        bg = None
        if self.pool.has_alpha:
            if cfg.background == "random":
                bg = torch.rand(batch.rgb.shape[0], 3, device=batch.rgb.device)
            elif cfg.background == "white":
                bg = torch.ones(3, device=batch.rgb.device)
        target = batch.target(bg)
        out = model(batch.origins, batch.directions, stratified=True, background=bg)
        mse = (out["rgb"] - target).square().mean()
        loss = mse
        if "rgb_coarse" in out:
            loss = loss + (out["rgb_coarse"] - target).square().mean()
        if cfg.field == "grid" and cfg.tv_weight > 0:
            loss = loss + cfg.tv_weight * core.field.total_variation()
        value = float(mse.detach())
        self._last_mse = value
        if (step + 1) % cfg.log_every == 0:
            psnr = -10.0 * math.log10(max(value, 1e-12))
            self.log.append({"step": step + 1, "mse": value, "psnr": psnr, "seconds": round(self.seconds(), 3)})
            if cfg.progress:
                from tqdm.auto import tqdm

                tqdm.write(f"step {step + 1}: loss {float(loss.detach()):.5f}  train PSNR {psnr:.2f} dB")
        return loss

    def seconds(self) -> float:
        """Training time so far, over every process that trained this run (resumes included)."""
        return self.clock.seconds()

    def schedule_fraction(self, step: int) -> float:
        """How far the run is, in [0, 1]: ``step / iterations``, or with ``--max-minutes`` the larger of that and
        the fraction of the time budget spent (``RunClock.fraction``)."""
        return self.clock.fraction(step, self.config.iterations, self.config.max_minutes)

    def progress_postfix(self) -> dict[str, str]:
        """The training PSNR of the last step's colour MSE, for the progress bar."""
        mse = getattr(self, "_last_mse", None)
        return {} if mse is None else {"psnr": f"{-10.0 * math.log10(max(mse, 1e-12)):.2f} dB"}

    def checkpoint_entries(self) -> dict[str, Any]:
        return {"nerf_config": self.config.field_options().to_dict(), "scene": self.scene_meta,
                "train_log": list(self.log), "train_seconds": self.seconds()}

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


def config_dict(config: NeRFTrainConfig) -> dict[str, Any]:
    d = {k: getattr(config, k) for k in config.__dataclass_fields__}
    d["grid_upsample_steps"] = list(config.grid_upsample_steps)
    return d


def train(config: NeRFTrainConfig) -> LoopResult:
    """Trains a NeRF as ``config`` says (module docstring); returns the core's ``LoopResult``."""
    config.check()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    from inverse3d.training.memory import keep_freed_memory

    keep_freed_memory()  # reuse each step's freed activations instead of faulting in fresh pages
    return fit_loop(NeRFTask(config), config.loop_options(config_dict(config)))


def load_nerf_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[NeRFModel, dict[str, Any]]:
    """The trained model (eval mode) and the checkpoint's entries from a ``nerf train`` checkpoint."""
    from inverse3d.training.checkpoint import CheckpointError, load_model_state, read_checkpoint

    path = Path(path)
    ckpt = read_checkpoint(path)
    if "nerf_config" not in ckpt or "scene" not in ckpt:
        raise CheckpointError(path, "is not a NeRF checkpoint (no nerf_config): train one with inverse3d nerf train")
    cfg = dict(ckpt["nerf_config"])
    cfg["grid_upsample_steps"] = tuple(cfg.get("grid_upsample_steps", ()))
    try:
        options = FieldOptions(**cfg)
        options.check()
    except (TypeError, ValueError) as err:
        raise CheckpointError(path, f"invalid nerf_config: {err}") from err
    meta = ckpt["scene"]
    model = NeRFModel(options, meta["bounds"], meta["near"], meta["far"], step=int(ckpt["step"]))
    load_model_state(model, ckpt["model"], path)
    return model.to(device).eval(), ckpt
