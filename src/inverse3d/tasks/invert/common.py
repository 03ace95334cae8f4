"""What the three inverse problems share: soft renderers, orbit cameras, image losses, target images, progress GIFs.

- ``soft_renderer``: a ``MeshRenderer`` with the soft rasteriser (SoftRas's ``blur_radius = log(1/1e-4 - 1) sigma``)
  and one of three shaders: ``"silhouette"`` (``SoftSilhouetteShader``: alpha only), ``"phong"``
  (``SoftPhongShader`` with point lights) or ``"flat"`` (``SoftPhongShader`` under white ambient light only: the
  texture's colour, unlit).
- ``orbit_cameras``: ``FoVPerspectiveCameras`` looking at the origin from azimuths spread evenly and elevations
  alternating in a band (the built-in targets' views), ``headlights``: a point light at every camera.
- ``image_loss``: ``"mse"``, ``"l1"`` or ``"iou"`` (soft IoU, for silhouettes) between (N, H, W, C) images, per view.
- ``ProgressFrames``: (target | current render) frames, kept in the checkpoint so a resumed run's GIF is whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from inverse3d.training.options import RunOptions

__all__ = ["SHADERS", "LOSSES", "soft_renderer", "orbit_cameras", "headlights", "image_loss", "ProgressFrames",
           "read_image", "check_finite", "over_white", "rotation_error_degrees", "camera_params"]

SHADERS = ("silhouette", "phong", "flat")
LOSSES = ("mse", "l1", "iou")


def soft_renderer(cameras, image_size: int, shader: str = "silhouette", sigma: float = 1e-4, gamma: float = 1e-4,
                  faces_per_pixel: int = 10, lights=None, background=(1.0, 1.0, 1.0), blur: bool = True):
    """A ``MeshRenderer`` whose output is (N, H, W, 4) RGBA (alpha = soft coverage; RGB = 1 for "silhouette").

    Args:
        cameras: the cameras (may be replaced per call: ``renderer(meshes, cameras=...)``).
        image_size: H = W in pixels.
        shader: "silhouette", "phong" or "flat" (module docstring).
        sigma: width of the soft edge (NDC squared distance units, as SoftRas); also sets the blur radius.
        gamma: depth softness of the colour blend (Phong / flat).
        faces_per_pixel: faces blended per pixel (K).
        lights: lights of "phong" (default: ``headlights(cameras)``); ignored otherwise.
        background: RGB of empty pixels.
        blur: grow faces by the blur radius (soft edges with gradients to the geometry). False rasterises hard
            (blur radius 0): for targets and known geometry, where a face merely *near* a pixel must not take one of
            its ``faces_per_pixel`` slots from the face that covers it.
    """
    from inverse3d.renderer import (AmbientLights, BlendParams, MeshRasterizer, MeshRenderer, RasterizationSettings,
                                    SoftPhongShader, SoftSilhouetteShader)

    if shader not in SHADERS:
        raise ValueError(f"--shader must be one of {', '.join(SHADERS)}; got {shader!r}")
    if not (sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"--sigma must be a positive number; got {sigma}")
    if not (gamma > 0 and math.isfinite(gamma)):
        raise ValueError(f"--gamma must be a positive number; got {gamma}")
    if faces_per_pixel < 1:
        raise ValueError(f"--faces-per-pixel must be >= 1; got {faces_per_pixel}")
    settings = RasterizationSettings(image_size=int(image_size),
                                     blur_radius=math.log(1 / 1e-4 - 1) * sigma if blur else 0.0,
                                     faces_per_pixel=int(faces_per_pixel), perspective_correct=False)
    blend = BlendParams(sigma=sigma, gamma=gamma, background_color=tuple(background))
    rasterizer = MeshRasterizer(cameras=cameras, raster_settings=settings)
    if shader == "silhouette":
        return MeshRenderer(rasterizer, SoftSilhouetteShader(blend_params=blend))
    device = cameras.device
    if shader == "flat":
        lights = AmbientLights(ambient_color=((1.0, 1.0, 1.0),), device=device)
    elif lights is None:
        lights = headlights(cameras)
    return MeshRenderer(rasterizer, SoftPhongShader(device=device, cameras=cameras, lights=lights, blend_params=blend))


def headlights(cameras):
    """``PointLights`` at each camera's centre (N lights for N cameras): every view lit from the front."""
    from inverse3d.renderer import PointLights

    return PointLights(location=cameras.get_camera_center().detach(), ambient_color=((0.4, 0.4, 0.4),),
                       diffuse_color=((0.6, 0.6, 0.6),), specular_color=((0.1, 0.1, 0.1),), device=cameras.device)


def orbit_cameras(n: int, dist: float = 1.3, elev_band: tuple[float, float] = (-10.0, 40.0), offset: float = 0.0,
                  fov: float = 60.0, device=None):
    """``n`` ``FoVPerspectiveCameras`` at distance ``dist`` looking at the origin: azimuths ``offset + 360 k / n``
    degrees, elevations cycling through 3 values of ``elev_band`` (so views see the top and the sides)."""
    from inverse3d.renderer import FoVPerspectiveCameras, look_at_view_transform

    k = torch.arange(n, dtype=torch.float32)
    azim = offset + 360.0 * k / n
    lo, hi = elev_band
    elev = lo + (hi - lo) * ((k * 0.5 + 0.5 * (k % 3)) % 3) / 2.0  # three levels, interleaved with the azimuths
    R, T = look_at_view_transform(dist, elev, azim, device=device)
    return FoVPerspectiveCameras(R=R, T=T, fov=fov, device=device)


def camera_params(cameras) -> dict[str, list]:
    """Plain values of ``FoVPerspectiveCameras``: R (N, 3, 3), T (N, 3), fov, znear, zfar (for JSON)."""
    return {"R": cameras.R.detach().cpu().tolist(), "T": cameras.T.detach().cpu().tolist(),
            "fov": cameras.fov.detach().cpu().reshape(-1).tolist()}


def image_loss(pred: torch.Tensor, target: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """(N,) loss per view between (N, H, W, C) images: "mse", "l1" or "iou" (1 - soft IoU, for C = 1 masks)."""
    if pred.shape != target.shape:
        raise ValueError(f"image_loss: prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    if kind == "mse":
        return (pred - target).square().flatten(1).mean(1)
    if kind == "l1":
        return (pred - target).abs().flatten(1).mean(1)
    if kind == "iou":
        inter = (pred * target).flatten(1).sum(1)
        union = (pred + target - pred * target).flatten(1).sum(1)
        return 1.0 - inter / union.clamp(min=1e-8)
    raise ValueError(f"--loss must be one of {', '.join(LOSSES)}; got {kind!r}")


def multiscale(images: torch.Tensor, levels: int = 3) -> list[torch.Tensor]:
    """(N, H, W, C) -> [the images, then average-pooled by 2, 4, ...]: a loss on all of them sees misalignments
    larger than the soft edge (a wider basin of convergence) at almost no cost."""
    out = [images]
    x = images.permute(0, 3, 1, 2)
    for _ in range(levels - 1):
        if min(x.shape[-2:]) < 8:
            break
        x = torch.nn.functional.avg_pool2d(x, 2)
        out.append(x.permute(0, 2, 3, 1))
    return out


def check_finite(name: str, x: torch.Tensor) -> torch.Tensor:
    """``x`` unchanged, or ``ValueError`` naming ``name`` when it holds NaN or infinity."""
    if not torch.isfinite(x).all():
        raise ValueError(f"{name}: contains NaN or infinity")
    return x


def read_image(path: str | Path, size: int | None = None, option: str = "--image") -> torch.Tensor:
    """A target image as (H, W, 4) float32 RGBA in [0, 1].

    PNG/JPEG via Pillow (RGB without alpha: alpha = pixels that differ from white by more than 0.02) or ``.npy``
    (H, W, 3 or 4) floats in [0, 1]. ``size`` (if given) must equal H and W.

    Raises:
        ValueError: missing or unreadable file, wrong shape or size, NaN / infinite values; one line.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{option} {path}: no such file")
    if p.suffix.lower() == ".npy":
        try:
            arr = np.load(p, allow_pickle=False).astype(np.float32)
        except (OSError, ValueError) as err:
            raise ValueError(f"{option} {path}: not a readable .npy array ({err})") from None
    else:
        try:
            from PIL import Image

            with Image.open(p) as im:
                im = im.convert("RGBA") if im.mode in ("RGBA", "LA", "P") else im.convert("RGB")
                arr = np.asarray(im, dtype=np.float32) / 255.0
        except OSError as err:
            raise ValueError(f"{option} {path}: not a readable image ({err})") from None
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"{option} {path}: expected an (H, W, 3) or (H, W, 4) image; got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{option} {path}: contains NaN or infinity")
    if size is not None and arr.shape[:2] != (size, size):
        raise ValueError(f"{option} {path}: image is {arr.shape[1]}x{arr.shape[0]}, expected {size}x{size} "
                         "(--image-size)")
    img = torch.from_numpy(np.ascontiguousarray(arr))
    if img.shape[2] == 3:
        alpha = ((1.0 - img).abs().amax(-1) > 0.02).float()
        img = torch.cat([img, alpha[..., None]], -1)
    return img.clamp(0, 1)


def over_white(rgba: torch.Tensor) -> torch.Tensor:
    """(..., 4) RGBA -> (..., 3) composited over white."""
    return rgba[..., :3] * rgba[..., 3:] + (1 - rgba[..., 3:])


def rotation_error_degrees(R_pred: torch.Tensor, R_true: torch.Tensor) -> torch.Tensor:
    """(N,) geodesic angle in degrees between rotation matrices (N, 3, 3): ``acos((trace(R_pred^T R_true) - 1) / 2)``,
    computed as ``2 atan2(|A - B|_F, sqrt(|A + B|_F^2 - 4))`` (``|A - B|_F = 2 sqrt(2) sin(angle / 2)``,
    ``|A + B|_F^2 - 4 = 8 cos^2(angle / 2)``), accurate near 0 and 180 degrees where acos is not."""
    if R_pred.shape != R_true.shape or R_pred.shape[-2:] != (3, 3):
        raise ValueError(f"rotation_error_degrees expects two (N, 3, 3) tensors; got {tuple(R_pred.shape)} and "
                         f"{tuple(R_true.shape)}")
    a = torch.linalg.norm((R_pred - R_true).flatten(-2), dim=-1)
    b2 = (R_pred + R_true).flatten(-2).square().sum(-1)
    return torch.rad2deg(2 * torch.atan2(a, (b2 - 4).clamp(min=0).sqrt()))


class ProgressFrames:
    """Frames of a progress GIF: each (target | current render) side by side, uint8, at most ``limit`` of them."""

    def __init__(self, every: int, limit: int = 400) -> None:
        self.every, self.limit = max(int(every), 1), int(limit)
        self.frames: list[np.ndarray] = []

    def due(self, step: int) -> bool:
        """Whether a frame is taken before step ``step`` (0-based): every ``every`` steps, until ``limit``."""
        return step % self.every == 0 and len(self.frames) < self.limit

    def add(self, target: torch.Tensor, current: torch.Tensor) -> None:
        """target, current: (H, W, 3) or (H, W) float in [0, 1] (or lists of them: a row of views each)."""
        from inverse3d.viz.plots import side_by_side

        def row(x):
            xs = x if isinstance(x, (list, tuple)) else [x]
            xs = [t.detach().float().cpu().clamp(0, 1) for t in xs]
            xs = [t[..., None].expand(*t.shape, 3) if t.ndim == 2 else t for t in xs]
            return (torch.cat(xs, dim=1) * 255).round().to(torch.uint8).numpy()

        self.frames.append(side_by_side(row(target)[None], row(current)[None])[0])

    def state(self) -> dict:
        return {"every": self.every, "frames": [torch.from_numpy(f.copy()) for f in self.frames]}

    def load(self, state: dict) -> None:
        self.frames = [np.asarray(f) for f in state.get("frames", [])]

    def save(self, path: Path, fps: float = 10) -> Path | None:
        from inverse3d.viz.images import save_frames

        if not self.frames:
            return None
        return save_frames(self.frames, path, fps=fps)


def check_choice(option: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{option} must be one of {', '.join(choices)}; got {value!r}")


@dataclass
class InvertOptions(RunOptions):
    """Options every inverse problem shares: the run's (``RunOptions``, with these commands' defaults), the learning
    rate and the progress GIF."""

    out_dir: str = "out/invert"
    """Folder for the result, progress.gif, loss.png, config.json and checkpoint.pt (locked while running)."""
    iterations: int = 200
    """Adam steps."""
    seed: int = 0
    """Seed of the targets' random poses, the initial guesses and the optimisation."""
    checkpoint_every: int = 100
    device: str = "cpu"
    """Torch device: cpu, cuda, cuda:N (the CLI also takes auto)."""
    lr: float = 0.05
    """Adam's learning rate (cosine decay to 10% over the run)."""
    frame_every: int = 10
    """A progress.gif frame (target | current render) every this many steps."""

    def check_run(self) -> None:
        """Raises ValueError (one line naming the option) for run options that cannot work."""
        from inverse3d.training.options import check_float, check_int

        check_int("--iterations", self.iterations, 1)
        check_int("--frame-every", self.frame_every, 1)
        check_int("--checkpoint-every", self.checkpoint_every, 1)
        check_int("--seed", self.seed, 0)
        check_float("--lr", self.lr, positive=True)


def cosine_lr(optimizer: torch.optim.Optimizer, base: float, step: int, total: int, final: float = 0.1) -> None:
    """Sets every group's learning rate to the cosine decay from ``base`` to ``base * final`` at ``step`` of
    ``total`` (a function of the step: exact on resume)."""
    frac = min(step / max(total - 1, 1), 1.0)
    lr = base * (final + (1 - final) * 0.5 * (1 + math.cos(math.pi * frac)))
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
