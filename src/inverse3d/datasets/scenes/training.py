"""What every task that trains on a multi-view scene needs from it: the options every such command has
(``SceneTrainOptions``), the scene's folder (a built-in scene generated on first use), its splits opened through
``load_scene``, the box the field lives in, a summary of its cameras for rendering later from a checkpoint, and a
ring of cameras around it for turntables. Shared by NeRF, the neural surfaces and Gaussian splatting
(``inverse3d.tasks.nerf``, ``inverse3d.tasks.surface``, ``inverse3d.tasks.splat``), which use no other task."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inverse3d.training.options import RunOptions, check_int

__all__ = ["BUILTIN", "SceneTrainOptions", "scene_path", "open_scene", "manifest_bounds", "scene_bounds",
           "camera_summary", "orbit_cameras"]

BUILTIN = ("lego", "materials", "box", "forward")
"""The built-in scenes a training command generates by name."""


@dataclass
class SceneTrainOptions(RunOptions):
    """The options of every command that trains on a multi-view scene (``nerf train``, ``surface train``, ``splat
    train``): where the scene is, and the run's options (``RunOptions``, with these commands' defaults). A task's
    config derives from it and redeclares a field whose default or help differs there (``out_dir``'s default, for
    one)."""

    scene: str = "lego"
    """A scene folder (NeRF-synthetic, nerfstudio, COLMAP, LLFF, course) or a built-in name (lego, materials, box,
    forward), generated into --data-root/NAME_SIZE on first use."""
    data_root: str = "data/scenes"
    """Where built-in scenes are generated."""
    image_size: int = 128
    """Image size of a generated built-in scene."""
    downscale: int = 1
    """Read the scene's images downscaled by 1, 2, 4 or 8."""
    out_dir: str = "out"
    """Folder for checkpoint.pt, loss.png, config.json and log.json (locked while training)."""
    iterations: int = 3000
    """Training steps."""
    seed: int = 0
    """Seed of the initialisation, the ray draws and the samples."""
    checkpoint_every: int = 500
    """Write the checkpoint every this many steps."""

    def check_scene_options(self) -> None:
        """One-line ``ValueError`` naming the option for a scene option that cannot work (the run's options are
        checked by the training core's ``LoopOptions.check``)."""
        from inverse3d.datasets.scenes.dataset import DOWNSCALES

        if not self.scene:
            raise ValueError("--scene must name a scene folder or a built-in scene")
        check_int("--image-size", self.image_size, 8)
        if self.downscale not in DOWNSCALES:
            raise ValueError(f"--downscale must be 1, 2, 4 or 8; got {self.downscale}")


def scene_path(config: Any, progress: bool = False) -> Path:
    """The scene folder: ``config.scene`` if it exists, else the built-in scene generated into
    ``config.data_root/NAME_SIZE`` at ``config.image_size`` (any options object with those three attributes)."""
    path = Path(config.scene)
    if path.exists():
        return path
    if config.scene in BUILTIN:
        from inverse3d.datasets.scenes import make_scene

        return make_scene(config.scene, Path(config.data_root) / f"{config.scene}_{config.image_size}",
                          image_size=config.image_size, progress=progress)
    raise ValueError(f"--scene {config.scene}: no such folder, and not a built-in scene ({', '.join(BUILTIN)})")
def open_scene(path: Path, split: str, downscale: int, white_background: bool):
    from inverse3d.datasets.scenes import load_scene

    return load_scene(path, split, downscale=downscale, white_background=white_background)
def manifest_bounds(path: Path) -> tuple[list[float] | None, list[float] | None]:
    """A built-in scene's box, (lo, hi), from ``path/manifest.json``; (None, None) when it has none."""
    manifest = Path(path) / "manifest.json"
    if manifest.is_file():
        try:
            lo, hi = json.loads(manifest.read_text())["scene"]["bounds"]
            return lo, hi
        except (KeyError, ValueError, TypeError):
            pass
    return None, None


def scene_bounds(scene, path: Path, bound: float | None) -> tuple[list[float], list[float]]:
    """The field's box: ``[-bound, bound]^3``, else the built-in manifest's bounds or the scene's points padded by
    10%, else ``[-1.5, 1.5]^3``."""
    if bound is not None:
        return [-bound] * 3, [bound] * 3
    lo, hi = manifest_bounds(path)
    if lo is None and getattr(scene, "points", None) is not None and len(scene.points) > 0:
        lo, hi = scene.points.min(0).tolist(), scene.points.max(0).tolist()
    if lo is None:
        return [-1.5] * 3, [1.5] * 3
    lo_t, hi_t = torch.tensor(lo, dtype=torch.float64), torch.tensor(hi, dtype=torch.float64)
    pad = 0.1 * (hi_t - lo_t).clamp(min=1e-3)
    return (lo_t - pad).tolist(), (hi_t + pad).tolist()
def camera_summary(scene) -> dict[str, Any]:
    """What ``render`` needs to orbit the scene: intrinsics of view 0 and the cameras' centres."""
    f = scene.frames[0]
    centres = np.stack([fr.c2w[:3, 3] for fr in scene.frames])
    return {"fx": float(f.fx), "fy": float(f.fy), "width": int(f.width), "height": int(f.height),
            "centres": centres.tolist()}
def orbit_cameras(meta: dict, n_frames: int, image_size: int | None = None, device="cpu"):
    """``n_frames`` cameras on a circle around the scene box's centre at the training cameras' mean distance and
    elevation (+Y up), with view 0's intrinsics (scaled to ``image_size`` pixels wide)."""
    from inverse3d.datasets.scenes import cameras_from_c2w, look_at_c2w

    lo, hi = (np.asarray(b, dtype=np.float64) for b in meta["bounds"])
    centre = 0.5 * (lo + hi)
    cams = meta["cameras"]
    eyes = np.asarray(cams["centres"], dtype=np.float64) - centre
    radius = float(np.linalg.norm(eyes, axis=1).mean())
    elevation = float(np.mean(np.arcsin(np.clip(eyes[:, 1] / np.linalg.norm(eyes, axis=1).clip(1e-9), -1, 1))))
    angles = np.linspace(0.0, 2 * math.pi, n_frames, endpoint=False)
    ring = np.stack([np.cos(elevation) * np.sin(angles), np.full_like(angles, np.sin(elevation)),
                     np.cos(elevation) * np.cos(angles)], axis=1) * radius + centre
    c2w = look_at_c2w(ring, centre)
    scale = 1.0 if image_size is None else image_size / cams["width"]
    W, H = round(cams["width"] * scale), round(cams["height"] * scale)
    fx, fy = cams["fx"] * scale, cams["fy"] * scale
    cameras = cameras_from_c2w(torch.from_numpy(c2w).float(), fx, fy, W / 2, H / 2, W, H, convention="opengl")
    return cameras.to(device), (H, W)
