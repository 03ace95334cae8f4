"""F1, chamfer and IoU against naive loops."""

from __future__ import annotations

import math

import pytest
import torch

from inverse3d.metrics.shapes import THRESHOLDS, chamfer_l2, f1_scores, voxel_iou
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
