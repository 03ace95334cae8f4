"""Turntable rays, evaluation and mesh extraction of trained NeRFs."""

import json

import numpy as np
import pytest
import torch

from inverse3d.datasets.scenes import load_scene
from inverse3d.renderer.implicit import render_image_chunked
from inverse3d.tasks.nerf.mesh import density_grid, extract_mesh
from inverse3d.tasks.nerf.model import FieldOptions, NeRFModel
from inverse3d.tasks.nerf.render import orbit_cameras, render_turntable
from inverse3d.tasks.nerf.train import NeRFTrainConfig, train


def test_chunked_rays_are_the_training_rays(tiny_lego):
    """The rays render_image_chunked makes from a view's camera are the rays the training pixels use."""
    scene = load_scene(tiny_lego, "train")
    H, W = scene.image_size
    for i in (0, 3):
        def fn(rays):
            return torch.cat([rays.origins, rays.directions], -1)

        img = render_image_chunked(fn, scene.cameras[i], (H, W), n_pts_per_ray=4, min_depth=1.0, max_depth=2.0,
                                   chunk_rays=37)[0]
        o, d = scene.rays(i)
        torch.testing.assert_close(img[..., :3], o, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(img[..., 3:], d, atol=1e-4, rtol=1e-4)


@pytest.fixture(scope="module")
def checkpoint(tiny_lego, tmp_path_factory):
    out = tmp_path_factory.mktemp("nerf") / "run"
    train(NeRFTrainConfig(scene=str(tiny_lego), out_dir=str(out), iterations=3, field="hashgrid", rays_per_step=128,
                          n_samples=12, hash_log2_size=10, hash_levels=4, hash_finest=32, occupancy_resolution=8,
                          progress=False, device="cpu"))
    return out / "checkpoint.pt"


def test_orbit_and_turntable(checkpoint):
    from inverse3d.tasks.nerf.train import load_nerf_checkpoint

    model, ckpt = load_nerf_checkpoint(checkpoint)
    meta = ckpt["scene"]
    cams, (H, W) = orbit_cameras(meta, 4, image_size=8)
    assert (H, W) == (8, 8)
    centre = np.mean(np.asarray(meta["bounds"]), axis=0)
    radius = np.linalg.norm(np.asarray(meta["cameras"]["centres"]) - centre, axis=1).mean()
    eyes = cams.get_camera_center().numpy()
    np.testing.assert_allclose(np.linalg.norm(eyes - centre, axis=1), radius, rtol=1e-4)
    frames = list(render_turntable(model, meta, 2, image_size=8))
    assert len(frames) == 2 and frames[0].shape == (8, 24, 3)
    assert frames[0].min() >= 0 and frames[0].max() <= 1


def test_evaluate_writes_table_and_images(checkpoint, tmp_path):
    from inverse3d.tasks.nerf.evaluate import evaluate_nerf, format_table
    from inverse3d.viz.images import to_uint8  # noqa: F401  (the PNG writer's conversion)

    result = evaluate_nerf(checkpoint, tmp_path / "eval", n_views=2)
    assert [r["index"] for r in result["views"]] == [0, 1]
    assert all(np.isfinite(r["psnr"]) and -1 <= r["ssim"] <= 1 for r in result["views"])
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved["psnr"] == pytest.approx(result["psnr"])
    import imageio.v3 as iio

    img = iio.imread(tmp_path / "eval" / "view_000.png")
    assert img.shape[:2] == (16, 48)
    assert "mean" in format_table(result)


def test_mesh_of_a_ball(tmp_path):
    model = NeRFModel(FieldOptions(field="grid", grid_resolution=24, grid_start_resolution=24, occupancy=False),
                      ([-1.0] * 3, [1.0] * 3), 1.0, 5.0)
    grid = model.field
    lin = torch.linspace(-1, 1, 24)
    z, y, x = torch.meshgrid(lin, lin, lin, indexing="ij")
    with torch.no_grad():  # raw density high inside a ball of radius 0.6 centred at (0.1, 0, 0)
        grid.density_grid[0, 0] = torch.where(((x - 0.1) ** 2 + y**2 + z**2).sqrt() < 0.6, 20.0, -20.0)
    d = density_grid(grid, grid.bounds, 24)
    assert d.shape == (24, 24, 24)
    v, f = extract_mesh(model, tmp_path / "ball.ply", resolution=40, level=5.0)
    assert v > 100 and f > 100
    from inverse3d.io import load_ply

    verts, faces = load_ply(tmp_path / "ball.ply")
    r = (verts - torch.tensor([0.1, 0.0, 0.0])).norm(dim=-1)
    assert abs(float(r.mean()) - 0.6) < 0.06 and float(r.std()) < 0.05
    with pytest.raises(ValueError, match="level"):
        extract_mesh(model, tmp_path / "none.ply", resolution=8, level=1e6)
