"""Fitting one 3D representation to one target shape by gradient descent (the course's sections 2.1, 2.3, 2.5).

- ``vox``: a randomly initialised R^3 grid of occupancy logits, class-balanced BCE to the target's voxels.
- ``point``: a random point cloud, chamfer distance to points sampled from the target's surface.
- ``mesh``: an ico-sphere (level chosen) whose vertex offsets are optimised with chamfer distance between points
  sampled on it (fresh samples every step) and the target's points, plus the regularisers of PyTorch3D's
  mesh-fitting tutorial (``w_edge`` x edge length, ``w_normal`` x normal consistency of neighbouring faces,
  ``w_smooth`` x uniform Laplacian smoothing) and its optimiser (SGD, momentum 0.9, lr 1). Chamfer with Laplacian
  smoothing alone (and Adam) folds faces through each other into sails: on the tour's chair (level 3, 300 steps)
  46 % of the faces end up turned inside out and 32 % cross another face; with the defaults, 0.1 % and none, at a
  chamfer distance of 0.0050 instead of 0.0029 (a sphere cannot grow the legs either way; the rest is measured
  against a surface without sails).

The target is a shape of the built-in procedural dataset (category + seed) or a user's mesh file (normalised like
ShapeNet: centred, bounding-box diagonal 1; voxelised assuming it is closed). ``fit(config)`` writes into
``config.out_dir``: ``loss.png`` (the loss curve), ``progress.gif`` (a frame every ``frame_every`` steps, the camera
turning a little each frame) and ``target_vs_fit.gif`` (turntables of target and fit side by side), each file
atomically, while holding ``OutputLock(out_dir)``. Options are checked before any work (``FitConfig.check``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

FIT_KINDS = ("vox", "point", "mesh")
DEFAULT_LR = {"vox": 0.1, "point": 0.01, "mesh": 1.0}
# The mesh is optimised by SGD with this momentum (PyTorch3D's mesh-fitting tutorial), the others by Adam.
MESH_MOMENTUM = 0.9
# Progress frames kept in memory for progress.gif: steps / frame_every may not exceed this.
MAX_PROGRESS_FRAMES = 1000


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
    """Optimisation steps (Adam; SGD for mesh)."""
    lr: float | None = None
    """Learning rate; default per kind: 0.1 (vox, Adam), 0.01 (point, Adam), 1.0 (mesh, SGD with momentum 0.9 as in
    PyTorch3D's mesh-fitting tutorial: Adam would scale every vertex's small, noisy chamfer gradient up to a full
    step and crumple the surface)."""
    voxel_res: int = 32
    """Voxel grid resolution R (vox; also the target's voxelisation)."""
    n_points: int = 2000
    """Points of the fitted cloud (point), and points sampled on target and mesh each step (point, mesh)."""
    ico_level: int = 4
    """Subdivision level of the ico-sphere that is deformed (mesh): level L has 10 * 4^L + 2 vertices; 0 to 6."""
    w_chamfer: float = 1.0
    """Weight of the chamfer term (mesh)."""
    w_edge: float = 3.0
    """Weight of the edge-length regulariser (mesh): keeps edges short and even, so no face is stretched into a
    sail towards a thin part of the target (0 turns it off)."""
    w_normal: float = 0.01
    """Weight of the normal-consistency regulariser (mesh): neighbouring faces stay nearly parallel, no folds."""
    w_smooth: float = 0.5
    """Weight of the uniform Laplacian smoothing term (mesh). PyTorch3D's mesh-fitting tutorial uses edge 1, normal
    0.01, Laplacian 0.1; on the built-in chairs those grow fins towards the legs in long runs (after 1000 steps at
    level 4, 8 % of the faces cross another face; 5 % with these defaults, 39 % with Laplacian 0.1 alone)."""
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

    def check(self) -> None:
        """Raises ``ValueError`` (one line naming the option) for options that cannot work, ``FileNotFoundError``
        for a missing --mesh; called by ``fit`` before any work and before any folder is created."""
        from inverse3d.datasets.procedural import CATEGORIES
        from inverse3d.training.options import check_float, check_folder, check_int

        if self.kind not in FIT_KINDS:
            raise ValueError(f"kind {self.kind!r}: choose one of {', '.join(FIT_KINDS)}")
        if self.mesh is None:
            if self.category not in CATEGORIES:
                raise ValueError(f"--category {self.category!r}: unknown category; choose from "
                                 f"{', '.join(CATEGORIES)}")
        else:
            mesh = Path(self.mesh)
            if not str(self.mesh).strip():
                raise ValueError("--mesh: empty path")
            if mesh.is_dir():
                raise ValueError(f"{mesh}: is a folder, not a mesh file (--mesh)")
            if not mesh.is_file():
                raise FileNotFoundError(f"{mesh}: no such mesh file (--mesh)")
        check_int("--seed", self.seed, 0)
        check_int("--steps", self.steps, 1, 10**7)
        if self.lr is not None:
            check_float("--lr", self.lr, positive=True)
        check_int("--voxel-res", self.voxel_res, 2, 128)
        check_int("--n-points", self.n_points, 1, 10**6)
        check_int("--ico-level", self.ico_level, 0, 6)
        for option, value in (("--w-chamfer", self.w_chamfer), ("--w-edge", self.w_edge),
                              ("--w-normal", self.w_normal), ("--w-smooth", self.w_smooth)):
            check_float(option, value)
        check_int("--init-seed", self.init_seed, 0)
        check_int("--frame-every", self.frame_every, 1)
        if self.render and self.steps // self.frame_every + 2 > MAX_PROGRESS_FRAMES:
            raise ValueError(f"--frame-every {self.frame_every}: {self.steps} steps would give "
                             f"{self.steps // self.frame_every + 2} progress frames, more than "
                             f"{MAX_PROGRESS_FRAMES}; raise --frame-every")
        check_int("--n-frames", self.n_frames, 1, 3600)
        check_int("--image-size", self.image_size, 8, 2048)
        check_folder("--out-dir", self.out_dir)


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
        from inverse3d.loss import (
            chamfer_distance,
            mesh_edge_loss,
            mesh_laplacian_smoothing,
            mesh_normal_consistency,
            voxel_bce_loss,
        )

        c = self.config
        if c.kind == "vox":
            return voxel_bce_loss(self.x, self.target.voxels[None])
        if c.kind == "point":
            return chamfer_distance(self.x, self.target.points[None])[0]
        from inverse3d.ops import sample_points_from_meshes

        mesh = self.mesh()
        samples = sample_points_from_meshes(mesh, c.n_points)  # (1, P, 3)
        loss = c.w_chamfer * chamfer_distance(samples, self.target.points[None])[0]
        if c.w_edge:
            loss = loss + c.w_edge * mesh_edge_loss(mesh)
        if c.w_normal:
            loss = loss + c.w_normal * mesh_normal_consistency(mesh)
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
    from inverse3d.io.outputs import OutputLock

    config.check()
    with OutputLock(Path(config.out_dir), is_dir=True):
        return _fit(config)


def _fit(config: FitConfig) -> FitResult:
    from tqdm.auto import tqdm

    from inverse3d.viz.plots import plot_loss_curve, side_by_side
    from inverse3d.tasks.single_view.views import render_shape_views, shape_turntable
    from inverse3d.viz.images import save_frames

    t0 = time.perf_counter()
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = load_target(config)
    torch.manual_seed(config.init_seed)
    fitter = _Fitter(config, target)
    lr = config.lr if config.lr is not None else DEFAULT_LR[config.kind]
    if config.kind == "mesh":
        optimizer = torch.optim.SGD(fitter.params, lr=lr, momentum=MESH_MOMENTUM)
    else:
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
