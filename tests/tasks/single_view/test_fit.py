"""Fitting voxels, points and an ico-sphere to a target: the loss falls, the figures are written."""

from __future__ import annotations

import imageio.v3 as iio
import pytest
import torch

from inverse3d.tasks.single_view.fit import FitConfig, fit, load_target, normalize_verts

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
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="--steps 0: must be at least 1"):
        fit(FitConfig(steps=0, out_dir=out, **TINY))
    with pytest.raises(ValueError, match="degenerate"):
        normalize_verts(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="--category 'lamp'"):
        fit(FitConfig(category="lamp", steps=1, out_dir=out, **TINY))
    for name in ("w_edge", "w_normal", "w_smooth", "w_chamfer"):
        with pytest.raises(ValueError, match=f"--{name.replace('_', '-')} -1.0"):
            fit(FitConfig(kind="mesh", steps=1, out_dir=out, **{**TINY, name: -1.0}))
    with pytest.raises(ValueError, match="--lr 0.0"):
        fit(FitConfig(lr=0.0, steps=1, out_dir=out, **TINY))
    with pytest.raises(FileNotFoundError, match="no such mesh file"):
        fit(FitConfig(mesh=tmp_path / "none.obj", steps=1, out_dir=out, **TINY))
    with pytest.raises(ValueError, match="is a folder, not a mesh file"):
        fit(FitConfig(mesh=tmp_path, steps=1, out_dir=out, **TINY))
    assert not out.exists()


def _flipped_and_crossing(mesh, template):
    """(fraction of faces whose normal points against the template sphere's, fraction of faces crossing a face
    they share no vertex with) of a fitted ico-sphere."""
    verts, faces = mesh.verts_packed().double(), mesh.faces_packed()

    def normals(v):
        return torch.linalg.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]], dim=1)

    flipped = float(((normals(verts) * normals(template.double())).sum(1) < 0).double().mean())
    tri = verts[faces]  # (F, 3, 3)
    share = (faces[:, None, :, None] == faces[None, :, None, :]).any(-1).any(-1)  # (F, F)

    def segment_hits(p0, p1, a, b, c):  # segments p0 p1 against triangles a b c, Moller-Trumbore
        d, e1, e2 = p1 - p0, b - a, c - a
        h = torch.linalg.cross(d, e2, dim=-1)
        det = (e1 * h).sum(-1)
        inv = 1.0 / torch.where(det.abs() > 1e-12, det, torch.ones_like(det))
        s = p0 - a
        u = (s * h).sum(-1) * inv
        q = torch.linalg.cross(s, e1, dim=-1)
        w = (d * q).sum(-1) * inv
        t = (e2 * q).sum(-1) * inv
        return (det.abs() > 1e-12) & (u > 0) & (w > 0) & (u + w < 1) & (t > 0) & (t < 1)

    hits = torch.zeros_like(share)
    for k in range(3):
        hits |= segment_hits(tri[:, None, k], tri[:, None, (k + 1) % 3], tri[None, :, 0], tri[None, :, 1],
                             tri[None, :, 2])
    hits &= ~share
    crossing = float((hits.any(0) | hits.any(1)).double().mean())
    return flipped, crossing


def test_mesh_fit_regularisers_keep_the_surface_from_folding(tmp_path):
    """Chamfer with light Laplacian smoothing alone (the old defaults) folds faces through each other (sails); with
    the default regularisers the fitted sphere stays a surface."""
    from inverse3d.utils.ico_sphere import ico_sphere_verts_faces

    opts = dict(kind="mesh", category="chair", seed=3, ico_level=2, steps=100, n_points=300, voxel_res=8,
                render=False, progress=False)
    template = ico_sphere_verts_faces(2)[0] * 0.5
    default = fit(FitConfig(out_dir=tmp_path / "a", **opts))
    bare = fit(FitConfig(out_dir=tmp_path / "b", w_edge=0.0, w_normal=0.0, w_smooth=0.1, **opts))  # as before
    flipped, crossing = _flipped_and_crossing(default.fitted, template)
    bare_flipped, bare_crossing = _flipped_and_crossing(bare.fitted, template)
    assert bare_flipped > 0.2 and bare_crossing > 0.2  # the measure sees the sails
    assert flipped < 0.1 and crossing < 0.02
    cd_default = default.losses[-1]
    assert cd_default < 0.5 * default.losses[0]  # and it still fits
