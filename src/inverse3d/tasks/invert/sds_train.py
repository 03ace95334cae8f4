"""Score distillation runs: an image, a mesh's vertex colours or a NeRF optimised from a text prompt with
``SDSLoss``, on the shared training loop (progress bar, atomic checkpoints, exact ``--resume``, ``--max-minutes``).

``run_sds(config)`` loads the diffusion model (``load_sds_model``), optimises the target and writes into
``out_dir``: ``progress.gif`` (the target every ``preview_every`` steps), ``loss.png`` (0.5 |grad|^2 per step),
``checkpoint.pt``, ``config.json`` and the result: ``result.png`` (image), ``result.ply`` with vertex colours and
``turntable.gif`` (mesh), ``turntable.gif`` (NeRF; the field stays in the checkpoint).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from inverse3d.training.loop import Batches, LoopResult, Run, Trainable, fit_loop
from inverse3d.training.options import RunOptions, check_checkpoint_target, check_float, check_int, plain_values

__all__ = ["SDSConfig", "SDSTask", "run_sds", "TARGETS", "DEFAULT_LR"]

TARGETS = ("image", "mesh", "nerf")
DEFAULT_LR = {"image": 0.1, "mesh": 0.02, "nerf": 0.01}
"""Adam's learning rate per target when --lr is not given."""


@dataclass
class SDSConfig(RunOptions):
    """Options of a score-distillation run (each documented for ``inverse3d invert sds --help``; the run's are
    ``RunOptions``, with this command's defaults)."""

    prompt: str = "a DSLR photo of a hamburger"
    """The text the result should match."""
    negative_prompt: str = ""
    """Text for the unconditional branch of classifier-free guidance ("" as in Stable Diffusion)."""
    target: str = "image"
    """What to optimise: image (a latent or RGB image), mesh (per-vertex colours of --mesh), nerf (a NeRF)."""
    model_dir: str = "models/stable-diffusion-2-1-base"
    """A local diffusers model folder (unet/, scheduler/, vae/, text_encoder/, tokenizer/); never downloaded."""
    out_dir: str = "out/sds"
    """Folder for progress.gif, loss.png, the result, checkpoint.pt and config.json."""
    iterations: int = 500
    """Optimisation steps."""
    lr: Optional[float] = None
    """Adam's learning rate (default: 0.1 image, 0.02 mesh, 0.01 nerf)."""
    guidance_scale: float = 100.0
    """Classifier-free guidance scale (DreamFusion: 100)."""
    min_step_frac: float = 0.02
    """Smallest timestep drawn, as a fraction of the model's training timesteps."""
    max_step_frac: float = 0.98
    """Largest timestep drawn, as a fraction of the model's training timesteps."""
    weighting: str = "sds"
    """w(t): sds (1 - alphas_cumprod), uniform (1) or fantasia3d (sqrt(abar) (1 - abar))."""
    grad_clip: Optional[float] = None
    """Clamp each element of the SDS gradient to [-c, c] (default: no clamp)."""
    image_space: str = "latent"
    """image target: optimise the model's latent (latent) or an RGB image encoded by the VAE at each step (pixel)."""
    mesh: Optional[str] = None
    """mesh target: a mesh file (.obj .ply .off .stl .glb); default an ico sphere of level 4."""
    render_size: int = 64
    """mesh / nerf: render size in pixels (resized to the model's image size for the loss)."""
    views_per_step: int = 1
    """mesh / nerf: random views per step."""
    view_prompts: bool = True
    """mesh / nerf: append "front / side / back / overhead view" to the prompt by camera direction."""
    dist_range: tuple[float, float] = (2.5, 3.2)
    """mesh / nerf: camera distance range (the object fills the unit sphere / the cube [-1, 1]^3)."""
    elev_range: tuple[float, float] = (-10.0, 45.0)
    """mesh / nerf: camera elevation range in degrees."""
    fov: float = 45.0
    """mesh / nerf: field of view in degrees."""
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    """mesh / nerf: background colour."""
    hash_levels: int = 12
    """nerf: hash-grid levels."""
    hash_log2_size: int = 16
    """nerf: log2 of the hash-table entries per level."""
    hash_finest: int = 256
    """nerf: finest hash-grid resolution over the cube."""
    n_samples: int = 64
    """nerf: samples per ray."""
    blob_density: float = 10.0
    """nerf: peak of the density blob at the centre (0: none)."""
    blob_radius: float = 0.5
    """nerf: radius of the density blob."""
    sparsity: float = 0.0
    """nerf: weight of the mean opacity penalty (keeps empty space empty)."""
    preview_every: int = 10
    """Add a frame to progress.gif every this many steps."""
    turntable_frames: int = 36
    """mesh / nerf: frames of turntable.gif."""
    seed: int = 0
    """Seed of the initialisation, the views, timesteps and noise."""
    device: str = "auto"
    """Torch device: auto, cpu, cuda, cuda:N or mps."""
    dtype: str = "auto"
    """The diffusion model's dtype: auto (float16 on CUDA, else float32), float16, bfloat16 or float32."""
    checkpoint_every: int = 100
    """Write checkpoint.pt every this many steps."""
    max_minutes: Optional[float] = None
    """Stop after this many minutes (with a checkpoint)."""

    def check(self) -> None:
        """Raises ``ValueError`` naming the option that cannot work; touches no file."""
        from inverse3d.tasks.invert.sds import WEIGHTINGS

        if not self.prompt.strip():
            raise ValueError("--prompt is empty")
        if self.target not in TARGETS:
            raise ValueError(f"--target must be one of {', '.join(TARGETS)}; got {self.target!r}")
        if self.image_space not in ("latent", "pixel"):
            raise ValueError(f"--image-space must be latent or pixel; got {self.image_space!r}")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"--weighting must be one of {', '.join(WEIGHTINGS)}; got {self.weighting!r}")
        if self.dtype not in ("auto", "float16", "bfloat16", "float32"):
            raise ValueError(f"--dtype must be auto, float16, bfloat16 or float32; got {self.dtype!r}")
        check_int("--iterations", self.iterations, 1)
        check_int("--render-size", self.render_size, 8, 1024)
        check_int("--views-per-step", self.views_per_step, 1, 64)
        check_int("--preview-every", self.preview_every, 1)
        check_int("--turntable-frames", self.turntable_frames, 1, 720)
        check_int("--hash-levels", self.hash_levels, 1, 32)
        check_int("--n-samples", self.n_samples, 2, 1024)
        check_float("--guidance-scale", self.guidance_scale)
        if not 0.0 <= self.min_step_frac <= self.max_step_frac <= 1.0:
            raise ValueError(f"need 0 <= --min-step-frac <= --max-step-frac <= 1; got {self.min_step_frac}, "
                             f"{self.max_step_frac}")
        for name in ("fov", "blob_radius"):
            check_float("--" + name.replace("_", "-"), getattr(self, name), positive=True)
        for name in ("blob_density", "sparsity"):
            check_float("--" + name.replace("_", "-"), getattr(self, name))
        if self.lr is not None:
            check_float("--lr", self.lr, positive=True)
        if self.grad_clip is not None:
            check_float("--grad-clip", self.grad_clip, positive=True)
        if not 0 < self.dist_range[0] <= self.dist_range[1]:
            raise ValueError(f"--dist-range must be 0 < low <= high; got {self.dist_range}")
        if not -90 <= self.elev_range[0] <= self.elev_range[1] <= 90:
            raise ValueError(f"--elev-range must be -90 <= low <= high <= 90; got {self.elev_range}")
        if any(not 0.0 <= c <= 1.0 for c in self.background):
            raise ValueError(f"--background must be three values in [0, 1]; got {self.background}")
        if self.mesh is not None and not Path(self.mesh).is_file():
            raise ValueError(f"--mesh {self.mesh}: no such file")


def _uint8(image: torch.Tensor) -> torch.Tensor:
    """(H, W, 3) float in [0, 1] -> uint8 on the CPU."""
    return (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu()


PREVIEW_HEIGHT = 256
"""Frames of progress.gif are shrunk to at most this height (the result keeps its size)."""


def _thumbnail(frame: torch.Tensor) -> torch.Tensor:
    """(H, W, 3) uint8 -> at most ``PREVIEW_HEIGHT`` rows (area averaging), uint8."""
    H, W = frame.shape[:2]
    if H <= PREVIEW_HEIGHT:
        return frame
    size = (PREVIEW_HEIGHT, max(1, round(W * PREVIEW_HEIGHT / H)))
    small = torch.nn.functional.interpolate(frame.permute(2, 0, 1)[None].float(), size, mode="area")[0]
    return small.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous()


class SDSTask(Trainable):
    """The training core's view of a score-distillation run (module docstring)."""

    def __init__(self, config: SDSConfig, loss, mesh=None) -> None:
        self.config = config
        self.sds = loss
        self.name = f"sds {config.target}"
        self.mesh = mesh  # (verts (V, 3), faces (F, 3)) for the mesh target
        self.frames: list[torch.Tensor] = []  # (H, W, 3) uint8 previews, kept in the checkpoint
        self.embeddings = None
        self.device = torch.device("cpu")

    # --- the core's hooks ----------------------------------------------------------------------------------------
    def batches(self, run: Run) -> Batches:
        c = self.config
        self.device = run.device
        self._embed()
        if c.target == "image":
            return Batches(of_step=lambda step: None)
        from inverse3d.tasks.invert.sds_targets import random_views

        return Batches(of_step=lambda step: random_views(c.views_per_step, c.dist_range, c.elev_range, run.device))

    def build(self, run: Run):
        from inverse3d.tasks.invert.sds_targets import ImageTarget, MeshColorTarget, NeRFTarget

        c, m = self.config, self.sds.model
        if c.target == "image":
            shape = m.latent_shape if c.image_space == "latent" else (3, m.image_size, m.image_size)
            self.target = ImageTarget(c.image_space, shape)
        elif c.target == "mesh":
            self.target = MeshColorTarget(self.mesh[0], self.mesh[1], c.render_size, c.fov, c.background)
        else:
            self.target = NeRFTarget(c.render_size, c.hash_levels, c.hash_log2_size, c.hash_finest, c.n_samples,
                                     c.blob_density, c.blob_radius, c.fov, c.background)
        self.target.to(run.device)
        lr = DEFAULT_LR[c.target] if c.lr is None else c.lr
        return self.target, torch.optim.Adam(self.target.parameters(), lr=lr)

    def loss(self, model, views, step: int) -> torch.Tensor:
        c = self.config
        if step % c.preview_every == 0:
            self.frames.append(_thumbnail(self.preview()))
        if c.target == "image":
            x = model.render()
            out = self.sds.latent_loss(x, self.embeddings[0]) if c.image_space == "latent" \
                else self.sds(x, self.embeddings[0])
            return out.loss
        if c.target == "mesh":
            return self.sds(model.render(views), self._prompt_for(views)).loss
        full = model.render_full(views)  # (B, S, S, 4) colour + opacity
        loss = self.sds(full[..., :3].permute(0, 3, 1, 2), self._prompt_for(views)).loss
        return loss + c.sparsity * full[..., 3].mean() if c.sparsity > 0 else loss

    def checkpoint_entries(self) -> dict[str, Any]:
        frames = torch.stack(self.frames) if self.frames else torch.zeros(0, dtype=torch.uint8)
        return {"sds_frames": frames, "sds_target": self.config.target}

    def read_checkpoint(self, path: Path) -> dict[str, Any]:
        from inverse3d.training.checkpoint import CheckpointError, read_checkpoint

        checkpoint = read_checkpoint(path)
        if checkpoint.get("sds_target") != self.config.target:
            raise CheckpointError(path, f"made by a run with --target {checkpoint.get('sds_target')}, not "
                                        f"{self.config.target}")
        return checkpoint

    def restore(self, checkpoint: dict[str, Any]) -> None:
        self.frames = list(checkpoint.get("sds_frames", torch.zeros(0)))

    def finish(self, run: Run, result: LoopResult) -> dict[str, Path]:
        if not run.is_main:
            return {}
        return write_results(self, run.out_dir)

    # --- helpers ------------------------------------------------------------------------------------------------
    def _embed(self) -> None:
        """The prompt (and its view-dependent variants) as embeddings, once."""
        from inverse3d.tasks.invert.sds_targets import VIEW_SUFFIXES

        c = self.config
        if c.target != "image" and c.view_prompts:
            self.embeddings = [self.sds.embed_prompt(f"{c.prompt}, {s}", c.negative_prompt) for s in VIEW_SUFFIXES]
        else:
            self.embeddings = [self.sds.embed_prompt(c.prompt, c.negative_prompt)]

    def _prompt_for(self, views):
        from inverse3d.tasks.invert.sds import PromptEmbeddings
        from inverse3d.tasks.invert.sds_targets import view_direction_index

        if len(self.embeddings) == 1:
            return self.embeddings[0]
        return PromptEmbeddings.stack(self.embeddings, view_direction_index(views).to(self.embeddings[0].cond.device))

    @torch.no_grad()
    def preview(self) -> torch.Tensor:
        """(H, W, 3) uint8 picture of the current target: the image, or front | side renders."""
        c = self.config
        if c.target == "image":
            x = self.target.render()
            img = self.sds.decode_latents(x) if c.image_space == "latent" else x
            return _uint8(img[0].permute(1, 2, 0))
        from inverse3d.tasks.invert.sds_targets import fixed_views

        views = fixed_views((0.0, 90.0), sum(c.dist_range) / 2, 15.0, self.device)
        if c.target == "mesh":
            imgs = self.target.render(views).permute(0, 2, 3, 1)
        else:
            imgs = self.target.render_full(views, stratified=False)[..., :3]
        return _uint8(torch.cat(list(imgs), dim=1))


@torch.no_grad()
def turntable_frames(task: SDSTask, n_frames: int) -> list[np.ndarray]:
    """(S, S, 3) uint8 frames of the mesh or NeRF target all around, at the middle distance and 15 degrees up."""
    from inverse3d.tasks.invert.sds_targets import fixed_views

    c = task.config
    azims = tuple(float(a) for a in np.linspace(0.0, 360.0, n_frames, endpoint=False))
    frames = []
    for start in range(0, n_frames, 8):
        views = fixed_views(azims[start:start + 8], sum(c.dist_range) / 2, 15.0, task.device)
        if c.target == "mesh":
            imgs = task.target.render(views).permute(0, 2, 3, 1)
        else:
            imgs = task.target.render_full(views, stratified=False)[..., :3]
        frames.extend(_uint8(img).numpy() for img in imgs)
    return frames


def write_results(task: SDSTask, out: Path) -> dict[str, Path]:
    """progress.gif and the result of the target (module docstring); returns name -> path."""
    from inverse3d.viz.images import save_frames, save_image

    files: dict[str, Path] = {}
    final = task.preview()
    frames = list(task.frames) + [_thumbnail(final)]
    files["progress"] = save_frames([f.numpy() for f in frames], out / "progress.gif", fps=10)
    c = task.config
    if c.target == "image":
        files["result"] = save_image(out / "result.png", final.numpy())
        return files
    if c.target == "mesh":
        from inverse3d.io import save_ply
        from inverse3d.io.outputs import atomic_write

        verts, faces, colors = task.target.verts.cpu(), task.target.faces.cpu(), task.target.colors().detach().cpu()
        files["result"] = atomic_write(out / "result.ply",
                                       lambda tmp: save_ply(tmp, verts, faces, colors=colors))
    files["turntable"] = save_frames(turntable_frames(task, c.turntable_frames), out / "turntable.gif", fps=12)
    return files


def _load_mesh(path: Optional[str]) -> tuple[torch.Tensor, torch.Tensor]:
    if path is None:
        from inverse3d.utils import ico_sphere

        mesh = ico_sphere(4)
    else:
        from inverse3d.io import load_mesh

        mesh = load_mesh(path)
    return mesh.verts_list()[0].float(), mesh.faces_list()[0]


_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def run_sds(config: SDSConfig, model=None) -> LoopResult:
    """Runs ``config`` (module docstring); ``model``: an already loaded ``SDSModel`` (default: load
    ``config.model_dir`` on ``config.device``). Returns the core's ``LoopResult`` (``files`` lists what was
    written)."""
    from inverse3d.tasks.invert.sds import SDSLoss, describe_model, load_sds_model

    config.check()
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if config.device == "auto"
                          else config.device)
    options = config.loop_options({}, device=str(device))
    options.check()
    check_checkpoint_target(options.out_dir, options.resume, options.overwrite)  # before the model's loading
    mesh = _load_mesh(config.mesh) if config.target == "mesh" else None  # a bad file fails before loading
    if model is None:
        model = load_sds_model(config.model_dir, device, None if config.dtype == "auto" else _DTYPES[config.dtype])
    loss = SDSLoss(model, config.guidance_scale, config.min_step_frac, config.max_step_frac, config.weighting,
                   config.grad_clip)
    options.config = {**plain_values(config), "model": describe_model(model)}
    return fit_loop(SDSTask(config, loss, mesh), options)
