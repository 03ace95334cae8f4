"""A mesh's shape from multi-view silhouettes and RGB images (PyTorch3D's "fit a textured mesh" tutorial).

An ico sphere (or the user's template) is deformed into the target: its vertex positions and per-vertex colours
(logits) are optimised with Adam so that its soft silhouettes and soft Phong (or flat) renderings match the target
views, with the tutorial's regularisers: ``w_edge`` x ``mesh_edge_loss`` (even edge lengths), ``w_normal`` x
``mesh_normal_consistency`` (no creases) and ``w_laplacian`` x ``mesh_laplacian_smoothing`` (uniform; no spikes).

Coarse to fine (``ShapeModel``): ``stages`` stages, each with its own vertex tensor; at the start of stage s the
mesh of stage s-1 is subdivided (``inverse3d.ops.SubdivideMeshes``: every triangle into four, new vertices at edge
midpoints, colours likewise) into stage s's tensors. The images grow with the stages (the last stage at
``image_size``, each earlier one at half the next one's size: the targets are area-averaged) while the soft edge
narrows (``sigma`` doubles per earlier stage), so the first stages see the big picture fast and the last one the
details. Which views a step uses is drawn from the global RNG (``views_per_step``): a resumed run continues exactly.

Reported: chamfer distance (``metrics.shapes.chamfer_l2``) and F1@t (t = 0.01 ... 0.05) between points sampled on the
result and on the ground truth (the built-in mesh, or the scene's ``mesh.ply``), in ShapeNet units for the built-in
target (bounding-box diagonal 1).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from inverse3d.tasks.invert.common import (ProgressFrames, InvertOptions, check_choice, check_finite, cosine_lr,
                                           headlights, image_loss, orbit_cameras, over_white, soft_renderer)
from inverse3d.training import Batches, Run, Trainable, fit_loop

__all__ = ["ShapeConfig", "ShapeModel", "ShapeResult", "fit_shape", "shape_metrics", "stage_boundaries"]


@dataclass
class ShapeConfig(InvertOptions):
    """Options of ``inverse3d invert shape``."""

    iterations: int = 400
    """Adam steps over all stages."""
    lr: float = 0.01
    """Adam's learning rate of the vertex positions (colours: 5x; cosine decay to 10% within each stage)."""
    target: str = "cow"
    """"cow" (the built-in cow-like mesh, genus 0, rendered from --n-views views) or a scene folder (any format
    load_scene reads; its training images with their alpha masks and cameras; its mesh.ply, if any, for the
    metrics)."""
    template: str | None = None
    """A mesh file to deform instead of the ico sphere (genus and vertex count are kept; subdivided per stage)."""
    level: int = 2
    """Ico-sphere level of the first stage (each later stage subdivides once: level 2 -> 4 over 3 stages)."""
    stages: int = 3
    """Coarse-to-fine stages."""
    radius: float = 0.45
    """Radius of the initial ico sphere (around the origin)."""
    image_size: int = 128
    """Size of the built-in views (and of the last stage's renderings)."""
    n_views: int = 20
    """Built-in views."""
    views_per_step: int = 4
    """Views rendered per step, drawn at random."""
    shader: str = "phong"
    """RGB term: phong (point light at each camera), flat (unlit colours) or silhouette (no RGB term)."""
    loss: str = "mse"
    """Image loss of silhouettes and RGB: mse or l1."""
    sigma: float = 1e-4
    """Soft edge width of the last stage (doubled for each earlier stage)."""
    gamma: float = 1e-4
    """Depth softness of the colour blend."""
    faces_per_pixel: int = 20
    """Faces blended per pixel (too few biases the silhouette's gradients where faces pile up)."""
    w_silhouette: float = 1.0
    """Weight of the silhouette loss."""
    w_rgb: float = 1.0
    """Weight of the RGB loss."""
    w_edge: float = 1.0
    """Weight of mesh_edge_loss."""
    w_normal: float = 0.01
    """Weight of mesh_normal_consistency."""
    w_laplacian: float = 1.0
    """Weight of mesh_laplacian_smoothing (uniform)."""
    n_points: int = 20000
    """Points sampled on each surface for chamfer and F1."""

    def check(self) -> None:
        from inverse3d.training.options import check_float, check_int

        self.check_run()
        check_choice("--shader", self.shader, ("phong", "flat", "silhouette"))
        check_choice("--loss", self.loss, ("mse", "l1"))
        check_int("--level", self.level, 0, 6)
        check_int("--stages", self.stages, 1, 4)
        check_int("--image-size", self.image_size, 8, 2048)
        check_int("--n-views", self.n_views, 1, 10000)
        check_int("--views-per-step", self.views_per_step, 1)
        check_int("--faces-per-pixel", self.faces_per_pixel, 1, 100)
        check_int("--n-points", self.n_points, 100)
        for name in ("radius", "sigma", "gamma"):
            check_float("--" + name, getattr(self, name), positive=True)
        for name in ("w_silhouette", "w_rgb", "w_edge", "w_normal", "w_laplacian"):
            check_float("--" + name.replace("_", "-"), getattr(self, name))
            if getattr(self, name) < 0:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 0; got {getattr(self, name)}")
        if self.iterations < self.stages:
            raise ValueError(f"--iterations ({self.iterations}) must be at least --stages ({self.stages})")
        if self.target != "cow" and not Path(self.target).exists():
            raise ValueError(f"--target {self.target}: no such scene folder (or use the built-in 'cow')")


def stage_boundaries(iterations: int, stages: int) -> list[int]:
    """First step of each stage: equal shares of ``iterations`` (the first stage starts at 0)."""
    return [round(iterations * s / stages) for s in range(stages)]


class ShapeModel(torch.nn.Module):
    """The deforming mesh at every stage: ``verts_s`` (V_s, 3) and ``color_logits_s`` (V_s, 3) parameters, faces
    ``faces_s`` (F_s, 3) buffers, s = 0 .. stages - 1; stage s + 1's topology is stage s's subdivided.

    Args:
        verts: (V, 3) the first stage's vertices; faces: (F, 3) long.
        stages: how many stages.
    """

    def __init__(self, verts: torch.Tensor, faces: torch.Tensor, stages: int) -> None:
        super().__init__()
        from inverse3d.ops import SubdivideMeshes
        from inverse3d.structures import Meshes

        self.stages = stages
        mesh = Meshes([verts], [faces])
        for s in range(stages):
            v, f = mesh.verts_packed(), mesh.faces_packed()
            self.register_parameter(f"verts_{s}", torch.nn.Parameter(v.clone() if s == 0 else torch.zeros_like(v)))
            self.register_parameter(f"color_logits_{s}", torch.nn.Parameter(torch.zeros_like(v)))
            self.register_buffer(f"faces_{s}", f.clone())
            if s + 1 < stages:
                mesh = SubdivideMeshes()(mesh)

    def verts(self, s: int) -> torch.Tensor:
        return getattr(self, f"verts_{s}")

    def colors(self, s: int) -> torch.Tensor:
        return torch.sigmoid(getattr(self, f"color_logits_{s}"))

    def faces(self, s: int) -> torch.Tensor:
        return getattr(self, f"faces_{s}")

    @torch.no_grad()
    def advance(self, s: int) -> None:
        """Stage ``s`` (>= 1) starts from stage s - 1 subdivided: positions and colour logits at edge midpoints."""
        from inverse3d.ops import SubdivideMeshes
        from inverse3d.structures import Meshes

        prev = self.faces(s - 1)
        sub = SubdivideMeshes()
        self.verts(s).copy_(sub(Meshes([self.verts(s - 1)], [prev])).verts_packed())
        self.get_parameter(f"color_logits_{s}").copy_(
            sub(Meshes([self.get_parameter(f"color_logits_{s - 1}")], [prev])).verts_packed())

    def meshes(self, s: int, n: int = 1):
        """``n`` copies of the stage-``s`` mesh with its vertex colours (``TexturesVertex``)."""
        from inverse3d.renderer import TexturesVertex
        from inverse3d.structures import Meshes

        v, f, c = self.verts(s), self.faces(s), self.colors(s)
        return Meshes([v] * n, [f] * n, textures=TexturesVertex([c] * n))


@dataclass
class ShapeTargets:
    """Target views: RGB (N, H, W, 3) over white, silhouettes (N, H, W), cameras; the ground-truth mesh or None."""

    images: torch.Tensor
    masks: torch.Tensor
    cameras: Any
    truth: Any


def _pool(x: torch.Tensor, factor: int) -> torch.Tensor:
    """(N, H, W[, C]) area-averaged by ``factor``."""
    if factor == 1:
        return x
    squeeze = x.ndim == 3
    y = (x[..., None] if squeeze else x).permute(0, 3, 1, 2)
    y = torch.nn.functional.avg_pool2d(y, factor).permute(0, 2, 3, 1)
    return y[..., 0] if squeeze else y


def _targets(cfg: ShapeConfig, device) -> ShapeTargets:
    if cfg.target == "cow":
        from inverse3d.tasks.invert.meshes import cow_like_mesh

        truth = cow_like_mesh(device=device)
        cams = orbit_cameras(cfg.n_views, device=device)
        sharp = soft_renderer(cams, cfg.image_size, "phong" if cfg.shader != "flat" else "flat", sigma=1e-7,
                              faces_per_pixel=1, blur=False)
        with torch.no_grad():
            rgba = sharp(truth.extend(cfg.n_views))
        return ShapeTargets(over_white(rgba), rgba[..., 3], cams, truth)
    from inverse3d.datasets.scenes import load_scene

    scene = load_scene(cfg.target, "train")
    items = [scene[i] for i in range(len(scene))]
    images = torch.stack([it["image"] for it in items]).to(device)
    check_finite(f"--target {cfg.target} images", images)
    if any(it["mask"] is None for it in items):
        raise ValueError(f"--target {cfg.target}: the views need silhouettes (RGBA images or mask files)")
    masks = torch.stack([it["mask"] for it in items]).to(device)
    truth = None
    if (Path(cfg.target) / "mesh.ply").is_file():
        from inverse3d.io import load_ply
        from inverse3d.structures import Meshes

        v, f = load_ply(Path(cfg.target) / "mesh.ply")
        truth = Meshes([v.to(device)], [f.to(device)])
    return ShapeTargets(images, masks, scene.cameras.to(device), truth)


class _ShapeTask(Trainable):
    name = "invert shape"

    def __init__(self, cfg: ShapeConfig, targets: ShapeTargets, verts0: torch.Tensor, faces0: torch.Tensor) -> None:
        self.cfg, self.targets, self.verts0, self.faces0 = cfg, targets, verts0, faces0
        self.frames = ProgressFrames(cfg.frame_every)
        self.starts = stage_boundaries(cfg.iterations, cfg.stages)
        self.builtin = cfg.target == "cow"

    def stage(self, step: int) -> int:
        return max(s for s, b in enumerate(self.starts) if step >= b)

    def batches(self, run: Run) -> Batches:
        n, k = self.targets.images.shape[0], self.cfg.views_per_step
        return Batches(of_step=lambda step: torch.arange(n) if k >= n else torch.randperm(n)[:k])

    def build(self, run: Run):
        cfg = self.cfg
        self.model = ShapeModel(self.verts0.to(run.device), self.faces0.to(run.device), cfg.stages)
        geometry = [p for n, p in self.model.named_parameters() if n.startswith("verts_")]
        colour = [p for n, p in self.model.named_parameters() if n.startswith("color_")]
        self.optimizer = torch.optim.Adam([{"params": geometry, "lr": cfg.lr, "lr_scale": 1.0},
                                           {"params": colour, "lr": cfg.lr * 5, "lr_scale": 5.0}], lr=cfg.lr)
        self.renderers = []
        full = self.targets.images.shape[1]
        for s in range(cfg.stages):
            factor = 2 ** (cfg.stages - 1 - s) if self.builtin else 1
            size = max(full // factor, 8)
            factor = full // size
            sigma = cfg.sigma * 2 ** (cfg.stages - 1 - s)
            sil = soft_renderer(self.targets.cameras, size, "silhouette", sigma, cfg.gamma, cfg.faces_per_pixel)
            rgb = None if cfg.shader == "silhouette" else soft_renderer(
                self.targets.cameras, size, cfg.shader, sigma, cfg.gamma, cfg.faces_per_pixel)
            if not self.builtin:
                for r in (sil, rgb):
                    if r is not None:
                        r.rasterizer.raster_settings.image_size = tuple(self.targets.images.shape[1:3])
            self.renderers.append((sil, rgb, _pool(self.targets.images, factor), _pool(self.targets.masks, factor)))
        return self.model, self.optimizer

    def render(self, model: ShapeModel, s: int, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(silhouettes (B, H, W), RGB over white (B, H, W, 3) or None) of views ``idx`` at stage ``s``."""
        sil_r, rgb_r, _, _ = self.renderers[s]
        cams = self.targets.cameras[idx.tolist()]
        meshes = model.meshes(s, len(idx))
        if rgb_r is None:
            return sil_r(meshes, cameras=cams)[..., 3], None
        kwargs: dict[str, Any] = {"cameras": cams}
        if self.cfg.shader == "phong":
            kwargs["lights"] = headlights(cams)
        rgba = rgb_r(meshes, **kwargs)
        # The RGB renderer's alpha is the same soft silhouette (SoftRas coverage): one rasterisation serves both.
        return rgba[..., 3], over_white(rgba)

    def loss(self, model: ShapeModel, idx: torch.Tensor, step: int) -> torch.Tensor:
        from inverse3d.loss import mesh_edge_loss, mesh_laplacian_smoothing, mesh_normal_consistency

        cfg = self.cfg
        s = self.stage(step)
        if s > 0 and step == self.starts[s]:
            model.advance(s)
        start, end = self.starts[s], (self.starts[s + 1] if s + 1 < cfg.stages else cfg.iterations)
        cosine_lr(self.optimizer, cfg.lr, step - start, end - start)
        _, _, images, masks = self.renderers[s]
        sil, rgb = self.render(model, s, idx)
        loss = cfg.w_silhouette * image_loss(sil[..., None], masks[idx][..., None], cfg.loss).mean()
        if rgb is not None and cfg.w_rgb > 0:
            loss = loss + cfg.w_rgb * image_loss(rgb, images[idx], cfg.loss).mean()
        mesh = model.meshes(s)
        loss = loss + cfg.w_edge * mesh_edge_loss(mesh) + cfg.w_normal * mesh_normal_consistency(mesh)
        loss = loss + cfg.w_laplacian * mesh_laplacian_smoothing(mesh, method="uniform")
        if self.frames.due(step):
            k = int(idx[0])
            big = self.targets.images.shape[1]
            up = lambda x: torch.nn.functional.interpolate(  # noqa: E731
                x.detach().permute(0, 3, 1, 2), size=(big, big), mode="nearest").permute(0, 2, 3, 1)[0]
            cur = rgb if rgb is not None else (1 - sil)[..., None].expand(*sil.shape, 3)
            self.frames.add(self.targets.images[k], up(cur[:1]))
        return loss

    def checkpoint_entries(self) -> dict[str, Any]:
        return {"frames": self.frames.state()}

    def restore(self, checkpoint: dict[str, Any]) -> None:
        self.frames.load(checkpoint.get("frames", {}))


def shape_metrics(pred, truth, n_points: int = 20000, seed: int = 0) -> dict[str, Any]:
    """Chamfer (L2) and F1@t (t = 0.01 ... 0.05, percent) between ``n_points`` sampled on two one-mesh ``Meshes``."""
    from inverse3d.metrics.shapes import THRESHOLDS, chamfer_l2, f1_scores
    from inverse3d.ops import sample_points_from_meshes

    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        with torch.no_grad():
            p = sample_points_from_meshes(pred, n_points)
            g = sample_points_from_meshes(truth, n_points)
    finally:
        torch.random.set_rng_state(state)
    f1 = f1_scores(p, g)["f1"][0].tolist()
    return {"chamfer": float(chamfer_l2(p, g)[0]), "f1": {f"{t:g}": v for t, v in zip(THRESHOLDS, f1)}}


@dataclass
class ShapeResult:
    verts: torch.Tensor
    faces: torch.Tensor
    colors: torch.Tensor
    metrics: dict[str, Any] | None
    initial_metrics: dict[str, Any] | None
    seconds: float
    files: dict[str, Path]


def fit_shape(cfg: ShapeConfig) -> ShapeResult:
    """Runs ``cfg`` on the shared training loop; writes into ``cfg.out_dir``: ``mesh.ply`` (with vertex colours),
    ``metrics.json`` (chamfer, F1@t of the start and the result), ``progress.gif`` (target | current view),
    ``result.png`` (targets over renderings), ``loss.png``, ``config.json``, ``checkpoint.pt``."""
    from inverse3d.io.outputs import atomic_write
    from inverse3d.structures import Meshes

    cfg.check()
    t0 = time.perf_counter()
    device = torch.device(cfg.device)
    targets = _targets(cfg, device)
    if cfg.template is None:
        from inverse3d.utils.ico_sphere import ico_sphere_verts_faces

        verts0, faces0 = ico_sphere_verts_faces(cfg.level, device=device)
        verts0 = verts0 * cfg.radius
    else:
        from inverse3d.tasks.invert.meshes import load_known_mesh

        try:
            tmpl = load_known_mesh(cfg.template, device=device)
        except ValueError as err:
            raise ValueError(str(err).replace("--mesh", "--template", 1)) from None
        verts0, faces0 = tmpl.verts_packed(), tmpl.faces_packed()
    task = _ShapeTask(cfg, targets, verts0, faces0)
    initial = None
    if targets.truth is not None:
        initial = shape_metrics(Meshes([verts0], [faces0]), targets.truth, cfg.n_points)
    loop = fit_loop(task, cfg.loop_options())
    model: ShapeModel = loop.model
    s = cfg.stages - 1 if loop.step >= task.starts[-1] else task.stage(max(loop.step - 1, 0))
    verts, faces, colors = (x.detach() for x in (model.verts(s), model.faces(s), model.colors(s)))
    metrics = None
    if targets.truth is not None:
        metrics = shape_metrics(Meshes([verts], [faces]), targets.truth, cfg.n_points)
    out = Path(cfg.out_dir)
    files = dict(loop.files)
    from inverse3d.io import save_ply

    files["mesh"] = atomic_write(out / "mesh.ply", lambda tmp: save_ply(tmp, verts.cpu(), faces.cpu(),
                                                                        colors=colors.cpu()))
    gif = task.frames.save(out / "progress.gif")
    if gif is not None:
        files["progress"] = gif
    from inverse3d.viz.images import image_grid, save_image

    k = min(targets.images.shape[0], 6)
    idx = torch.arange(k)
    with torch.no_grad():
        sil, rgb = task.render(model, s, idx)
    shown = rgb if rgb is not None else (1 - sil)[..., None].expand(*sil.shape, 3)
    if shown.shape[1] != targets.images.shape[1]:
        shown = torch.nn.functional.interpolate(shown.permute(0, 3, 1, 2), size=targets.images.shape[1:3],
                                                mode="nearest").permute(0, 2, 3, 1)
    files["result"] = save_image(out / "result.png", image_grid(
        list(targets.images[:k].cpu()) + list(shown.clamp(0, 1).cpu()), ncols=k))
    seconds = time.perf_counter() - t0
    summary = {"target": cfg.target, "template": cfg.template, "stages": cfg.stages, "level": cfg.level,
               "vertices": int(verts.shape[0]), "faces": int(faces.shape[0]), "initial": initial,
               "result": metrics, "seconds": seconds, "steps": loop.step}
    text = json.dumps(summary, indent=2)
    files["metrics"] = atomic_write(out / "metrics.json", lambda tmp: tmp.write_text(text))
    return ShapeResult(verts.cpu(), faces.cpu(), colors.cpu(), metrics, initial, seconds, files)
