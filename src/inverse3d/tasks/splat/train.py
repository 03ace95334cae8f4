"""Gaussian splatting training on any scene the data layer reads, through the training core
(``inverse3d.training.fit_loop``), as 3D Gaussian splatting (Kerbl et al. 2023) does it:

- initialisation from the scene's points (COLMAP's or nerfstudio's sparse points with their colours; for a built-in
  scene its ``points.ply``, samples of the ground-truth mesh), a random subset of ``init_points`` of them, or
  ``--init random``: ``init_points`` Gaussians uniform in the scene's bounds with random colours;
- one training view per step, in a shuffled order per epoch (a function of the seed and the step: exact on
  resume); RGBA scenes are composited over ``--background`` (white, black, or a random colour per step);
- loss ``(1 - ssim_weight) L1 + ssim_weight (1 - SSIM)`` (0.2, ``inverse3d.metrics.ssim``);
- Adam per parameter (3DGS's learning rates: means ``1.6e-4 * extent`` decaying exponentially to ``lr_means_final``
  of that at the last step, or by the end of the ``--max-minutes`` budget if that comes first, SH DC 2.5e-3 and the
  rest 20 times less, opacity 0.05, scales 5e-3, rotations 1e-3;
  ``extent`` = 1.1 times the largest distance of a training camera from their mean);
- adaptive density control (``density``): statistics gathered by a gradient hook on the rasteriser's ``means2d``
  during each backward pass, clone / split / prune every ``densify_every`` steps and opacity resets, before the
  step's render; the optimiser's moments follow the Gaussians;
- the SH degree used rises by one every ``sh_degree_every`` steps up to ``sh_degree``.

The number of Gaussians changes, which the core's checkpoint handles without help: the model's ``state_dict`` holds
tensors of the current size (and the density statistics as buffers), and ``SplatTask.read_checkpoint`` notes that
size so that ``build`` makes a model of it for the core to load into. So N steps straight and k steps, ``--resume``,
N - k steps give the same Gaussians, across densification steps too.

Outputs in ``out_dir``: ``checkpoint.pt``, ``loss.png``, ``config.json``, ``gaussians.ply`` (the original 3DGS PLY
layout, ``inverse3d.io.save_gaussians_ply``), ``progress.gif`` (target | render of a fixed test view every
``progress_every`` steps; its frames in ``progress/``), ``psnr.png`` (training PSNR per step and the test view's
PSNR) and ``log.json``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inverse3d.datasets.scenes.training import BUILTIN, SceneTrainOptions, manifest_bounds, scene_path
from inverse3d.tasks.splat.density import DensityOptions, accumulate_grad2d, densify_and_prune, reset_opacity
from inverse3d.tasks.splat.model import PARAMETERS, GaussianModel, init_from_points, init_random
from inverse3d.training import Batches, LoopResult, Run, Trainable, fit_loop
from inverse3d.training.clock import RunClock

__all__ = ["SplatTrainConfig", "SplatTask", "train", "load_splat", "splat_loss", "scene_extent", "BUILTIN"]

BACKGROUNDS = ("white", "black", "random")
INITS = ("points", "random")


@dataclass
class SplatTrainConfig(SceneTrainOptions):
    """Options of ``inverse3d splat train`` (the scene's and the run's are ``SceneTrainOptions``)."""

    # SceneTrainOptions' fields with splatting's own default or help
    out_dir: str = "out/splat"
    """Folder for checkpoint.pt, gaussians.ply, progress.gif, psnr.png, loss.png, config.json and log.json."""
    iterations: int = 3000
    """Training steps (one view each)."""
    seed: int = 0
    """Seed of the initialisation, the view order, the split samples and random backgrounds."""
    max_minutes: float | None = None
    """Stop after this many minutes (with a checkpoint, gaussians.ply and the figures); the centres' learning rate
    then decays over the time budget too."""
    init: str = "points"
    """Initial Gaussians: "points" (the scene's sparse points, or a built-in scene's points.ply; random when the
    scene has none) or "random" (uniform in the scene's bounds)."""
    init_points: int = 20_000
    """Initial Gaussians: a random subset of this many points, or this many random ones."""
    sh_degree: int = 3
    """Largest spherical-harmonic degree of the colours (0..3)."""
    sh_degree_every: int = 250
    """The SH degree used rises by one every this many steps."""
    eps2d: float = 0.1
    """The rasteriser's low-pass term, in squared pixels added to each Gaussian's 2D covariance; stored with the
    checkpoint, whose renders use it. 3DGS and gsplat use 0.3, a blur of standard deviation 0.55 px that caps a
    crisp 128 px image near 31 dB (the lego scene blurred so scores 31 dB against itself); 0.1 (0.32 px) gained
    0.8 dB in 5 minutes and 1.2 dB in 15 on it. Viewers made for 3DGS render our PLY with their 0.3: a little
    softer."""
    background: str = "white"
    """RGBA scenes: composite the training images over "white", "black" or a "random" colour per step (tests use
    white, or black with --background black)."""
    lr_means: float = 1.6e-4
    """Learning rate of the centres, times the scene extent."""
    lr_means_final: float = 0.01
    """The centres' learning rate decays exponentially to lr_means * lr_means_final at the last step."""
    lr_sh: float = 2.5e-3
    """Learning rate of the SH DC term (the higher degrees get a twentieth of it)."""
    lr_opacity: float = 0.05
    """Learning rate of the opacity logits."""
    lr_scales: float = 5e-3
    """Learning rate of the log-scales."""
    lr_quats: float = 1e-3
    """Learning rate of the rotations."""
    ssim_weight: float = 0.2
    """Weight of the D-SSIM term in the loss (the rest is L1)."""
    densify: bool = True
    """Adaptive density control: clone, split, prune and reset opacities."""
    densify_start: int = 100
    """First step of densification."""
    densify_stop: int = 1500
    """No densification nor opacity reset from this step on."""
    densify_every: int = 100
    """Steps between densifications."""
    grad_threshold: float = 2e-4
    """Mean view-space positional gradient (NDC units) above which a Gaussian is cloned or split."""
    percent_dense: float = 0.01
    """Gaussians up to this fraction of the scene extent are cloned, larger ones split."""
    prune_opacity: float = 0.005
    """Gaussians less opaque than this are pruned."""
    prune_scale: float = 0.1
    """After the first opacity reset, Gaussians larger than this fraction of the scene extent are pruned."""
    prune_screen: float = 0.15
    """After the first opacity reset, Gaussians whose screen radius exceeded this fraction of the image are pruned
    (0: off)."""
    reset_every: int = 1000
    """Steps between opacity resets (0: never)."""
    max_gaussians: int = 200_000
    """Cap on the number of Gaussians."""
    progress_every: int = 50
    """Render the progress view (target | render, a frame of progress.gif and a point of psnr.png) every this many
    steps (0: only at the start and the end)."""
    progress_view: int = 0
    """Index of the test view shown in progress.gif (the test split, else val, else train)."""

    def check(self) -> None:
        """One-line ``ValueError`` naming the option for values that cannot work."""
        from inverse3d.training.options import check_float, check_int

        self.check_scene_options()
        check_int("--iterations", self.iterations, 1)
        check_int("--init-points", self.init_points, 1)
        check_int("--sh-degree", self.sh_degree, 0, 3)
        check_int("--sh-degree-every", self.sh_degree_every, 1)
        check_int("--progress-every", self.progress_every, 0)
        check_int("--progress-view", self.progress_view, 0)
        for name in ("lr_means", "lr_sh", "lr_opacity", "lr_scales", "lr_quats"):
            check_float("--" + name.replace("_", "-"), getattr(self, name), positive=True)
        check_float("--lr-means-final", self.lr_means_final, positive=True)
        check_float("--eps2d", self.eps2d)
        if self.lr_means_final > 1:
            raise ValueError(f"--lr-means-final {self.lr_means_final}: must be in (0, 1]")
        check_float("--ssim-weight", self.ssim_weight)
        if self.ssim_weight > 1:
            raise ValueError(f"--ssim-weight {self.ssim_weight}: must be in [0, 1]")
        if self.background not in BACKGROUNDS:
            raise ValueError(f"--background must be one of {', '.join(BACKGROUNDS)}; got {self.background!r}")
        if self.init not in INITS:
            raise ValueError(f"--init must be one of {', '.join(INITS)}; got {self.init!r}")
        self.density_options().check()

    def density_options(self) -> DensityOptions:
        return DensityOptions(densify=self.densify, start=self.densify_start, stop=self.densify_stop,
                              every=self.densify_every, grad_threshold=self.grad_threshold,
                              percent_dense=self.percent_dense, prune_opacity=self.prune_opacity,
                              prune_scale=self.prune_scale, prune_screen=self.prune_screen,
                              reset_every=self.reset_every, max_gaussians=self.max_gaussians)


# ----------------------------------------------------------------------------------------------------------------
# the scene


def scene_extent(frames) -> float:
    """3DGS's scene extent: 1.1 times the largest distance of a camera centre from the cameras' mean centre."""
    centres = np.stack([np.asarray(f.c2w)[:3, 3] for f in frames])
    return float(1.1 * max(np.linalg.norm(centres - centres.mean(0), axis=1).max(), 1e-6))


def scene_points(scene, path: Path) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """The scene's points (P, 3) and colours (P, 3) or None: the reader's sparse points (COLMAP, nerfstudio), else
    ``points.ply`` in the scene folder (a built-in scene's samples of its mesh)."""
    if getattr(scene, "points", None) is not None and len(scene.points) > 0:
        rgb = None if scene.points_rgb is None else torch.from_numpy(scene.points_rgb).float()
        return torch.from_numpy(scene.points).float(), rgb
    ply = Path(path) / "points.ply" if Path(path).is_dir() else None
    if ply is not None and ply.is_file():
        from inverse3d.io.ply_io import read_pointcloud

        cloud = read_pointcloud(ply)
        colors = cloud["features"] if cloud["features_are_colors"] else None
        return (torch.from_numpy(np.asarray(cloud["points"])).float(),
                None if colors is None else torch.from_numpy(np.asarray(colors)[:, :3]).float().clamp(0, 1))
    return None, None


def scene_bounds(path: Path, points: torch.Tensor | None, frames) -> tuple[list[float], list[float]]:
    """The box holding the scene: a built-in scene's manifest bounds, else the 1st-99th percentiles of its points,
    else a cube of side ``scene_extent`` around the cameras' mean centre; padded by 10 %."""
    lo, hi = manifest_bounds(path)
    if lo is None and points is not None and len(points) > 1:
        q = torch.quantile(points[:100_000].double(), torch.tensor([0.01, 0.99], dtype=torch.float64), dim=0)
        lo, hi = q[0].tolist(), q[1].tolist()
    if lo is None:
        centre = np.stack([np.asarray(f.c2w)[:3, 3] for f in frames]).mean(0)
        half = 0.5 * scene_extent(frames)
        lo, hi = (centre - half).tolist(), (centre + half).tolist()
    lo_a, hi_a = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    pad = 0.1 * np.maximum(hi_a - lo_a, 1e-3)
    return (lo_a - pad).tolist(), (hi_a + pad).tolist()


def splat_loss(pred: torch.Tensor, target: torch.Tensor, ssim_weight: float = 0.2) -> torch.Tensor:
    """3DGS's loss ``(1 - w) L1 + w (1 - SSIM)`` of (..., H, W, 3) images (SSIM window 11, smaller odd for tiny
    images)."""
    from inverse3d.metrics import ssim

    l1 = (pred - target).abs().mean()
    if ssim_weight == 0:
        return l1
    window = min(11, (min(pred.shape[-3], pred.shape[-2]) - 1) // 2 * 2 + 1)
    return (1 - ssim_weight) * l1 + ssim_weight * (1 - ssim(pred, target, window_size=max(window, 1)))


def _views(scene, device) -> dict[str, Any]:
    """A split's images (V, H, W, 3) over black, coverage (V, H, W, 1) or None, and cameras."""
    from inverse3d.tasks.splat.render import frame_cameras

    items = [scene[i] for i in range(len(scene))]
    images = torch.stack([it["image"] for it in items]).to(device)
    masks = None
    if all(it["mask"] is not None for it in items):
        masks = torch.stack([it["mask"] for it in items])[..., None].to(device)
    viewmats, Ks, width, height = frame_cameras(scene.frames, device)
    return {"images": images, "masks": masks, "viewmats": viewmats, "Ks": Ks, "width": width, "height": height}


def composite(views: dict[str, Any], index: int, background: torch.Tensor) -> torch.Tensor:
    """View ``index``'s image (H, W, 3) over ``background`` (3,) (as is when the scene has no alpha)."""
    image = views["images"][index]
    if views["masks"] is None:
        return image
    return image + background * (1 - views["masks"][index])


# ----------------------------------------------------------------------------------------------------------------
# the task


class SplatTask(Trainable):
    """3D Gaussian splatting on the training core (module docstring)."""

    name = "splat"

    def __init__(self, config: SplatTrainConfig) -> None:
        self.config = config
        self.density = config.density_options()
        self.log: dict[str, list] = {"train_psnr": [], "test_psnr": [], "densify": []}
        self.resume_shape: tuple[int, int] | None = None
        self._last_mse: float | None = None
        self.clock = RunClock()  # training time, resumes included

    # -- what the core asks

    def read_checkpoint(self, path: Path) -> dict[str, Any]:
        from inverse3d.training.checkpoint import CheckpointError, read_checkpoint

        ckpt = read_checkpoint(path)
        meta = ckpt.get("splat")
        state = ckpt["model"]
        if not isinstance(meta, dict) or any(name not in state for name in PARAMETERS):
            raise CheckpointError(path, "is not a Gaussian splatting checkpoint (no 'splat' entry): train one with "
                                        "inverse3d splat train")
        n, k = int(state["means"].shape[0]), int(state["sh_rest"].shape[1]) + 1
        if k != (self.config.sh_degree + 1) ** 2:
            raise CheckpointError(path, f"holds SH degree {int(round(math.sqrt(k))) - 1}, not --sh-degree "
                                        f"{self.config.sh_degree}")
        self.resume_shape = (n, self.config.sh_degree)
        self.clock = RunClock(float(ckpt.get("train_seconds", 0.0)))
        return ckpt

    def batches(self, run: Run) -> Batches:
        from inverse3d.datasets.scenes import load_scene

        cfg = self.config
        if run.world_size > 1:
            raise ValueError("splat train runs in one process (the number of Gaussians changes during training); "
                             "start it without torchrun")
        self.device = run.device
        self.path = scene_path(cfg, progress=run.is_main and cfg.progress)
        train = load_scene(self.path, "train", downscale=cfg.downscale, white_background=False)
        self.train_views = _views(train, run.device)
        test = None
        for split in ("test", "val"):
            try:
                test = load_scene(self.path, split, downscale=cfg.downscale, white_background=False)
                break
            except (ValueError, OSError):
                continue
        test = test if test is not None else train
        if cfg.progress_view >= len(test):
            raise ValueError(f"--progress-view {cfg.progress_view}: the {test.split} split has {len(test)} views")
        self.test_views = _views(test, run.device)
        self.points, self.points_rgb = scene_points(train, self.path)
        self.extent = scene_extent(train.frames)
        f0 = train.frames[0]
        self.meta = {
            "path": str(self.path), "format": train.format, "extent": self.extent,
            "bounds": scene_bounds(self.path, self.points, train.frames),
            "near": train.near, "far": train.far, "has_alpha": self.train_views["masks"] is not None,
            "sh_degree": cfg.sh_degree, "background": cfg.background, "test_split": test.split,
            "cameras": {"fx": float(f0.fx), "fy": float(f0.fy), "width": int(f0.width), "height": int(f0.height),
                        "centres": np.stack([np.asarray(f.c2w)[:3, 3] for f in train.frames]).tolist()},
        }
        n_views = len(train)
        seed = cfg.seed

        def view_of_step(step: int) -> int:
            epoch, k = divmod(step, n_views)
            order = torch.randperm(n_views, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
            return int(order[k])

        return Batches(of_step=view_of_step)

    def build(self, run: Run):
        cfg = self.config
        if self.resume_shape is not None:  # the core loads the checkpoint's values into a model of its size
            model = GaussianModel(self.resume_shape[0], cfg.sh_degree, device=run.device)
        else:
            if cfg.init == "points" and self.points is not None:
                model = init_from_points(self.points.to(run.device), None if self.points_rgb is None else
                                         self.points_rgb.to(run.device), cfg.sh_degree, cfg.init_points)
            else:
                lo, hi = self.meta["bounds"]
                model = init_random(cfg.init_points, lo, hi, cfg.sh_degree, device=run.device)
            if run.is_main:
                self._clear_progress_frames(run.out_dir)
        self.model = model
        self.meta["init"] = "points" if (cfg.init == "points" and self.points is not None) else "random"
        lrs = {"means": cfg.lr_means * self.extent, "sh_dc": cfg.lr_sh, "sh_rest": cfg.lr_sh / 20.0,
               "opacity_logits": cfg.lr_opacity, "log_scales": cfg.lr_scales, "quats": cfg.lr_quats}
        groups = [{"params": [getattr(model, name)], "lr": lrs[name], "name": name} for name in PARAMETERS]
        self.optimizer = torch.optim.Adam(groups, lr=0.0, eps=1e-15)
        self.out_dir = run.out_dir
        self.is_main = run.is_main
        return model, self.optimizer

    def sh_degree_at(self, step: int) -> int:
        return min(step // self.config.sh_degree_every, self.config.sh_degree)

    def background_at(self) -> torch.Tensor:
        """The step's background colour (3,): random ones come from the global RNG (restored on resume)."""
        cfg = self.config
        if cfg.background == "random":
            return torch.rand(3, device=self.device)
        return torch.full((3,), 1.0 if cfg.background == "white" else 0.0, device=self.device)

    def eval_background(self) -> torch.Tensor:
        """Background of the test renders: white unless trained over black."""
        return torch.full((3,), 0.0 if self.config.background == "black" else 1.0, device=self.device)

    def loss(self, model, view: int, step: int) -> torch.Tensor:
        from inverse3d.tasks.splat.render import render_view

        cfg = self.config
        core: GaussianModel = getattr(model, "module", model)
        # the centres' learning rate: a function of the step (exact on resume), or with --max-minutes of whichever
        # of the steps and the time budget runs out first
        self.clock.tick()
        self.optimizer.param_groups[0]["lr"] = cfg.lr_means * self.extent * cfg.lr_means_final ** (
            self.clock.fraction(step, cfg.iterations, cfg.max_minutes))
        if self.density.densify_at(step):
            stats = densify_and_prune(core, self.optimizer, self.density, self.extent, step)
            self.log["densify"].append({"step": step, "cloned": stats.cloned, "split": stats.split,
                                        "pruned": stats.pruned, "count": stats.after})
        if self.density.reset_at(step):
            reset_opacity(core, self.optimizer)
        if self.is_main and cfg.progress_every > 0 and step % cfg.progress_every == 0:
            self._progress_frame(core, step)

        v = self.train_views
        bg = self.background_at()
        degree = self.sh_degree_at(step)
        out = render_view(core, v["viewmats"][view:view + 1], v["Ks"][view:view + 1], v["width"], v["height"],
                          degree, bg, depth=False, eps2d=cfg.eps2d)
        pred = out["rgb"][0]
        target = composite(v, view, bg)
        if self.density.densify and step < self.density.stop:
            self._hook_statistics(core, out["meta"], v["width"], v["height"])
        loss = splat_loss(pred, target, cfg.ssim_weight)
        mse = float((pred.detach() - target).square().mean())
        self._last_mse = mse
        self.log["train_psnr"].append(-10.0 * math.log10(max(mse, 1e-12)))
        return loss

    @staticmethod
    def _hook_statistics(core: GaussianModel, meta: dict[str, Any], width: int, height: int) -> None:
        """Registers the gradient hook that adds this view's densification statistics during backward."""
        means2d = meta.get("means2d")
        if means2d is None or not means2d.requires_grad:
            return
        radii = meta["radii"].detach()
        means2d.register_hook(lambda grad: accumulate_grad2d(core, grad, radii, width, height))

    def progress_postfix(self) -> dict[str, str]:
        out = {"gaussians": str(len(self.model))}
        if self._last_mse is not None:
            out["psnr"] = f"{-10.0 * math.log10(max(self._last_mse, 1e-12)):.2f} dB"
        return out

    def checkpoint_entries(self) -> dict[str, Any]:
        return {"splat": self.meta, "splat_log": self.log, "train_seconds": self.clock.seconds()}

    def restore(self, checkpoint: dict[str, Any]) -> None:
        log = checkpoint.get("splat_log", {})
        self.log = {"train_psnr": list(log.get("train_psnr", [])), "test_psnr": list(log.get("test_psnr", [])),
                    "densify": list(log.get("densify", []))}

    # -- outputs

    def _clear_progress_frames(self, out_dir: Path) -> None:
        folder = out_dir / "progress"
        if folder.is_dir():
            for f in folder.glob("step_*.png"):
                f.unlink()

    @torch.no_grad()
    def _progress_frame(self, core: GaussianModel, step: int) -> None:
        """Renders the progress view: writes ``progress/step_NNNNNN.png`` (target | render) and logs its PSNR."""
        from inverse3d.metrics import psnr
        from inverse3d.tasks.splat.render import render_view
        from inverse3d.viz.images import save_image

        v, i = self.test_views, self.config.progress_view
        bg = self.eval_background()
        out = render_view(core, v["viewmats"][i:i + 1], v["Ks"][i:i + 1], v["width"], v["height"],
                          self.sh_degree_at(step), bg, depth=False, eps2d=self.config.eps2d)
        pred = out["rgb"][0].clamp(0, 1)
        target = composite(v, i, bg)
        self.log["test_psnr"] = [p for p in self.log["test_psnr"] if p[0] != step] + [
            [step, float(psnr(pred, target))]]
        folder = self.out_dir / "progress"
        folder.mkdir(parents=True, exist_ok=True)
        save_image(folder / f"step_{step:06d}.png", torch.cat([target, pred], dim=1).cpu().numpy())

    def finish(self, run: Run, result: LoopResult) -> dict[str, Path]:
        if not run.is_main:
            return {}
        from inverse3d.io import save_gaussians_ply
        from inverse3d.io.outputs import atomic_write
        from inverse3d.viz.images import save_frames, to_uint8
        from inverse3d.tasks.splat.plots import plot_psnr_curve

        out = run.out_dir
        files: dict[str, Path] = {}
        core: GaussianModel = result.model
        files["gaussians"] = out / "gaussians.ply"
        save_gaussians_ply(files["gaussians"], core.to_gaussians().cpu())
        self._progress_frame(core, result.step)
        frames = sorted((out / "progress").glob("step_*.png"))
        frames = [f for f in frames if int(f.stem.split("_")[1]) <= result.step]
        if frames:
            import imageio.v3 as iio

            files["progress"] = save_frames((to_uint8(iio.imread(f)) for f in frames), out / "progress.gif",
                                            fps=8)
        files["psnr"] = plot_psnr_curve(out / "psnr.png", self.log["train_psnr"], self.log["test_psnr"],
                                        f"splat: {Path(self.meta['path']).name}")
        text = json.dumps({"step": result.step, "gaussians": len(core), "test_view_psnr": self.log["test_psnr"],
                           "densify": self.log["densify"], "scene": self.meta["path"]}, indent=2)
        files["log"] = atomic_write(out / "log.json", lambda tmp: tmp.write_text(text))
        return files


def config_dict(config: SplatTrainConfig) -> dict[str, Any]:
    return {k: getattr(config, k) for k in config.__dataclass_fields__}


def train(config: SplatTrainConfig) -> LoopResult:
    """Trains Gaussians as ``config`` says (module docstring); returns the core's ``LoopResult``."""
    config.check()
    return fit_loop(SplatTask(config), config.loop_options(config_dict(config)))


def load_splat(path: str | Path, device: str | torch.device = "cpu") -> tuple[GaussianModel, dict[str, Any]]:
    """Gaussians from a ``splat train`` checkpoint (``.pt``) or any 3DGS PLY file (``.ply``): the model and the
    checkpoint's entries (``{}`` for a PLY)."""
    from inverse3d.training.checkpoint import CheckpointError, load_model_state, read_checkpoint

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file (a splat checkpoint .pt or a Gaussian .ply)")
    if path.suffix.lower() == ".ply":
        from inverse3d.io import load_gaussians_ply

        return GaussianModel.from_gaussians(load_gaussians_ply(path)).to(device), {}
    ckpt = read_checkpoint(path)
    state = ckpt["model"]
    if "splat" not in ckpt or any(name not in state for name in PARAMETERS):
        raise CheckpointError(path, "is not a Gaussian splatting checkpoint (no 'splat' entry): train one with "
                                    "inverse3d splat train")
    k = int(state["sh_rest"].shape[1]) + 1
    degree = int(round(math.sqrt(k))) - 1
    if (degree + 1) ** 2 != k or degree > 3:
        raise CheckpointError(path, f"sh_rest holds {k - 1} coefficients, not (degree + 1)^2 - 1 for a degree 0..3")
    model = GaussianModel(int(state["means"].shape[0]), degree)
    load_model_state(model, state, path)
    return model.to(device).eval(), ckpt
