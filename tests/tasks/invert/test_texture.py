"""``inverse3d.tasks.invert.texture``: texture and image PSNR rise as the map is fitted (UV map and vertex colours),
the shading of precomputed fragments equals a full render, and one-line errors."""

from __future__ import annotations

import pytest
import torch

from inverse3d.tasks.invert.texture import TextureConfig, _TextureTask, fit_texture, texture_views

TINY = dict(image_size=32, n_views=4, n_test=2, texture_size=8, progress=False, frame_every=2)


@pytest.mark.parametrize("kind", ["uv", "vertex"])
def test_psnr_increases(tmp_path, kind):
    first = fit_texture(TextureConfig(out_dir=str(tmp_path / "a"), iterations=1, kind=kind, **TINY))
    later = fit_texture(TextureConfig(out_dir=str(tmp_path / "b"), iterations=30, lr=0.3, kind=kind, **TINY))
    assert later.test_psnr > first.test_psnr + 1.5, (first.test_psnr, later.test_psnr)
    assert later.train_psnr > first.train_psnr + 2.0, (first.train_psnr, later.train_psnr)
    if kind == "uv":
        assert later.texture_psnr > first.texture_psnr + 3.0, (first.texture_psnr, later.texture_psnr)
        assert (tmp_path / "b" / "texture.png").is_file() and (tmp_path / "b" / "mesh.obj").is_file()
    else:
        assert later.texture_psnr is None and (tmp_path / "b" / "mesh.ply").is_file()
    for name in ("progress.gif", "loss.png", "heldout.png", "metrics.json"):
        assert (tmp_path / "b" / name).is_file(), name


def test_true_texture_reproduces_the_targets():
    """The forward model of the fit is the targets' own: the true map renders the training views exactly."""
    from inverse3d.metrics import psnr
    from inverse3d.tasks.invert.meshes import cow_like_mesh
    from inverse3d.training import LoopOptions, Run
    from inverse3d.training.distributed import Dist

    cfg = TextureConfig(out_dir="unused", **TINY)
    mesh = cow_like_mesh(texture_size=8)
    train, test = texture_views(cfg, mesh, torch.device("cpu"))
    true = mesh.textures.maps_padded()[0]
    task = _TextureTask(cfg, mesh, train, test, tuple(true.shape))
    model, _ = task.build(Run(LoopOptions(out_dir="unused", iterations=1), Dist(), torch.device("cpu")))
    with torch.no_grad():
        model.logits.copy_(torch.logit(true.clamp(1e-6, 1 - 1e-6)))
        out = task.shade(model, train, task.fragments, torch.arange(len(train)))
    assert float(psnr(out, train.images)) > 60


def test_shading_precomputed_fragments_matches_a_full_render():
    """Rasterising once and shading a subset of views gives the renderer's own images of those views."""
    from inverse3d.tasks.invert.common import over_white
    from inverse3d.tasks.invert.meshes import cow_like_mesh
    from inverse3d.tasks.invert.texture import TextureModel, _textured
    from inverse3d.training import LoopOptions, Run
    from inverse3d.training.distributed import Dist

    cfg = TextureConfig(out_dir="unused", **TINY)
    mesh = cow_like_mesh(level=2, texture_size=16)
    train, test = texture_views(cfg, mesh, torch.device("cpu"))
    task = _TextureTask(cfg, mesh, train, test, tuple(mesh.textures.maps_padded()[0].shape))
    run = Run(LoopOptions(out_dir="unused", iterations=1), Dist(), torch.device("cpu"))
    model, _ = task.build(run)
    with torch.no_grad():
        model.logits.normal_()
        idx = torch.tensor([3, 1])
        got = task.shade(model, train, task.fragments, idx)
        cams = train.cameras[[3, 1]]
        from inverse3d.tasks.invert.common import headlights

        want = over_white(task.renderer(_textured(mesh, "uv", model.colors(), 2), cameras=cams,
                                        lights=headlights(cams)))
    assert torch.allclose(got, want, atol=1e-5)
    assert isinstance(model, TextureModel)


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="--kind"):
        fit_texture(TextureConfig(out_dir=str(tmp_path / "x"), kind="pixels"))
    with pytest.raises(ValueError, match="--shader"):
        fit_texture(TextureConfig(out_dir=str(tmp_path / "x"), shader="silhouette"))
    with pytest.raises(ValueError, match="needs its posed images"):
        fit_texture(TextureConfig(out_dir=str(tmp_path / "x"), mesh="m.obj"))
    with pytest.raises(ValueError, match="--scene nowhere: no such folder"):
        fit_texture(TextureConfig(out_dir=str(tmp_path / "x"), scene="nowhere", **TINY))
