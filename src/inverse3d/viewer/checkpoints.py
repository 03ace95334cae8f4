"""Trained models in the viewer: which task wrote a checkpoint, and how to render it from the viewer's camera.

``CHECKPOINT_VIEWS`` is the dispatch table, keyed by task name. Each entry says how to recognise the task's
checkpoint (``marker``: an entry only that task writes; a checkpoint may also name its task in a ``"task"``
entry) and where its renderer is (``renderer``: ``"module:Class"``, imported on use). A renderer is built as
``Class(path, device)`` and has ``render(camera: ViewCamera, progress) -> (H, W, 3) float in [0, 1]`` plus
``describe() -> str``; ``progress(fraction)`` is called as the image fills in. To add a task (e.g. Gaussian
splatting), add one line here and a class with those two methods; a task that trains a field on a scene, as NeRF
and the neural surfaces do, subclasses ``FieldView`` naming its checkpoint loader and chunked ray renderer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch


@dataclass(frozen=True)
class CheckpointView:
    """How the viewer knows and renders one task's checkpoints (module docstring)."""

    marker: str
    renderer: str


CHECKPOINT_VIEWS: dict[str, CheckpointView] = {
    "nerf": CheckpointView(marker="nerf_config", renderer="inverse3d.viewer.checkpoints:NeRFView"),
    "surface": CheckpointView(marker="surface_config", renderer="inverse3d.viewer.checkpoints:SurfaceView"),
}


def checkpoint_task(ckpt: dict[str, Any], path: Path | str) -> str:
    """The task that wrote ``ckpt`` (a key of ``CHECKPOINT_VIEWS``): its ``"task"`` entry, else the task whose
    marker entry it holds. Raises a one-line ``ValueError`` naming ``path`` when the viewer knows no such task."""
    task = ckpt.get("task")
    if isinstance(task, str) and task in CHECKPOINT_VIEWS:
        return task
    for name, view in CHECKPOINT_VIEWS.items():
        if view.marker in ckpt:
            return name
    raise ValueError(f"{path}: a training checkpoint of a task the viewer cannot render (it renders: "
                     f"{', '.join(CHECKPOINT_VIEWS)}); e.g. a single-view checkpoint: use inverse3d eval")


def make_renderer(task: str, path: Path, device: str | torch.device = "cpu"):
    """Builds the renderer of ``task``'s checkpoint at ``path`` (``CHECKPOINT_VIEWS[task].renderer``)."""
    return _function(CHECKPOINT_VIEWS[task].renderer)(path, device)


@dataclass
class ViewCamera:
    """A pinhole camera as viser reports the browser's: position (3,) and orientation ``wxyz`` (4,) of an OpenCV
    camera-to-world pose (+X right, +Y down, looking along +Z), vertical field of view ``fov`` in radians, and the
    image size in pixels."""

    position: np.ndarray
    wxyz: np.ndarray
    fov: float
    height: int
    width: int


def camera_rays(camera: ViewCamera, device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Rays through the pixel centres of ``camera``: origins and directions, each (H * W, 3) float32, row-major
    over the image; directions have unit component along the viewing axis (as the scenes' ``rays``)."""
    from inverse3d.transforms import quaternion_to_matrix

    H, W = int(camera.height), int(camera.width)
    focal = 0.5 * H / math.tan(0.5 * float(camera.fov))
    rot = quaternion_to_matrix(torch.as_tensor(np.asarray(camera.wxyz), dtype=torch.float64)[None])[0]  # (3, 3)
    v, u = torch.meshgrid(torch.arange(H, dtype=torch.float64) + 0.5, torch.arange(W, dtype=torch.float64) + 0.5,
                          indexing="ij")
    d_cam = torch.stack([(u - 0.5 * W) / focal, (v - 0.5 * H) / focal, torch.ones_like(u)], -1)  # (H, W, 3)
    dirs = (d_cam.reshape(-1, 3) @ rot.T).float()  # (H W, 3): columns of rot are the camera axes in the world
    origins = torch.as_tensor(np.asarray(camera.position), dtype=torch.float32).expand(H * W, 3)
    return origins.contiguous().to(device), dirs.to(device)


class FieldView:
    """Renders a checkpoint of a task that trains a field on a multi-view scene and stores the scene's summary under
    ``"scene"`` (bounds, cameras): ``load(path, device) -> (model, checkpoint)`` and ``render_chunked(model,
    origins, directions, background, chunk) -> {"rgb": (R, 3), ...}`` name the task's own functions."""

    load: str = ""
    render_chunked: str = ""
    label: str = "field"

    def __init__(self, path: Path, device: str | torch.device = "cpu", chunk: int = 8192) -> None:
        self.model, ckpt = _function(self.load)(path, device)
        self.meta = ckpt["scene"]
        self.step = int(ckpt["step"])
        self.device = torch.device(device)
        self.chunk = chunk

    def describe(self) -> str:
        return f"{self.label}, step {self.step}"

    def initial_camera(self) -> tuple[np.ndarray, np.ndarray]:
        """(camera position, look-at point): the first training camera's centre and the scene box's centre."""
        lo, hi = (np.asarray(b, dtype=np.float64) for b in self.meta["bounds"])
        return np.asarray(self.meta["cameras"]["centres"][0], dtype=np.float64), 0.5 * (lo + hi)

    @torch.no_grad()
    def render(self, camera: ViewCamera, progress: Callable[[float], None] | None = None) -> np.ndarray:
        """(H, W, 3) float32 colours in [0, 1] seen from ``camera`` over a white background, rendered in blocks of
        ``4 chunk`` rays (``progress(fraction)`` after each)."""
        render = _function(self.render_chunked)
        bg = torch.ones(3, device=self.device)
        return render_in_blocks(lambda o, d: render(self.model, o, d, bg, self.chunk)["rgb"], camera, self.device,
                                self.chunk * 4, progress)


class NeRFView(FieldView):
    """``inverse3d nerf train`` checkpoints (``load_nerf_checkpoint`` + ``render_rays_chunked``)."""

    load = "inverse3d.tasks.nerf.train:load_nerf_checkpoint"
    render_chunked = "inverse3d.tasks.nerf.render:render_rays_chunked"

    def describe(self) -> str:
        return f"{self.model.options.field} NeRF, step {self.step}"


class SurfaceView(FieldView):
    """Neural-surface checkpoints (``load_surface_checkpoint`` + the task's ``render_rays_chunked``)."""

    load = "inverse3d.tasks.surface.train:load_surface_checkpoint"
    render_chunked = "inverse3d.tasks.surface.render:render_rays_chunked"
    label = "neural surface"


def _function(path: str) -> Callable[..., Any]:
    import importlib

    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def render_in_blocks(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], camera: ViewCamera,
                     device: torch.device, block: int, progress: Callable[[float], None] | None = None) -> np.ndarray:
    """``fn(origins (R, 3), directions (R, 3)) -> rgb (R, 3)`` over ``camera``'s rays, ``block`` rays at a time
    (bounded memory, and a progress report after each block); returns (H, W, 3) float32 in [0, 1]."""
    origins, dirs = camera_rays(camera, device)
    out = torch.empty(origins.shape[0], 3)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for start in range(0, origins.shape[0], block):
            end = min(start + block, origins.shape[0])
            out[start:end] = fn(origins[start:end], dirs[start:end]).float().cpu()
            if progress is not None:
                progress(end / origins.shape[0])
    return out.clamp(0, 1).reshape(camera.height, camera.width, 3).numpy()
