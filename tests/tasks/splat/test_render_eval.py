"""Cameras of the splatting task (scene frames, orbits), turntables and evaluation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from inverse3d.tasks.splat.render import (depth_to_gray, frame_cameras, gaussians_orbit, orbit_c2w, orbit_cameras,
                                          render_turntable, render_view, viewmats_from_c2w)


def test_orbit_cameras_look_at_the_centre():
    centre = (0.3, -0.2, 0.5)
    viewmats, Ks = orbit_cameras(centre, 3.0, 30.0, 5, 40, 30, fov_x_deg=50.0)
    assert viewmats.shape == (5, 4, 4) and Ks.shape == (5, 3, 3)
    c = torch.tensor([*centre, 1.0])
    for vm, K in zip(viewmats, Ks):
        cam = (vm @ c)[:3]  # OpenCV camera coordinates: the centre straight ahead at the radius
        torch.testing.assert_close(cam, torch.tensor([0.0, 0.0, 3.0]), atol=1e-5, rtol=0)
        eye = -vm[:3, :3].T @ vm[:3, 3]
        elevation = math.degrees(math.asin(float(eye[1] - centre[1]) / 3.0))
        assert elevation == pytest.approx(30.0, abs=1e-3)
        up = vm[:3, :3] @ torch.tensor([0.0, 1.0, 0.0])  # world up points up in the image: -Y in OpenCV
        assert float(up[1]) < 0
    assert float(Ks[0, 0, 0]) == pytest.approx(20 / math.tan(math.radians(25)))
    # azimuth 0 looks from +Z, as our turntables
    eye0 = -viewmats[0, :3, :3].T @ viewmats[0, :3, 3]
    assert float(eye0[2]) > float(eye0[0])
    with pytest.raises(ValueError, match="--radius"):
        orbit_c2w(centre, -1.0, 0.0, 3)
    with pytest.raises(ValueError, match="--up"):
        orbit_c2w(centre, 1.0, 0.0, 3, up=(0, 0, 0))


def test_frame_cameras_match_the_scene_cameras(tiny_lego):
    from inverse3d.datasets.scenes import load_scene

    scene = load_scene(tiny_lego, "train")
    viewmats, Ks, w, h = frame_cameras(scene.frames)
    torch.testing.assert_close(viewmats, viewmats_from_c2w(np.stack([f.c2w for f in scene.frames])))
    # a world point projects where the dataset's ray through that pixel goes
    o, d = scene.rays(1)
    p = o[5, 9] + 3.0 * d[5, 9]
    cam = viewmats[1] @ torch.cat([p, torch.ones(1)])
    uv = (Ks[1] @ cam[:3])[:2] / cam[2]
    torch.testing.assert_close(uv, torch.tensor([9.5, 5.5]), atol=1e-3, rtol=0)
    assert (w, h) == (16, 16)
    # the rasteriser's conversion of the scene's PyTorch3D cameras gives the same gsplat cameras
    from inverse3d.renderer.splatting import viewmats_from_cameras

    vm2, K2 = viewmats_from_cameras(scene.cameras, (h, w))
    torch.testing.assert_close(vm2, viewmats, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(K2, Ks, atol=1e-4, rtol=1e-4)


def _blob():
    from inverse3d.structures import Gaussians

    torch.manual_seed(0)
    pts = torch.randn(30, 3) * 0.2
    return Gaussians.from_points(pts, torch.rand(30, 3), sh_degree=1, scales=0.1, opacity=0.9)


def test_turntable_frames_and_depth():
    g = _blob()
    orbit = gaussians_orbit(g.means, g.opacities)
    assert np.allclose(orbit["centre"], g.means.median(0).values.tolist())
    frames = list(render_turntable(g, orbit, n_frames=3, size=12))
    assert len(frames) == 3 and frames[0].shape == (12, 36, 3)
    alpha = frames[0][:, 24:, 0]
    assert alpha.max() > 0.5 and alpha.min() < 0.05  # the blob in the middle, empty corners
    colour = frames[0][:, :12]
    assert np.allclose(colour[alpha < 1e-3], 1.0, atol=1e-3)  # white background where empty
    depth = torch.tensor([[[1.0], [2.0]], [[3.0], [4.0]]])
    gray = depth_to_gray(depth, torch.tensor([[[1.0], [1.0]], [[1.0], [0.0]]]), near=1.0, far=3.0)
    assert gray.shape == (2, 2, 3) and float(gray[0, 0, 0]) == pytest.approx(1.0)
    assert float(gray[1, 0, 0]) == pytest.approx(0.15) and float(gray[1, 1, 0]) == 0.0


def test_render_view_depth_is_expected_depth():
    g = _blob()
    viewmats, Ks = orbit_cameras([0.0, 0.0, 0.0], 4.0, 0.0, 1, 16, 16)
    out = render_view(g, viewmats, Ks, 16, 16, 1, (0.0, 0.0, 0.0))
    covered = out["alpha"] > 0.5
    assert bool(covered.any())
    d = out["depth"][covered]
    assert float(d.min()) > 3.0 and float(d.max()) < 5.0  # around the 4-unit radius, not scaled by alpha


def test_evaluate_checkpoint_and_ply(tiny_lego, tmp_path):
    from inverse3d.tasks.splat.evaluate import evaluate_splat, format_table
    from inverse3d.tasks.splat.train import SplatTrainConfig, train

    train(SplatTrainConfig(scene=str(tiny_lego), out_dir=str(tmp_path / "run"), image_size=16, iterations=2,
                           init_points=40, sh_degree=0, progress_every=0, progress=False, device="cpu"))
    result = evaluate_splat(tmp_path / "run" / "checkpoint.pt", tmp_path / "ev", n_views=2)
    assert len(result["views"]) == 2 and 5 < result["psnr"] < 60 and -1 <= result["ssim"] <= 1
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["psnr"] == result["psnr"]
    assert (tmp_path / "ev" / "view_001.png").is_file() and "mean" in format_table(result)
    ply = evaluate_splat(tmp_path / "run" / "gaussians.ply", tmp_path / "ev2", scene=tiny_lego, n_views=2,
                         save_images=False, eps2d=0.1)  # a PLY knows no eps2d: the one trained with
    assert ply["psnr"] == pytest.approx(result["psnr"], abs=1e-3)
    with pytest.raises(ValueError, match="--scene"):
        evaluate_splat(tmp_path / "run" / "gaussians.ply", tmp_path / "ev3")
    with pytest.raises(ValueError, match="--n-views"):
        evaluate_splat(tmp_path / "run" / "checkpoint.pt", tmp_path / "ev3", n_views=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_trains_on_cuda(tiny_lego, tmp_path):
    from inverse3d.tasks.splat.train import SplatTrainConfig, train

    result = train(SplatTrainConfig(scene=str(tiny_lego), out_dir=str(tmp_path / "run"), image_size=16,
                                    iterations=4, init_points=40, sh_degree=1, densify_start=1, densify_every=2,
                                    grad_threshold=1e-5, progress_every=2, progress=False, device="cuda"))
    assert result.model.means.device.type == "cuda" and result.step == 4


def test_eps2d_is_the_low_pass_and_evaluation_uses_the_trained_one(tiny_lego, tmp_path):
    from inverse3d.datasets.scenes import load_scene
    from inverse3d.metrics import psnr
    from inverse3d.structures import Gaussians
    from inverse3d.tasks.splat.evaluate import evaluate_splat
    from inverse3d.tasks.splat.train import SplatTrainConfig, train

    # one tiny Gaussian: its 2D footprint is the low-pass term, so a larger eps2d spreads it (same total weight)
    tiny = Gaussians.from_points(torch.zeros(1, 3), torch.ones(1, 3), sh_degree=0, scales=1e-4, opacity=0.9)
    viewmats, Ks = orbit_cameras([0.0, 0.0, 0.0], 4.0, 0.0, 1, 15, 15)
    sharp = render_view(tiny, viewmats, Ks, 15, 15, 0, None, depth=False, eps2d=0.1)["alpha"][0, ..., 0]
    wide = render_view(tiny, viewmats, Ks, 15, 15, 0, None, depth=False, eps2d=0.6)["alpha"][0, ..., 0]
    assert float(sharp.max()) > float(wide.max()) and int((wide > 1e-3).sum()) > int((sharp > 1e-3).sum())
    with pytest.raises(ValueError, match="--eps2d"):
        SplatTrainConfig(eps2d=-0.1).check()

    result = train(SplatTrainConfig(scene=str(tiny_lego), out_dir=str(tmp_path / "run"), image_size=16,
                                    iterations=2, init_points=40, sh_degree=0, progress_every=0, progress=False,
                                    device="cpu", eps2d=0.05))
    scores = evaluate_splat(tmp_path / "run" / "checkpoint.pt", tmp_path / "ev", n_views=1, save_images=False)
    test = load_scene(tiny_lego, "test", white_background=True)
    viewmats, Ks, width, height = frame_cameras(test.frames[:1])
    truth = test[0]["image"]

    def score(eps2d: float) -> float:
        out = render_view(result.model, viewmats, Ks, width, height, None, (1.0, 1.0, 1.0), eps2d=eps2d)
        return float(psnr(out["rgb"][0].clamp(0, 1), truth))

    assert scores["psnr"] == pytest.approx(score(0.05), abs=1e-4)
    assert abs(score(0.05) - score(0.3)) > 1e-3
