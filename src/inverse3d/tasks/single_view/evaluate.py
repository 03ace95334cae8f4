"""Evaluating a trained single-view model on a split of the built-in dataset, as the course does.

Every prediction becomes surface points (``predictions.surface_points``: voxel grids and implicit fields are meshed by
marching cubes at occupancy 0.5 and sampled, meshes are sampled, point clouds used as they are) and is compared
with the shape's stored surface samples: F1 at thresholds 0.01 ... 0.05 (percent), chamfer distance, and voxel IoU
at the data's resolution (for voxel, implicit and mesh predictions; meshes are voxelised first, point clouds have
none).

``evaluate(config)`` writes into ``out_dir``: ``metrics.csv`` (one row per shape), ``metrics.json`` (means and
per-shape rows), ``f1.png`` (mean F1 against the threshold), ``gallery/*.gif`` (input image, ground truth and
prediction turning side by side, for the chosen examples) and ``index.html`` showing it all, each file atomically,
while holding ``OutputLock(out_dir)`` (a second process writing there fails at once with "in use by PID ...").
Options are checked before any work (``EvalConfig.check``).
"""

from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from inverse3d.metrics.shapes import THRESHOLDS


@dataclass
class EvalConfig:
    """Options of ``inverse3d eval``: which checkpoint, on which shapes, and what to write."""

    checkpoint: Path = Path("out/train/checkpoint.pt")
    """Checkpoint written by ``inverse3d train`` (a file)."""
    split: str = "test"
    """Split of the built-in dataset to evaluate on: train, val or test."""
    data_root: Path | None = None
    """Cache folder of the built-in dataset; default: the one the model was trained with."""
    max_shapes: int | None = None
    """Evaluate only the first this many shapes of the split (default: all)."""
    batch_size: int = 16
    """Shapes per forward pass."""
    thresholds: tuple[float, ...] = THRESHOLDS
    """Distance thresholds of the F1 scores (units of a shape with bounding-box diagonal 1), each > 0."""
    n_eval_points: int = 5000
    """Points sampled on predicted meshes (and meshed voxel grids) for F1 and chamfer."""
    gallery: tuple[int, ...] = (0, 1, 2, 3)
    """Indices (within the evaluated shapes) of the examples shown as turntables."""
    n_frames: int = 24
    """Frames of each gallery turntable."""
    render_size: int = 128
    """Side of gallery frames in pixels."""
    out_dir: Path = Path("out/eval")
    """Folder for metrics.csv, metrics.json, f1.png, gallery/ and index.html (locked while evaluating)."""
    device: str = "cpu"
    """Torch device."""
    seed: int = 0
    """Seed of the point sampling on predictions."""
    progress: bool = True
    """Show a progress bar."""

    def check(self) -> None:
        """Raises ``ValueError`` (one line naming the option) for options that cannot work; called before any work.
        The checkpoint itself is checked by ``evaluate`` (``check_checkpoint_file``)."""
        from inverse3d.training.options import check_folder, check_int

        if self.split not in ("train", "val", "test"):
            raise ValueError(f"--split {self.split!r}: choose train, val or test")
        if self.max_shapes is not None:
            check_int("--max-shapes", self.max_shapes, 1)
        check_int("--batch-size", self.batch_size, 1)
        thresholds = tuple(self.thresholds) if isinstance(self.thresholds, (tuple, list)) else None
        if not thresholds:
            raise ValueError(f"--thresholds: give at least one distance threshold, got {self.thresholds!r}")
        for t in thresholds:
            if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t) or t <= 0:
                raise ValueError(f"--thresholds {t!r}: every threshold must be a finite number > 0")
        labels = [f"{float(t):g}" for t in thresholds]
        if len(set(labels)) != len(labels):
            raise ValueError(f"--thresholds: a threshold is given twice in {' '.join(labels)}")
        check_int("--n-eval-points", self.n_eval_points, 1, 10**6)
        for i in self.gallery:
            check_int("--gallery", i, 0)
        check_int("--n-frames", self.n_frames, 1, 3600)
        check_int("--render-size", self.render_size, 8, 2048)
        check_int("--seed", self.seed, 0)
        check_folder("--out-dir", self.out_dir)
        if self.data_root is not None:
            check_folder("--data-root", self.data_root)


def check_checkpoint_file(path: str | Path, option: str = "--checkpoint") -> Path:
    """``path`` as a Path when it names an existing file; a one-line error naming ``option`` otherwise."""
    text = str(path)
    if not text.strip():
        raise ValueError(f"{option}: empty path")
    path = Path(text)
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not a checkpoint file ({option}; inverse3d train writes "
                         "OUT_DIR/checkpoint.pt)")
    if not path.is_file():
        if path.exists():
            raise ValueError(f"{path}: not a regular file ({option})")
        raise FileNotFoundError(f"{path}: no such checkpoint ({option})")
    return path


@dataclass
class EvalResult:
    """Means over the shapes (``summary``: ``f1@t``, ``precision@t``, ``recall@t``, ``chamfer``, ``iou``), one row
    per shape (``rows``), and the files written."""

    summary: dict[str, float]
    rows: list[dict[str, Any]]
    files: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0

    def f1(self, threshold: float = 0.05) -> float:
        return self.summary[f"f1@{threshold:g}"]


def _prediction_slice(pred: dict[str, torch.Tensor], i: int) -> dict[str, torch.Tensor]:
    return {k: (v if k == "faces" else v[i : i + 1]) for k, v in pred.items()}


def prediction_voxels(pred: dict[str, torch.Tensor], res: int) -> torch.Tensor | None:
    """(N, res, res, res) occupancy probabilities of a prediction, or None for point clouds."""
    if "voxel_logits" in pred:
        logits = pred["voxel_logits"]
        if logits.shape[-1] != res:
            logits = torch.nn.functional.interpolate(logits[:, None], size=(res,) * 3, mode="trilinear",
                                                     align_corners=False)[:, 0]
        return torch.sigmoid(logits)
    if "verts" in pred:
        from inverse3d.ops import voxelize_meshes
        from inverse3d.structures import Meshes

        verts = pred["verts"]
        return voxelize_meshes(Meshes(verts=verts, faces=pred["faces"].expand(verts.shape[0], -1, -1)), res)
    return None


def prediction_display(pred: dict[str, torch.Tensor], kind: str) -> Any:
    """One prediction (batch of 1) of a model of type ``kind`` in a form the turntable renders: the marching-cubes
    mesh for ``implicit``, the grid itself (cubes) for voxels, the points, the mesh."""
    from inverse3d.tasks.single_view.predictions import voxels_to_meshes
    from inverse3d.structures import Meshes

    if "points" in pred:
        return pred["points"][0]
    if "verts" in pred:
        return Meshes(verts=pred["verts"], faces=pred["faces"][None])
    probs = torch.sigmoid(pred["voxel_logits"])
    if kind == "implicit":
        verts, faces = voxels_to_meshes(probs)
        if faces[0].shape[0] > 0:
            return Meshes(verts=verts, faces=faces)
    return probs[0]


def evaluate_model(
    model: torch.nn.Module,
    dataset,
    config: EvalConfig,
    name: str = "model",
) -> EvalResult:
    """Scores ``model`` (a ``SingleViewModel``) on ``dataset`` (items with meshes for the gallery) and writes the
    files of the module docstring into ``config.out_dir``, holding its lock."""
    from inverse3d.io.outputs import OutputLock

    config.check()
    n = len(dataset) if config.max_shapes is None else min(config.max_shapes, len(dataset))
    if n < 1:
        raise ValueError("nothing to evaluate: the split is empty")
    with OutputLock(Path(config.out_dir), is_dir=True):
        return _evaluate_model(model, dataset, config, name, n)


def _evaluate_model(model: torch.nn.Module, dataset, config: EvalConfig, name: str, n: int) -> EvalResult:
    from tqdm.auto import tqdm

    from inverse3d.datasets.builtin import collate_batch
    from inverse3d.metrics.shapes import chamfer_l2, f1_scores, voxel_iou
    from inverse3d.tasks.single_view.predictions import surface_points
    from inverse3d.viz.plots import plot_f1_curves
    from inverse3d.io.outputs import atomic_write

    t0 = time.perf_counter()
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(config.device)
    model = model.to(device).eval()
    thresholds = tuple(float(t) for t in config.thresholds)
    gallery = [i for i in config.gallery if 0 <= i < n]
    rows: list[dict[str, Any]] = []
    shown: dict[int, tuple[dict[str, Any], dict[str, torch.Tensor]]] = {}
    gen_state = torch.get_rng_state()
    torch.manual_seed(config.seed)
    try:
        for start in tqdm(range(0, n, config.batch_size), desc=f"eval {name}", disable=not config.progress):
            items = [dataset[i] for i in range(start, min(start + config.batch_size, n))]
            batch = collate_batch(items)
            images = batch["images"].to(device)
            gt_points = batch["points"].to(device)
            pred = model.predict(images)
            pts, lengths = surface_points(pred, config.n_eval_points)
            scores = f1_scores(pts, gt_points, thresholds, pred_lengths=lengths)
            cd = chamfer_l2(pts, gt_points, pred_lengths=lengths)
            gt_vox = batch["voxels"].to(device)
            occ = prediction_voxels(pred, gt_vox.shape[-1])
            iou = voxel_iou(occ, gt_vox) if occ is not None else None
            for j, item in enumerate(items):
                row: dict[str, Any] = {"index": start + j, "id": item["id"], "category": item["category"]}
                for k, t in enumerate(thresholds):
                    row[f"f1@{t:g}"] = float(scores["f1"][j, k])
                for k, t in enumerate(thresholds):
                    row[f"precision@{t:g}"] = float(scores["precision"][j, k])
                    row[f"recall@{t:g}"] = float(scores["recall"][j, k])
                row["chamfer"] = float(cd[j])
                row["iou"] = float(iou[j]) if iou is not None else float("nan")
                rows.append(row)
                if start + j in gallery:
                    shown[start + j] = (item, {k: v.cpu() for k, v in _prediction_slice(pred, j).items()})
    finally:
        torch.set_rng_state(gen_state)

    keys = [k for k in rows[0] if k not in ("index", "id", "category")]
    summary = {k: float(np.nanmean([r[k] for r in rows])) if not all(math.isnan(r[k]) for r in rows) else float("nan")
               for k in keys}
    summary["n_shapes"] = float(len(rows))
    files: dict[str, Path] = {}

    def write_csv(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    files["csv"] = atomic_write(out / "metrics.csv", write_csv)
    text = json.dumps({"model": name, "summary": summary, "thresholds": thresholds, "rows": rows}, indent=1,
                      default=float)
    files["json"] = atomic_write(out / "metrics.json", lambda tmp: tmp.write_text(text))
    files["f1_plot"] = plot_f1_curves(out / "f1.png", thresholds, {name: [summary[f"f1@{t:g}"] for t in thresholds]})
    gallery_files = write_gallery(out / "gallery", shown, config, model.type)
    files.update({f"gallery_{i}": p for i, p in gallery_files.items()})
    files["html"] = write_eval_page(out / "index.html", name, summary, thresholds, files["f1_plot"], gallery_files,
                                    shown)
    return EvalResult(summary, rows, files, time.perf_counter() - t0)


def write_gallery(folder: Path, shown: dict[int, tuple[dict[str, Any], dict[str, torch.Tensor]]],
                  config: EvalConfig, kind: str) -> dict[int, Path]:
    """For each shown example: a GIF of the input image, the ground truth and the prediction turning side by side."""
    from inverse3d.viz.plots import side_by_side
    from inverse3d.tasks.single_view.views import shape_turntable
    from inverse3d.structures import Meshes
    from inverse3d.viz.images import save_frames

    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    S = config.render_size
    for i, (item, pred) in sorted(shown.items()):
        image = torch.nn.functional.interpolate(item["images"].permute(2, 0, 1)[None], size=(S, S), mode="bilinear",
                                                align_corners=False)[0].permute(1, 2, 0)
        image = (image.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
        gt = Meshes(verts=[item["verts"]], faces=[item["faces"]]) if "verts" in item else item["points"]
        gt_frames = shape_turntable(gt, config.n_frames, S)
        pred_frames = shape_turntable(prediction_display(pred, kind), config.n_frames, S)
        files[i] = save_frames(side_by_side(image, gt_frames, pred_frames), folder / f"{i:03d}_{item['id']}.gif",
                               fps=12)
    return files


def f1_table_html(names_to_summary: dict[str, dict[str, float]], thresholds: Sequence[float]) -> str:
    """An HTML table: one row per model, F1 at each threshold, chamfer and IoU."""
    from inverse3d.viz.report import html_table

    header = ["model"] + [f"F1@{t:g}" for t in thresholds] + ["chamfer", "IoU", "shapes"]
    rows = []
    for name, s in names_to_summary.items():
        iou = s.get("iou", float("nan"))
        rows.append([name] + [s[f"f1@{t:g}"] for t in thresholds]
                    + [f"{s['chamfer']:.5f}", "-" if math.isnan(iou) else f"{iou:.3f}", int(s.get("n_shapes", 0))])
    return html_table(header, rows, floatfmt=".1f")


def write_eval_page(path: Path, name: str, summary: dict[str, float], thresholds: Sequence[float], f1_plot: Path,
                    gallery: dict[int, Path], shown: dict[int, Any]) -> Path:
    from inverse3d.viz.report import Section, write_page

    sec = Section(f"Evaluation of {name}", "F1 in percent at each distance threshold (shapes have bounding-box "
                  "diagonal 1), chamfer distance and voxel IoU, averaged over the evaluated shapes.")
    sec.html_blocks.append(f1_table_html({name: summary}, thresholds))
    sec.add(f1_plot, "Mean F1 against the distance threshold.", "F1 vs threshold")
    gal = Section("Gallery", "Input image, ground truth and prediction, turning.")
    for i, p in sorted(gallery.items()):
        gal.add(p, f"example {i} ({shown[i][0]['id']})")
    return write_page(path, f"inverse3d eval: {name}", [sec, gal])


def print_table(names_to_summary: dict[str, dict[str, float]], thresholds: Sequence[float]) -> str:
    """A plain-text table of F1 per threshold, chamfer and IoU (one line per model); returned and not printed."""
    head = f"{'model':<24}" + "".join(f"{'F1@' + format(t, 'g'):>9}" for t in thresholds) + f"{'chamfer':>10}{'IoU':>7}"
    lines = [head]
    for name, s in names_to_summary.items():
        iou = s.get("iou", float("nan"))
        lines.append(f"{name:<24}" + "".join(f"{s[f'f1@{t:g}']:>9.1f}" for t in thresholds)
                     + f"{s['chamfer']:>10.5f}" + (f"{'-':>7}" if math.isnan(iou) else f"{iou:>7.3f}"))
    return "\n".join(lines)


def evaluate(config: EvalConfig) -> EvalResult:
    """Loads ``config.checkpoint``, builds the split it was trained on (same data parameters) and evaluates it.

    Raises:
        ValueError: an option that cannot work (``EvalConfig.check``); ``--checkpoint`` a folder; before any work.
        FileNotFoundError: no checkpoint file.
        CheckpointError: a checkpoint that cannot be used, including a stored training configuration whose data
            options are out of range.
        OutputInUseError: another process is writing into ``out_dir``.
    """
    from inverse3d.tasks.single_view.checkpoint import CheckpointError, model_from_checkpoint
    from inverse3d.tasks.single_view.data import make_dataset
    from inverse3d.tasks.single_view.train import config_from_plain
    from inverse3d.io.outputs import OutputLock

    config.check()
    path = check_checkpoint_file(config.checkpoint)
    model, ckpt = model_from_checkpoint(path, device=config.device)
    overrides: dict[str, Any] = {"out_dir": Path(config.out_dir)}  # the training run's folder plays no part here
    if config.data_root is not None:
        overrides["data_root"] = Path(config.data_root)
    stored = ckpt.get("train_config", {})
    try:
        if not isinstance(stored, dict):
            raise ValueError(f"a {type(stored).__name__}, not a dict")
        train_config = config_from_plain(stored, **overrides)
        # the stored options decide which data is generated: they must pass the same checks as train's
        train_config.check()
    except (TypeError, ValueError) as err:
        raise CheckpointError(path, f"unusable training configuration stored in the checkpoint: {err}") from None
    with OutputLock(Path(config.out_dir), is_dir=True):
        dataset = make_dataset(train_config, config.split, return_mesh=True, progress=config.progress)
        name = f"{model.type} (step {ckpt['step']})"
        return evaluate_model(model, dataset, config, name)
