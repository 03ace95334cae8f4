"""The surface task end to end at tiny sizes: training lowers the error, exact resume, checkpoints, evaluation
(images + geometry), mesh extraction on an analytic SDF, turntables, the beta study and the CLI's run functions."""

from __future__ import annotations

import json
import math

import pytest
import torch

from inverse3d.tasks.surface.train import SurfaceTrainConfig, load_surface_checkpoint, train_surface

TINY = dict(rays_per_step=128, n_samples=10, n_importance=6, hash_levels=4, hash_log2_size=10, hash_finest=32,
            hash_hidden=16, feature_dim=4, appearance_width=16, appearance_layers=1, mlp_layers=2, mlp_width=16,
            mlp_harmonics=2, warmup=2, progress=False, device="cpu", checkpoint_every=1000, log_every=10)


def _fixed_rays_error(model, tiny_lego) -> float:
    """Mean L1 colour error (over white) of ``model`` on 256 fixed training rays."""
    from inverse3d.datasets.scenes.rays import RayPool
    from inverse3d.datasets.scenes.training import open_scene
    from inverse3d.tasks.surface.render import render_rays_chunked

    pool = RayPool(open_scene(tiny_lego, "train", 1, white_background=False))
    batch = pool.gather(torch.arange(0, pool.n_rays, max(pool.n_rays // 256, 1)))
    white = torch.ones(3)
    out = render_rays_chunked(model, batch.origins, batch.directions, white)
    return float((out["rgb"] - batch.target(white)).abs().mean())


@pytest.mark.parametrize("method,sdf", [("volsdf", "hashgrid"), ("neus", "hashgrid"), ("volsdf", "mlp")])
def test_training_lowers_the_error_and_loads(tiny_lego, tmp_path, method, sdf):
    from inverse3d.tasks.surface.render import SurfaceModel

    cfg = SurfaceTrainConfig(scene=str(tiny_lego), out_dir=str(tmp_path / "run"), iterations=30, method=method,
                             sdf=sdf, lr=2e-2 if sdf == "hashgrid" else 3e-3, **TINY)
    result = train_surface(cfg)
    assert result.step == 30 and all(math.isfinite(v) for v in result.losses)
    model, ckpt = load_surface_checkpoint(tmp_path / "run" / "checkpoint.pt")
    torch.manual_seed(0)
    fresh = SurfaceModel(cfg.model_options(), ckpt["scene"]["bounds"], ckpt["scene"]["near"], ckpt["scene"]["far"])
    before, after = _fixed_rays_error(fresh.eval(), tiny_lego), _fixed_rays_error(model, tiny_lego)
    assert after < 0.8 * before, (before, after)
    log = json.loads((tmp_path / "run" / "log.json").read_text())
    assert log["step"] == 30 and ("beta" if method == "volsdf" else "s") in log["log"][-1]
    assert {"checkpoint.pt", "loss.png", "config.json"} <= {p.name for p in (tmp_path / "run").iterdir()}


def test_exact_resume(tiny_lego, tmp_path, monkeypatch):
    """Interrupted after k steps + resume = the same weights as all the steps at once (the LR schedule, the ray
    draws and the stratified/importance samples included)."""
    import os
    import signal

    from inverse3d.tasks.surface.train import SurfaceTask
    from inverse3d.training import TrainingInterrupted

    base = dict(scene=str(tiny_lego), iterations=5, method="neus", **TINY)
    straight = train_surface(SurfaceTrainConfig(out_dir=str(tmp_path / "a"), **base))
    loss = SurfaceTask.loss

    def interrupting(self, model, batch, step):
        if step == 1:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C during step 1: the core finishes it and checkpoints
        return loss(self, model, batch, step)

    monkeypatch.setattr(SurfaceTask, "loss", interrupting)
    with pytest.raises(TrainingInterrupted) as stop:
        train_surface(SurfaceTrainConfig(out_dir=str(tmp_path / "b"), **base))
    assert stop.value.step == 2
    monkeypatch.setattr(SurfaceTask, "loss", loss)
    resumed = train_surface(SurfaceTrainConfig(out_dir=str(tmp_path / "b"), resume=True, **base))
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    assert straight.losses == resumed.losses
    with pytest.raises(ValueError, match="method"):
        train_surface(SurfaceTrainConfig(out_dir=str(tmp_path / "b"), resume=True, **dict(base, method="volsdf")))


def test_learning_rate_schedule():
    from inverse3d.tasks.surface.train import learning_rate_at

    cfg = SurfaceTrainConfig(lr=1.0, warmup=4, iterations=104, lr_final=0.1)
    assert learning_rate_at(cfg, 0) == pytest.approx(0.25) and learning_rate_at(cfg, 3) == pytest.approx(1.0)
    assert learning_rate_at(cfg, 54) == pytest.approx(0.55)
    assert learning_rate_at(cfg, 104) == pytest.approx(0.1)
    # a time budget half spent at step 4 (RunClock.fraction): the decay is as far as at the run's midpoint
    assert learning_rate_at(cfg, 4, fraction=0.5) == pytest.approx(0.55)
    assert learning_rate_at(cfg, 54, fraction=0.1) == pytest.approx(0.55)  # the steps' progress when further
    assert learning_rate_at(cfg, 2, fraction=0.9) == pytest.approx(0.75)  # warm-up first


def test_beta_learns_at_volsdf_rate():
    """VolSDF's linear beta learns at min(lr, 5e-4); NeuS's log-scale s at the network's rate."""
    from inverse3d.tasks.surface.train import density_lr_scale

    assert density_lr_scale(SurfaceTrainConfig(method="volsdf", sdf="hashgrid")) == pytest.approx(0.05)
    assert density_lr_scale(SurfaceTrainConfig(method="volsdf", sdf="mlp")) == 1.0
    assert density_lr_scale(SurfaceTrainConfig(method="neus", sdf="hashgrid")) == 1.0


@pytest.mark.parametrize("bad,match", [
    (dict(method="idr"), "--method"), (dict(sdf="voxels"), "--sdf"), (dict(background="green"), "--background"),
    (dict(lr=-1.0), "--lr"), (dict(beta=0.0), "--beta"), (dict(init_s=-2.0), "--init-s"),
    (dict(n_samples=1), "--n-samples"), (dict(eikonal_weight=float("nan")), "--eikonal-weight"),
    (dict(scene="no/such/scene"), "--scene"), (dict(downscale=3), "--downscale"), (dict(iterations=0), "--iterations"),
])
def test_bad_options(tmp_path, bad, match):
    cfg = SurfaceTrainConfig(out_dir=str(tmp_path / "x"), data_root=str(tmp_path / "data"), **dict(TINY, **bad))
    with pytest.raises(ValueError, match=match):
        train_surface(cfg)
    assert not (tmp_path / "x" / "checkpoint.pt").exists()


def test_not_a_surface_checkpoint(tmp_path):
    from inverse3d.training.checkpoint import CheckpointError, save_checkpoint

    save_checkpoint(tmp_path / "c.pt", {"format": "x", "step": 0, "model": {}})
    with pytest.raises(CheckpointError, match="surface"):
        load_surface_checkpoint(tmp_path / "c.pt")


def test_mesh_of_an_analytic_sphere_has_its_radius(tmp_path):
    from inverse3d.io.ply_io import load_ply
    from inverse3d.tasks.surface.evaluate import geometry_metrics
    from inverse3d.tasks.surface.extract import extract_sdf_mesh

    centre = torch.tensor([0.1, -0.2, 0.05])
    verts, faces = extract_sdf_mesh(lambda p: (p - centre).norm(dim=-1) - 0.7, ([-1.0] * 3, [1.0] * 3), 32)
    r = (verts - centre).norm(dim=-1)
    assert abs(float(r.mean()) - 0.7) < 5e-3 and float((r - 0.7).abs().max()) < 0.02
    # outward faces: the normals point away from the centre
    tri = verts[faces]
    normal = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1)
    assert float(((normal * (tri.mean(1) - centre)).sum(-1) > 0).float().mean()) > 0.99
    # the geometry metrics of the sphere against a finer one: near-perfect F1, small chamfer
    fine = extract_sdf_mesh(lambda p: (p - centre).norm(dim=-1) - 0.7, ([-1.0] * 3, [1.0] * 3), 64)
    from inverse3d.io.ply_io import save_ply

    save_ply(tmp_path / "gt.ply", *fine)
    geo = geometry_metrics(verts, faces, tmp_path / "gt.ply", n_points=10000)
    assert geo["f1"]["0.02"] > 99 and geo["chamfer"] < 1e-4
    assert geo["scale"] == pytest.approx(2 * math.sqrt(3) * 0.7, rel=0.02)
    # a sphere shrunk by 10% (0.029 of the diagonal) misses at 0.02 of the diagonal
    geo_bad = geometry_metrics(verts * 0.9 + 0.1 * centre, faces, tuple(load_ply(tmp_path / "gt.ply")),
                               n_points=10000)
    assert geo_bad["f1"]["0.02"] < 5 and geo_bad["f1"]["0.05"] > 95


def test_mesh_extraction_bad_input(tmp_path):
    """A model whose SDF never crosses 0 in its box, or is NaN, has no surface: a clear error, no file."""
    from inverse3d.tasks.surface.evaluate import extract_surface_mesh, geometry_metrics
    from inverse3d.tasks.surface.render import SurfaceModel, SurfaceOptions
    from tests.reference.surface import SphereSDF

    model = SurfaceModel(SurfaceOptions(sdf="mlp", mlp_layers=1, mlp_width=4), ([-1.0] * 3, [1.0] * 3), 1.0, 5.0)
    model.sdf = SphereSDF(5.0)  # the whole box is inside
    with pytest.raises(ValueError, match="never crosses"):
        extract_surface_mesh(model, tmp_path / "m.ply", 8)
    model.sdf = SphereSDF(float("nan"))
    with pytest.raises(ValueError, match="never crosses"):
        extract_surface_mesh(model, tmp_path / "m.ply", 8)
    assert not (tmp_path / "m.ply").exists()
    verts = torch.rand(10, 3)
    faces = torch.randint(0, 10, (5, 3))
    with pytest.raises(ValueError, match="no faces"):
        geometry_metrics(verts, faces[:0], (verts, faces))
    with pytest.raises(ValueError, match="outside"):
        geometry_metrics(verts + 10, faces, (verts, faces))
    from inverse3d.io.errors import MeshFileError

    with pytest.raises(MeshFileError):
        geometry_metrics(verts, faces, tmp_path / "missing.ply")


@pytest.fixture(scope="module")
def checkpoint(tiny_lego, tmp_path_factory):
    out = tmp_path_factory.mktemp("surface_run")
    train_surface(SurfaceTrainConfig(scene=str(tiny_lego), out_dir=str(out), iterations=3, **TINY))
    return out / "checkpoint.pt"


def test_evaluate_writes_table_mesh_and_images(checkpoint, tmp_path):
    from inverse3d.tasks.surface.evaluate import evaluate_surface, format_table

    result = evaluate_surface(checkpoint, tmp_path / "ev", n_views=2, resolution=24, n_points=2000)
    assert len(result["views"]) == 2 and all(math.isfinite(r["psnr"]) for r in result["views"])
    assert result["geometry"] is not None and set(result["geometry"]["f1"]) == {"0.01", "0.02", "0.03", "0.04",
                                                                                 "0.05"}
    assert (tmp_path / "ev" / "mesh.ply").is_file() and (tmp_path / "ev" / "view_001.png").is_file()
    import imageio.v3 as iio

    assert iio.imread(tmp_path / "ev" / "view_000.png").shape[:2] == (16, 48)  # truth | render | normals
    on_disk = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert on_disk["psnr"] == pytest.approx(result["psnr"]) and "beta" in on_disk
    table = format_table(result)
    assert "mean" in table and "F1@0.02" in table


def test_checkpoint_holds_the_occupancy_grid_and_one_without_still_loads(checkpoint, tmp_path):
    from inverse3d.training.checkpoint import read_checkpoint, save_checkpoint

    model, ckpt = load_surface_checkpoint(checkpoint)
    assert model.occupancy is not None and ckpt["surface_config"]["occupancy"] is True
    assert torch.equal(model.occupancy.binary, ckpt["model"]["occupancy.binary"])  # updated at step 0, saved
    assert model.occupancy.occupancy_fraction() < 1.0
    # a checkpoint written before the grid existed: no option, no buffers
    old = read_checkpoint(checkpoint)
    old["surface_config"] = {k: v for k, v in old["surface_config"].items() if not k.startswith("occupancy")}
    old["model"] = {k: v for k, v in old["model"].items() if not k.startswith("occupancy.")}
    save_checkpoint(tmp_path / "old.pt", old)
    model_old, _ = load_surface_checkpoint(tmp_path / "old.pt")
    assert model_old.occupancy is None
    torch.testing.assert_close(model_old.sdf(torch.zeros(1, 3)), model.sdf(torch.zeros(1, 3)))


def test_turntable_frames(checkpoint):
    from inverse3d.tasks.surface.render import render_turntable

    model, ckpt = load_surface_checkpoint(checkpoint)
    frames = list(render_turntable(model, ckpt["scene"], n_frames=2, image_size=8))
    assert len(frames) == 2 and frames[0].shape == (8, 16, 3)
    assert frames[0].min() >= 0 and frames[0].max() <= 1
    assert not (frames[0] == frames[1]).all()  # the camera moved


def test_cli_run_functions(checkpoint, tmp_path, capsys):
    """The subcommands' run functions, called directly (the subprocess test is tests/cli/test_surface_train_cli)."""
    from inverse3d.cli.surface_train import Eval, Mesh, Render, run_eval, run_mesh, run_render

    assert run_mesh(Mesh(checkpoint=str(checkpoint), output=str(tmp_path / "m.ply"), resolution=16,
                         device="cpu")) == 0
    assert (tmp_path / "m.ply").is_file()
    assert run_render(Render(checkpoint=str(checkpoint), output=str(tmp_path / "t.gif"), frames=2, size=8,
                             device="cpu")) == 0
    assert run_eval(Eval(checkpoint=str(checkpoint), out_dir=str(tmp_path / "ev"), n_views=1, resolution=16,
                         n_points=500, images=False, device="cpu")) == 0
    assert "PSNR" in capsys.readouterr().out
    with pytest.raises(ValueError, match="--checkpoint"):
        run_mesh(Mesh(checkpoint=str(tmp_path / "none.pt"), output=str(tmp_path / "m2.ply")))
    with pytest.raises(ValueError, match="--split"):
        run_eval(Eval(checkpoint=str(checkpoint), split="holdout"))


def test_beta_study_table(tiny_lego, tmp_path):
    from inverse3d.tasks.surface.study import beta_study

    cfg = SurfaceTrainConfig(scene=str(tiny_lego), iterations=2, **TINY)
    rows = beta_study(cfg, [0.05, 0.2], tmp_path / "study", n_views=1, resolution=16, n_points=500)
    assert [r["beta"] for r in rows] == [0.05, 0.2] and all(r["steps"] == 2 for r in rows)
    md = (tmp_path / "study" / "beta_study.md").read_text()
    assert "| 0.05 |" in md and "| 0.2 |" in md
    # each run kept its beta fixed
    for beta in (0.05, 0.2):
        model, _ = load_surface_checkpoint(tmp_path / "study" / f"beta_{beta:g}" / "checkpoint.pt")
        assert float(model.density.beta) == pytest.approx(beta) and not model.density.learnable
    with pytest.raises(ValueError, match="VolSDF"):
        beta_study(SurfaceTrainConfig(method="neus"), [0.1], tmp_path / "x")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_train_and_render_on_cuda(tiny_lego, tmp_path):
    from inverse3d.tasks.surface.evaluate import extract_surface_mesh

    cfg = SurfaceTrainConfig(scene=str(tiny_lego), out_dir=str(tmp_path / "cuda"), iterations=3,
                             **dict(TINY, device="cuda"))
    result = train_surface(cfg)
    assert next(result.model.parameters()).is_cuda and all(math.isfinite(v) for v in result.losses)
    model, _ = load_surface_checkpoint(tmp_path / "cuda" / "checkpoint.pt", "cuda")
    verts, faces = extract_surface_mesh(model, None, 16)
    assert verts.shape[0] > 0
