"""The course's scenes: PyTorch3D's NeRF project layout, ``NAME.pth`` plus ``NAME.png``.

``NAME.pth`` (read with ``torch.load(weights_only=True)``) is a dict with
``"cameras"``: the keyword arguments of PyTorch3D ``PerspectiveCameras`` for all N views, in NDC:
``R`` (N, 3, 3), ``T`` (N, 3), ``focal_length`` (N, 2) or (N, 1) and ``principal_point`` (N, 2), and
``"split"``: ``[train_idx, val_idx, test_idx]`` (index tensors or lists). ``NAME.png`` holds all N views stacked
vertically (view i is row block i of N equal blocks).

As PyTorch3D's ``get_nerf_datasets`` does, the views are cut from the tall image by ``torch.chunk`` order; unlike it,
an alpha channel is not dropped but composited like every other format (``white_background``) and kept as the mask,
and downscaling resizes by area averaging (PyTorch3D resizes bilinearly to a requested size).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from inverse3d.datasets.scenes._files import image_size, to_uint8, write_bytes, write_png
from inverse3d.datasets.scenes.conventions import (
    SceneFileNotFoundError,
    SceneFormatError,
    c2w_from_cameras,
    intrinsics_from_cameras,
    rigid_problem,
)
from inverse3d.datasets.scenes.dataset import (
    DEFAULT_CACHE_BYTES,
    Frame,
    SceneDataset,
    check_downscale,
    check_split,
    downscaled_size,
    scale_intrinsics,
)
from inverse3d.renderer.camera_conversions import cameras_from_opencv_projection, opencv_from_cameras_projection
from inverse3d.renderer.cameras import PerspectiveCameras

CAMERA_KEYS = ("R", "T", "focal_length", "principal_point")


def _pth_path(path: Path) -> Path:
    if path.is_file():
        if path.suffix != ".pth":
            raise SceneFormatError(path, "expected the course scene's NAME.pth file")
        return path
    if not path.exists():
        raise SceneFileNotFoundError(path, "no such scene folder or file")
    found = sorted(p for p in path.glob("*.pth") if p.with_suffix(".png").is_file())
    if not found:
        raise SceneFileNotFoundError(path / "NAME.pth", "no NAME.pth with NAME.png beside it")
    if len(found) > 1:
        raise SceneFormatError(path, f"several course scenes ({', '.join(p.name for p in found)}); pass one .pth")
    return found[0]


def _tensor(value: Any, key: str, path: Path) -> torch.Tensor:
    try:
        t = torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise SceneFormatError(path, f"cameras[{key!r}] is not an array of numbers") from None
    if not torch.isfinite(t).all():
        raise SceneFormatError(path, f"cameras[{key!r}] has non-finite values")
    return t


def load_course_file(path: Path) -> tuple[dict[str, torch.Tensor], list[list[int]]]:
    """The checked ``cameras`` tensors (float64) and ``split`` index lists of a course ``.pth`` file."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, not a torch file, a pickle with disallowed globals, ...
        first = str(e).splitlines()[0] if str(e) else ""
        raise SceneFormatError(
            path, f"cannot load with torch.load(weights_only=True): {type(e).__name__} {first[:120]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cameras"), dict) or "split" not in data:
        raise SceneFormatError(path, "expected a dict with 'cameras' (PerspectiveCameras kwargs) and 'split'")
    cams = data["cameras"]
    unknown = sorted(set(cams) - set(CAMERA_KEYS))
    if unknown:
        raise SceneFormatError(path, f"unsupported camera parameters {unknown} (expected {list(CAMERA_KEYS)})")
    for key in ("R", "T", "focal_length"):
        if key not in cams:
            raise SceneFormatError(path, f"cameras has no {key!r}")
    out = {k: _tensor(v, k, path) for k, v in cams.items()}
    n = out["R"].shape[0] if out["R"].dim() == 3 else -1
    if out["R"].dim() != 3 or out["R"].shape[1:] != (3, 3) or n < 1:
        raise SceneFormatError(path, f"cameras['R'] must have shape (N, 3, 3); got {tuple(out['R'].shape)}")
    if out["T"].shape != (n, 3):
        raise SceneFormatError(path, f"cameras['T'] must have shape ({n}, 3); got {tuple(out['T'].shape)}")
    f = out["focal_length"]
    f = f.reshape(n, 1) if f.shape in ((n,), (n, 1)) else f
    if f.shape not in ((n, 1), (n, 2)) or (f <= 0).any():
        raise SceneFormatError(path, f"cameras['focal_length'] must be positive, shape ({n},), ({n}, 1) or ({n}, 2)")
    out["focal_length"] = f.expand(n, 2)
    pp = out.get("principal_point", torch.zeros(n, 2, dtype=torch.float64))
    if pp.shape != (n, 2):
        raise SceneFormatError(path, f"cameras['principal_point'] must have shape ({n}, 2); got {tuple(pp.shape)}")
    out["principal_point"] = pp
    for i in range(n):
        problem = rigid_problem(out["R"][i])
        if problem is not None:
            raise SceneFormatError(path, problem, i)
    split = data["split"]
    if not isinstance(split, (list, tuple)) or len(split) != 3:
        raise SceneFormatError(path, "'split' must be [train_idx, val_idx, test_idx]")
    lists = []
    for name, idx in zip(("train", "val", "test"), split):
        try:
            ids = [int(i) for i in torch.as_tensor(idx).reshape(-1).tolist()]
        except (TypeError, ValueError, RuntimeError):
            raise SceneFormatError(path, f"'split' {name} indices are not integers") from None
        bad = [i for i in ids if not 0 <= i < n]
        if bad:
            raise SceneFormatError(path, f"'split' {name} index {bad[0]} out of range for {n} views")
        lists.append(ids)
    return out, lists


def read_course(
    path: str | Path,
    split: str = "train",
    downscale: int = 1,
    white_background: bool = True,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
) -> SceneDataset:
    """One split of a course scene (module docstring); ``path`` is ``NAME.pth`` or the folder holding it."""
    pth = _pth_path(Path(path))
    split = check_split(split)
    downscale = check_downscale(downscale)
    png = pth.with_suffix(".png")
    cams, lists = load_course_file(pth)
    n = cams["R"].shape[0]
    total_h, w0 = image_size(png)
    if total_h % n:
        raise SceneFormatError(png, f"image height {total_h} is not a multiple of the {n} views of {pth.name}")
    h0 = total_h // n
    ndc = PerspectiveCameras(
        R=cams["R"], T=cams["T"], focal_length=cams["focal_length"], principal_point=cams["principal_point"],
        image_size=[[h0, w0]] * n,
    )
    c2w = c2w_from_cameras(ndc, "opengl").numpy()
    intr = {k: v.numpy() for k, v in intrinsics_from_cameras(ndc).items()}
    h, w = downscaled_size(h0, w0, downscale)
    indices = list(range(n)) if split == "all" else lists[("train", "val", "test").index(split)]
    frames = []
    for i in indices:
        fx, fy, cx, cy = scale_intrinsics(
            float(intr["fx"][i]), float(intr["fy"][i]), float(intr["cx"][i]), float(intr["cy"][i]), (h0, w0), (h, w))
        frames.append(Frame(
            image_path=png, c2w=c2w[i], fx=fx, fy=fy, cx=cx, cy=cy, width=w, height=h,
            camera_model="PINHOLE", name=str(i), tile=i, tiles=n,
        ))
    return SceneDataset(
        pth, split, "course", frames, white_background=white_background, downscale=downscale,
        cache_bytes=cache_bytes, meta={"indices": indices},
    )


def write_course(
    path: str | Path,
    images: Any,
    cameras: Any,
    split: Sequence[Sequence[int]] | None = None,
) -> Path:
    """Writes a course scene ``NAME.pth`` + ``NAME.png``; returns the ``.pth`` path.

    Args:
        path: the ``.pth`` file to write (the ``.png`` goes beside it).
        images: (N, H, W, 3 or 4) float in [0, 1] or uint8, stacked vertically into one PNG.
        cameras: our PerspectiveCameras (N views); stored as PyTorch3D NDC ``PerspectiveCameras`` kwargs.
        split: ``[train_idx, val_idx, test_idx]``; default all views in train, none in val and test.
    """
    path = Path(path)
    if path.suffix != ".pth":
        raise ValueError(f"path must end in .pth; got {path}")
    imgs = to_uint8(images)
    n = len(cameras)
    if imgs.ndim != 4 or imgs.shape[0] != n or imgs.shape[-1] not in (3, 4):
        raise ValueError(f"images must have shape ({n}, H, W, 3 or 4); got {imgs.shape}")
    h, w = imgs.shape[1:3]
    size = torch.tensor([[h, w]] * n, device=cameras.device)
    R, tvec, K = opencv_from_cameras_projection(cameras, size)
    ndc = cameras_from_opencv_projection(R, tvec, K, size)  # PyTorch3D's NDC parameters of the same cameras
    split = split if split is not None else [list(range(n)), [], []]
    if len(split) != 3:
        raise ValueError("split must be [train_idx, val_idx, test_idx]")
    data = {
        "cameras": {
            "R": ndc.R.detach().cpu().float(),
            "T": ndc.T.detach().cpu().float(),
            "focal_length": ndc.focal_length.detach().cpu().float(),
            "principal_point": ndc.principal_point.detach().cpu().float(),
        },
        "split": [torch.as_tensor(list(s), dtype=torch.long) for s in split],
    }
    buf = io.BytesIO()
    torch.save(data, buf)
    write_png(path.with_suffix(".png"), np.concatenate(list(imgs), axis=0))
    return write_bytes(path, buf.getvalue())
