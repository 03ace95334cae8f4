"""The tour's "single view to 3D" sections: a small but honest run of fitting, training and evaluation.

``build(ctx)`` (the registry's entry) runs ``tour_section`` at the ``TINY`` sizes under ``--quick``, else ``QUICK``.
``tour_section(out_dir, quick=True)`` fits each representation to one procedural chair, trains each decoder briefly
on a small split of the built-in dataset (small images, few steps), evaluates every model on a few test shapes,
and returns report sections with loss curves, progress GIFs, an F1 table, the F1-vs-threshold plot and a gallery.
Everything runs on the CPU in a few minutes; the page says that the numbers come from this short run (the quality
targets need the full command of ``inverse3d.tasks.single_view.train``'s documentation).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from inverse3d.tour.registry import TourContext
from inverse3d.viz.report import Section

NAME = "single_view"
ORDER = 90
FIT_KINDS = ("vox", "point", "mesh")
TRAIN_TYPES = ("vox", "vox_conv", "point", "mesh", "implicit")


@dataclass
class ShowcaseSizes:
    """How big the short run is."""

    fit_steps: int
    fit_points: int
    train_steps: int
    train_points: int
    n_train: int
    n_test: int
    image_size: int
    batch_size: int
    render_size: int
    n_frames: int
    gallery: tuple[int, ...]
    voxel_res: int = 32


QUICK = ShowcaseSizes(fit_steps=300, fit_points=2000, train_steps=100, train_points=1024, n_train=48, n_test=8,
                      image_size=64, batch_size=16, render_size=96, n_frames=12, gallery=(0, 1))
# Test sizes: every stage runs, nothing is learnt (the tour's --quick smoke run).
TINY = ShowcaseSizes(fit_steps=2, fit_points=40, train_steps=1, train_points=16, n_train=2, n_test=1, image_size=32,
                     batch_size=2, render_size=24, n_frames=2, gallery=(0,), voxel_res=8)
FULLER = ShowcaseSizes(fit_steps=600, fit_points=2000, train_steps=300, train_points=1024, n_train=128, n_test=16,
                       image_size=96, batch_size=16,
                       render_size=128, n_frames=24, gallery=(0, 1))


def tour_section(out_dir: Path, quick: bool = True, log: Callable[[str], None] = print,
                 device: str = "cpu", sizes: ShowcaseSizes | None = None) -> list[Section]:
    """Runs the short fitting / training / evaluation and returns three report sections (figures under
    ``out_dir/single_view``, referenced by absolute path).

    Args:
        quick: the ``QUICK`` sizes (a few CPU minutes) instead of ``FULLER``; ``sizes`` overrides both.
    """
    from inverse3d.tasks.single_view import (
        EvalConfig,
        FitConfig,
        TrainConfig,
        evaluate_model,
        f1_table_html,
        fit,
        make_dataset,
        train,
    )
    from inverse3d.viz.plots import plot_f1_curves

    sizes = sizes or (QUICK if quick else FULLER)
    root = Path(out_dir) / "single_view"
    root.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    # Fitting
    fit_sec = Section(
        "Single view to 3D: fitting one shape",
        f"A randomly initialised 32^3 voxel grid (class-balanced BCE) and a random cloud of {sizes.fit_points} points "
        "(chamfer), optimised by Adam, and a level-3 ico-sphere (chamfer + 3 x edge length + 0.01 x normal "
        "consistency + 0.5 x Laplacian smoothing, optimised by SGD with momentum as in PyTorch3D's mesh-fitting "
        f"tutorial), each fitted to one procedural chair in {sizes.fit_steps} steps. Left of each turntable the "
        "target, right the fit.",
    )
    for kind in FIT_KINDS:
        t0 = time.perf_counter()
        res = fit(FitConfig(kind=kind, steps=sizes.fit_steps, seed=3, voxel_res=sizes.voxel_res, ico_level=3,
                            n_points=sizes.fit_points,
                            frame_every=max(sizes.fit_steps // 6, 1), n_frames=sizes.n_frames,
                            image_size=sizes.render_size, out_dir=root / f"fit_{kind}", device=device, progress=False))
        log(f"[single view] fit {kind}: loss {res.losses[0]:.4g} -> {res.losses[-1]:.4g} "
            f"in {time.perf_counter() - t0:.1f} s")
        fit_sec.add(res.files["target_vs_fit"], f"target | fit, final loss {res.losses[-1]:.4g}", f"fit {kind}",
                    wide=True)
        fit_sec.add(res.files["progress"], "the fit during optimisation", f"{kind}: progress")
        fit_sec.add(res.files["loss"], "loss per step", f"{kind}: loss")

    # Training
    base = dict(data_root=root / "data", n_train=sizes.n_train, n_val=1, n_test=sizes.n_test,
                image_size=sizes.image_size, voxel_res=sizes.voxel_res, data_points=2000, batch_size=sizes.batch_size,
                iterations=sizes.train_steps, checkpoint_every=10**9, save=False, lr=1e-3, n_points=sizes.train_points,
                ico_level=3,
                n_queries=1024, device=device, progress=False)
    train_sec = Section(
        "Single view to 3D: training image-to-3D networks",
        f"ResNet-18 (random init) + one decoder per representation, trained for {sizes.train_steps} steps with batches "
        f"of {sizes.batch_size} on {sizes.n_train} procedural chairs rendered at {sizes.image_size} px "
        "(R2N2-style views).",
    )
    eval_sec = Section(
        "Single view to 3D: evaluation",
        "F1 in percent at distance thresholds 0.01 to 0.05 (shapes have bounding-box diagonal 1): voxels and the implicit field meshed by marching cubes "
        "at 0.5, meshes and points sampled, nearest neighbours both ways; chamfer and voxel IoU at 32^3.",
        note=f"These numbers come from the short run above ({sizes.train_steps} steps on {sizes.n_train} chairs, "
        f"evaluated on {sizes.n_test} test chairs), not from the quality-target training (30 CPU minutes per model on "
        "800 chairs; the commands are in the README under 'Training to the quality targets').",
    )
    summaries, gallery = {}, []
    test_set = None
    for kind in TRAIN_TYPES:
        t0 = time.perf_counter()
        cfg = TrainConfig(type=kind, out_dir=root / f"train_{kind}", **base)
        result = train(cfg)
        train_sec.add(result.files["loss"], f"{kind}: loss per step, last {result.losses[-1]:.4g}", kind)
        if test_set is None:
            test_set = make_dataset(cfg, "test", return_mesh=True, progress=False)
        ev = evaluate_model(result.model, test_set, EvalConfig(
            out_dir=root / f"eval_{kind}", gallery=sizes.gallery, n_frames=sizes.n_frames,
            render_size=sizes.render_size, n_eval_points=sizes.fit_points, device=device, progress=False), name=kind)
        summaries[kind] = ev.summary
        gallery += [(kind, p) for k, p in ev.files.items() if k.startswith("gallery_")]
        log(f"[single view] train + eval {kind}: F1@0.05 {ev.summary['f1@0.05']:.1f} in "
            f"{time.perf_counter() - t0:.1f} s")
    thresholds = (0.01, 0.02, 0.03, 0.04, 0.05)
    eval_sec.html_blocks.append(f1_table_html(summaries, thresholds))
    plot = plot_f1_curves(root / "f1_all.png", thresholds,
                          {k: [s[f"f1@{t:g}"] for t in thresholds] for k, s in summaries.items()},
                          title=f"F1 vs threshold (short run: {sizes.train_steps} steps)")
    eval_sec.add(plot, "mean F1 over the test chairs against the threshold, one line per decoder", "F1 vs threshold")
    for kind, path in gallery:
        eval_sec.add(path, "input image | ground truth | prediction", kind, wide=True)
    log(f"[single view] done in {time.perf_counter() - t_start:.1f} s")
    return [fit_sec, train_sec, eval_sec]


def build(ctx: TourContext) -> list[Section]:
    return tour_section(ctx.out_dir, log=print, device=str(ctx.device), sizes=TINY if ctx.quick else QUICK)
