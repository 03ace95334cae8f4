"""Live training: the ``fit_loop`` hook (``loop_hooks``) and ``LiveViewer`` on tiny runs, and ``--viewer`` on the
train commands. The hook must leave training exactly as it is without it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from inverse3d.training import Batches, LoopOptions, Trainable, fit_loop
from inverse3d.training.loop import StepInfo, loop_hooks


class FitLine(Trainable):
    name = "fit line"

    def batches(self, run):
        return Batches(of_step=lambda step: torch.randn(16, 1, device=run.device))

    def build(self, run):
        self.model = torch.nn.Linear(1, 1)
        return self.model, torch.optim.SGD(self.model.parameters(), lr=0.1)

    def loss(self, model, x, step):
        return (model(x) - (3 * x + 1)).square().mean()

    def live_prediction(self, model, batch, camera):
        from inverse3d.viewer.sources import PointsItem

        x = torch.linspace(-1, 1, 11)[:, None]
        torch.rand(5)  # the viewer forks the RNG: this draw must not change the training
        return PointsItem("line", torch.cat([x, model(x), torch.zeros_like(x)], 1).numpy())


class Recorder:
    def __init__(self):
        self.events = []

    def on_start(self, run, task, model):
        self.events.append(("start", type(task).__name__))

    def on_step(self, info: StepInfo):
        self.events.append(("step", info.step, info.loss, tuple(info.batch.shape)))

    def on_end(self, result):
        self.events.append(("end", result.step))


def _fit(tmp_path: Path, name: str, *hooks) -> list[float]:
    with loop_hooks(*hooks):
        return fit_loop(FitLine(), LoopOptions(out_dir=tmp_path / name, iterations=6, save=False,
                                               progress=False)).losses


def test_hooks_see_every_step_and_only_inside_their_block(tmp_path):
    rec = Recorder()
    losses = _fit(tmp_path, "a", rec)
    assert rec.events[0] == ("start", "FitLine") and rec.events[-1] == ("end", 6)
    steps = [e for e in rec.events if e[0] == "step"]
    assert [e[1] for e in steps] == [1, 2, 3, 4, 5, 6]
    assert [e[2] for e in steps] == losses and all(e[3] == (16, 1) for e in steps)
    _fit(tmp_path, "b")  # outside the with block: no hook
    assert len(rec.events) == 8


def test_live_viewer_streams_without_changing_the_training(tmp_path):
    pytest.importorskip("viser", reason="the viewer extra is not installed")
    from inverse3d.viewer.app import Viewer
    from inverse3d.viewer.live import LiveViewer

    plain = _fit(tmp_path, "plain")
    live = LiveViewer(viewer=Viewer("127.0.0.1", 0), min_interval=0.0, budget=0.99)
    try:
        watched = _fit(tmp_path, "live", live)
        assert watched == plain  # same batches, same weights: the viewer forks the RNG and only reads the model
        assert live.predictions >= 1 and not live.errors
        assert live.step_text.content.startswith("finished at step **6**")
        node = live.viewer.nodes["/prediction"]
        assert node["points"] and node["points"][0].points.shape == (11, 3)
    finally:
        live.stop()


def test_budget_spaces_the_predictions():
    pytest.importorskip("viser", reason="the viewer extra is not installed")
    from inverse3d.viewer.app import Viewer
    from inverse3d.viewer.live import LiveViewer

    live = LiveViewer(viewer=Viewer("127.0.0.1", 0), budget=0.1, min_interval=0.5)
    try:
        live.on_start(None, None, None)
        t0 = live._t_start
        assert live._due(t0 + 0.01)  # the first one at once (after the first step)
        assert not live._due(t0 + 0.1) and live._due(t0 + 0.6)  # the next after min_interval
        live.predictions, live.predict_seconds, live._last_cost, live._t_pred = 1, 1.0, 1.0, t0 + 1.0
        # a second prediction costing 1 s more: 2 s of predictions must fit in 10 % of the time by its end
        assert not live._due(t0 + 18.0) and live._due(t0 + 19.0)
    finally:
        live.stop()


@pytest.mark.slow
def test_nerf_training_streams_renders(files, tmp_path, capsys):
    pytest.importorskip("viser", reason="the viewer extra is not installed")
    from inverse3d.cli.nerf import Train, run_train

    from .helpers import nerf_config

    cfg = nerf_config(files["box"], tmp_path / "run", iterations=4)
    args = Train(**{k: getattr(cfg, k) for k in cfg.__dataclass_fields__}, viewer="127.0.0.1:0")
    assert run_train(args) == 0
    out = capsys.readouterr().out
    assert "live viewer at http://127.0.0.1:" in out and "trained hashgrid NeRF to step 4" in out
    n = int(out.split("live viewer: ")[1].split(" predictions")[0])
    assert n >= 1 and "errors" not in out.split("live viewer: ")[1].splitlines()[0]
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert len(ckpt["losses"]) == 4


def test_nerf_prediction_is_the_field_seen_from_a_camera(files, nerf_checkpoint):
    from inverse3d.tasks.nerf import load_nerf_checkpoint
    from inverse3d.viewer.live import nerf_prediction

    model, ckpt = load_nerf_checkpoint(nerf_checkpoint)

    class Task:  # what nerf_prediction reads of a NeRFTask
        scene_meta = ckpt["scene"]

    image = nerf_prediction(Task(), model, None, None, size=12)
    assert image.shape == (12, 12, 3) and image.dtype == np.float32 and 0 <= image.min() <= image.max() <= 1


@pytest.mark.slow
def test_single_view_train_with_viewer(tmp_path, capsys):
    pytest.importorskip("viser", reason="the viewer extra is not installed")
    from inverse3d.cli.train import Args, run

    args = Args(type="point", n_points=16, iterations=2, out_dir=str(tmp_path / "run"),
                data_root=str(tmp_path / "data"), n_train=2, n_val=1, n_test=1, image_size=32, voxel_res=8,
                data_points=64, batch_size=2, checkpoint_every=1000, progress=False, viewer="127.0.0.1:0")
    assert run(args) == 0
    out = capsys.readouterr().out
    assert "live viewer at http://127.0.0.1:" in out and "trained point to step 2" in out
    summary = out.split("live viewer: ")[1].splitlines()[0]
    assert int(summary.split(" predictions")[0]) >= 1 and "errors" not in summary


def test_bad_viewer_address_fails_before_training(tmp_path):
    from inverse3d.cli.train import Args, run

    args = Args(type="point", iterations=1, out_dir=str(tmp_path / "run"), data_root=str(tmp_path / "data"),
                viewer="here:port")
    with pytest.raises(ValueError, match="--viewer"):
        run(args)
    assert not (tmp_path / "data").exists() and not (tmp_path / "run").exists()


@pytest.mark.slow
def test_splat_training_streams_the_gaussians(files, tmp_path, capsys):
    pytest.importorskip("viser", reason="the viewer extra is not installed")
    from inverse3d.cli.splat import Train, run_train

    args = Train(scene=str(files["box"]), out_dir=str(tmp_path / "run"), iterations=3, progress=False,
                 device="cpu", viewer="127.0.0.1:0")
    assert run_train(args) == 0
    out = capsys.readouterr().out
    assert "live viewer at http://127.0.0.1:" in out and "Gaussians to step 3" in out
    summary = out.split("live viewer: ")[1].splitlines()[0]
    assert int(summary.split(" predictions")[0]) >= 1 and "errors" not in summary


def test_splat_prediction_is_the_models_gaussians():
    from inverse3d.tasks.splat.model import GaussianModel
    from inverse3d.viewer.live import splat_prediction

    model = GaussianModel(5, sh_degree=1)
    with torch.no_grad():
        model.means.normal_()
        model.log_scales.fill_(-2.0)
        model.opacity_logits.fill_(0.0)
    item = splat_prediction(None, model, None, None)
    assert item.centers.shape == (5, 3) and np.allclose(item.centers, model.means.detach().numpy())
    assert np.allclose(item.covariances, np.exp(-4.0) * np.eye(3), atol=1e-7)  # identity rotation, scale e^-2
    assert np.allclose(item.opacities, 0.5) and np.allclose(item.rgbs, 0.5)
