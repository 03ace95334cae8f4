"""A plain-text summary of a multi-view scene on disk (``inverse3d scenes info DIR``)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from inverse3d.datasets.scenes.conventions import SceneFileNotFoundError
from inverse3d.datasets.scenes.dataset import SceneDataset, detect_format, estimate_near_far, load_scene


def _range(values: np.ndarray, fmt: str = "{:.1f}") -> str:
    lo, hi = float(np.min(values)), float(np.max(values))
    return fmt.format(lo) if np.isclose(lo, hi) else f"{fmt.format(lo)}..{fmt.format(hi)}"


def _box(points: np.ndarray) -> str:
    lo, hi = points.min(0), points.max(0)
    return "[" + ", ".join(f"{a:.3g}..{b:.3g}" for a, b in zip(lo, hi)) + "]"


def _split_line(name: str, ds: SceneDataset) -> str:
    h, w = ds.image_size
    models = Counter(f.camera_model for f in ds.frames)
    fx = np.array([f.fx for f in ds.frames])
    fy = np.array([f.fy for f in ds.frames])
    extras = [k for k, attr in (("depth", "depth_path"), ("normal", "normal_path"), ("mask", "mask_path"))
              if any(getattr(f, attr) is not None for f in ds.frames)]
    model_text = ", ".join(f"{m} x{c}" if len(models) > 1 else m for m, c in sorted(models.items()))
    text = f"  {name:<5} {len(ds):5d} views  {w}x{h}  {model_text}  fx {_range(fx)} fy {_range(fy)} px"
    if any(f.distortion and any(f.distortion.values()) for f in ds.frames):
        text += "  distorted"
    if extras:
        text += "  + " + ", ".join(extras)
    return text


def scene_info(path: str | Path, downscale: int = 1) -> str:
    """Several lines describing the scene at ``path``: its format, views per split, image sizes, camera models,
    focal lengths, the bounds of the camera centres (and of the sparse points), and near/far estimates.

    Reads only image headers and camera files (no pixels). Errors of the readers propagate (one line, naming the
    file and frame).
    """
    path = Path(path)
    fmt = detect_format(path)
    lines = [f"{path}: {fmt} scene"]
    loaded: dict[str, SceneDataset] = {}
    for split in ("train", "val", "test"):
        try:
            loaded[split] = load_scene(path, split=split, downscale=downscale, format=fmt)
        except SceneFileNotFoundError as e:
            if fmt == "blender" and Path(e.path).name == f"transforms_{split}.json":
                lines.append(f"  {split:<5}     - (no {Path(e.path).name})")
                continue
            raise
        except ValueError as e:
            if "no views in split" in str(e):
                lines.append(f"  {split:<5}     0 views")
                continue
            raise
        lines.append(_split_line(split, loaded[split]))
    if not loaded:
        return "\n".join(lines)
    any_ds = next(iter(loaded.values()))
    if fmt in ("colmap", "llff") or any_ds.meta.get("split_from") == "every 8th":
        lines.append("  (every 8th view is held out: val and test are the same views)")
    every = [f for ds in loaded.values() for f in ds.frames]
    centres = np.stack([f.c2w[:3, 3] for f in every])
    lines.append(f"  camera centres  {_box(centres)}  (distance from their mean "
                 f"{_range(np.linalg.norm(centres - centres.mean(0), axis=1), '{:.3g}')})")
    if any_ds.points is not None:
        lines.append(f"  sparse points   {len(any_ds.points)}  {_box(any_ds.points)}")
    else:
        lines.append("  sparse points   none")
    if fmt == "llff":  # the file's own bounds
        near, far = min(ds.near for ds in loaded.values()), max(ds.far for ds in loaded.values())
    else:  # one estimate over the views of every split
        near, far = estimate_near_far(every, any_ds.points)
    how = {"llff": "from poses_bounds.npy bounds", "colmap": "from the sparse points"}.get(
        fmt, "from the sparse points" if any_ds.points is not None else "estimated from the camera layout")
    lines.append(f"  near/far        {near:.3g} / {far:.3g}  ({how})")
    if "bounds" in any_ds.meta:
        b = np.concatenate([ds.meta["bounds"] for ds in loaded.values()])
        lines.append(f"  depth bounds    {b[:, 0].min():.3g} .. {b[:, 1].max():.3g}")
    return "\n".join(line for line in lines if line)
