"""Splatting training on a tiny scene: outputs, exact resume across densification, learning, bad input."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from inverse3d.tasks.splat.model import PARAMETERS
from inverse3d.tasks.splat.train import SplatTrainConfig, load_splat, splat_loss, train

TINY = dict(image_size=16, init_points=48, sh_degree=1, sh_degree_every=2, densify_start=1, densify_every=2,
            densify_stop=6, reset_every=3, grad_threshold=1e-5, progress_every=2, progress=False, device="cpu",
            checkpoint_every=3)


def config(scene, out, **kw) -> SplatTrainConfig:
    return SplatTrainConfig(scene=str(scene), out_dir=str(out), **{**TINY, **kw})


def test_outputs_and_exact_resume_across_densification(tiny_lego, tmp_path, monkeypatch):
    """7 steps straight == interrupted after 3 steps + --resume: same Gaussians (their number changed at steps 2
    and 4), same Adam moments, same losses; with random backgrounds and an opacity reset at step 3."""
    import os
    import signal

    from inverse3d.tasks.splat.train import SplatTask
    from inverse3d.training import TrainingInterrupted

    straight = train(config(tiny_lego, tmp_path / "a", iterations=7, background="random"))
    log = json.loads((tmp_path / "a" / "log.json").read_text())
    assert [d["step"] for d in log["densify"]] == [2, 4]  # both inside the resumed part's reach
    assert any(d["cloned"] + d["split"] > 0 for d in log["densify"])
    assert len(straight.model) != 48
    for name in ("checkpoint.pt", "gaussians.ply", "progress.gif", "psnr.png", "loss.png", "config.json",
                 "log.json"):
        assert (tmp_path / "a" / name).is_file(), name
    # Ctrl-C during step 2 (after the first densification): the core finishes it and checkpoints at 3
    loss = SplatTask.loss

    def interrupting(self, model, batch, step):
        if step == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return loss(self, model, batch, step)

    monkeypatch.setattr(SplatTask, "loss", interrupting)
    with pytest.raises(TrainingInterrupted) as stop:
        train(config(tiny_lego, tmp_path / "b", iterations=7, background="random"))
    assert stop.value.step == 3
    monkeypatch.setattr(SplatTask, "loss", loss)
    resumed = train(config(tiny_lego, tmp_path / "b", iterations=7, background="random", resume=True))
    assert resumed.step == 7 and len(resumed.model) == len(straight.model)
    for name in PARAMETERS:
        assert torch.equal(getattr(resumed.model, name), getattr(straight.model, name)), name
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    for i, state in a["optimizer"]["state"].items():
        for key in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(state[key], b["optimizer"]["state"][i][key])
    assert a["losses"] == b["losses"] and a["splat_log"]["train_psnr"] == b["splat_log"]["train_psnr"]
    # the PLY holds the trained Gaussians
    from inverse3d.io import load_gaussians_ply

    g = load_gaussians_ply(tmp_path / "a" / "gaussians.ply")
    torch.testing.assert_close(g.means, straight.model.means.detach())
    model, _ = load_splat(tmp_path / "a" / "gaussians.ply")
    assert len(model) == len(straight.model)


def test_training_lowers_the_loss(tiny_lego, tmp_path):
    result = train(config(tiny_lego, tmp_path / "run", iterations=30, densify=False, init_points=150,
                          lr_means=1.6e-3, progress_every=0))
    first, last = sum(result.losses[:5]) / 5, sum(result.losses[-5:]) / 5
    assert last < 0.8 * first, (first, last)


def test_loss_is_l1_plus_dssim():
    torch.manual_seed(0)
    a, b = torch.rand(12, 12, 3), torch.rand(12, 12, 3)
    from inverse3d.metrics import ssim

    expected = 0.8 * (a - b).abs().mean() + 0.2 * (1 - ssim(a, b))
    torch.testing.assert_close(splat_loss(a, b), expected)
    torch.testing.assert_close(splat_loss(a, b, 0.0), (a - b).abs().mean())
    assert float(splat_loss(a, a)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("kw, match", [
    (dict(sh_degree=4), "--sh-degree"),
    (dict(background="green"), "--background"),
    (dict(init="sfm"), "--init"),
    (dict(lr_means=-1.0), "--lr-means"),
    (dict(max_gaussians=0), "--max-gaussians"),
    (dict(ssim_weight=2.0), "--ssim-weight"),
    (dict(scene="nowhere"), "--scene"),
])
def test_bad_options(tiny_lego, tmp_path, kw, match):
    cfg = config(tiny_lego, tmp_path / "run", iterations=1)
    for k, v in kw.items():
        setattr(cfg, k, v)
    with pytest.raises(ValueError, match=match):
        train(cfg)


def test_bad_checkpoints(tiny_lego, tmp_path):
    train(config(tiny_lego, tmp_path / "run", iterations=1, progress_every=0))
    with pytest.raises(ValueError, match="--sh-degree"):
        train(config(tiny_lego, tmp_path / "run", iterations=2, sh_degree=2, resume=True))
    with pytest.raises(ValueError, match="a checkpoint exists"):
        train(config(tiny_lego, tmp_path / "run", iterations=2))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt"):
        load_splat(bad)
    with pytest.raises(ValueError, match="no such file"):
        load_splat(tmp_path / "missing.pt")
    shutil.copy(tmp_path / "run" / "checkpoint.pt", tmp_path / "copy.pt")
    model, ckpt = load_splat(tmp_path / "copy.pt")
    assert ckpt["step"] == 1 and model.sh_degree == 1
