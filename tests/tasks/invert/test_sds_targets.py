"""Score-distillation runs (``run_sds``) on the tiny random diffusers model: an image (latent and pixel), a mesh's
vertex colours and a NeRF, 2 steps each, with their files; an exact resume; the view-dependent prompts. Skipped
without diffusers / transformers."""

from __future__ import annotations

import imageio.v3 as iio
import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from inverse3d.tasks.invert.sds import load_sds_model  # noqa: E402
from inverse3d.tasks.invert.sds_targets import (  # noqa: E402
    VIEW_SUFFIXES, BlobField, MeshColorTarget, Views, view_direction_index)
from inverse3d.tasks.invert.sds_tiny import write_tiny_model  # noqa: E402
from inverse3d.tasks.invert.sds_train import SDSConfig, run_sds  # noqa: E402

SMALL = dict(prompt="a red apple", iterations=2, render_size=8, n_samples=8, hash_levels=2, hash_log2_size=8,
             hash_finest=16, preview_every=1, turntable_frames=3, progress=False, device="cpu", guidance_scale=7.5)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_sds_model(write_tiny_model(tmp_path_factory.mktemp("sds") / "tiny", image_size=16), "cpu")


def _frames(path):
    return iio.imread(path, index=None)


@pytest.mark.parametrize("space", ["latent", "pixel"])
def test_image(model, tmp_path, space):
    out = tmp_path / space
    r = run_sds(SDSConfig(target="image", image_space=space, out_dir=str(out), **SMALL), model)
    assert r.step == 2 and len(r.losses) == 2 and all(v > 0 for v in r.losses)
    assert set(r.files) == {"checkpoint", "loss", "progress", "result"}
    frames = _frames(out / "progress.gif")
    assert frames.shape == (3, 16, 16, 3)  # steps 0, 1 and the final state
    assert iio.imread(out / "result.png").shape == (16, 16, 3)
    ckpt = torch.load(out / "checkpoint.pt", weights_only=False)
    expected = (1, 4, 8, 8) if space == "latent" else (1, 3, 16, 16)
    assert ckpt["model"]["param"].shape == expected and ckpt["sds_frames"].shape == (2, 16, 16, 3)


def test_mesh_colours_resume_exactly(model, tmp_path):
    from inverse3d.io import load_mesh

    straight = run_sds(SDSConfig(target="mesh", out_dir=str(tmp_path / "a"), **{**SMALL, "iterations": 3}), model)
    assert set(straight.files) == {"checkpoint", "loss", "progress", "result", "turntable"}
    colours = straight.model.colors().detach()
    assert not torch.allclose(colours, torch.full_like(colours, 0.5), atol=1e-3)  # the colours moved
    mesh = load_mesh(tmp_path / "a" / "result.ply")
    assert mesh.verts_packed().shape == (2562, 3)  # ico sphere level 4
    torch.testing.assert_close(mesh.textures.verts_features_packed(), colours, atol=1 / 255, rtol=0)
    assert _frames(tmp_path / "a" / "turntable.gif").shape == (3, 8, 8, 3)
    assert _frames(tmp_path / "a" / "progress.gif").shape == (4, 8, 16, 3)  # front | side

    run_sds(SDSConfig(target="mesh", out_dir=str(tmp_path / "b"), **SMALL), model)  # 2 steps, then 1 more
    resumed = run_sds(SDSConfig(target="mesh", out_dir=str(tmp_path / "b"), resume=True,
                                **{**SMALL, "iterations": 3}), model)
    assert torch.equal(resumed.model.logits, straight.model.logits)
    assert resumed.losses == straight.losses
    assert (_frames(tmp_path / "b" / "progress.gif") == _frames(tmp_path / "a" / "progress.gif")).all()
    with pytest.raises(ValueError, match="--target"):
        run_sds(SDSConfig(target="image", out_dir=str(tmp_path / "b"), resume=True, **{**SMALL, "iterations": 4}),
                model)


def test_nerf(model, tmp_path):
    r = run_sds(SDSConfig(target="nerf", out_dir=str(tmp_path), sparsity=0.1, **SMALL), model)
    assert set(r.files) == {"checkpoint", "loss", "progress", "turntable"}
    assert _frames(tmp_path / "turntable.gif").shape == (3, 8, 8, 3)
    fresh = run_sds(SDSConfig(target="nerf", out_dir=str(tmp_path / "one"), **{**SMALL, "iterations": 1}), model)
    before = {k: v for k, v in fresh.model.state_dict().items() if v.is_floating_point()}
    changed = [k for k, v in r.model.state_dict().items() if k in before and not torch.equal(v, before[k])]
    assert any("encoding" in k for k in changed)  # the hash grid learned from the SDS gradient


def test_blob_field_adds_density_at_the_centre():
    from inverse3d.models.fields import HashGridField

    inner = HashGridField(([-1.0] * 3, [1.0] * 3), n_levels=2, log2_hashmap_size=8, finest_resolution=16)
    field = BlobField(inner, density=10.0, radius=0.5)
    pts = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.9, 0.9, 0.9], [0.0, -0.25, 0.0]])
    sigma, rgb = field(pts, torch.zeros_like(pts))
    sigma0, rgb0 = inner(pts, torch.zeros_like(pts))
    blob = torch.tensor([10.0, 0.0, 0.0, 5.0])  # 10 (1 - |x| / 0.5), clipped at 0
    torch.testing.assert_close(sigma[:, 0] - sigma0[:, 0], blob)
    assert torch.equal(rgb, rgb0)


def test_view_dependent_prompts():
    views = Views(torch.full((6,), 3.0), torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 70.0]),
                  torch.tensor([10.0, -30.0, 90.0, -120.0, 180.0, 0.0]))
    names = [VIEW_SUFFIXES[i] for i in view_direction_index(views)]
    assert names == ["front view", "front view", "side view", "side view", "back view", "overhead view"]


def test_mesh_render_is_differentiable():
    from inverse3d.tasks.invert.sds_targets import fixed_views
    from inverse3d.utils import ico_sphere

    mesh = ico_sphere(1)
    target = MeshColorTarget(mesh.verts_packed() * 3.0 + 1.0, mesh.faces_packed(), image_size=16)
    assert target.verts.norm(dim=-1).max() == pytest.approx(1.0)  # normalised into the unit sphere
    img = target.render(fixed_views((0.0, 90.0), 3.0, 10.0))
    assert img.shape == (2, 3, 16, 16)
    assert torch.all(img[:, :, 0, 0] == 1.0)  # background in the corner
    img.mean().backward()
    assert target.logits.grad.abs().sum() > 0


def test_bad_options(model, tmp_path):
    for kw, match in ((dict(target="voxels"), "--target"), (dict(prompt="  "), "--prompt"),
                      (dict(weighting="snr"), "--weighting"), (dict(min_step_frac=0.9, max_step_frac=0.1), "--min"),
                      (dict(mesh=str(tmp_path / "none.obj"), target="mesh"), "--mesh"),
                      (dict(render_size=2), "--render-size"), (dict(background=(2.0, 0.0, 0.0)), "--background")):
        with pytest.raises(ValueError, match=match):
            run_sds(SDSConfig(out_dir=str(tmp_path / "x"), **{**SMALL, **kw}), model)
    assert not (tmp_path / "x").exists()


def test_progress_frames_are_shrunk():
    from inverse3d.tasks.invert.sds_train import PREVIEW_HEIGHT, _thumbnail

    frame = torch.zeros(2 * PREVIEW_HEIGHT, 4 * PREVIEW_HEIGHT, 3, dtype=torch.uint8)
    frame[::2] = 200  # stripes average to 100
    small = _thumbnail(frame)
    assert small.shape == (PREVIEW_HEIGHT, 2 * PREVIEW_HEIGHT, 3) and small.dtype == torch.uint8
    assert torch.all(small == 100)
    little = torch.randint(0, 255, (8, 16, 3), dtype=torch.uint8)
    assert _thumbnail(little) is little
