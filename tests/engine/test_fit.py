"""Fitting voxels, points and an ico-sphere to a target: the loss falls, the figures are written."""

from __future__ import annotations

import imageio.v3 as iio
import pytest
import torch

from inverse3d.engine.fit import FitConfig, fit, load_target, normalize_verts

TINY = dict(voxel_res=8, n_points=100, ico_level=1, image_size=32, n_frames=3, frame_every=10, progress=False)


@pytest.mark.parametrize("kind", ["vox", "point", "mesh"])
def test_fit_reduces_loss_and_writes_figures(kind, tmp_path):
    result = fit(FitConfig(kind=kind, steps=30, out_dir=tmp_path, **TINY))
    assert len(result.losses) == 30
    assert result.losses[-1] < 0.7 * result.losses[0]
    assert set(result.files) == {"loss", "progress", "target_vs_fit"}
    progress = iio.imread(result.files["progress"])
    assert progress.shape == (4, 32, 32, 3)  # the start, then steps 10, 20 and 30 (the last)
    side = iio.imread(result.files["target_vs_fit"])
    assert side.shape[0] == 3 and side.shape[2] > 64  # target and fit side by side
    assert iio.imread(result.files["loss"]).ndim == 3


def test_fit_to_a_mesh_file(tmp_path):
    from inverse3d.utils.ico_sphere import ico_sphere_verts_faces

    verts, faces = ico_sphere_verts_faces(1)
    path = tmp_path / "blob.obj"
    lines = [f"v {x * 3 + 1} {y * 2} {z}" for x, y, z in verts.tolist()]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces.tolist()]
    path.write_text("\n".join(lines) + "\n")
    config = FitConfig(kind="vox", mesh=path, steps=5, out_dir=tmp_path / "out", render=False, **TINY)
    target = load_target(config)
    lo, hi = target.verts.min(0).values, target.verts.max(0).values
    torch.testing.assert_close((hi - lo).norm(), torch.tensor(1.0))
    torch.testing.assert_close((hi + lo) / 2, torch.zeros(3), atol=1e-6, rtol=0)
    assert target.voxels.shape == (8, 8, 8) and target.voxels.sum() > 0
    assert target.points.shape == (100, 3)
    result = fit(config)
    assert set(result.files) == {"loss"}


def test_fit_options_are_checked(tmp_path):
    with pytest.raises(ValueError, match="steps"):
        fit(FitConfig(steps=0, out_dir=tmp_path, **TINY))
    with pytest.raises(ValueError, match="degenerate"):
        normalize_verts(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="category"):
        fit(FitConfig(category="lamp", steps=1, out_dir=tmp_path, **TINY))
