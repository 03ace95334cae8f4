"""The texture of a known mesh from posed images (PyTorch3D's "fit a textured mesh" with the geometry given).

Unknown: a UV texture map (``--kind uv``, the mesh's own UVs; ``TexturesUV``) or one colour per vertex
(``--kind vertex``; ``TexturesVertex``), stored as logits (colour = sigmoid(logit): always in [0, 1], never stuck at a
clamp). Because the geometry and the cameras are fixed, each view is rasterised once (``Fragments``) and every step only
shades: the texture lookup, the lighting and the blend. Shaders: ``phong`` (``SoftPhongShader``, a point light at each
camera -- the built-in targets' lighting) or ``flat`` (unlit: the texture's colour; with a scene lit by lights fixed in
the world it bakes the diffuse shading into the texture). The loss is the image loss (mse or l1) of the views composited
over white.

Data: the built-in cow-like mesh with its true texture rendered from ``n_views`` orbit views (training) and ``n_test``
views between them (held out), or a scene folder (any format ``load_scene`` reads: the user's images with their cameras;
held-out views from its test split) with the user's mesh (``--mesh``, or the scene's ``mesh.ply``). Reported: image
PSNR on the held-out views and, when the true texture is known, texture PSNR over the texels the training views see.
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

__all__ = ["TextureConfig", "TextureResult", "fit_texture", "texture_views"]

TEXTURE_KINDS = ("uv", "vertex")


@dataclass
class TextureConfig(InvertOptions):
    """Options of ``inverse3d invert texture``."""

    iterations: int = 300
    """Adam steps."""
    lr: float = 0.1
    """Adam's learning rate on the colour logits (cosine decay to 10%)."""
    mesh: str = "cow"
    """The known mesh: "cow" (built-in, textured: the truth is known) or a mesh file (with --scene)."""
    scene: str | None = None
    """A scene folder (NeRF-synthetic, nerfstudio, COLMAP, LLFF, course) whose training views are the targets and
    whose test (else val) views are held out; default: the built-in views of --mesh cow."""
    kind: str = "uv"
    """What to recover: uv (a texture map over the mesh's UVs) or vertex (a colour per vertex)."""
    texture_size: int = 128
    """Height of the recovered map for --kind uv with the built-in mesh (its width is 1.5x); a user's mesh keeps
    its map's size."""
    image_size: int = 128
    """Size of the built-in views in pixels."""
    n_views: int = 20
    """Built-in training views."""
    n_test: int = 5
    """Built-in held-out views (between the training azimuths)."""
    views_per_step: int | None = None
    """Views shaded per step, drawn at random (default: all)."""
    shader: str = "phong"
    """phong (point light at each camera, as the built-in targets) or flat (unlit colour)."""
    loss: str = "mse"
    """Image loss: mse or l1."""
    sigma: float = 1e-7
    """Edge width of the colour blend (the geometry is known: it is rasterised hard, blur radius 0)."""
    gamma: float = 1e-4
    """Depth softness of the colour blend."""
    faces_per_pixel: int = 1
    """Faces blended per pixel."""

    def check(self) -> None:
        from inverse3d.training.options import check_float, check_int

        self.check_run()
        check_choice("--kind", self.kind, TEXTURE_KINDS)
        check_choice("--shader", self.shader, ("phong", "flat"))
        check_choice("--loss", self.loss, ("mse", "l1"))
        check_int("--texture-size", self.texture_size, 2, 4096)
        check_int("--image-size", self.image_size, 8, 2048)
        check_int("--n-views", self.n_views, 1, 10000)
        check_int("--n-test", self.n_test, 0, 10000)
        check_int("--faces-per-pixel", self.faces_per_pixel, 1, 100)
        if self.views_per_step is not None:
            check_int("--views-per-step", self.views_per_step, 1)
        check_float("--sigma", self.sigma, positive=True)
        check_float("--gamma", self.gamma, positive=True)
        if self.scene is None and self.mesh != "cow":
            raise ValueError(f"--mesh {self.mesh}: a user's mesh needs its posed images (--scene FOLDER)")


@dataclass
class Views:
    """Posed target images: (N, H, W, 3) over white, (N, H, W) coverage, the cameras and their lights."""

    images: torch.Tensor
    masks: torch.Tensor
    cameras: Any
    lights: Any

    def __len__(self) -> int:
        return self.images.shape[0]


def _render_views(mesh, cameras, image_size: int, shader: str, device) -> Views:
    lights = headlights(cameras) if shader == "phong" else None
    sharp = soft_renderer(cameras, image_size, shader, sigma=1e-7, faces_per_pixel=1, blur=False, lights=lights)
    with torch.no_grad():
        rgba = sharp(mesh.extend(len(cameras)).to(device))
    return Views(over_white(rgba), rgba[..., 3], cameras, lights)


def _scene_views(path: str, split: str, shader: str, device) -> Views | None:
    from inverse3d.datasets.scenes import load_scene

    try:
        scene = load_scene(path, split)
    except ValueError:
        if split == "train":
            raise
        return None
    items = [scene[i] for i in range(len(scene))]
    images = torch.stack([it["image"] for it in items]).to(device)
    check_finite(f"--scene {path} ({split} images)", images)
    masks = torch.stack([it["mask"] if it["mask"] is not None else torch.ones(images.shape[1:3])
                         for it in items]).to(device)
    cams = scene.cameras.to(device)
    return Views(images, masks, cams, headlights(cams) if shader == "phong" else None)


def texture_views(cfg: TextureConfig, mesh, device) -> tuple[Views, Views | None]:
    """(training views, held-out views or None) of ``cfg``: the built-in renderings or the scene's splits."""
    if cfg.scene is None:
        train = orbit_cameras(cfg.n_views, device=device)
        offset = 180.0 / max(cfg.n_views, 1) + 7.0  # between the training azimuths
        test = orbit_cameras(cfg.n_test, offset=offset, device=device) if cfg.n_test else None
        return (_render_views(mesh, train, cfg.image_size, cfg.shader, device),
                None if test is None else _render_views(mesh, test, cfg.image_size, cfg.shader, device))
    if not Path(cfg.scene).exists():
        raise ValueError(f"--scene {cfg.scene}: no such folder")
    held = _scene_views(cfg.scene, "test", cfg.shader, device) or _scene_views(cfg.scene, "val", cfg.shader, device)
    return _scene_views(cfg.scene, "train", cfg.shader, device), held


class TextureModel(torch.nn.Module):
    """Colour logits: (H, W, 3) for a UV map or (V, 3) per vertex; ``colors()`` = sigmoid(logits)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.logits = torch.nn.Parameter(torch.zeros(shape))

    def colors(self) -> torch.Tensor:
        return torch.sigmoid(self.logits)


def _textured(mesh, kind: str, colors: torch.Tensor, n: int):
    """``n`` copies of ``mesh`` textured by ``colors`` ((H, W, 3) map over the mesh's UVs, or (V, 3))."""
    from inverse3d.renderer import TexturesUV, TexturesVertex
    from inverse3d.structures import Meshes

    verts, faces = mesh.verts_packed(), mesh.faces_packed()
    if kind == "uv":
        tex = mesh.textures
        tex = TexturesUV(maps=colors[None].expand(n, *colors.shape), faces_uvs=[tex.faces_uvs_padded()[0]] * n,
                         verts_uvs=[tex.verts_uvs_padded()[0]] * n)
    else:
        tex = TexturesVertex(verts_features=colors[None].expand(n, *colors.shape))
    return Meshes([verts] * n, [faces] * n, textures=tex)


class _TextureTask(Trainable):
    name = "invert texture"

    def __init__(self, cfg: TextureConfig, mesh, train: Views, test: Views | None, shape: tuple[int, ...]) -> None:
        self.cfg, self.mesh, self.train, self.test, self.shape = cfg, mesh, train, test, shape
        self.frames = ProgressFrames(cfg.frame_every)

    def batches(self, run: Run) -> Batches:
        n, k = len(self.train), self.cfg.views_per_step

        def of_step(step: int) -> torch.Tensor:
            if k is None or k >= n:
                return torch.arange(n)
            return torch.randperm(n)[:k]  # the global RNG: restored on resume

        return Batches(of_step=of_step)

    def build(self, run: Run):
        cfg = self.cfg
        self.renderer = soft_renderer(self.train.cameras, cfg.image_size if cfg.scene is None else
                                      self.train.images.shape[1], cfg.shader, cfg.sigma, cfg.gamma,
                                      cfg.faces_per_pixel, lights=self.train.lights, blur=False)
        if cfg.scene is not None:
            self.renderer.rasterizer.raster_settings.image_size = tuple(self.train.images.shape[1:3])
        self.fragments = self._rasterize(self.train)
        self.test_fragments = None if self.test is None else self._rasterize(self.test)
        self.model = TextureModel(self.shape).to(run.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        return self.model, self.optimizer

    def _rasterize(self, views: Views):
        with torch.no_grad():
            return self.renderer.rasterizer(self.mesh.extend(len(views)), cameras=views.cameras)

    def shade(self, model, views: Views, fragments, idx: torch.Tensor) -> torch.Tensor:
        """(len(idx), H, W, 3) renderings over white of views ``idx`` with the current colours."""
        from inverse3d.renderer.mesh.rasterizer import Fragments

        frags = Fragments(*(getattr(fragments, f)[idx] for f in ("pix_to_face", "zbuf", "bary_coords", "dists")))
        # pix_to_face holds packed indices over all views: shift to the selected views' packing.
        F = self.mesh.faces_packed().shape[0]
        p2f = frags.pix_to_face
        view_of = (idx.to(p2f.device) * F)[:, None, None, None]
        pos = torch.arange(len(idx), device=p2f.device)[:, None, None, None] * F
        frags = Fragments(torch.where(p2f >= 0, p2f - view_of + pos, p2f), frags.zbuf, frags.bary_coords, frags.dists)
        meshes = _textured(self.mesh, self.cfg.kind, model.colors(), len(idx))
        kwargs: dict[str, Any] = {"cameras": views.cameras[idx.tolist()]}
        if views.lights is not None:
            kwargs["lights"] = headlights(kwargs["cameras"])
        return over_white(self.renderer.shader(frags, meshes, **kwargs))

    def loss(self, model, idx: torch.Tensor, step: int) -> torch.Tensor:
        cosine_lr(self.optimizer, self.cfg.lr, step, self.cfg.iterations)
        pred = self.shade(model, self.train, self.fragments, idx)
        loss = image_loss(pred, self.train.images[idx], self.cfg.loss).mean()
        if self.frames.due(step):
            self.frames.add(self.train.images[idx[0]], pred[0])
        return loss

    def checkpoint_entries(self) -> dict[str, Any]:
        return {"frames": self.frames.state()}

    def restore(self, checkpoint: dict[str, Any]) -> None:
        self.frames.load(checkpoint.get("frames", {}))


@dataclass
class TextureResult:
    colors: torch.Tensor
    """(H, W, 3) map or (V, 3) vertex colours, in [0, 1]."""
    test_psnr: float | None
    train_psnr: float
    texture_psnr: float | None
    seconds: float
    files: dict[str, Path]
    summary: dict[str, Any]


def seen_texels(task: _TextureTask, model: TextureModel) -> torch.Tensor:
    """(H, W) or (V,) bool: the texels / vertices some training view's pixels depend on."""
    probe = torch.nn.Parameter(torch.zeros_like(model.logits))
    saved = model.logits
    model.logits = probe
    try:
        out = task.shade(model, task.train, task.fragments, torch.arange(len(task.train)))
        out.sum().backward()
    finally:
        model.logits = saved
    return probe.grad.abs().sum(-1) > 0


def fit_texture(cfg: TextureConfig) -> TextureResult:
    """Runs ``cfg`` on the shared training loop; writes into ``cfg.out_dir``: ``texture.png`` + ``mesh.obj`` (uv) or
    ``mesh.ply`` with vertex colours (vertex), ``metrics.json``, ``progress.gif`` (target | current, a training view),
    ``heldout.png`` (held-out targets over their renderings), ``loss.png``, ``config.json``, ``checkpoint.pt``."""
    from inverse3d.io.outputs import atomic_write
    from inverse3d.metrics import psnr
    from inverse3d.tasks.invert.meshes import cow_like_mesh, load_known_mesh

    cfg.check()
    t0 = time.perf_counter()
    device = torch.device(cfg.device)
    if cfg.scene is not None and cfg.mesh == "cow" and (Path(cfg.scene) / "mesh.ply").is_file():
        mesh = load_known_mesh(Path(cfg.scene) / "mesh.ply", device=device)
    elif cfg.mesh == "cow":
        mesh = cow_like_mesh(texture_size=cfg.texture_size, device=device)
    else:
        mesh = load_known_mesh(cfg.mesh, device=device)
    true_colors = None
    from inverse3d.renderer import TexturesUV

    if cfg.kind == "uv":
        if not isinstance(mesh.textures, TexturesUV):
            raise ValueError(f"--mesh {cfg.mesh}: --kind uv needs a mesh with UV coordinates (an OBJ with vt); "
                             "use --kind vertex")
        true_map = mesh.textures.maps_padded()[0]
        shape = tuple(true_map.shape)
        if cfg.scene is None:
            true_colors = true_map
    else:
        shape = (mesh.verts_packed().shape[0], 3)
    train, test = texture_views(cfg, mesh, device)
    task = _TextureTask(cfg, mesh, train, test, shape)
    loop = fit_loop(task, cfg.loop_options())
    model = loop.model
    out = Path(cfg.out_dir)
    files = dict(loop.files)
    with torch.no_grad():
        colors = model.colors().detach()
        pred_train = task.shade(model, train, task.fragments, torch.arange(len(train)))
        train_psnr = float(psnr(pred_train.clamp(0, 1), train.images))
        test_psnr = None
        if test is not None:
            pred_test = task.shade(model, test, task.test_fragments, torch.arange(len(test)))
            test_psnr = float(psnr(pred_test.clamp(0, 1), test.images))
    texture_psnr = None
    if true_colors is not None:
        seen = seen_texels(task, model)
        texture_psnr = float(psnr(colors[None], true_colors[None].to(colors), mask=seen[None]))
    from inverse3d.io import save_obj, save_ply
    from inverse3d.viz.images import image_grid, save_image

    verts, faces = mesh.verts_packed().cpu(), mesh.faces_packed().cpu()
    if cfg.kind == "uv":
        files["texture"] = save_image(out / "texture.png", colors.cpu())
        tex = mesh.textures
        atomic_write(out / "mesh.obj", lambda tmp: save_obj(
            tmp, verts, faces, verts_uvs=tex.verts_uvs_padded()[0].cpu(), faces_uvs=tex.faces_uvs_padded()[0].cpu(),
            texture_map=colors.cpu()))
        files["mesh"] = out / "mesh.obj"
    else:
        atomic_write(out / "mesh.ply", lambda tmp: save_ply(tmp, verts, faces, colors=colors.cpu()))
        files["mesh"] = out / "mesh.ply"
    if test is not None:
        k = min(len(test), 6)
        files["heldout"] = save_image(out / "heldout.png", image_grid(
            list(test.images[:k].cpu()) + list(pred_test[:k].clamp(0, 1).cpu()), ncols=k))
    gif = task.frames.save(out / "progress.gif")
    if gif is not None:
        files["progress"] = gif
    seconds = time.perf_counter() - t0
    summary = {"mesh": cfg.mesh, "scene": cfg.scene, "kind": cfg.kind, "shader": cfg.shader,
               "n_train_views": len(train), "n_test_views": 0 if test is None else len(test),
               "train_psnr": train_psnr, "test_psnr": test_psnr, "texture_psnr": texture_psnr,
               "seconds": seconds, "steps": loop.step}
    text = json.dumps(summary, indent=2)
    files["metrics"] = atomic_write(out / "metrics.json", lambda tmp: tmp.write_text(text))
    return TextureResult(colors.cpu(), test_psnr, train_psnr, texture_psnr, seconds, files, summary)
