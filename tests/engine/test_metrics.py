"""F1, chamfer and IoU against naive loops; conversion of predictions to surface points."""

from __future__ import annotations

import math

import pytest
import torch

from inverse3d.engine.metrics import THRESHOLDS, chamfer_l2, f1_scores, surface_points, voxel_iou, voxels_to_meshes
from reference.metrics import f1_naive, iou_naive


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_f1_matches_naive_loop(dtype):
    torch.manual_seed(1)
    pred = torch.rand(3, 40, 3, dtype=dtype) * 0.2
    gt = torch.rand(3, 30, 3, dtype=dtype) * 0.2
    got = f1_scores(pred, gt, THRESHOLDS)
    ref = f1_naive(list(pred), list(gt), THRESHOLDS)
    for key in ("precision", "recall", "f1"):
        assert got[key].shape == (3, len(THRESHOLDS))
        torch.testing.assert_close(got[key], torch.tensor(ref[key], dtype=dtype), atol=1e-4, rtol=0)


def test_f1_with_lengths_and_empty_prediction():
    torch.manual_seed(2)
    pred = torch.rand(3, 20, 3) * 0.1
    gt = torch.rand(3, 25, 3) * 0.1
    n1 = torch.tensor([20, 7, 0])
    n2 = torch.tensor([25, 25, 11])
    got = f1_scores(pred, gt, (0.01, 0.03), n1, n2)
    ref = f1_naive([pred[i, : n1[i]] for i in range(3)], [gt[i, : n2[i]] for i in range(3)], (0.01, 0.03))
    torch.testing.assert_close(got["f1"], torch.tensor(ref["f1"]), atol=1e-4, rtol=0)
    assert (got["f1"][2] == 0).all() and (got["recall"][2] == 0).all()


def test_f1_identical_clouds_is_100():
    pts = torch.rand(2, 50, 3)
    got = f1_scores(pts, pts.clone())
    torch.testing.assert_close(got["f1"], torch.full((2, 5), 100.0))


def test_f1_rejects_bad_shapes():
    with pytest.raises(ValueError, match="point sets"):
        f1_scores(torch.rand(2, 5, 3), torch.rand(3, 5, 3))


def test_chamfer_l2_and_empty():
    a = torch.zeros(2, 4, 3)
    b = torch.zeros(2, 5, 3)
    b[:, :, 0] = 0.1
    cd = chamfer_l2(a, b, torch.tensor([4, 0]))
    assert math.isclose(float(cd[0]), 0.02, rel_tol=1e-5) and math.isnan(float(cd[1]))


def test_voxel_iou_matches_naive():
    torch.manual_seed(3)
    pred = torch.rand(2, 4, 4, 4)
    target = (torch.rand(2, 4, 4, 4) > 0.6).float()
    torch.testing.assert_close(voxel_iou(pred, target), torch.tensor(iou_naive(pred, target)))
    assert voxel_iou(torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, 2)).item() == 1.0


def test_voxels_to_meshes_box_surface():
    """A block of occupied cells meshes to a closed surface at the cell faces (level 0.5 between centres)."""
    R = 8
    probs = torch.zeros(1, R, R, R)
    probs[0, 2:6, 2:6, 2:6] = 1.0  # cells 2..5: world [-0.25, 0.25] on every axis
    verts, faces = voxels_to_meshes(probs)
    assert faces[0].shape[0] > 0
    torch.testing.assert_close(verts[0].abs().max(), torch.tensor(0.25), atol=1e-5, rtol=0)
    # an occupied cell at the border still gives a closed surface (padding)
    probs = torch.ones(1, 4, 4, 4)
    verts, faces = voxels_to_meshes(probs)
    torch.testing.assert_close(verts[0].abs().max(), torch.tensor(0.5), atol=1e-5, rtol=0)
    empty_v, empty_f = voxels_to_meshes(torch.zeros(1, 4, 4, 4))
    assert empty_f[0].shape == (0, 3)


def test_surface_points_all_kinds():
    from inverse3d.utils.ico_sphere import ico_sphere_verts_faces

    v, f = ico_sphere_verts_faces(1)
    pts, n = surface_points({"verts": (v * 0.3)[None].expand(2, -1, -1), "faces": f}, 50)
    assert pts.shape == (2, 50, 3) and n.tolist() == [50, 50]
    assert 0.25 < float(pts.norm(dim=-1).min()) and float(pts.norm(dim=-1).max()) <= 0.3 + 1e-5  # on the faces
    logits = torch.full((2, 8, 8, 8), -5.0)
    logits[0, 2:6, 2:6, 2:6] = 5.0
    pts, n = surface_points({"voxel_logits": logits}, 30)
    assert n.tolist() == [30, 0] and pts.shape == (2, 30, 3)
    cloud = torch.rand(2, 17, 3)
    pts, n = surface_points({"points": cloud}, 5)
    assert pts is cloud and n.tolist() == [17, 17]
