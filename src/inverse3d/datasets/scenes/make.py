"""``make_scene``: writes a built-in scene in the NeRF-synthetic layout, with its ground truth, as a checked cache.

A scene folder made by ``make_scene(name, out_dir)`` holds:

- ``transforms_{train,val,test}.json`` and ``{split}/r_{i}.png`` (RGBA), ``{split}/r_{i}_depth.npy`` (view-space
  depth, 0 where empty) and ``{split}/r_{i}_normal.png`` (world-space normals), written by
  ``blender.write_blender_split``. Each JSON file also carries an ``"inverse3d_scene"`` object: the scene's name,
  seed, renderer, bounds and facts such as the box's centre and sides;
- ``mesh.ply``: the ground-truth mesh with vertex colours, world coordinates (the cameras' frame);
- ``points.ply``: ``n_points`` points sampled uniformly by area on it (``inverse3d.ops.sample_points_from_meshes``),
  with the normals of their faces and the colours there;
- ``manifest.json``: ``{"format", "params", "inverse3d_version", "scene", "splits": {split: views},
  "files": {relative path: sha256}, "complete"}``.

Like the single-view dataset's cache (``inverse3d.datasets.cache``), the folder is generated once and checked on
every later call: with the same parameters and every file matching its checksum nothing is done; a missing or
modified file is reported in a warning and its split (or the mesh / point cloud) is generated again; other
parameters regenerate everything (files of the old manifest that the new one does not name are removed). Every file
is written to a temporary name and moved into place, the manifest first (``"complete": false``) and after each
split, so an interrupted run resumes where it stopped. A folder that already holds files of this layout without a
manifest (a dataset inverse3d did not write) is refused rather than overwritten. A lock (``.lock``) makes concurrent
calls on one folder wait for each other.

The same parameters give byte-identical files: camera layouts, stratified samples and surface points all derive
from ``seed``.
"""

from __future__ import annotations

import importlib.util
import io
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inverse3d.datasets import cache
from inverse3d.datasets.scenes.builtin import get_scene
from inverse3d.datasets.scenes.layouts import layout_c2w

SPLITS = ("train", "val", "test")
RENDERERS = ("raster", "pathtrace")
MANIFEST = "manifest.json"
SCENE_FORMAT = "inverse3d-scene-1"
GENERATOR_VERSION = 1  # bumped whenever what a scene's files hold changes, so that old folders are regenerated
MIN_IMAGE_SIZE = 8
SUPERSAMPLE = 2  # the rasteriser's anti-aliasing
N_POINTS = 100_000
PIXELS_PER_BATCH = 1 << 20  # views rendered together: about this many pixels


def _positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}")
    return int(value)


def split_seed(seed: int, split: str) -> int:
    """The seed of ``split``'s camera layout (and stratified samples): independent of the other splits' sizes."""
    return int(np.random.SeedSequence([int(seed), SPLITS.index(split)]).generate_state(1)[0])


def scene_params(
    name: str,
    image_size: int = 128,
    n_train: int | None = None,
    n_val: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    renderer: str = "raster",
    spp: int = 64,
    n_points: int = N_POINTS,
) -> dict[str, Any]:
    """The checked generation parameters of a scene (what its manifest records); view counts of None take the
    scene's defaults (100 / 100 / 200; the box has 4 training views).

    Raises:
        ValueError: one line naming the bad parameter.
    """
    entry = get_scene(name)
    image_size = _positive_int("image_size", image_size, MIN_IMAGE_SIZE)
    counts = {}
    for split, value, default in zip(SPLITS, (n_train, n_val, n_test), entry.n_views):
        counts[f"n_{split}"] = default if value is None else _positive_int(f"n_{split}", value)
    seed = _positive_int("seed", seed, 0)
    if renderer not in RENDERERS:
        raise ValueError(f"unknown renderer {renderer!r}; choose one of {', '.join(RENDERERS)}")
    params: dict[str, Any] = {"generator_version": GENERATOR_VERSION, "scene": name, "image_size": image_size,
                              **counts, "seed": seed, "renderer": renderer,
                              "n_points": _positive_int("n_points", n_points)}
    if renderer == "pathtrace":
        params["spp"] = _positive_int("spp", spp)
    return params


def check_out_dir(out_dir: str | os.PathLike) -> Path:
    """``out_dir`` as a Path, after checking that it (or the closest existing folder above it) is a folder."""
    text = os.fsdecode(os.fspath(out_dir))
    if not text.strip():
        raise ValueError("output folder: empty path")
    out = Path(text)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: is a file, not a folder")
    for parent in out.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{out}: {parent} is a file, not a folder")
            break
    return out


def _check_photoreal() -> None:
    if importlib.util.find_spec("mitsuba") is None:
        raise ValueError("renderer 'pathtrace' needs Mitsuba 3, which is not installed: pip install -e .[photoreal]")


def split_files(split: str, n: int) -> list[str]:
    """Relative paths of the files ``write_blender_split`` writes for ``n`` views of ``split``."""
    names = [f"transforms_{split}.json"]
    for i in range(n):
        names += [f"{split}/r_{i}.png", f"{split}/r_{i}_depth.npy", f"{split}/r_{i}_normal.png"]
    return names


def _expected_files(params: dict[str, Any]) -> dict[str, list[str]]:
    """Group -> relative paths: one group per split, plus ``"mesh"`` and ``"points"``."""
    groups = {split: split_files(split, params[f"n_{split}"]) for split in SPLITS}
    groups["mesh"] = ["mesh.ply"]
    groups["points"] = ["points.ply"]
    return groups


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest, or None (with a warning) when it is unreadable or not one of ours."""
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as err:
        warnings.warn(f"{path}: unreadable manifest ({type(err).__name__}); regenerating the scene", stacklevel=3)
        return None
    ok = (isinstance(manifest, dict) and manifest.get("format") == SCENE_FORMAT
          and isinstance(manifest.get("params"), dict) and isinstance(manifest.get("files"), dict)
          and all(isinstance(k, str) and isinstance(v, str) for k, v in manifest["files"].items()))
    if not ok:
        warnings.warn(f"{path}: not a manifest of a scene made by inverse3d (format {SCENE_FORMAT}); regenerating "
                      "the scene", stacklevel=3)
        return None
    return manifest


def _own_path(folder: Path, name: str) -> Path | None:
    """``folder / name`` when ``name`` is a relative path inside the folder that a scene may hold, else None."""
    p = Path(name)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        return None
    top = p.parts[0]
    allowed = top in SPLITS or name in ("mesh.ply", "points.ply") or (
        name.startswith("transforms_") and name.endswith(".json") and len(p.parts) == 1)
    return folder / p if allowed else None


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    cache.atomic_write_bytes(folder / MANIFEST, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())


def make_scene(
    name: str,
    out_dir: str | os.PathLike,
    image_size: int = 128,
    n_train: int | None = None,
    n_val: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    renderer: str = "raster",
    progress: bool = True,
    device: str | torch.device = "cpu",
    spp: int = 64,
    n_points: int = N_POINTS,
) -> Path:
    """Writes built-in scene ``name`` into ``out_dir`` (module docstring), or checks the copy already there.

    Args:
        name: one of ``scene_names()``.
        out_dir: the scene folder (created if missing).
        image_size: H = W in pixels (>= 8), e.g. 128, 400 or 800.
        n_train, n_val, n_test: views per split (positive); None takes the scene's default (100 / 100 / 200, the
            box has 4 training views).
        seed: the scene's seed (its geometry's jitter, the camera layouts, the stratified samples, the points).
        renderer: ``"raster"`` (our rasteriser, Phong shading; the box by volume rendering of its SDF) or
            ``"pathtrace"`` (Mitsuba 3, the ``photoreal`` extra). Depth and normal maps always come from the
            rasteriser.
        progress: show a tqdm bar.
        device: where to render.
        spp: samples per pixel of the path tracer.
        n_points: points in ``points.ply``.

    Returns:
        ``out_dir`` as a Path.
    Raises:
        ValueError: a bad parameter (unknown scene, image size below 8, a view count that is not positive, an
            output that is a file, the path tracer without Mitsuba), or a folder holding a scene inverse3d did not
            write; each in one line.
    """
    params = scene_params(name, image_size, n_train, n_val, n_test, seed, renderer, spp, n_points)
    folder = check_out_dir(out_dir)
    if renderer == "pathtrace":
        _check_photoreal()
    device = torch.device(device)
    groups = _expected_files(params)
    expected = {f for files in groups.values() for f in files}
    if folder.is_dir() and not (folder / MANIFEST).exists():
        clash = sorted(f for f in (p.name for p in folder.iterdir())
                       if f in expected or f in SPLITS or f.startswith("transforms_"))
        if clash:
            raise ValueError(f"{folder}: holds {', '.join(clash[:3])} but no {MANIFEST}: a scene inverse3d did not "
                             "write; choose another folder (nothing was changed)")
    folder.mkdir(parents=True, exist_ok=True)
    with cache.folder_lock(folder):
        return _make_locked(name, folder, params, groups, expected, device, progress)


def _make_locked(name: str, folder: Path, params: dict[str, Any], groups: dict[str, list[str]], expected: set[str],
                 device: torch.device, progress: bool) -> Path:
    from inverse3d import __version__

    manifest = _read_manifest(folder) if (folder / MANIFEST).exists() else None
    checksums: dict[str, str] = {}
    if manifest is not None and manifest["params"] != params:
        warnings.warn(f"{folder}: made with other parameters; regenerating the scene", stacklevel=3)
        for old in manifest["files"]:
            path = _own_path(folder, old)
            if old not in expected and path is not None and path.is_file():
                path.unlink()
        manifest = None
    elif manifest is not None:
        recorded = manifest["files"]
        for f in sorted(expected):
            path = folder / f
            if f not in recorded or not path.is_file():
                continue
            if cache.sha256_file(path) == recorded[f]:
                checksums[f] = recorded[f]
            else:
                warnings.warn(f"{path}: checksum mismatch (corrupt or modified scene file); regenerating it",
                              stacklevel=3)
    todo = [g for g, files in groups.items() if not all(f in checksums for f in files)]
    entry = get_scene(name)
    spec = entry.build(params["seed"])
    lo, hi = spec.bounds
    scene_meta = {"name": name, "description": entry.description, "seed": params["seed"],
                  "renderer": params["renderer"], "camera_angle_x": math.radians(spec.cameras.fov_x),
                  "bounds": [lo.tolist(), hi.tolist()], "background": spec.background,
                  "volume_rendered": entry.volume_rendered and params["renderer"] == "raster", **entry.metadata}
    new_manifest = {"format": SCENE_FORMAT, "params": params, "inverse3d_version": __version__,
                    "scene": scene_meta, "splits": {s: params[f"n_{s}"] for s in SPLITS},
                    "files": {f: checksums[f] for f in sorted(checksums)}, "complete": not todo}
    if not todo:
        if new_manifest != manifest:
            _write_manifest(folder, new_manifest)
        return folder
    _write_manifest(folder, {**new_manifest, "complete": False})

    from tqdm.auto import tqdm

    views = sum(params[f"n_{s}"] for s in SPLITS if s in todo)
    with tqdm(total=views, desc=f"making {name}", unit="view", disable=not progress) as bar:
        for group in todo:
            if group in SPLITS:
                _write_split(folder, group, spec, entry, params, scene_meta, device, bar)
            elif group == "mesh":
                _write_mesh(folder / "mesh.ply", spec)
            else:
                _write_points(folder / "points.ply", spec, params["n_points"], params["seed"], device)
            for f in groups[group]:
                checksums[f] = cache.sha256_file(folder / f)
            complete = all(f in checksums for f in expected)
            _write_manifest(folder, {**new_manifest, "files": {f: checksums[f] for f in sorted(checksums)},
                                     "complete": complete})
    return folder


def _render_views(spec, entry, c2w: np.ndarray, camera_angle_x: float, image_size: int, renderer: str,
                 seed: int, device: torch.device, spp: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGBA (uint8), depth (float32) and normals (float16) of one batch of views, as numpy arrays.

    RGBA comes from the rasteriser, the SDF volume renderer (a scene with ``entry.volume_rendered``, raster
    renderer) or the path tracer; depth and normals always from the rasteriser.
    """
    from inverse3d.datasets.scenes.raster import render_rasterized

    raster = render_rasterized(spec, c2w, camera_angle_x, image_size, supersample=SUPERSAMPLE, device=device)
    rgba = raster.rgba
    if renderer == "pathtrace":
        try:
            from inverse3d.datasets.scenes.pathtrace import render_pathtraced
        except ImportError as err:
            raise ValueError(f"renderer 'pathtrace' is not available ({err}); pip install -e .[photoreal]") from None
        rgba = torch.as_tensor(render_pathtraced(spec, torch.as_tensor(c2w, dtype=torch.float32), camera_angle_x,
                                                 image_size, spp=spp, progress=False, seed=seed))
    elif entry.volume_rendered:
        from inverse3d.datasets.scenes.sdf_box import render_sdf_box

        box = entry.metadata["box"]
        rgba = render_sdf_box(c2w, camera_angle_x, image_size, box["center"], box["sides"], beta=box["beta"],
                              seed=seed, device=device)
    rgba_u8 = np.clip(np.round(rgba.detach().float().cpu().numpy() * 255.0), 0, 255).astype(np.uint8)
    return (rgba_u8, raster.depth.detach().cpu().numpy().astype(np.float32),
            raster.normals.detach().cpu().numpy().astype(np.float16))


def _write_split(folder: Path, split: str, spec, entry, params: dict[str, Any], scene_meta: dict[str, Any],
                 device: torch.device, bar) -> None:
    from inverse3d.datasets.scenes.blender import write_blender_split

    n, size = params[f"n_{split}"], params["image_size"]
    camera_angle_x = math.radians(spec.cameras.fov_x)
    c2w = layout_c2w(entry.layout(spec, split), n, split_seed(params["seed"], split))  # (n, 4, 4)
    batch = max(1, min(32, PIXELS_PER_BATCH // (size * size)))
    rgba, depth, normals = [], [], []
    for start in range(0, n, batch):
        seed = int(np.random.SeedSequence([params["seed"], SPLITS.index(split), start]).generate_state(1)[0])
        out = _render_views(spec, entry, c2w[start:start + batch], camera_angle_x, size, params["renderer"], seed,
                           device, params.get("spp", 64))
        rgba.append(out[0])
        depth.append(out[1])
        normals.append(out[2])
        bar.update(len(out[0]))
    path = write_blender_split(folder, split, np.concatenate(rgba), c2w, camera_angle_x,
                               depths=np.concatenate(depth), normals=np.concatenate(normals))
    meta = json.loads(Path(path).read_text())
    meta["inverse3d_scene"] = scene_meta
    cache.atomic_write_bytes(path, (json.dumps(meta, indent=2) + "\n").encode("utf-8"))


def _ply_bytes(**kwargs: Any) -> bytes:
    from inverse3d.io import save_ply

    buf = io.BytesIO()
    save_ply(buf, **kwargs)
    return buf.getvalue()


def _write_mesh(path: Path, spec) -> None:
    from inverse3d.datasets.scenes.raster import join_parts

    joined = join_parts(spec)
    cache.atomic_write_bytes(path, _ply_bytes(verts=torch.from_numpy(joined.verts),
                                              faces=torch.from_numpy(joined.faces),
                                              colors=torch.from_numpy(joined.colors)))


def _write_points(path: Path, spec, n_points: int, seed: int, device: torch.device) -> None:
    from inverse3d.datasets.scenes.raster import join_parts
    from inverse3d.ops import sample_points_from_meshes
    from inverse3d.renderer import TexturesVertex
    from inverse3d.structures import Meshes

    joined = join_parts(spec)
    mesh = Meshes([torch.from_numpy(joined.verts).to(device)], [torch.from_numpy(joined.faces).to(device)],
                  textures=TexturesVertex([torch.from_numpy(joined.colors).to(device)]))
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(int(np.random.SeedSequence([int(seed), 7]).generate_state(1)[0]))
        points, normals, colors = sample_points_from_meshes(mesh, n_points, return_normals=True, return_textures=True)
    cache.atomic_write_bytes(path, _ply_bytes(verts=points[0].cpu(), verts_normals=normals[0].cpu(),
                                              colors=colors[0].clamp(0, 1).cpu()))
