"""Fitting one 3D representation to one target shape by gradient descent (the course's sections 2.1, 2.3, 2.5).

- ``vox``: a randomly initialised R^3 grid of occupancy logits, class-balanced BCE to the target's voxels.
- ``point``: a random point cloud, chamfer distance to points sampled from the target's surface.
- ``mesh``: an ico-sphere (level chosen) whose vertex offsets are optimised with chamfer distance between points
  sampled on it (fresh samples every step) and the target's points, plus Laplacian smoothing.

The target is a shape of the built-in procedural dataset (category + seed) or a user's mesh file (normalised like
ShapeNet: centred, bounding-box diagonal 1; voxelised assuming it is closed). ``fit(config)`` writes into
``config.out_dir``: ``loss.png`` (the loss curve), ``progress.gif`` (a frame every ``frame_every`` steps, the camera
turning a little each frame) and ``target_vs_fit.gif`` (turntables of target and fit side by side).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

FIT_KINDS = ("vox", "point", "mesh")
DEFAULT_LR = {"vox": 0.1, "point": 0.01, "mesh": 0.01}


@dataclass
class FitConfig:
    """Options of ``inverse3d fit``: what to fit, to which target, for how long, and what to write."""

    kind: Literal["vox", "point", "mesh"] = "vox"
    """Representation to fit: a voxel grid, a point cloud or a deformed ico-sphere mesh."""
    category: str = "chair"
    """Category of the procedural target shape (chair, table or sofa); ignored with --mesh."""
    seed: int = 0
    """Seed of the procedural target shape (the same seed always gives the same shape)."""
    mesh: Path | None = None
    """A mesh file (.obj, .ply, .glb, .off, .stl) to fit instead of a procedural shape; normalised to bounding-box
    diagonal 1 and centred."""
    steps: int = 1000
    """Optimisation steps (Adam)."""
    lr: float | None = None
    """Learning rate; default per kind: 0.1 (vox), 0.01 (point, mesh)."""
    voxel_res: int = 32
    """Voxel grid resolution R (vox; also the target's voxelisation)."""
    n_points: int = 2000
    """Points of the fitted cloud (point), and points sampled on target and mesh each step (point, mesh)."""
    ico_level: int = 4
    """Subdivision level of the ico-sphere that is deformed (mesh): level L has 10 * 4^L + 2 vertices."""
    w_chamfer: float = 1.0
    """Weight of the chamfer term (mesh)."""
    w_smooth: float = 0.1
    """Weight of the Laplacian smoothing term (mesh)."""
    init_seed: int = 0
    """Seed of the random initialisation and the point sampling."""
    frame_every: int = 25
    """A progress frame every this many steps (and at the first and last step)."""
    n_frames: int = 24
    """Frames of each turntable in target_vs_fit.gif."""
    image_size: int = 128
    """Side of rendered frames in pixels."""
    out_dir: Path = Path("out/fit")
    """Folder for loss.png, progress.gif and target_vs_fit.gif."""
    device: str = "cpu"
    """Torch device to fit on (cpu, cuda, cuda:1, ...)."""
    progress: bool = True
    """Show a tqdm progress bar."""
    render: bool = True
    """Write the GIFs (False: only the loss curve)."""


@dataclass
class FitTarget:
    """A target shape: mesh, voxels (R, R, R) occupancy over [-0.5, 0.5]^3 and (P, 3) surface points."""

    verts: torch.Tensor
    faces: torch.Tensor
    voxels: torch.Tensor
    points: torch.Tensor
    name: str

    def meshes(self):
        from inverse3d.structures import Meshes

        return Meshes(verts=[self.verts], faces=[self.faces])


@dataclass
class FitResult:
    """What ``fit`` produced: the loss of every step, the fitted representation and the files written."""

    losses: list[float]
    fitted: object  # (R, R, R) logits, (P, 3) points, or a Meshes
    target: FitTarget
    files: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0


def normalize_verts(verts: torch.Tensor) -> torch.Tensor:
    """(V, 3) -> (V, 3) centred at the bounding-box centre, bounding-box diagonal 1 (CONVENTIONS.md)."""
    lo, hi = verts.min(0).values, verts.max(0).values
    diag = (hi - lo).norm()
    if not torch.isfinite(diag) or diag <= 0:
        raise ValueError("cannot normalise a mesh with an empty or degenerate bounding box")
    return (verts - (lo + hi) / 2) / diag


def load_target(config: FitConfig) -> FitTarget:
    """The target of ``config``: the user's mesh file (normalised, voxelised, sampled) or a procedural shape."""
    from inverse3d.ops import sample_points_from_meshes, voxelize_meshes
    from inverse3d.structures import Meshes

    device = torch.device(config.device)
    if config.mesh is not None:
        from inverse3d.io import load_mesh

        mesh = load_mesh(config.mesh, device=device)
        verts = normalize_verts(mesh.verts_packed().float())
        faces = mesh.faces_packed()
        name = Path(config.mesh).stem
        voxels = voxelize_meshes(Meshes(verts=[verts], faces=[faces]), config.voxel_res)[0]
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(config.seed)  # the target's samples depend on the target's seed only
            points = sample_points_from_meshes(Meshes(verts=[verts], faces=[faces]), config.n_points)[0]
    else:
        from inverse3d.datasets.builtin import render_sample

        item = render_sample(config.category, config.seed, image_size=32, n_points=config.n_points,
                             voxel_res=config.voxel_res, device=device)
        verts, faces, voxels, points = (item[k].to(device) for k in ("verts", "faces", "voxels", "points"))
        name = f"{config.category} seed {config.seed}"
    return FitTarget(verts, faces, voxels, points, name)


class _Fitter:
    """One representation being fitted: ``params`` for the optimiser, ``loss()`` and ``current()`` to render."""

    def __init__(self, config: FitConfig, target: FitTarget) -> None:
        self.config, self.target = config, target
        dev = target.verts.device
        R = config.voxel_res
        if config.kind == "vox":
            if tuple(target.voxels.shape) != (R, R, R):
                raise ValueError(f"target voxels are {tuple(target.voxels.shape)}, expected ({R}, {R}, {R})")
            self.x = torch.rand(1, R, R, R, device=dev).requires_grad_(True)  # logits, as the course
        elif config.kind == "point":
            self.x = (torch.rand(1, config.n_points, 3, device=dev) - 0.5).requires_grad_(True)
        elif config.kind == "mesh":
            from inverse3d.utils.ico_sphere import ico_sphere_verts_faces

            verts, faces = ico_sphere_verts_faces(config.ico_level, device=dev)
            self.template, self.faces = verts * 0.5, faces
            self.x = torch.zeros_like(self.template).requires_grad_(True)  # vertex offsets
        else:
            raise ValueError(f"unknown kind {config.kind!r}; choose one of {FIT_KINDS}")
        self.params = [self.x]

    def mesh(self):
        from inverse3d.structures import Meshes

        return Meshes(verts=[self.template + self.x], faces=[self.faces])

    def loss(self) -> torch.Tensor:
        from inverse3d.loss import chamfer_distance, mesh_laplacian_smoothing, voxel_bce_loss

        c = self.config
        if c.kind == "vox":
            return voxel_bce_loss(self.x, self.target.voxels[None])
        if c.kind == "point":
            return chamfer_distance(self.x, self.target.points[None])[0]
        from inverse3d.ops import sample_points_from_meshes

        mesh = self.mesh()
        samples = sample_points_from_meshes(mesh, c.n_points)  # (1, P, 3)
        loss = c.w_chamfer * chamfer_distance(samples, self.target.points[None])[0]
        if c.w_smooth:
            loss = loss + c.w_smooth * mesh_laplacian_smoothing(mesh, method="uniform")
        return loss

    @torch.no_grad()
    def current(self):
        """The fit now, in a form the turntable renders: (R, R, R) logits, (P, 3) points or a Meshes."""
        if self.config.kind == "vox":
            return self.x[0].detach().clone()
        if self.config.kind == "point":
            return self.x[0].detach().clone()
        return self.mesh().detach()


def target_view(target: FitTarget, kind: str):
    """The target as the fitted kind shows it: voxels, points or the mesh."""
    if kind == "vox":
        return target.voxels
    if kind == "point":
        return target.points
    return target.meshes()


def fit(config: FitConfig) -> FitResult:
    """Fits ``config.kind`` to the target and writes the figures (module docstring). Returns a ``FitResult``."""
    from tqdm.auto import tqdm

    from inverse3d.engine.plots import plot_loss_curve, side_by_side
    from inverse3d.engine.views import render_shape_views, shape_turntable
    from inverse3d.viz.images import save_frames

    if config.kind not in FIT_KINDS:
        raise ValueError(f"unknown kind {config.kind!r}; choose one of {FIT_KINDS}")
    if config.steps < 1:
        raise ValueError(f"steps must be at least 1; got {config.steps}")
    if config.frame_every < 1:
        raise ValueError(f"frame_every must be at least 1; got {config.frame_every}")
    t0 = time.perf_counter()
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = load_target(config)
    torch.manual_seed(config.init_seed)
    fitter = _Fitter(config, target)
    lr = config.lr if config.lr is not None else DEFAULT_LR[config.kind]
    optimizer = torch.optim.Adam(fitter.params, lr=lr)
    losses: list[float] = []
    frames: list[np.ndarray] = []
    n_progress = config.steps // config.frame_every + 2

    def snapshot(k: int) -> None:
        if config.render:
            azim = 30.0 + 360.0 * k / max(n_progress, 1)
            frames.append(render_shape_views(fitter.current(), [azim], config.image_size)[0])

    snapshot(0)
    bar = tqdm(range(config.steps), desc=f"fit {config.kind}", disable=not config.progress)
    for step in bar:
        loss = fitter.loss()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
        if (step + 1) % config.frame_every == 0 or step + 1 == config.steps:
            snapshot(len(frames))
    files = {"loss": plot_loss_curve(out / "loss.png", losses, f"fit {config.kind} to {target.name}")}
    if config.render:
        files["progress"] = save_frames(np.stack(frames), out / "progress.gif", fps=8)
        tgt = shape_turntable(target_view(target, config.kind), config.n_frames, config.image_size)
        fitted = shape_turntable(fitter.current(), config.n_frames, config.image_size)
        files["target_vs_fit"] = save_frames(side_by_side(tgt, fitted), out / "target_vs_fit.gif", fps=12)
    return FitResult(losses, fitter.current(), target, files, time.perf_counter() - t0)
