"""Camera pose from one image of a known mesh, by gradient descent through the soft rasteriser.

The problem of PyTorch3D's camera-position tutorial, with the full pose (rotation and position) unknown. Parametrisation
(``PoseModel``): the rotation is ``R = R0 @ exp(w)`` (``w`` an axis-angle residual, 3 numbers, in the *view* frame's
axes) and the position is the view-space position ``t`` of the mesh's centre ``c`` (so ``T = t - c @ R``). With it a
change of ``w`` spins the object in place and a change of ``t`` slides or scales it in the image: rotation and
translation barely interact, and each parameter has a direct effect on the silhouette, which Adam handles well. (The
tutorial's look-at camera position couples the two -- moving the camera also turns it -- and cannot express a roll;
Euler angles have gimbal lock; a 6D or quaternion parameter of the absolute rotation works but each step mixes object
spin and image motion.) A residual near zero is where the exponential map is best conditioned.

Search: ``trials`` independent problems (for the built-in meshes each has its own random true pose; with the user's
image there is one) x ``starts`` starting guesses, all optimised at once as one batch of cameras. A trial's first start
is its initial guess (the truth turned by a random rotation of angle up to ``max_angle`` degrees, the centre moved by up
to ``max_shift`` x the distance; or the user's ``--init-*`` camera), the others that guess turned again by up to
``max_angle``. The loss of each start is the image loss (``--loss``) of the rendering (``--shader``) against the target,
summed over an image pyramid (``common.multiscale``: a wider basin), with the soft rasteriser's edge width annealed
from ``sigma`` (wide soft edges: gradients from far) to ``sigma_final`` (nearly the sharp target's edges: no bias in
the optimum); the best start of each trial (lowest final loss)
is its answer. The rotation error is the geodesic angle to the truth (``rotation_error_degrees``), the position error
the distance between camera centres.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from inverse3d.tasks.invert.common import (LOSSES, SHADERS, ProgressFrames, InvertOptions, check_choice, check_finite,
                                           cosine_lr, image_loss, multiscale, over_white, read_image,
                                           rotation_error_degrees, soft_renderer)
from inverse3d.training import Batches, LoopResult, Run, Trainable, fit_loop

__all__ = ["PoseConfig", "PoseModel", "PoseResult", "fit_pose", "random_rotations_within", "camera_centers"]


@dataclass
class PoseConfig(InvertOptions):
    """Options of ``inverse3d invert pose``."""

    mesh: str = "cow"
    """The known mesh: "cow" (the built-in cow-like mesh, at ico-sphere level 3: 1280 faces), "lego" (the
    lego-like scene's mesh) or a mesh file."""
    image: str | None = None
    """The user's target image (PNG/JPEG, RGBA or RGB on white, or .npy) of --mesh; default: render the built-in
    target at random true poses (then the errors are known)."""
    image_size: int = 64
    """Rendered size in pixels (square); a --image must have this size."""
    fov: float | None = None
    """Vertical field of view in degrees of the FoV perspective camera (default: 60 for cow, 39.6 for lego, and
    60 for a user's mesh)."""
    dist: float | None = None
    """Built-in targets: the true camera's distance to the centre (default: 1.3 cow, 5.0 lego)."""
    init_dist: float = 2.0
    """--image: the initial guess's distance to the mesh's centre."""
    init_elev: float = 0.0
    """--image: the initial guess's elevation in degrees."""
    init_azim: float = 0.0
    """--image: the initial guess's azimuth in degrees."""
    max_angle: float = 30.0
    """Built-in targets: the initial guess is the truth turned by a random rotation of up to this many degrees; the
    other starts turn the guess again by up to this many degrees."""
    max_shift: float = 0.05
    """Built-in targets: the initial guess's centre is moved by up to this fraction of the distance on each axis."""
    starts: int = 4
    """Starting guesses per trial (random restarts); the one with the lowest final loss is kept."""
    trials: int = 1
    """Built-in targets: independent problems (random true pose and guess each): the success rate is reported."""
    shader: str = "silhouette"
    """silhouette (SoftSilhouetteShader), phong (SoftPhongShader, headlight) or flat (unlit texture colours)."""
    loss: str = "mse"
    """Image loss: mse, l1 or iou (soft IoU of the silhouettes)."""
    sigma: float = 1e-4
    """Soft rasteriser's edge width at the start (SoftRas's sigma; sets the blur radius): a wide basin."""
    sigma_final: float | None = 1e-6
    """The edge width anneals log-linearly from --sigma to this by the last step (None: fixed --sigma). A soft
    silhouette is wider than the sharp target (more so with many faces per pixel), so a fit at a fixed wide sigma
    settles with the object too far away and turned: at 128 px from the true pose, sigma 1e-4 drifts by 0.06-0.1 in
    position and 1-3 degrees; annealed to 1e-6 it stays."""
    gamma: float = 1e-4
    """Depth softness of the colour blend (phong / flat)."""
    faces_per_pixel: int = 30
    """Faces blended per pixel. Too few biases the gradients: where more faces than this lie within the blur
    radius of a pixel, the nearest ones in depth are kept, not the ones that make the silhouette's edge."""
    translation_lr_scale: float = 0.2
    """Learning rate of the position relative to --lr (of the rotation, in radians)."""
    success_degrees: float = 2.0
    """A trial succeeds when its rotation error is below this many degrees."""

    def check(self) -> None:
        from inverse3d.training.options import check_float, check_int

        self.check_run()
        check_choice("--shader", self.shader, SHADERS)
        check_choice("--loss", self.loss, LOSSES)
        if self.loss == "iou" and self.shader != "silhouette":
            raise ValueError("--loss iou compares silhouettes: use it with --shader silhouette")
        check_int("--image-size", self.image_size, 8, 1024)
        check_int("--starts", self.starts, 1, 1000)
        check_int("--trials", self.trials, 1, 1000)
        check_int("--faces-per-pixel", self.faces_per_pixel, 1, 100)
        if self.sigma_final is not None:
            check_float("--sigma-final", self.sigma_final, positive=True)
        for name in ("sigma", "gamma", "init_dist", "translation_lr_scale"):
            check_float("--" + name.replace("_", "-"), getattr(self, name), positive=True)
        check_float("--max-angle", self.max_angle)
        check_float("--max-shift", self.max_shift)
        if not 0 <= self.max_angle <= 180:
            raise ValueError(f"--max-angle must be in [0, 180] degrees; got {self.max_angle}")
        if self.fov is not None and not 1 <= self.fov <= 170:
            raise ValueError(f"--fov must be in [1, 170] degrees; got {self.fov}")
        if self.image is not None and self.trials != 1:
            raise ValueError("--trials > 1 needs the built-in targets (their true poses); with --image use --trials 1")


def random_rotations_within(n: int, max_degrees: float, generator: torch.Generator, dtype=torch.float32):
    """(n, 3, 3) rotations about uniformly random axes by angles uniform in [0, max_degrees]."""
    from inverse3d.transforms import axis_angle_to_matrix

    axis = torch.randn(n, 3, generator=generator, dtype=torch.float64)
    axis = axis / axis.norm(dim=1, keepdim=True)
    angle = torch.rand(n, 1, generator=generator, dtype=torch.float64) * math.radians(max_degrees)
    return axis_angle_to_matrix(axis * angle).to(dtype)


def camera_centers(R: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """(N, 3) world positions of cameras with world-to-view ``X @ R + T``: ``C = -T @ R^T``."""
    return -(T[:, None, :] @ R.transpose(1, 2))[:, 0]


class PoseModel(torch.nn.Module):
    """B camera poses (module docstring): ``R = R0 @ exp(w)``, ``T = t - c @ R``.

    Args:
        R0: (B, 3, 3) initial rotations (world-to-view, row vectors).
        t0: (B, 3) initial view-space positions of the centre ``c``.
        center: (3,) the mesh's centre.
    """

    def __init__(self, R0: torch.Tensor, t0: torch.Tensor, center: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("R0", R0.clone())
        self.register_buffer("center", center.clone())
        self.w = torch.nn.Parameter(torch.zeros_like(t0))
        self.t = torch.nn.Parameter(t0.clone())

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(R (B, 3, 3), T (B, 3)) of the current poses."""
        from inverse3d.transforms import so3_exp_map

        R = self.R0 @ so3_exp_map(self.w)  # (B, 3, 3)
        T = self.t - self.center @ R  # (B, 3)
        return R, T


@dataclass
class PoseResult:
    """What ``fit_pose`` found: per trial the best start's pose, its errors (None without the truth), and files."""

    R: torch.Tensor
    """(trials, 3, 3) recovered rotations."""
    T: torch.Tensor
    """(trials, 3) recovered translations."""
    rotation_error: list[float] | None
    position_error: list[float] | None
    losses: list[list[float]]
    """Final loss of every start, per trial."""
    success_rate: float | None
    seconds: float
    seconds_per_start: float
    files: dict[str, Path]
    summary: dict[str, Any]


class _PoseTask(Trainable):
    name = "invert pose"

    def __init__(self, cfg: PoseConfig, mesh, targets: torch.Tensor, cams_kw: dict, R0: torch.Tensor,
                 t0: torch.Tensor, truth: tuple[torch.Tensor, torch.Tensor] | None) -> None:
        self.cfg, self.mesh, self.targets, self.cams_kw = cfg, mesh, targets, cams_kw
        self.R0, self.t0, self.truth = R0, t0, truth
        self.frames = ProgressFrames(cfg.frame_every)
        self.last = torch.zeros(R0.shape[0])
        B = R0.shape[0]
        self.meshes = mesh.extend(B)
        self.renderer = None
        self._sigma = None

    def sigma_at(self, step: int) -> float:
        """The soft rasteriser's sigma at ``step``: log-linear from ``--sigma`` to ``--sigma-final``."""
        cfg = self.cfg
        if cfg.sigma_final is None:
            return cfg.sigma
        frac = min(step / max(cfg.iterations - 1, 1), 1.0)
        return math.exp((1 - frac) * math.log(cfg.sigma) + frac * math.log(cfg.sigma_final))

    def set_sigma(self, sigma: float) -> None:
        """Rebuilds the soft renderer for ``sigma`` (edge width and blur radius) when it changed."""
        if sigma != self._sigma:
            self.renderer = soft_renderer(self.cams, self.cfg.image_size, self.cfg.shader, sigma, self.cfg.gamma,
                                          self.cfg.faces_per_pixel)
            self._sigma = sigma

    def batches(self, run: Run) -> Batches:
        return Batches(of_step=lambda step: None)

    def build(self, run: Run):
        from inverse3d.renderer import FoVPerspectiveCameras

        dev = run.device
        self.meshes = self.meshes.to(dev)
        self.targets = self.targets.to(dev)
        self.cams = FoVPerspectiveCameras(R=self.R0.to(dev), T=self.t0.to(dev), device=dev, **self.cams_kw)
        self.set_sigma(self.cfg.sigma)
        center = self.mesh.verts_packed().detach()
        center = ((center.amin(0) + center.amax(0)) / 2).to(dev)
        self.model = PoseModel(self.R0.to(dev), self.t0.to(dev), center)
        # The centre moves at a fifth of the rotation's rate (Adam's steps are about lr in each parameter: 0.05 rad
        # is 3 degrees, 0.05 scene units a large share of the image); it settles instead of swinging.
        cfg = self.cfg
        self.optimizer = torch.optim.Adam([{"params": [self.model.w], "lr": cfg.lr, "lr_scale": 1.0},
                                           {"params": [self.model.t], "lr": cfg.lr * cfg.translation_lr_scale,
                                            "lr_scale": cfg.translation_lr_scale}], lr=cfg.lr)
        return self.model, self.optimizer

    def render(self, model) -> torch.Tensor:
        """(B, H, W, 4) renderings of the current poses."""
        from inverse3d.renderer import FoVPerspectiveCameras

        R, T = model()
        cams = FoVPerspectiveCameras(R=R, T=T, device=R.device, **self.cams_kw)
        kwargs = {"cameras": cams}
        if self.cfg.shader == "phong":
            from inverse3d.tasks.invert.common import headlights

            kwargs["lights"] = headlights(cams)
        return self.renderer(self.meshes, **kwargs)

    def per_start_loss(self, images: torch.Tensor) -> torch.Tensor:
        """(B,) loss of each start against its trial's target (summed over the image pyramid)."""
        cfg = self.cfg
        S = cfg.starts
        target = self.targets.repeat_interleave(S, dim=0)  # (B, H, W, 4)
        if cfg.shader == "silhouette":
            pred, tgt = images[..., 3:], target[..., 3:]
        else:
            pred, tgt = over_white(images), over_white(target)
        return sum(image_loss(p, t, cfg.loss) for p, t in zip(multiscale(pred), multiscale(tgt)))

    def loss(self, model, batch: Any, step: int) -> torch.Tensor:
        cosine_lr(self.optimizer, self.cfg.lr, step, self.cfg.iterations)
        self.set_sigma(self.sigma_at(step))
        images = self.render(model)
        per = self.per_start_loss(images)
        self.last = per.detach().cpu()
        if self.frames.due(step):
            best = int(per[: self.cfg.starts].argmin())
            self.frames.add(over_white(self.targets[0]), over_white(images[best]))
        return per.sum()

    def progress_postfix(self) -> dict[str, str]:
        if self.truth is None:
            return {}
        R, _ = self.model()
        err = rotation_error_degrees(R.detach().cpu().double(), self.truth[0].repeat_interleave(
            self.cfg.starts, 0).double())
        best = self.last.view(-1, self.cfg.starts).argmin(1)
        e = err.view(-1, self.cfg.starts).gather(1, best[:, None])[:, 0]
        return {"rot_err": f"{float(e.median()):.2f} deg"}

    def checkpoint_entries(self) -> dict[str, Any]:
        return {"frames": self.frames.state()}

    def restore(self, checkpoint: dict[str, Any]) -> None:
        self.frames.load(checkpoint.get("frames", {}))

    def finish(self, run: Run, result: LoopResult) -> dict[str, Path]:
        return {}


def _targets_builtin(cfg: PoseConfig, mesh, cams_kw: dict, dist: float, gen: torch.Generator, device):
    """Random true poses (trials) and their sharp renderings; returns (targets (T, H, W, 4), R_true, T_true)."""
    from inverse3d.renderer import FoVPerspectiveCameras, look_at_view_transform

    n = cfg.trials
    elev = -10 + 50 * torch.rand(n, generator=gen)
    azim = 360 * torch.rand(n, generator=gen)
    R, T = look_at_view_transform(dist, elev, azim)
    cams = FoVPerspectiveCameras(R=R.to(device), T=T.to(device), device=device, **cams_kw)
    sharp = soft_renderer(cams, cfg.image_size, "phong" if cfg.shader != "flat" else "flat", sigma=1e-7,
                          faces_per_pixel=1, blur=False)
    with torch.no_grad():
        images = sharp(mesh.extend(n).to(device))
    return images, R, T


def fit_pose(cfg: PoseConfig) -> PoseResult:
    """Runs the search of ``cfg`` on the shared training loop and writes into ``cfg.out_dir``: ``pose.json``
    (recovered poses, errors, every start's loss), ``progress.gif`` (target | best start of trial 0),
    ``result.png`` (each trial's target | recovered render), ``loss.png``, ``config.json``, ``checkpoint.pt``."""
    from inverse3d.io.outputs import atomic_write
    from inverse3d.renderer import look_at_view_transform
    from inverse3d.tasks.invert.meshes import load_known_mesh

    cfg.check()
    t_start = time.perf_counter()
    device = torch.device(cfg.device)
    mesh = load_known_mesh(cfg.mesh, device="cpu", level=3)
    fov = cfg.fov if cfg.fov is not None else (39.6 if cfg.mesh == "lego" else 60.0)
    cams_kw = {"fov": fov}
    gen = torch.Generator().manual_seed(cfg.seed)
    S = cfg.starts
    center = mesh.verts_packed()
    center = (center.amin(0) + center.amax(0)) / 2
    if cfg.image is None:
        if cfg.mesh not in ("cow", "lego"):
            raise ValueError(f"--mesh {cfg.mesh}: a user's mesh needs its target --image")
        dist = cfg.dist if cfg.dist is not None else (5.0 if cfg.mesh == "lego" else 1.3)
        targets, R_true, T_true = _targets_builtin(cfg, mesh, cams_kw, dist, gen, device)
        guess = R_true @ random_rotations_within(cfg.trials, cfg.max_angle, gen)  # (trials, 3, 3)
        t_true = T_true + center @ R_true  # view-space centre
        shift = (torch.rand(cfg.trials, 3, generator=gen) * 2 - 1) * cfg.max_shift * dist
        t_guess = t_true + shift
        truth = (R_true, T_true)
    else:
        target = read_image(cfg.image, cfg.image_size)
        if target[..., 3].sum() == 0:
            raise ValueError(f"--image {cfg.image}: the image is empty (no pixel differs from the white background)")
        targets = target[None].to(device)
        R_g, T_g = look_at_view_transform(cfg.init_dist, cfg.init_elev, cfg.init_azim, at=(center.tolist(),))
        guess = R_g
        t_guess = T_g + center @ R_g
        truth = None
    # Starts: the guess, then the guess turned again by up to max_angle.
    R0 = guess.repeat_interleave(S, 0)  # (T*S, 3, 3)
    extra = random_rotations_within(R0.shape[0], cfg.max_angle, gen)
    first = (torch.arange(R0.shape[0]) % S == 0)
    extra[first] = torch.eye(3)
    R0 = R0 @ extra
    t0 = t_guess.repeat_interleave(S, 0)
    check_finite("initial pose", R0)

    task = _PoseTask(cfg, mesh, targets, cams_kw, R0, t0, truth)
    loop = fit_loop(task, cfg.loop_options())
    model = loop.model
    task.set_sigma(task.sigma_at(cfg.iterations - 1))  # the final edge width ranks the starts
    with torch.no_grad():
        images = task.render(model)
        per = task.per_start_loss(images).cpu()
        R_all, T_all = (x.detach().cpu() for x in model())
    per = per.view(cfg.trials, S)
    best = per.argmin(1)  # (trials,)
    idx = torch.arange(cfg.trials) * S + best
    R_best, T_best = R_all[idx], T_all[idx]
    rot_err = pos_err = rate = init_err = None
    if truth is not None:
        init_err = rotation_error_degrees(guess.double(), truth[0].double()).tolist()
        rot_err = rotation_error_degrees(R_best.double(), truth[0].double()).tolist()
        pos_err = torch.linalg.norm(camera_centers(R_best.double(), T_best.double())
                                    - camera_centers(truth[0].double(), truth[1].double()), dim=1).tolist()
        rate = sum(e < cfg.success_degrees for e in rot_err) / len(rot_err)
    seconds = time.perf_counter() - t_start
    out = Path(cfg.out_dir)
    files = dict(loop.files)
    summary = {
        "mesh": cfg.mesh, "image": cfg.image, "trials": cfg.trials, "starts": S, "fov": fov,
        "R": R_best.tolist(), "T": T_best.tolist(), "camera_center": camera_centers(R_best, T_best).tolist(),
        "best_start": best.tolist(), "start_losses": per.tolist(),
        "rotation_error_degrees": rot_err, "position_error": pos_err, "initial_rotation_error_degrees": init_err,
        "success_degrees": cfg.success_degrees, "success_rate": rate,
        "median_rotation_error_degrees": None if rot_err is None else float(torch.tensor(rot_err).median()),
        "seconds": seconds, "seconds_per_start": seconds / (cfg.trials * S), "steps": loop.step,
    }
    if truth is not None:
        summary["true_R"] = truth[0].tolist()
        summary["true_T"] = truth[1].tolist()
    text = json.dumps(summary, indent=2)
    files["pose"] = atomic_write(out / "pose.json", lambda tmp: tmp.write_text(text))
    gif = task.frames.save(out / "progress.gif")
    if gif is not None:
        files["progress"] = gif
    from inverse3d.viz.images import image_grid, save_image
    from inverse3d.viz.plots import side_by_side

    tiles = []
    for k in range(min(cfg.trials, 8)):
        pair = torch.stack([over_white(targets[k].cpu()), over_white(images[int(idx[k])].cpu())])
        tiles.append(side_by_side(*((pair * 255).round().to(torch.uint8).numpy()[:, None]))[0])
    files["result"] = save_image(out / "result.png", image_grid(tiles, ncols=min(len(tiles), 4)))
    return PoseResult(R_best, T_best, rot_err, pos_err, per.tolist(), rate, seconds, seconds / (cfg.trials * S),
                      files, summary)
