"""score_views: PSNR/SSIM per view and their means against a loop over the views, the SSIM window of small images,
the side-by-side PNGs, and one-line errors; SceneTrainOptions: the checks and the training core's options."""

from __future__ import annotations

import dataclasses
import math

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from inverse3d.datasets.scenes import SceneTrainOptions, load_scene, score_views
from inverse3d.datasets.scenes.blender import write_blender_split
from inverse3d.datasets.scenes.scoring import check_n_views, format_scores, ssim_window
from inverse3d.metrics import psnr, ssim

from reference.scene_formats import HEIGHT, WIDTH, orbit_c2w


@pytest.fixture
def scene(tmp_path):
    images = torch.rand(3, HEIGHT, WIDTH, 4, generator=torch.Generator().manual_seed(1))
    write_blender_split(tmp_path / "s", "test", images, orbit_c2w(3), 0.8)
    return load_scene(tmp_path / "s", "test", white_background=True)


def _render(scene, panels=True):
    """A deterministic 'render' of view i: its image darkened by a different amount per view, and a grey panel."""
    def render(i):
        rgb = scene[i]["image"] * (0.9 - 0.1 * i) + 0.05
        return rgb, (torch.full_like(rgb, 0.5) if panels else None)
    return render


@pytest.mark.parametrize("size, window", [(64, 11), (11, 11), (10, 9), (9, 9), (8, 7), (3, 3), (1, 1)])
def test_ssim_window_is_the_largest_odd_size_that_fits(size, window):
    assert ssim_window(size, 100) == ssim_window(100, size) == window
    image = torch.rand(size, size, 3)
    assert math.isfinite(float(ssim(image, image * 0.5, window_size=window)))


def test_scores_match_a_loop_over_the_views(scene, tmp_path):
    render = _render(scene)
    result = score_views(scene, render, out_dir=tmp_path)
    assert [r["index"] for r in result["views"]] == [0, 1, 2]
    for row in result["views"]:
        truth = scene[row["index"]]["image"]
        pred = render(row["index"])[0].clamp(0, 1)
        assert row["psnr"] == pytest.approx(float(psnr(pred, truth)), rel=1e-6)
        assert row["ssim"] == pytest.approx(float(ssim(pred, truth, window_size=11)), rel=1e-6)
        png = iio.imread(tmp_path / f"view_{row['index']:03d}.png")
        assert png.shape == (HEIGHT, 3 * WIDTH, 3)
        assert np.abs(png[:, 2 * WIDTH:].astype(int) - 128).max() <= 1  # the panel, right of truth | render
    assert result["psnr"] == pytest.approx(np.mean([r["psnr"] for r in result["views"]]))
    assert result["ssim"] == pytest.approx(np.mean([r["ssim"] for r in result["views"]]))
    assert result["views"][0]["psnr"] > result["views"][2]["psnr"]  # view 0 is darkened least
    table = format_scores(result).splitlines()
    assert len(table) == 5 and table[-1].split()[0] == "mean"


def test_first_views_only_and_no_images(scene, tmp_path):
    result = score_views(scene, _render(scene, panels=False), n_views=2, out_dir=None)
    assert [r["index"] for r in result["views"]] == [0, 1]
    assert list(tmp_path.iterdir()) == [tmp_path / "s"]
    assert len(score_views(scene, _render(scene), n_views=10)["views"]) == 3


def test_bad_n_views_is_one_line(scene):
    check_n_views(None)
    check_n_views(1)
    for bad in (0, -2):
        with pytest.raises(ValueError, match=f"--n-views must be >= 1; got {bad}"):
            score_views(scene, _render(scene), n_views=bad)


@pytest.mark.parametrize("change, message", [
    (dict(scene=""), "--scene must name a scene folder or a built-in scene"),
    (dict(image_size=4), "--image-size 4: must be at least 8"),
    (dict(downscale=3), "--downscale must be 1, 2, 4 or 8; got 3"),
])
def test_scene_options_checks(change, message):
    SceneTrainOptions().check_scene_options()
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(SceneTrainOptions(), **change).check_scene_options()


def test_loop_options_carry_the_run_options(tmp_path):
    opts = SceneTrainOptions(out_dir=str(tmp_path / "run"), iterations=7, seed=3, checkpoint_every=2, resume=True,
                             max_minutes=1.5, progress=False, device="cpu")
    loop = opts.loop_options({"a": 1}, save=False)
    assert (loop.out_dir, loop.iterations, loop.seed, loop.checkpoint_every) == (tmp_path / "run", 7, 3, 2)
    assert (loop.resume, loop.overwrite, loop.max_minutes, loop.progress, loop.device) == (True, False, 1.5, False,
                                                                                            "cpu")
    assert loop.config == {"a": 1} and loop.save is False
