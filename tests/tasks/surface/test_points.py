"""Neural SDF from points: the losses, marching cubes of an SDF, loading clouds (and bad files), a tiny fit through
the training core with exact resume, and a short fit that learns."""

from __future__ import annotations

import json
import math

import pytest
import torch

from inverse3d.renderer.sdf import Sphere
from inverse3d.tasks.surface import (
    FitPointsConfig,
    builtin_surface,
    eikonal_loss,
    extract_sdf_mesh,
    fit_points,
    load_point_cloud,
    load_points_checkpoint,
    normal_loss,
    off_surface_loss,
    sample_surface,
    surface_loss,
)

TINY = dict(n_layers=2, hidden=16, n_harmonics=2, batch_size=64, resolution=16, eval_points=400,
            turntable_frames=0, turntable_size=32, progress=False, n_points=300)


def test_losses():
    sdf = torch.tensor([[0.1], [-0.3], [0.0]])
    assert float(surface_loss(sdf)) == pytest.approx(0.4 / 3)
    grads = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.5, 0.0]])
    assert float(eikonal_loss(grads)) == pytest.approx((1.0 + 0.25) / 2)
    normals = torch.tensor([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    assert float(normal_loss(grads, normals)) == pytest.approx((0.0 + 2.0) / 2)
    assert float(off_surface_loss(torch.tensor([0.0, 0.01]), alpha=100.0)) == pytest.approx((1 + math.exp(-1)) / 2)
    with pytest.raises(ValueError, match="differ"):
        normal_loss(grads, normals[:1])


def test_extract_sdf_mesh_of_a_sphere():
    verts, faces = extract_sdf_mesh(Sphere(0.3), ((-0.5,) * 3, (0.5,) * 3), resolution=24, chunk=1000)
    assert faces.shape[0] > 100
    torch.testing.assert_close(verts.norm(dim=-1), torch.full((verts.shape[0],), 0.3), atol=5e-3, rtol=0)
    with pytest.raises(ValueError, match="never crosses"):
        extract_sdf_mesh(Sphere(0.3, center=(5.0, 0.0, 0.0)), ((-0.5,) * 3, (0.5,) * 3), resolution=8)


def test_builtin_shapes_are_normalised_and_sampled_on_the_outer_surface():
    target = builtin_surface("chair", 1)
    verts, _ = target.mesh()
    assert float((verts.amax(0) - verts.amin(0)).norm()) == pytest.approx(1.0, abs=1e-5)
    torch.manual_seed(0)
    points, normals = sample_surface(target, 500)
    assert points.shape == normals.shape == (500, 3)
    from inverse3d.renderer.sdf import MeshSDF, Union

    d = Union([MeshSDF(v, f) for v, f in target.parts])(points)
    assert float(d.abs().max()) < 1e-4  # on the surface of the union, none buried inside a part
    with pytest.raises(ValueError, match="unknown shape"):
        builtin_surface("teapot")


def _write_cloud(path, points, normals=None):
    from inverse3d.io.ply_io import save_ply

    save_ply(path, points, verts_normals=normals)
    return str(path)


def test_load_point_cloud_file_normalises(tmp_path):
    torch.manual_seed(0)
    pts = torch.randn(200, 3) * torch.tensor([2.0, 1.0, 0.5]) + 3.0
    nrm = torch.nn.functional.normalize(torch.randn(200, 3), dim=-1)
    cfg = FitPointsConfig(cloud=_write_cloud(tmp_path / "c.ply", pts, nrm))
    cloud = load_point_cloud(cfg)
    assert float((cloud.points.amax(0) - cloud.points.amin(0)).norm()) == pytest.approx(1.0, abs=1e-5)
    torch.testing.assert_close(cloud.normals, nrm, atol=1e-5, rtol=0)
    assert cloud.gt_points is None
    cfg.use_normals = False
    assert load_point_cloud(cfg).normals is None


def test_bad_inputs(tmp_path):
    from inverse3d.io.errors import MeshFileError

    with pytest.raises(MeshFileError, match="no such point cloud file"):
        load_point_cloud(FitPointsConfig(cloud=str(tmp_path / "missing.ply")))
    (tmp_path / "bad.ply").write_text("this is not a ply file\n")
    with pytest.raises(ValueError):
        load_point_cloud(FitPointsConfig(cloud=str(tmp_path / "bad.ply")))
    nan = torch.rand(10, 3)
    nan[3, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        load_point_cloud(FitPointsConfig(cloud=_write_cloud(tmp_path / "nan.ply", nan)))
    with pytest.raises(ValueError, match="exactly one of CLOUD"):
        FitPointsConfig().check()
    with pytest.raises(ValueError, match="--shape must be one of"):
        FitPointsConfig(shape="teapot").check()
    with pytest.raises(ValueError, match="--field"):
        FitPointsConfig(shape="sphere", field="voxels").check()
    with pytest.raises(ValueError, match="--batch-size"):
        FitPointsConfig(shape="sphere", batch_size=0).check()


@pytest.mark.parametrize("field", ["mlp", "hashgrid"])
def test_fit_resume_is_exact(tmp_path, field, monkeypatch):
    """Ctrl-C after 2 steps + --resume = the same weights and losses as 4 steps at once (schedule included)."""
    import os
    import signal

    from inverse3d.tasks.surface.points import PointsSDFTask
    from inverse3d.training import TrainingInterrupted

    extra = dict(log2_hashmap_size=8, finest_resolution=32) if field == "hashgrid" else {}
    base = dict(shape="sphere", field=field, iterations=4, **TINY, **extra)
    straight = fit_points(FitPointsConfig(out_dir=str(tmp_path / "a"), **base))
    loss = PointsSDFTask.loss

    def interrupting(self, model, batch, step):
        if step == 1:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C during step 1: the core finishes it and checkpoints
        return loss(self, model, batch, step)

    monkeypatch.setattr(PointsSDFTask, "loss", interrupting)
    with pytest.raises(TrainingInterrupted) as stop:
        fit_points(FitPointsConfig(out_dir=str(tmp_path / "b"), **base))
    assert stop.value.step == 2
    monkeypatch.setattr(PointsSDFTask, "loss", loss)
    resumed = fit_points(FitPointsConfig(out_dir=str(tmp_path / "b"), resume=True, **base))
    assert straight.losses == resumed.losses
    assert resumed.step == straight.step == 4
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    assert {"mesh", "metrics", "checkpoint"} <= set(straight.files)
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert {"f1@0.01", "chamfer_l2", "source"} <= set(metrics)
    model, ckpt = load_points_checkpoint(tmp_path / "a" / "checkpoint.pt")
    x = torch.rand(5, 3) - 0.5
    torch.testing.assert_close(model(x), straight.model.eval()(x))
    with pytest.raises(ValueError, match="--resume"):  # never overwritten silently
        fit_points(FitPointsConfig(out_dir=str(tmp_path / "a"), **base))
    other = "hashgrid" if field == "mlp" else "mlp"
    with pytest.raises(ValueError, match="another network"):
        fit_points(FitPointsConfig(out_dir=str(tmp_path / "a"), resume=True, **dict(base, field=other)))


def test_short_fit_learns_the_surface(tmp_path):
    """60 steps on a torus (not the initial sphere): the SDF on the cloud shrinks several-fold, the turntables
    are written with the requested frames."""
    import imageio.v3 as iio

    cfg = FitPointsConfig(shape="torus", iterations=60, out_dir=str(tmp_path / "t"), lr=1e-2,
                          **{**TINY, "n_layers": 3, "hidden": 32, "turntable_frames": 2})
    cloud = load_point_cloud(cfg)
    result = fit_points(cfg)
    before = torch.tensor(result.losses[:5]).mean()
    after = torch.tensor(result.losses[-5:]).mean()
    assert float(after) < 0.3 * float(before)
    with torch.no_grad():
        on_cloud = result.model(cloud.points).abs().mean()
    assert float(on_cloud) < 0.03
    frames = iio.imread(tmp_path / "t" / "sdf_turntable.gif", index=None)
    assert frames.shape[:3] == (2, 32, 32)
    assert (frames < 250).any()  # something was hit
