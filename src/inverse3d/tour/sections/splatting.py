"""The photorealism spectrum, part 4: Gaussian splatting.

A short, labelled training run of 3D Gaussians on a small copy of the lego-like scene (``inverse3d.tasks.splat``:
initialised from the scene's surface points, L1 + D-SSIM, adaptive density control), shown as its progress GIF
(target | render of a test view), its PSNR curve and a turntable of the result (colour | depth). Then the same scene
three ways from the same orbit: the trained Gaussians, a hash-grid NeRF trained for a few seconds
(``inverse3d.tasks.nerf``), and the ground-truth mesh through our mesh rasteriser.
"""

from __future__ import annotations

import math
import shutil
import time

import numpy as np
import torch

from inverse3d.tour.registry import TourContext
from inverse3d.viz.report import Section, html_table

NAME = "splatting"
ORDER = 130


def _uint8(frames: np.ndarray) -> np.ndarray:
    return (np.clip(frames, 0, 1) * 255).round().astype(np.uint8)


@torch.no_grad()
def _nerf_frames(model, c2w: np.ndarray, width: int, fov_x: float) -> np.ndarray:
    """(T, W, W, 3) float renders of a NeRF over white from OpenGL cameras ``c2w`` (T, 4, 4)."""
    from inverse3d.tasks.nerf.render import render_rays_chunked

    f = 0.5 * width / math.tan(fov_x / 2)
    v, u = torch.meshgrid(torch.arange(width) + 0.5, torch.arange(width) + 0.5, indexing="ij")
    cam = torch.stack([(u - width / 2) / f, -(v - width / 2) / f, -torch.ones_like(u)], -1).double()  # OpenGL
    out = []
    bg = torch.ones(3)
    for m in c2w:
        m = torch.as_tensor(m)
        dirs = (cam @ m[:3, :3].T).float().reshape(-1, 3)
        origins = m[:3, 3].float().expand_as(dirs)
        rgb = render_rays_chunked(model, origins, dirs, background=bg, chunk=16384)["rgb"]
        out.append(rgb.reshape(width, width, 3).clamp(0, 1).numpy())
    return np.stack(out)


@torch.no_grad()
def _splat_frames(model, viewmats: torch.Tensor, Ks: torch.Tensor, width: int, height: int, eps2d: float
                  ) -> np.ndarray:
    """(C, H, W, 3) float renders of Gaussians over white from C gsplat cameras."""
    from inverse3d.tasks.splat.render import render_view

    return np.stack([render_view(model, viewmats[i:i + 1], Ks[i:i + 1], width, height, None, (1.0, 1.0, 1.0),
                                 depth=False, eps2d=eps2d)["rgb"][0].clamp(0, 1).cpu().numpy()
                     for i in range(len(viewmats))])


def build(ctx: TourContext) -> Section:
    from inverse3d.datasets.scenes import load_scene, make_scene, render_rasterized, scene_spec
    from inverse3d.metrics import psnr
    from inverse3d.tasks.nerf.train import NeRFTrainConfig
    from inverse3d.tasks.nerf.train import train as train_nerf
    from inverse3d.tasks.splat.render import frame_cameras, orbit_c2w, render_turntable, scene_orbit
    from inverse3d.tasks.splat.train import SplatTrainConfig
    from inverse3d.tasks.splat.train import train as train_splat
    from inverse3d.viz.images import save_frames
    from inverse3d.viz.plots import side_by_side

    quick = ctx.quick
    size = 32 if quick else 64
    n_frames = 4 if quick else min(ctx.n_frames, 12)
    device = str(ctx.device)
    folder = make_scene("lego", ctx.out_dir / "scenes" / f"lego_splat_{size}", image_size=size,
                        n_train=8 if quick else 24, n_val=1, n_test=1, progress=False, device=ctx.device,
                        n_points=5000)
    sec = Section(
        "Photorealism spectrum, part 4: Gaussian splatting",
        "3D Gaussian splatting (Kerbl et al. 2023) represents a scene by many small, semi-transparent 3D Gaussians, "
        "each with a position, an orientation and scales (an ellipsoid), an opacity and a colour that changes with "
        "the viewing direction (spherical harmonics). A view is drawn by projecting every Gaussian to an ellipse on "
        "the screen and blending them front to back per pixel; all of it is differentiable, so the Gaussians are "
        "fitted to photographs by gradient descent, and their number adapts during training: Gaussians where the "
        "image still disagrees are cloned or split, transparent ones removed. inverse3d's rasteriser is pure "
        "PyTorch (tile binning, depth sort, compositing only the pairs of Gaussian and pixel that matter), so this "
        "runs on the CPU and unchanged on CUDA. Train your own with `inverse3d splat train --scene lego`, render "
        "any 3DGS PLY file with `inverse3d splat render -i scene.ply`, score it with `inverse3d splat eval`.",
    )

    # a short training run
    iterations = 20 if quick else 300
    t0 = time.perf_counter()
    run_dir = ctx.out_dir / "runs" / "splat"
    cfg = SplatTrainConfig(scene=str(folder), out_dir=str(run_dir), iterations=iterations,
                           init_points=500 if quick else 2000,
                           sh_degree=1, sh_degree_every=100, densify_start=50, densify_every=50, densify_stop=250,
                           reset_every=0, max_gaussians=15_000, progress_every=max(iterations // 20, 1),
                           lr_means=4e-4, max_minutes=0.1 if quick else 0.2, overwrite=True, progress=False,
                           device=device, checkpoint_every=10_000)
    result = train_splat(cfg)
    splat_s = time.perf_counter() - t0
    model = result.model.eval()
    label = (f"A short run: {result.step} steps ({splat_s:.0f} s on this machine) at {size} x {size} pixels, "
             f"{len(model)} Gaussians at the end")
    progress_gif = shutil.copyfile(result.files["progress"], ctx.path("splat_progress.gif"))
    psnr_png = shutil.copyfile(result.files["psnr"], ctx.path("splat_psnr.png"))
    sec.add(progress_gif, f"{label}. Left the test view, right the Gaussians' render of it, every "
            f"{cfg.progress_every} steps (the first frame shows the Gaussians initialised from the scene's surface "
            "points, before any training).", "Gaussian splatting: training", wide=True)
    sec.add(psnr_png, "PSNR of each step's training view and of the test view. A full run "
            "(`inverse3d splat train --scene lego --image-size 128 --max-minutes 5`) goes much further.",
            "Gaussian splatting: PSNR curve")
    test = load_scene(folder, "test", white_background=True)
    viewmats, Ks, width, height = frame_cameras(test.frames, ctx.device)
    truth = test[0]["image"].to(ctx.device)
    first = _splat_frames(model, viewmats[:1], Ks[:1], width, height, cfg.eps2d)[0]
    splat_psnr = float(psnr(torch.from_numpy(first).to(truth), truth))
    ckpt = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)
    orbit = scene_orbit(ckpt["splat"])
    turntable = np.stack(list(render_turntable(model, orbit, n_frames, eps2d=cfg.eps2d)))  # colour | depth | alpha
    splat_frames = turntable[:, :, :width]  # the colour panel, for the comparison below (same orbit)
    turntable = turntable[:, :, : 2 * width]
    gif = save_frames(_uint8(turntable), ctx.path("splat_turntable.gif"), fps=ctx.fps)
    sec.add(gif, "The trained Gaussians around the scene: colour and expected depth (near bright).",
            "Gaussian splatting: turntable")

    # a tiny NeRF for a few seconds
    t1 = time.perf_counter()
    nerf_cfg = NeRFTrainConfig(scene=str(folder), out_dir=str(ctx.out_dir / "runs" / "splat_nerf"),
                               field="hashgrid", iterations=20 if quick else 300, rays_per_step=1024, n_samples=32,
                               hash_log2_size=14, hash_levels=8, hash_finest=256, occupancy_resolution=32,
                               max_minutes=0.05 if quick else 0.08, overwrite=True, progress=False, device=device,
                               checkpoint_every=10_000, log_every=10_000)
    nerf = train_nerf(nerf_cfg)
    nerf_s = time.perf_counter() - t1
    nerf_model = nerf.model.eval()

    # the same orbit, three ways
    c2w = orbit_c2w(orbit["centre"], orbit["radius"], orbit["elevation"], n_frames)
    fov = math.radians(orbit["fov"])
    nerf_frames = _nerf_frames(nerf_model, c2w, width, fov)
    t2 = time.perf_counter()
    rgba = render_rasterized(scene_spec("lego"), c2w, fov, width, device=ctx.device).rgba.cpu()
    mesh_frames = (rgba[..., :3] * rgba[..., 3:] + (1 - rgba[..., 3:])).numpy()
    mesh_s = time.perf_counter() - t2
    three = side_by_side(_uint8(splat_frames), _uint8(nerf_frames), _uint8(mesh_frames))
    gif3 = save_frames(three, ctx.path("splat_nerf_mesh.gif"), fps=ctx.fps)
    sec.add(gif3, "The same scene as Gaussians (left), as a hash-grid NeRF trained for "
            f"{nerf_s:.0f} s (middle) and as the ground-truth mesh through our mesh rasteriser (right), from the "
            "same cameras. Both learned representations are short runs.", "Gaussians | NeRF | mesh", wide=True)

    from inverse3d.tasks.nerf.render import render_view as nerf_view

    with torch.no_grad():
        nerf_psnr = float(psnr(nerf_view(nerf_model, test, 0, torch.ones(3, device=ctx.device))["rgb"].clamp(0, 1),
                               truth))
    spec_mesh = ctx.out_dir / "scenes" / f"lego_splat_{size}" / "mesh.ply"
    faces = "-"
    if spec_mesh.is_file():
        from inverse3d.io import load_ply

        faces = f"{load_ply(spec_mesh)[1].shape[0]:,} faces"
    n_params = sum(p.numel() for p in nerf_model.parameters())
    sec.html_blocks.append(html_table(
        ["representation", "trained for", "test PSNR (dB)", "size"],
        [["Gaussians", f"{result.step} steps, {splat_s:.0f} s", f"{splat_psnr:.2f}", f"{len(model):,} Gaussians"],
         ["hash-grid NeRF", f"{nerf.step} steps, {nerf_s:.0f} s", f"{nerf_psnr:.2f}", f"{n_params:,} parameters"],
         ["mesh (ground truth)", "-", "(made the images)", faces]]))
    sec.note = (f"Short runs at {size} x {size} pixels to keep the tour fast; the mesh panel took {mesh_s:.1f} s. "
                "PSNR of one test view.")
    return sec
