"""A neural SDF fitted to a point cloud (IGR / SIREN style), on the shared training core.

Each step draws ``batch_size`` cloud points (with their normals when the cloud has them), ``batch_size`` points near
the cloud (Gaussian noise of std the distance to each point's 50th neighbour, IGR's local scale) and
``batch_size / 2`` points uniform in the box, evaluates the SDF and its gradient at all of them in one pass, and
minimises::

    w_s |f(x)| (cloud)  +  w_n (1 - cos(grad f, n)) (cloud, if normals)  +  w_e (|grad f| - 1)^2 (near + box)
    + w_o exp(-alpha |f|) (box points: no surface away from the cloud)

The learning rate decays exponentially from ``lr`` to ``lr * lr_final``, over the steps or, with ``max_minutes``, over
whichever runs out first (as in NeRF training). At the end (``finish``) the SDF is sampled on a grid over the box and
meshed by marching cubes at level 0 (``mesh.ply``), compared with the ground truth when known (``metrics.json``:
chamfer and F1@t of points sampled on the mesh against points sampled on the true surface), and two turntables are
written: the input cloud (rasterised points) and the sphere-traced SDF.

The cloud comes from a PLY file (``cloud``; normalised to bounding-box diagonal 1 unless ``normalize=False``) or from
a built-in shape (``shape``, ``inverse3d.tasks.surface.shapes``), whose surface is then the ground truth.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch

from inverse3d.training import Batches, LoopResult, Run, Trainable, fit_loop
from inverse3d.training.options import RunOptions

__all__ = ["FitPointsConfig", "PointCloud", "load_point_cloud", "make_sdf_field", "PointsSDFTask", "fit_points",
           "load_points_checkpoint"]

FIELDS = ("mlp", "hashgrid")
DEFAULT_LR = {"mlp": 2e-3, "hashgrid": 1e-2}


@dataclass
class FitPointsConfig(RunOptions):
    """Options of ``inverse3d surface fit-points`` (the run's are ``RunOptions``, with this command's defaults)."""

    cloud: str | None = None
    """A PLY point cloud (positions, optional nx/ny/nz normals) to fit; or use --shape."""
    shape: str | None = None
    """A built-in shape to sample the cloud from: chair, table, sofa, torus, sphere, cube (its surface is the ground
    truth of the metrics)."""
    shape_seed: int = 0
    """Which procedural chair / table / sofa."""
    n_points: int = 10000
    """Points drawn from --shape (a --cloud file is used whole)."""
    gt_mesh: str | None = None
    """A ground-truth mesh file (OBJ / PLY) for the metrics of a --cloud fit (normalised like the cloud)."""
    use_normals: bool = True
    """Use the cloud's normals (normal-alignment loss) when it has them."""
    normalize: bool = True
    """Centre a --cloud file and scale its bounding-box diagonal to 1 (the metric thresholds assume it)."""
    field: str = "mlp"
    """The SDF network: mlp (SDFMLP: harmonic embedding, softplus MLP, geometric init) or hashgrid (HashGridSDF)."""
    n_layers: int = 4
    """mlp: hidden layers."""
    hidden: int = 128
    """mlp: hidden width (hashgrid: width of its MLP is 64)."""
    n_harmonics: int = 4
    """mlp: octaves of the position's harmonic embedding."""
    log2_hashmap_size: int = 16
    """hashgrid: log2 of the table size per level."""
    finest_resolution: int = 256
    """hashgrid: cells per axis of the finest level, over the box."""
    iterations: int = 1500
    """Training steps."""
    batch_size: int = 2048
    """Cloud points per step (as many near-surface points, half as many uniform box points)."""
    lr: float | None = None
    """Adam's learning rate (default: 2e-3 for mlp, 1e-2 for hashgrid)."""
    lr_final: float = 0.1
    """The learning rate decays exponentially to lr * lr_final."""
    surface_weight: float = 30.0
    """Weight of |f| on the cloud."""
    normal_weight: float = 1.0
    """Weight of the normal alignment (when normals are used)."""
    eikonal_weight: float = 0.1
    """Weight of (|grad f| - 1)^2 on the near-surface and box points."""
    off_surface_weight: float = 0.1
    """Weight of exp(-alpha |f|) on the box points (SIREN's off-surface term)."""
    off_surface_alpha: float = 100.0
    """alpha of the off-surface term."""
    padding: float = 0.1
    """The box is the cloud's bounding box grown by this much on every side."""
    resolution: int = 128
    """Marching-cubes grid points per axis over the box."""
    eval_points: int = 30000
    """Points sampled on the mesh and on the true surface for chamfer / F1."""
    turntable_frames: int = 24
    """Frames of each turntable (0: no turntables)."""
    turntable_size: int = 128
    """Turntable image size."""
    out_dir: str = "out/surface_points"
    """Folder for checkpoint.pt, mesh.ply, metrics.json, turntables, loss.png, config.json."""
    seed: int = 0
    """Seed of the initialisation, the shape's samples and the training samples."""
    max_minutes: float | None = None
    """Stop training after this many minutes (the learning-rate decay then follows the clock)."""
    device: str = "cpu"
    """Torch device."""
    threads: int | None = None
    """CPU threads for torch (default: torch's choice)."""

    def check(self) -> None:
        """ValueError (one line naming the option) for options that cannot work."""
        from inverse3d.training.options import check_float, check_int

        if (self.cloud is None) == (self.shape is None):
            raise ValueError("give exactly one of CLOUD (a PLY file) and --shape NAME")
        if self.shape is not None:
            from inverse3d.tasks.surface.shapes import SHAPES

            if self.shape not in SHAPES:
                raise ValueError(f"--shape must be one of {', '.join(SHAPES)}; got {self.shape!r}")
        if self.field not in FIELDS:
            raise ValueError(f"--field must be one of {', '.join(FIELDS)}; got {self.field!r}")
        check_int("--shape-seed", self.shape_seed, 0)
        check_int("--n-points", self.n_points, 1)
        check_int("--n-layers", self.n_layers, 1)
        check_int("--hidden", self.hidden, 1)
        check_int("--n-harmonics", self.n_harmonics, 0, 20)
        check_int("--log2-hashmap-size", self.log2_hashmap_size, 4, 24)
        check_int("--finest-resolution", self.finest_resolution, 16)
        check_int("--iterations", self.iterations, 1)
        check_int("--batch-size", self.batch_size, 2)
        check_int("--resolution", self.resolution, 8, 1024)
        check_int("--eval-points", self.eval_points, 1)
        check_int("--turntable-frames", self.turntable_frames, 0)
        check_int("--turntable-size", self.turntable_size, 8)
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"--lr must be positive; got {self.lr}")
        if not 0 < self.lr_final <= 1:
            raise ValueError(f"--lr-final must be in (0, 1]; got {self.lr_final}")
        for name in ("surface_weight", "normal_weight", "eikonal_weight", "off_surface_weight"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"--{name.replace('_', '-')} must be >= 0; got {value}")
        check_float("--off-surface-alpha", self.off_surface_alpha)
        if not (math.isfinite(self.padding) and self.padding > 0):
            raise ValueError(f"--padding must be > 0; got {self.padding}")
        if self.threads is not None:
            check_int("--threads", self.threads, 1)

    def learning_rate(self) -> float:
        return DEFAULT_LR[self.field] if self.lr is None else float(self.lr)

    def field_options(self) -> dict[str, Any]:
        """What ``make_sdf_field`` needs to rebuild the network (stored in the checkpoint)."""
        keys = ("field", "n_layers", "hidden", "n_harmonics", "log2_hashmap_size", "finest_resolution")
        return {k: getattr(self, k) for k in keys}

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class PointCloud:
    """The cloud to fit and what is known about it.

    Fields:
        points: (P, 3) float32, normalised coordinates; normals: (P, 3) unit or None.
        gt_points: (G, 3) points on the true surface for the metrics, or None.
        bounds: (lo (3,), hi (3,)) the box of the SDF (the cloud's bounding box + padding).
        source: a description ("shape chair-0", "file x.ply").
    """

    points: torch.Tensor
    normals: torch.Tensor | None
    gt_points: torch.Tensor | None
    bounds: tuple[torch.Tensor, torch.Tensor]
    source: str


def _check_cloud(points: torch.Tensor, normals: torch.Tensor | None, path: str) -> None:
    if points.dim() != 2 or points.shape[1] != 3 or points.shape[0] < 2:
        raise ValueError(f"{path}: needs at least 2 points of 3 coordinates, got {tuple(points.shape)}")
    if not bool(torch.isfinite(points).all()):
        raise ValueError(f"{path}: the point coordinates contain NaN or inf")
    if normals is not None and (normals.shape != points.shape or not bool(torch.isfinite(normals).all())):
        raise ValueError(f"{path}: the normals must be finite, one per point")


def _read_ply_cloud(path: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(P, 3) positions and (P, 3) normals or None from a PLY file; MeshFileError for a missing/malformed file."""
    from inverse3d.io import IO

    p = Path(path)
    if not p.is_file():
        from inverse3d.io.errors import MeshFileError

        raise MeshFileError(path, "no such point cloud file")
    cloud = IO().load_pointcloud(p)
    points = cloud.points_packed().float()
    normals = cloud.normals_packed()
    return points, None if normals is None else normals.float()


def _normalise(points: torch.Tensor, *others: torch.Tensor | None):
    """Centre the bounding box of ``points`` at 0 and scale its diagonal to 1; the same map for ``others``."""
    lo, hi = points.amin(0), points.amax(0)
    diag = float((hi - lo).norm())
    if not diag > 0:
        raise ValueError("the point cloud has a degenerate (zero-size) bounding box")
    centre = (lo + hi) / 2
    return ((points - centre) / diag, *[None if o is None else (o - centre) / diag for o in others])


def load_point_cloud(config: FitPointsConfig) -> PointCloud:
    """The cloud of ``config`` (a file or a built-in shape's samples drawn with ``config.seed``) -> ``PointCloud``."""
    gt = None
    if config.shape is not None:
        from inverse3d.tasks.surface.shapes import builtin_surface, sample_surface

        target = builtin_surface(config.shape, config.shape_seed)
        state = torch.random.get_rng_state()
        try:
            torch.manual_seed(config.seed)
            points, normals = sample_surface(target, config.n_points)
            gt, _ = sample_surface(target, config.eval_points)
        finally:
            torch.random.set_rng_state(state)
        source = f"shape {target.name} ({config.n_points} points)"
    else:
        points, normals = _read_ply_cloud(config.cloud)
        _check_cloud(points, normals, config.cloud)
        if config.gt_mesh is not None:
            gt = _gt_from_mesh(config.gt_mesh, config.eval_points, config.seed)
        if config.normalize:
            if gt is not None:
                # the ground truth follows the cloud's normalisation
                lo, hi = points.amin(0), points.amax(0)
                gt = (gt - (lo + hi) / 2) / float((hi - lo).norm())
            (points,) = _normalise(points)
        source = f"file {config.cloud} ({points.shape[0]} points)"
    if normals is not None:
        normals = torch.nn.functional.normalize(normals, dim=-1)
    if not config.use_normals:
        normals = None
    lo = points.amin(0) - config.padding
    hi = points.amax(0) + config.padding
    return PointCloud(points, normals, gt, (lo, hi), source)


def _gt_from_mesh(path: str, n: int, seed: int) -> torch.Tensor:
    from inverse3d.io import IO
    from inverse3d.ops import sample_points_from_meshes

    if not Path(path).is_file():
        from inverse3d.io.errors import MeshFileError

        raise MeshFileError(path, "no such mesh file (--gt-mesh)")
    mesh = IO().load_mesh(path)
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return sample_points_from_meshes(mesh, n)[0].float()
    finally:
        torch.random.set_rng_state(state)


def make_sdf_field(options: dict[str, Any], bounds) -> torch.nn.Module:
    """The SDF network of ``FitPointsConfig.field_options()`` over the box ``bounds`` (lo (3,), hi (3,)).

    Both start as a sphere of radius 0.3 around the box centre (the MLP's geometric initialisation is around the
    origin, where normalised clouds are centred)."""
    from inverse3d.models.fields import HashGridSDF, SDFMLP

    if options["field"] == "mlp":
        return SDFMLP(n_layers=options["n_layers"], hidden=options["hidden"], n_harmonics=options["n_harmonics"],
                      skips=(options["n_layers"] // 2,) if options["n_layers"] >= 4 else (), radius=0.3)
    lo, hi = (torch.as_tensor(b, dtype=torch.float32) for b in bounds)
    return HashGridSDF(bounds=(lo, hi), radius=0.3, log2_hashmap_size=options["log2_hashmap_size"],
                       finest_resolution=options["finest_resolution"])


class PointsSDFTask(Trainable):
    """``fit_loop``'s view of the point-cloud SDF fit (module docstring)."""

    name = "sdf from points"

    def __init__(self, config: FitPointsConfig) -> None:
        self.config = config
        self.resume_step = 0
        self.seconds_before = 0.0
        self._t0: float | None = None
        self._last: dict[str, float] = {}

    def read_checkpoint(self, path: Path) -> dict[str, Any]:
        from inverse3d.training.checkpoint import CheckpointError, read_checkpoint

        ckpt = read_checkpoint(path)
        stored = ckpt.get("sdf_field")
        if stored != self.config.field_options():
            raise CheckpointError(path, f"holds another network ({stored}), not {self.config.field_options()}")
        self.seconds_before = float(ckpt.get("train_seconds", 0.0))
        return ckpt

    def batches(self, run: Run) -> Batches:
        from inverse3d.ops import knn_points

        self.cloud = load_point_cloud(self.config)
        self.points = self.cloud.points.to(run.device)
        self.normals = None if self.cloud.normals is None else self.cloud.normals.to(run.device)
        self.lo, self.hi = (b.to(run.device) for b in self.cloud.bounds)
        k = min(50, self.points.shape[0] - 1)
        with torch.no_grad():
            # the local scale of IGR: distance to the k-th neighbour (chunked: knn is batched over the queries)
            self.sigma = torch.cat([
                knn_points(self.points[s : s + 8192][None], self.points[None], K=k + 1).dists[0, :, -1].sqrt()
                for s in range(0, self.points.shape[0], 8192)
            ])
        return Batches(of_step=self._batch)

    def _batch(self, step: int) -> dict[str, torch.Tensor]:
        from inverse3d.tasks.surface.losses import points_near_surface, random_points_in_box

        n = self.config.batch_size
        idx = torch.randint(0, self.points.shape[0], (n,), device=self.points.device)
        batch = {
            "surface": self.points[idx],
            "near": points_near_surface(self.points, n, self.sigma),
            "box": random_points_in_box(max(n // 2, 1), self.lo, self.hi),
        }
        if self.normals is not None:
            batch["normals"] = self.normals[idx]
        return batch

    def build(self, run: Run):
        self.model = make_sdf_field(self.config.field_options(), (self.lo, self.hi)).to(run.device)
        eps = 1e-15 if self.config.field == "hashgrid" else 1e-8
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.config.learning_rate(), eps=eps)
        return self.model, self.optimizer

    def loss(self, model, batch: dict[str, torch.Tensor], step: int) -> torch.Tensor:
        from inverse3d.tasks.surface.losses import eikonal_loss, normal_loss, off_surface_loss, surface_loss

        cfg = self.config
        if self._t0 is None:
            self._t0 = time.perf_counter()
        for group in self.optimizer.param_groups:
            group["lr"] = cfg.learning_rate() * cfg.lr_final ** self.schedule_fraction(step)
        core = getattr(model, "module", model)
        surf, near, box = batch["surface"], batch["near"], batch["box"]
        n_s, n_n = surf.shape[0], near.shape[0]
        sdf, grad, _ = core.forward_with_gradient(torch.cat([surf, near, box]), create_graph=True)
        terms = {"surface": surface_loss(sdf[:n_s]), "eikonal": eikonal_loss(grad[n_s:])}
        loss = cfg.surface_weight * terms["surface"] + cfg.eikonal_weight * terms["eikonal"]
        if "normals" in batch and cfg.normal_weight > 0:
            terms["normal"] = normal_loss(grad[:n_s], batch["normals"])
            loss = loss + cfg.normal_weight * terms["normal"]
        if cfg.off_surface_weight > 0:
            terms["off"] = off_surface_loss(sdf[n_s + n_n :], cfg.off_surface_alpha)
            loss = loss + cfg.off_surface_weight * terms["off"]
        self._last = {k: float(v.detach()) for k, v in terms.items()}
        return loss

    def seconds(self) -> float:
        return self.seconds_before + (0.0 if self._t0 is None else time.perf_counter() - self._t0)

    def schedule_fraction(self, step: int) -> float:
        """How far the run is in [0, 1]: steps done, or the larger of that and the time budget spent."""
        frac = step / max(self.config.iterations, 1)
        if self.config.max_minutes is not None:
            frac = max(frac, self.seconds() / (60.0 * self.config.max_minutes))
        return min(frac, 1.0)

    def progress_postfix(self) -> dict[str, str]:
        return {"|f|": f"{self._last['surface']:.4f}"} if "surface" in self._last else {}

    def checkpoint_entries(self) -> dict[str, Any]:
        lo, hi = self.cloud.bounds
        return {"sdf_field": self.config.field_options(), "bounds": [lo.tolist(), hi.tolist()],
                "source": self.cloud.source, "train_seconds": self.seconds()}

    def finish(self, run: Run, result: LoopResult) -> dict[str, Path]:
        if not run.is_main:
            return {}
        return write_outputs(result.model, self.cloud, self.config, run.out_dir, self.seconds())


def write_outputs(model, cloud: PointCloud, config: FitPointsConfig, out_dir: Path, seconds: float) -> dict[str, Path]:
    """mesh.ply, metrics.json and the two turntables of a trained SDF (module docstring) -> the files written."""
    from inverse3d.io.outputs import atomic_write
    from inverse3d.io.ply_io import save_ply
    from inverse3d.tasks.surface.extract import extract_sdf_mesh

    model.eval()
    files: dict[str, Path] = {}
    verts, faces = extract_sdf_mesh(model, cloud.bounds, config.resolution)
    mesh_path = out_dir / "mesh.ply"
    atomic_write(mesh_path, lambda tmp: save_ply(tmp, verts.cpu(), faces.cpu()))
    files["mesh"] = mesh_path
    metrics: dict[str, Any] = {"source": cloud.source, "train_seconds": round(seconds, 2),
                               "mesh_vertices": int(verts.shape[0]), "mesh_faces": int(faces.shape[0])}
    if cloud.gt_points is not None:
        metrics.update(surface_metrics(verts, faces, cloud.gt_points, config.eval_points, config.seed))
    path = out_dir / "metrics.json"
    text = json.dumps(metrics, indent=2)
    atomic_write(path, lambda tmp: tmp.write_text(text))
    files["metrics"] = path
    if config.turntable_frames > 0:
        files.update(write_turntables(model, cloud, out_dir, config.turntable_frames, config.turntable_size,
                                      progress=config.progress))
    return files


def surface_metrics(verts: torch.Tensor, faces: torch.Tensor, gt_points: torch.Tensor, n: int, seed: int) -> dict:
    """Chamfer (mean squared, both ways summed) and precision / recall / F1 (percent) at 0.01 ... 0.05 of ``n``
    points sampled on the mesh against the ground-truth points (G, 3)."""
    from inverse3d.metrics.shapes import THRESHOLDS, chamfer_l2, f1_scores
    from inverse3d.ops import sample_points_from_meshes
    from inverse3d.structures import Meshes

    if faces.shape[0] == 0:
        return {"chamfer_l2": float("inf"), **{f"f1@{t}": 0.0 for t in THRESHOLDS}}
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed + 1)
        pred = sample_points_from_meshes(Meshes([verts.float().cpu()], [faces.cpu()]), n)
    finally:
        torch.random.set_rng_state(state)
    gt = gt_points.float().cpu()[None]
    scores = f1_scores(pred, gt)
    out = {"chamfer_l2": float(chamfer_l2(pred, gt).reshape(-1)[0])}
    for i, t in enumerate(THRESHOLDS):
        out[f"f1@{t}"] = round(float(scores["f1"][0, i]), 2)
        out[f"precision@{t}"] = round(float(scores["precision"][0, i]), 2)
        out[f"recall@{t}"] = round(float(scores["recall"][0, i]), 2)
    return out


def write_turntables(model, cloud: PointCloud, out_dir: Path, n_frames: int, size: int, progress: bool = False
                     ) -> dict[str, Path]:
    """``input_turntable.gif`` (the cloud) and ``sdf_turntable.gif`` (the SDF sphere traced), same cameras."""
    from inverse3d.viz import save_turntable
    from inverse3d.viz.images import save_frames

    files = {"input_turntable": save_turntable(cloud.points, out_dir / "input_turntable.gif", n_frames=n_frames,
                                               image_size=size, progress=progress)}
    frames = render_sdf_turntable(model, cloud.bounds, cloud.points, n_frames, size)
    files["sdf_turntable"] = save_frames(frames, out_dir / "sdf_turntable.gif")
    return files


@torch.no_grad()
def render_sdf_turntable(model, bounds, points: torch.Tensor, n_frames: int, size: int,
                         frames_per_batch: int = 4) -> torch.Tensor:
    """Sphere-traced, Phong-shaded frames (n_frames, size, size, 3) uint8 of an SDF, framed like
    ``viz.render_turntable`` frames the cloud ``points`` (same cameras)."""
    from inverse3d.renderer import FoVPerspectiveCameras, PointLights
    from inverse3d.renderer.sdf import SphereTracingRenderer
    from inverse3d.viz.turntable import _bounding_sphere, turntable_cameras

    device = points.device
    centre, radius = _bounding_sphere(points)
    R, T = turntable_cameras(centre, radius, n_frames)
    lights = PointLights(location=((1.5, 2.5, 2.5),), device=device)
    renderer = SphereTracingRenderer(image_size=size, lights=lights, bounds=bounds, max_iters=64, eps=1e-3,
                                     step_scale=0.9, far=100.0)
    out = []
    for s in range(0, n_frames, frames_per_batch):
        cams = FoVPerspectiveCameras(R=R[s : s + frames_per_batch], T=T[s : s + frames_per_batch], device=device)
        images = renderer(model, cameras=cams, albedo=lambda p: torch.tensor([0.72, 0.77, 0.9]).to(p).expand_as(p))
        out.append((images.images[..., :3].clamp(0, 1) * 255).round().to(torch.uint8).cpu())
    return torch.cat(out)


def fit_points(config: FitPointsConfig) -> LoopResult:
    """Fits a neural SDF to the cloud of ``config`` (module docstring); returns the core's ``LoopResult``."""
    config.check()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    return fit_loop(PointsSDFTask(config), config.loop_options(config.to_dict()))


def load_points_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
    """The trained SDF network (eval mode) and the checkpoint's entries of a ``fit-points`` run."""
    from inverse3d.training.checkpoint import CheckpointError, load_model_state, read_checkpoint

    path = Path(path)
    ckpt = read_checkpoint(path)
    if "sdf_field" not in ckpt or "bounds" not in ckpt:
        raise CheckpointError(path, "is not a surface fit-points checkpoint (no sdf_field)")
    model = make_sdf_field(ckpt["sdf_field"], ckpt["bounds"])
    load_model_state(model, ckpt["model"], path)
    return model.to(device).eval(), ckpt
