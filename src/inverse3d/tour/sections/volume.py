"""The photorealism spectrum, part 2: volume rendering -- the course's box fit and short NeRF runs.

The box scene's centre and side lengths are recovered from its four views by volume rendering its SDF density (the
course's first exercise), shown before and after with the numbers. Then a hash-grid NeRF (Instant-NGP's encoding, in
pure PyTorch) trains for a few seconds on the lego-like and the materials scenes that part 1 wrote (read back from
disk like any user's scene), and is shown as a colour | depth | opacity turntable, with its PSNR on the held-out
test view and its training PSNR against time. These runs are labelled as short: the README gives the commands of the
full runs and the PSNR they reach.
"""

from __future__ import annotations

import time

import torch

from inverse3d.tour.registry import TourContext
from inverse3d.viz.report import Section, html_table

NAME = "volume"
ORDER = 110
SCENES = ("lego", "materials")


def _box_part(ctx: TourContext, sec: Section) -> list[list[str]]:
    """Fits the box; adds its before/after figure; returns the table rows."""
    from inverse3d.datasets.scenes import load_scene, make_scene
    from inverse3d.tasks.nerf.box import box_rays_from_scene, fit_box, render_box_rays
    from inverse3d.viz.images import image_grid, save_image, zoom

    size = 32 if ctx.quick else 64
    folder = make_scene("box", ctx.out_dir / "scenes" / "box", image_size=size, n_train=4, n_val=1, n_test=1,
                        progress=False, device=ctx.device)
    import json

    box = json.loads((folder / "manifest.json").read_text())["scene"]["box"]
    scene = load_scene(folder, "train", white_background=False)
    origins, directions, colors = box_rays_from_scene(scene)
    init_c, init_s = (0.0, 0.0, 0.0), (1.75, 1.75, 1.75)
    iterations = 60 if ctx.quick else 400
    r = fit_box(origins, directions, colors, float(box["beta"]), init_c, init_s, iterations=iterations,
                rays_per_step=1024, n_samples=64, seed=0)
    H, W = scene.image_size
    n_views = min(4, len(scene))
    dirs = torch.nn.functional.normalize(directions, dim=-1)
    jitter = torch.full((H * W * n_views, 64), 0.5)

    def render(center, sides):
        with torch.no_grad():
            rgb, _ = render_box_rays(origins[: H * W * n_views], dirs[: H * W * n_views], torch.tensor(center),
                                     torch.tensor(sides), float(box["beta"]), 64, jitter)
        return rgb.reshape(n_views, H, W, 3).clamp(0, 1)

    before, after = render(init_c, init_s), render(r.center, r.sides)
    truth = colors[: H * W * n_views].reshape(n_views, H, W, 3)
    factor = max(1, 128 // H)  # shown at about 128 px a view
    tiles = [zoom((t * 255).round().to(torch.uint8), factor).numpy() for row in (truth, before, after) for t in row]
    path = save_image(ctx.path("volume_box_fit.png"), image_grid(tiles, ncols=n_views))
    err_c = max(abs(a - b) for a, b in zip(r.center, box["center"]))
    err_s = max(abs(a - b) for a, b in zip(r.sides, box["sides"]))
    sec.add(path, f"The box scene's {n_views} views (top), the starting box (middle: centre (0, 0, 0), sides 1.75) "
            f"and the fitted box (bottom) after {r.steps} Adam steps ({r.seconds:.1f} s): centre "
            f"{[round(v, 3) for v in r.center]} (true {box['center']}), sides {[round(v, 3) for v in r.sides]} "
            f"(true {box['sides']}).", "box: before / after", wide=True)
    return [["box fit (centre, sides)", f"{size} px, {len(scene)} views", f"{r.seconds:.1f}",
             f"max error: centre {err_c:.4f}, sides {err_s:.4f}"]]


def _nerf_part(ctx: TourContext, sec: Section, seconds: float) -> tuple[list[list[str]], dict[str, list[dict]]]:
    """Trains a hash-grid NeRF per scene for ``seconds``; adds the turntables; returns table rows and logs."""
    from inverse3d.datasets.scenes import make_scene
    from inverse3d.tasks.nerf.evaluate import evaluate_nerf
    from inverse3d.tasks.nerf.render import render_turntable
    from inverse3d.tasks.nerf.train import NeRFTrainConfig, load_nerf_checkpoint, train
    from inverse3d.tour.sections import photoreal
    from inverse3d.viz.images import save_frames

    size = photoreal.SIZE_QUICK if ctx.quick else photoreal.SIZE
    rows, logs = [], {}
    for name in SCENES:
        # the copy part 1 wrote (same parameters: nothing is regenerated), read back like a user's scene
        folder = make_scene(name, ctx.out_dir / "scenes" / name, image_size=size,
                            n_train=photoreal.N_TRAIN_QUICK if ctx.quick else photoreal.N_TRAIN, n_val=1, n_test=1,
                            progress=False, device=ctx.device, n_points=photoreal.N_POINTS)
        out = ctx.out_dir / "nerf" / name
        cfg = NeRFTrainConfig(scene=str(folder), field="hashgrid", downscale=1 if ctx.quick else 2,
                              out_dir=str(out), iterations=20 if ctx.quick else 100_000, rays_per_step=2048,
                              hash_log2_size=15, hash_levels=8, hash_finest=128, occupancy_resolution=32,
                              n_samples=32 if ctx.quick else 48, max_minutes=None if ctx.quick else seconds / 60,
                              checkpoint_every=1_000_000, log_every=5 if ctx.quick else 20, overwrite=True,
                              progress=False, device=str(ctx.device))
        result = train(cfg)
        ckpt = out / "checkpoint.pt"
        metrics = evaluate_nerf(ckpt, out / "eval", "test", device=ctx.device)
        model, saved = load_nerf_checkpoint(ckpt, ctx.device)
        n_frames = 4 if ctx.quick else ctx.n_frames
        gif = save_frames(render_turntable(model, saved["scene"], n_frames), ctx.path(f"volume_nerf_{name}.gif"),
                          fps=ctx.fps)
        H = saved["scene"]["cameras"]["height"]
        sec.add(gif, f"{name}: hash-grid NeRF after a short run ({result.step} steps, {result.seconds:.0f} s at "
                f"{H} px): colour | depth | opacity. Test-view PSNR {metrics['psnr']:.1f} dB, SSIM "
                f"{metrics['ssim']:.3f}.", f"{name}: NeRF (short run)", wide=True)
        rows.append([f"NeRF, hash grid: {name}", f"{H} px, {photoreal.N_TRAIN_QUICK if ctx.quick else photoreal.N_TRAIN}"
                     " views", f"{result.seconds:.1f}", f"test PSNR {metrics['psnr']:.2f} dB, SSIM "
                     f"{metrics['ssim']:.3f} ({result.step} steps)"])
        logs[name] = saved.get("train_log", [])
    return rows, logs


def _psnr_plot(ctx: TourContext, logs: dict[str, list[dict]]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.4), dpi=110)
    for name, log in logs.items():
        if log:
            ax.plot([e["seconds"] for e in log], [e["psnr"] for e in log], marker=".", label=name)
    ax.set_xlabel("training time (s)")
    ax.set_ylabel("training-batch PSNR (dB)")
    ax.set_title("Hash-grid NeRF: PSNR against time")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = ctx.path("volume_psnr_time.png")
    fig.savefig(path)
    plt.close(fig)
    return path


def build(ctx: TourContext) -> Section:
    sec = Section(
        "Photorealism spectrum, part 2: volume rendering",
        "Volume rendering draws a scene as a density and a colour at every point: along each camera ray, samples are "
        "composited with weights T_i (1 - exp(-sigma_i delta_i)). First the course's box: its centre and side lengths "
        "are recovered from four views by gradient descent through the renderer (`inverse3d nerf fit-box`). Then "
        "radiance fields learned from the multi-view scenes of part 1: a multiresolution hash grid (Instant-NGP) with "
        "a tiny MLP, empty space skipped by an occupancy grid, all in pure PyTorch on the CPU "
        "(`inverse3d nerf train --scene lego --field hashgrid --max-minutes 10`). These are SHORT runs, to show the "
        "pipeline; the README lists the PSNR of the full ten-minute runs.",
    )
    t0 = time.perf_counter()
    rows = _box_part(ctx, sec)
    nerf_rows, logs = _nerf_part(ctx, sec, seconds=15.0)
    rows += nerf_rows
    sec.add(_psnr_plot(ctx, logs), "Training PSNR (on each step's random rays) against wall time for the two short "
            "runs above.", "PSNR against time")
    sec.html_blocks.append(html_table(["run", "data", "seconds", "result"], rows))
    sec.note = (f"Short runs ({time.perf_counter() - t0:.0f} s for this section). Full runs: "
                "`inverse3d nerf train --scene lego --field hashgrid --max-minutes 10` then "
                "`inverse3d nerf eval --checkpoint out/nerf/checkpoint.pt`.")
    return sec
