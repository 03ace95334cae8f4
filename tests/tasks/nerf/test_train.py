"""NeRF training pieces: the ray pool, the ray renderer against a loop, training with each field, exact resume."""

import math

import pytest
import torch

from inverse3d.datasets.scenes import load_scene
from inverse3d.tasks.nerf.model import FieldOptions, NeRFModel, grid_resolution_at, render_rays
from inverse3d.tasks.nerf.rays import RayPool
from inverse3d.tasks.nerf.train import NeRFTrainConfig, load_nerf_checkpoint, train

TINY = dict(image_size=16, rays_per_step=128, n_samples=12, mlp_layers=2, mlp_width=16, mlp_harmonics=4,
            hash_log2_size=10, hash_levels=4, hash_finest=32, grid_resolution=12, grid_start_resolution=6,
            grid_upsample_steps=(3,), occupancy_resolution=8, log_every=2, progress=False, device="cpu",
            checkpoint_every=3)


def test_ray_pool_matches_the_views(tiny_lego):
    scene = load_scene(tiny_lego, "train", white_background=False)
    pool = RayPool(scene)
    H, W = scene.image_size
    assert pool.n_rays == len(scene) * H * W and pool.has_alpha
    index = torch.tensor([0, 5, H * W + 7, 3 * H * W + H * W - 1])
    batch = pool.gather(index)
    for k, flat in enumerate(index.tolist()):
        view, pix = divmod(flat, H * W)
        o, d = scene.rays(view)
        item = scene[view]
        torch.testing.assert_close(batch.origins[k], o.reshape(-1, 3)[pix])
        torch.testing.assert_close(batch.directions[k], d.reshape(-1, 3)[pix])
        torch.testing.assert_close(batch.rgb[k], item["image"].reshape(-1, 3)[pix], atol=1 / 255, rtol=0)
        assert abs(float(batch.alpha[k]) - float(item["mask"].reshape(-1)[pix])) <= 1 / 255
    white = batch.target(torch.ones(3))
    assert bool((white >= batch.rgb - 1e-6).all())
    with pytest.raises(ValueError, match="downscale"):
        RayPool(scene, max_bytes=100)
    with pytest.raises(ValueError, match="white_background=False"):
        RayPool(load_scene(tiny_lego, "train"))


class _Ball(torch.nn.Module):
    """Density 2 inside the unit ball, colour depending on the point and direction."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))
        self.bounds = (torch.full((3,), -1.5), torch.full((3,), 1.5))

    def inside(self, p):
        return (p.abs() <= 1.5).all(-1)

    def density(self, p):
        return 2.0 * self.w * (p.norm(dim=-1, keepdim=True) < 1).to(p.dtype)

    def forward(self, p, d=None):
        if d is not None and d.shape != p.shape:  # one direction per ray
            d = d.unsqueeze(-2).expand_as(p)
        rgb = torch.sigmoid(p + (0 if d is None else d))
        return self.density(p), rgb


def test_render_rays_matches_a_loop_over_samples():
    torch.manual_seed(0)
    model = NeRFModel(FieldOptions(field="mlp", mlp_layers=2, mlp_width=8, n_samples=10, clip_to_box=False),
                      ([-1.5] * 3, [1.5] * 3), 1.0, 5.0)
    model.field = _Ball()
    origins = torch.tensor([[0.0, 0.0, 3.0], [0.3, 0.2, 3.0], [2.0, 2.0, 3.0]])
    directions = torch.tensor([[0.0, 0.0, -1.0], [0.1, 0.0, -1.0], [0.0, 0.0, -1.0]])
    bg = torch.tensor([0.2, 0.4, 0.6])
    with torch.no_grad():
        out = render_rays(model, origins, directions, background=bg)
    edges = torch.linspace(1.0, 5.0, 11)
    t = 0.5 * (edges[1:] + edges[:-1])
    for r in range(3):
        color, trans, depth = torch.zeros(3), 1.0, 0.0
        norm = float(directions[r].norm())
        for k in range(10):
            p = origins[r] + t[k] * directions[r]
            sigma = 2.0 if float(p.norm()) < 1 else 0.0
            end = float(t[k + 1]) if k < 9 else 5.0
            alpha = 1 - math.exp(-sigma * (end - float(t[k])) * norm)
            c = torch.sigmoid(p + directions[r] / norm)
            color += trans * alpha * c
            depth += trans * alpha * float(t[k])
            trans *= 1 - alpha
        color += trans * bg
        torch.testing.assert_close(out["rgb"][r], color, atol=1e-5, rtol=1e-5)
        assert abs(float(out["depth"][r].detach()) - depth) < 1e-4
        assert abs(float(out["opacity"][r]) - (1 - trans)) < 1e-5
    assert float(out["opacity"][2]) == 0.0  # misses the ball: pure background
    torch.testing.assert_close(out["rgb"][2], bg)


def test_ray_box_range_against_dense_march():
    from inverse3d.tasks.nerf.model import ray_box_range

    torch.manual_seed(1)
    lo, hi = torch.tensor([-1.0, -0.5, -0.8]), torch.tensor([1.2, 0.7, 0.9])
    origins = torch.randn(40, 3) * 0.5 + torch.tensor([0.0, 0.0, 3.0])
    directions = torch.randn(40, 3) * 0.3 + torch.tensor([0.0, 0.0, -1.0])
    directions = directions / -directions[:, 2:]  # unit component along the viewing axis, like the scene rays
    enter, leave = ray_box_range(origins, directions, lo, hi, 1.0, 5.0)
    t = torch.linspace(1.0, 5.0, 40001)
    hits = 0
    for r in range(40):
        p = origins[r] + t[:, None] * directions[r]
        inside = ((p >= lo) & (p <= hi)).all(-1)
        if not bool(inside.any()):
            assert float(enter[r]) == float(leave[r]) == 5.0
            continue
        hits += 1
        assert abs(float(t[inside][0]) - float(enter[r])) < 2e-4 and abs(float(t[inside][-1]) - float(leave[r])) < 2e-4
    assert 5 < hits < 40


def test_clipped_samples_render_the_same_ball():
    """Samples only inside the box see the same (box-contained) ball as samples over near..far, with more detail."""
    model = NeRFModel(FieldOptions(field="mlp", mlp_layers=2, mlp_width=8, n_samples=4000), ([-1.5] * 3, [1.5] * 3),
                      1.0, 5.0)
    model.field = _Ball()
    origins = torch.tensor([[0.0, 0.0, 3.0], [0.3, 0.2, 3.0], [0.9, 0.0, 3.0]])
    directions = torch.tensor([[0.0, 0.0, -1.0], [0.1, 0.0, -1.0], [0.0, 0.1, -1.0]])
    with torch.no_grad():
        clipped = render_rays(model, origins, directions)
        model.options.clip_to_box = False
        full = render_rays(model, origins, directions)
    for k in ("rgb", "depth", "opacity"):
        torch.testing.assert_close(clipped[k], full[k], atol=3e-3, rtol=1e-3)


def test_hierarchical_samples_and_occupancy_skip():
    torch.manual_seed(0)
    opts = FieldOptions(field="grid", grid_resolution=8, grid_start_resolution=8, n_samples=16, n_fine=8,
                        occupancy_resolution=4)
    model = NeRFModel(opts, ([-1.5] * 3, [1.5] * 3), 1.0, 5.0)
    origins = torch.tensor([[0.0, 0.0, 3.0]]).expand(5, 3)
    dirs = torch.nn.functional.normalize(torch.randn(5, 3) * 0.1 + torch.tensor([0, 0, -1.0]), dim=-1)
    out = render_rays(model, origins, dirs, stratified=True)
    assert set(out) == {"rgb", "depth", "opacity", "rgb_coarse"}
    model.occupancy.binary.zero_()  # everything empty: nothing evaluated, nothing seen
    out = render_rays(model, origins, dirs)
    assert float(out["opacity"].abs().max()) == 0.0


def test_grid_resolution_schedule():
    opts = FieldOptions(field="grid", grid_start_resolution=32, grid_resolution=128, grid_upsample_steps=(10, 20))
    assert [grid_resolution_at(opts, s) for s in (0, 9, 10, 19, 20, 99)] == [32, 32, 64, 64, 128, 128]


@pytest.mark.parametrize("field", ["mlp", "hashgrid", "grid"])
def test_train_each_field_and_load(tiny_lego, tmp_path, field):
    cfg = NeRFTrainConfig(scene=str(tiny_lego), out_dir=str(tmp_path / field), iterations=4, field=field,
                          n_fine=4 if field == "mlp" else 0, **TINY)
    result = train(cfg)
    assert result.step == 4 and all(math.isfinite(v) for v in result.losses)
    model, ckpt = load_nerf_checkpoint(tmp_path / field / "checkpoint.pt")
    assert ckpt["nerf_config"]["field"] == field and len(ckpt["train_log"]) == 2
    assert (model.fine is not None) == (field == "mlp")
    assert (model.occupancy is not None) == (field != "mlp")
    if field == "grid":
        assert model.field.resolution == (12, 12, 12)  # grown at step 3


def test_exact_resume(tiny_lego, tmp_path, monkeypatch):
    """Interrupted after k steps + --resume = the same weights as all steps at once (grid growth, occupancy and the
    learning-rate schedule included)."""
    import os
    import signal

    from inverse3d.tasks.nerf.train import NeRFTask
    from inverse3d.training import TrainingInterrupted

    base = dict(scene=str(tiny_lego), iterations=6, field="grid", **TINY)
    straight = train(NeRFTrainConfig(out_dir=str(tmp_path / "a"), **base))
    loss = NeRFTask.loss

    def interrupting(self, model, batch, step):
        if step == 1:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C during step 1: the core finishes it and checkpoints
        return loss(self, model, batch, step)

    monkeypatch.setattr(NeRFTask, "loss", interrupting)
    with pytest.raises(TrainingInterrupted) as stop:
        train(NeRFTrainConfig(out_dir=str(tmp_path / "b"), **base))
    assert stop.value.step == 2
    monkeypatch.setattr(NeRFTask, "loss", loss)
    resumed = train(NeRFTrainConfig(out_dir=str(tmp_path / "b"), resume=True, **base))
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    assert straight.losses == resumed.losses
    with pytest.raises(ValueError, match="field"):
        train(NeRFTrainConfig(out_dir=str(tmp_path / "b"), resume=True, **dict(base, field="mlp")))


def test_bad_options(tmp_path):
    for bad, match in [(dict(field="voxels"), "--field"), (dict(background="green"), "--background"),
                       (dict(lr=-1.0), "--lr"), (dict(n_fine=4, n_samples=2), "--n-samples"),
                       (dict(scene="no/such/scene"), "--scene"), (dict(threads=0), "--threads")]:
        cfg = NeRFTrainConfig(out_dir=str(tmp_path / "x"), **dict(TINY, **bad))
        with pytest.raises(ValueError, match=match):
            train(cfg)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_train_and_render_on_cuda(tiny_lego, tmp_path):
    from inverse3d.tasks.nerf.render import render_turntable

    cfg = NeRFTrainConfig(scene=str(tiny_lego), out_dir=str(tmp_path / "cuda"), iterations=3, field="hashgrid",
                          **dict(TINY, device="cuda"))
    result = train(cfg)
    assert next(result.model.parameters()).is_cuda and all(math.isfinite(v) for v in result.losses)
    model, ckpt = load_nerf_checkpoint(tmp_path / "cuda" / "checkpoint.pt", "cuda")
    frame = next(render_turntable(model, ckpt["scene"], 1, image_size=8))
    assert frame.shape == (8, 24, 3)


def test_hashgrid_evaluation_gathers_per_ray_directions_like_the_generic_path():
    """The renderer's flat evaluation (directions encoded once per ray, occupied samples only) = running the
    field on every masked sample with its direction expanded, values and table gradients alike."""
    from inverse3d.models.fields import evaluate_occupied, ray_sample_mask
    from inverse3d.tasks.nerf.model import _evaluate

    torch.manual_seed(0)
    opts = FieldOptions(field="hashgrid", hash_log2_size=10, hash_levels=4, hash_finest=32, occupancy_resolution=4)
    model = NeRFModel(opts, ([-1.0] * 3, [1.0] * 3), 0.5, 4.0)
    with torch.no_grad():
        model.field.encoding.table.normal_(0, 0.5)
    model.occupancy.binary.view(-1)[::3] = False
    points = torch.rand(5, 7, 3) * 2.4 - 1.2  # some outside the box
    dirs = torch.nn.functional.normalize(torch.randn(5, 3), dim=-1)
    sigma, rgb = _evaluate(model.field, model.occupancy, points, dirs)
    (g_fast,) = torch.autograd.grad((sigma.sum() + rgb.square().sum()), model.field.encoding.table)
    mask = model.field.inside(points) & ray_sample_mask(model.occupancy, points)
    assert 0 < int(mask.sum()) < mask.numel()
    sigma_ref, rgb_ref = evaluate_occupied(model.field, mask, points, dirs)
    (g_ref,) = torch.autograd.grad((sigma_ref.sum() + rgb_ref.square().sum()), model.field.encoding.table)
    torch.testing.assert_close(sigma, sigma_ref[..., 0], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(rgb, rgb_ref, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(g_fast, g_ref, atol=1e-6, rtol=1e-5)
    assert float(sigma.detach()[~mask].abs().max()) == 0.0


def test_occupancy_prunes_empty_space_as_soon_as_it_is_transparent(tiny_lego):
    """During the warm-up each update replaces the cells' values, so a field whose empty space started above the
    threshold is pruned at the next update; afterwards the moving maximum decays slowly (Instant-NGP)."""
    from inverse3d.tasks.nerf.train import OCC_EVERY, OCC_WARMUP, NeRFTask

    cfg = NeRFTrainConfig(scene=str(tiny_lego), field="hashgrid", **dict(TINY, n_samples=16))
    task = NeRFTask(cfg)
    task.scene_meta = {"bounds": ([-1.0] * 3, [1.0] * 3)}
    model = NeRFModel(cfg.field_options(), task.scene_meta["bounds"], 0.5, 4.0)
    ball = lambda p: 100.0 * (p.norm(dim=-1, keepdim=True) < 0.5).float()  # noqa: E731
    model.field.density = lambda p: torch.full_like(p[..., :1], 1.0)  # uniform start, above the threshold
    task._update_occupancy(model, 0)
    assert model.occupancy.occupancy_fraction() == 1.0
    model.field.density = ball
    task._update_occupancy(model, OCC_EVERY - 1)  # not an update step: nothing changes
    assert model.occupancy.occupancy_fraction() == 1.0
    task._update_occupancy(model, OCC_EVERY)
    inside = model.occupancy.occupancy_fraction()
    assert 0.0 < inside < 0.2  # only the ball's cells are left
    model.field.density = lambda p: torch.zeros_like(p[..., :1])
    task._update_occupancy(model, OCC_WARMUP)  # after the warm-up: the decayed maximum still holds the ball
    assert model.occupancy.occupancy_fraction() == inside


def test_learning_rate_decays_over_the_time_budget():
    """With --max-minutes the schedule is the larger of the step fraction and the time fraction, capped at 1."""
    from inverse3d.tasks.nerf.train import NeRFTask

    task = NeRFTask(NeRFTrainConfig(iterations=1000))
    assert task.schedule_fraction(0) == 0.0 and task.schedule_fraction(250) == 0.25
    timed = NeRFTask(NeRFTrainConfig(iterations=1000, max_minutes=2.0))
    from inverse3d.training.clock import RunClock

    timed.clock = RunClock(60.0)  # a resumed run that trained one minute before
    assert timed.schedule_fraction(100) == pytest.approx(0.5, abs=1e-3)  # half the time, a tenth of the steps
    assert timed.schedule_fraction(900) == 0.9
    timed.clock = RunClock(600.0)
    assert timed.schedule_fraction(10) == 1.0


def test_time_limited_run_logs_seconds_and_ends_at_a_low_rate(tiny_lego, tmp_path):
    cfg = NeRFTrainConfig(scene=str(tiny_lego), out_dir=str(tmp_path / "r"), iterations=100_000, rays_per_step=64,
                          n_samples=8, hash_levels=2, hash_log2_size=10, hash_finest=16, occupancy=False,
                          max_minutes=0.05, log_every=5, progress=False, device="cpu", threads=1)
    result = train(cfg)
    assert 0 < result.step < 100_000
    _, ckpt = load_nerf_checkpoint(tmp_path / "r" / "checkpoint.pt")
    seconds = [e["seconds"] for e in ckpt["train_log"]]
    assert seconds == sorted(seconds) and 0 < seconds[-1] <= ckpt["train_seconds"] < 60
    lr = ckpt["optimizer"]["param_groups"][0]["lr"]
    assert lr < cfg.learning_rate() * 0.3  # decayed by the clock, although few of the 100k steps ran


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is unavailable")
def test_torchrun_two_processes_train_the_mlp(tiny_lego, tmp_path):
    """``torchrun --nproc_per_node 2 -m inverse3d.cli.nerf train``: DDP over gloo, each process its own rays,
    rank 0 alone writes and reports; the checkpoint loads and holds both processes' RNG states."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[3]
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
           "-m", "inverse3d.cli.nerf", "train", "--scene", str(tiny_lego), "--field", "mlp", "--out-dir", str(out),
           "--iterations", "3", "--rays-per-step", "64", "--n-samples", "8", "--n-fine", "4", "--mlp-layers", "2",
           "--mlp-width", "16", "--mlp-harmonics", "3", "--no-progress", "--device", "cpu"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(repo / "src"))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("trained mlp NeRF to step 3") == 1  # only rank 0 reports
    model, ckpt = load_nerf_checkpoint(out / "checkpoint.pt")
    assert ckpt["step"] == 3 and len(ckpt["rng"]) == 2
    assert model.options.field == "mlp" and model.options.n_fine == 4
