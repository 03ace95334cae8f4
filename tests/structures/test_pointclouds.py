"""Pointclouds: views and index maps against per-cloud loops, batch operations, gradients and bad input."""

import pytest
import torch
from conftest import DEVICES
from reference import structures as ref

from inverse3d.structures import Pointclouds, join_pointclouds_as_batch, join_pointclouds_as_scene


def hetero_clouds(dtype=torch.float32, channels=2):
    sizes = [4, 0, 7, 1]
    points = [torch.randn(n, 3, dtype=dtype) for n in sizes]
    normals = [torch.nn.functional.normalize(torch.randn(n, 3, dtype=dtype), dim=1) for n in sizes]
    features = [torch.rand(n, channels, dtype=dtype) for n in sizes]
    return points, normals, features


def check_views(clouds: Pointclouds, points, normals=None, features=None) -> None:
    sizes = [p.shape[0] for p in points]
    assert len(clouds) == len(points)
    assert clouds.num_points_per_cloud().tolist() == sizes
    views = ref.packed_views(points)
    assert clouds.packed_to_cloud_idx().tolist() == views["to_item"].tolist()
    assert clouds.cloud_to_packed_first_idx().tolist() == views["first"].tolist()
    for kind, data in (("points", points), ("normals", normals), ("features", features)):
        if data is None:
            assert getattr(clouds, f"{kind}_list")() is None and getattr(clouds, f"{kind}_packed")() is None
            continue
        assert all(torch.equal(a.cpu(), b) for a, b in zip(getattr(clouds, f"{kind}_list")(), data))
        torch.testing.assert_close(getattr(clouds, f"{kind}_packed")().cpu(), ref.packed_views(data)["packed"])
        torch.testing.assert_close(getattr(clouds, f"{kind}_padded")().cpu(), ref.padded_view(data, max(sizes), 0.0))
    idx = clouds.padded_to_packed_idx()
    torch.testing.assert_close(clouds.points_padded().reshape(-1, 3)[idx], clouds.points_packed())
    assert clouds.valid.tolist() == [n > 0 for n in sizes]


@pytest.mark.parametrize("first", ["list", "padded", "packed"])
def test_views_of_heterogeneous_batch(first):
    points, normals, features = hetero_clouds()
    clouds = Pointclouds(points, normals=normals, features=features)
    for kind in ("points", "normals", "features"):
        getattr(clouds, f"{kind}_{first}")()
    check_views(clouds, points, normals, features)
    check_views(Pointclouds(points), points)


def test_padded_input_and_mixed_auxiliaries():
    points = torch.randn(2, 5, 3)
    features = torch.rand(2, 5, 4)
    normals = [torch.randn(5, 3), torch.randn(5, 3)]
    clouds = Pointclouds(points, normals=normals, features=features)
    assert clouds.num_points_per_cloud().tolist() == [5, 5] and clouds.equisized
    check_views(clouds, list(points), normals, list(features))
    assert clouds.points_padded() is points


@pytest.mark.parametrize("device", DEVICES)
def test_device_and_dtype_follow_inputs(device):
    points, normals, features = hetero_clouds(torch.float64)
    clouds = Pointclouds([p.to(device) for p in points], features=[f.to(device) for f in features])
    assert clouds.device.type == device and clouds.points_packed().dtype == torch.float64
    assert clouds.features_padded().device.type == device
    check_views(clouds, points, None, features)


def test_empty_clouds():
    for clouds in (Pointclouds([]), Pointclouds([torch.zeros(0, 3)]), Pointclouds(torch.zeros(2, 0, 3))):
        assert clouds.isempty()
        n = len(clouds)
        assert clouds.points_packed().shape == (0, 3) and clouds.points_padded().shape[0] == n
        assert clouds.get_bounding_boxes().shape == (n, 3, 2)
        clouds.clone(), clouds.detach(), clouds[:], clouds.offset(torch.zeros(3))


def test_bounding_boxes_offset_scale():
    points, normals, features = hetero_clouds()
    clouds = Pointclouds(points, features=features)
    for box, p in zip(clouds.get_bounding_boxes(), points):
        want = torch.stack([p.min(0).values, p.max(0).values], 1) if p.shape[0] else torch.zeros(3, 2)
        torch.testing.assert_close(box, want)
    clouds.points_padded()
    offsets = torch.randn_like(clouds.points_packed())
    moved = clouds.offset(offsets)
    check_views(moved, [p + o for p, o in zip(points, offsets.split([p.shape[0] for p in points]))], None, features)
    check_views(clouds, points, None, features)
    check_views(clouds.offset(torch.ones(3)), [p + 1 for p in points], None, features)
    scales = torch.tensor([1.0, 2.0, 3.0, 4.0])
    check_views(clouds.scale(scales), [s * p for s, p in zip(scales, points)], None, features)
    check_views(clouds.scale(2.0), [2 * p for p in points], None, features)
    with pytest.raises(ValueError, match="offsets"):
        clouds.offset(torch.zeros(2, 3))


def test_inside_box():
    points, normals, features = hetero_clouds()
    clouds = Pointclouds(points)
    box = torch.tensor([[-0.5, -0.5, -0.5], [1.0, 1.0, 1.0]])
    want = torch.cat([((p >= box[0]) & (p <= box[1])).all(1) for p in points])
    assert torch.equal(clouds.inside_box(box), want)
    boxes = torch.stack([box, box, box * 2, box])
    want = torch.cat([((p >= b[0]) & (p <= b[1])).all(1) for p, b in zip(points, boxes)])
    assert torch.equal(clouds.inside_box(boxes), want)
    with pytest.raises(ValueError):
        clouds.inside_box(box.flip(0))


def test_update_padded():
    points, normals, features = hetero_clouds()
    clouds = Pointclouds(points, normals=normals, features=features)
    new = clouds.update_padded(clouds.points_padded() * 2)
    check_views(new, [2 * p for p in points], normals, features)
    new = clouds.update_padded(clouds.points_padded(), new_features_padded=torch.zeros(4, 7, 5))
    assert new.features_packed().shape == (12, 5)
    with pytest.raises(ValueError, match="shape"):
        clouds.update_padded(torch.zeros(4, 6, 3))


def test_indexing_extend_split_get_cloud():
    points, normals, features = hetero_clouds()
    clouds = Pointclouds(points, normals=normals, features=features)
    for index, ids in ((2, [2]), (-1, [3]), (slice(0, 2), [0, 1]), ([3, 0], [3, 0]), (torch.tensor([True, False, True, False]), [0, 2]), (torch.tensor([1]), [1])):
        check_views(clouds[index], [points[i] for i in ids], [normals[i] for i in ids], [features[i] for i in ids])
    for bad in (4, [9], torch.tensor([1.0]), None):
        with pytest.raises(IndexError):
            clouds[bad]
    ext = clouds.extend(2)
    check_views(ext, [p for p in points for _ in range(2)], [n for n in normals for _ in range(2)], [f for f in features for _ in range(2)])
    assert [len(c) for c in clouds.split([3, 1])] == [3, 1]
    p, n, f = clouds.get_cloud(2)
    assert p is points[2] and n is normals[2] and f is features[2]
    with pytest.raises(ValueError):
        clouds.get_cloud(4)
    with pytest.raises(ValueError):
        clouds.extend(0)


def test_clone_detach_to_and_gradients():
    points, normals, features = hetero_clouds()
    points = [p.requires_grad_(True) for p in points]
    clouds = Pointclouds(points, features=features)
    clouds.points_padded()
    cloned = clouds.clone()
    assert cloned.points_padded().data_ptr() != clouds.points_padded().data_ptr()
    cloned.points_padded().sum().backward()
    assert torch.equal(points[0].grad, torch.ones(4, 3))
    detached = clouds.detach()
    assert not detached.points_packed().requires_grad
    check_views(detached, points, None, features)
    assert clouds.to("cpu") is clouds and clouds.to("cpu", copy=True) is not clouds
    ext = Pointclouds(points).extend(3)
    points[2].grad = None
    ext.points_packed().sum().backward()
    torch.testing.assert_close(points[2].grad, torch.full((7, 3), 3.0))


def test_join_as_batch_and_scene():
    points, normals, features = hetero_clouds()
    a = Pointclouds(points[:2], normals=normals[:2], features=features[:2])
    b = Pointclouds(points[2:], normals=normals[2:], features=features[2:])
    check_views(join_pointclouds_as_batch([a, b]), points, normals, features)
    scene = join_pointclouds_as_scene([a, b])
    check_views(scene, [torch.cat(points)], [torch.cat(normals)], [torch.cat(features)])
    with pytest.raises(ValueError, match="normals"):
        join_pointclouds_as_batch([a, Pointclouds(points[:1], features=features[:1])])
    with pytest.raises(ValueError, match="channels"):
        join_pointclouds_as_batch([a, Pointclouds(points[:1], normals=normals[:1], features=[torch.rand(4, 3)])])
    with pytest.raises(ValueError):
        join_pointclouds_as_batch(a)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"points": [torch.rand(3, 2)]}, r"points\[0\] has shape"),
        ({"points": [torch.randint(0, 3, (3, 3))]}, "floating"),
        ({"points": [torch.rand(3, 3), torch.rand(2, 3, dtype=torch.float64)]}, "dtype"),
        ({"points": [torch.tensor([[0.0, float("nan"), 0]])]}, "NaN"),
        ({"points": torch.rand(2, 3)}, "padded points"),
        ({"points": "abc"}, "list"),
        ({"points": [torch.rand(3, 3)], "normals": [torch.rand(2, 3)]}, "2 rows"),
        ({"points": [torch.rand(3, 3)], "normals": [torch.rand(3, 3)] * 2}, "2 tensors for 1"),
        ({"points": [torch.rand(3, 3)], "normals": [torch.rand(3, 2)]}, "shape"),
        ({"points": [torch.rand(3, 3), torch.rand(1, 3)], "features": [torch.rand(3, 2), torch.rand(1, 4)]}, "channels"),
        ({"points": torch.rand(2, 3, 3), "features": torch.rand(2, 4, 1)}, "padded features"),
        ({"points": [torch.rand(3, 3)], "features": [torch.full((3, 1), float("inf"))]}, "features contain NaN"),
    ],
)
def test_bad_input_raises_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Pointclouds(**kwargs)
