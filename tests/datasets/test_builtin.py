"""The built-in procedural dataset: one sample, the cached dataset, splits, workers and batching."""

import json

import numpy as np
import pytest
import torch

from inverse3d.datasets import builtin
from inverse3d.datasets.builtin import ProceduralShapes, collate_batch, render_sample, sample_union_surface, voxelize_union
from inverse3d.datasets.procedural import box
from inverse3d.ops.voxel_grid import world_to_index
from inverse3d.renderer import FoVPerspectiveCameras, look_at_view_transform

ITEM_KEYS = {"images", "voxels", "points", "normals", "verts", "faces", "R", "T", "fov", "dist", "elev", "azim", "category", "id"}
TINY = dict(image_size=32, voxel_res=8, n_points=64)


def _foreground(image):
    return (image < 0.97).any(dim=-1)  # (H, W) pixels that are not white background


def _check_item(item, image_size, voxel_res, n_points, mesh=True):
    assert set(item) == ITEM_KEYS if mesh else ITEM_KEYS - {"verts", "faces"}
    assert item["images"].shape == (image_size, image_size, 3) and item["images"].dtype == torch.float32
    assert 0 <= item["images"].min() and item["images"].max() <= 1
    assert item["voxels"].shape == (voxel_res,) * 3 and item["voxels"].dtype == torch.float32
    assert set(item["voxels"].unique().tolist()) <= {0.0, 1.0}
    assert item["points"].shape == (n_points, 3) and item["normals"].shape == (n_points, 3)
    assert item["points"].dtype == torch.float32 and item["points"].abs().max() <= 0.5 + 1e-5
    torch.testing.assert_close(item["normals"].norm(dim=-1), torch.ones(n_points))
    assert item["R"].shape == (3, 3) and item["T"].shape == (3,)
    for key in ("fov", "dist", "elev", "azim"):
        assert item[key].shape == () and item[key].dtype == torch.float32
    if mesh:
        assert item["verts"].dtype == torch.float32 and item["faces"].dtype == torch.int64
        assert int(item["faces"].max()) < len(item["verts"])


@pytest.mark.parametrize("category", ["chair", "table", "sofa"])
def test_render_sample_format_and_view(category):
    item = render_sample(category, 3, **TINY)
    _check_item(item, 32, 8, 64)
    assert item["category"] == category
    assert 25 <= float(item["elev"]) <= 30 and 0 <= float(item["azim"]) < 360
    assert item["fov"].item() == pytest.approx(2 * np.degrees(np.arctan(16 / 35)))
    R, T = look_at_view_transform(item["dist"], item["elev"], item["azim"])
    torch.testing.assert_close(item["R"], R[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(item["T"], T[0], atol=1e-6, rtol=0)
    # ShapeNet normalisation
    lo, hi = item["verts"].min(0).values, item["verts"].max(0).values
    assert float((hi - lo).norm()) == pytest.approx(1.0, abs=1e-5)


def test_render_sample_is_deterministic_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = render_sample("chair", 5, **TINY)
    assert torch.equal(torch.rand(3), before)
    b = render_sample("chair", 5, **TINY)
    for key in ("images", "voxels", "points", "normals", "verts", "R", "T"):
        assert torch.equal(a[key], b[key]), key
    c = render_sample("chair", 6, **TINY)
    assert not torch.equal(a["verts"], c["verts"]) if a["verts"].shape == c["verts"].shape else True
    assert float(a["azim"]) != float(c["azim"])


def test_image_shows_the_object_centred_where_the_camera_sees_it():
    item = render_sample("chair", 1, image_size=64, voxel_res=8, n_points=500)
    fg = _foreground(item["images"])
    assert 0.05 < fg.float().mean() < 0.7, "object missing or filling the frame"
    rows, cols = fg.nonzero().float().unbind(1)
    assert abs(rows.mean() - 31.5) < 10 and abs(cols.mean() - 31.5) < 10, "object not centred"
    assert 0 < rows.min() and rows.max() < 63 and 0 < cols.min() and cols.max() < 63, "object cut by the frame"
    # Surface points projected with the item's camera land on the object's pixels.
    cameras = FoVPerspectiveCameras(R=item["R"][None], T=item["T"][None], fov=item["fov"])
    screen = cameras.transform_points_screen(item["points"][None], image_size=((64, 64),))[0]
    col, row = screen[:, 0].round().long().clamp(0, 63), screen[:, 1].round().long().clamp(0, 63)
    # dilate by one pixel: points on silhouette edges may round outside
    fg_dilated = torch.nn.functional.max_pool2d(fg.float()[None, None], 3, 1, 1)[0, 0] > 0
    assert fg_dilated[row, col].float().mean() > 0.97


def test_voxels_agree_with_surface_points():
    item = render_sample("chair", 2, image_size=32, voxel_res=16, n_points=2000)
    vox = item["voxels"]
    assert 0.005 < vox.mean() < 0.5
    idx = world_to_index(item["points"], vox.shape).round().long().clamp(0, 15)
    near = torch.nn.functional.max_pool3d(vox[None, None], 3, 1, 1)[0, 0]  # occupied or next to occupied
    assert near[idx[:, 0], idx[:, 1], idx[:, 2]].float().mean() > 0.99
    assert vox[idx[:, 0], idx[:, 1], idx[:, 2]].float().mean() > 0.9  # surface cells are marked


def _two_overlapping_boxes():
    a = box((0.0, 0.0, 0.0), (0.4, 0.4, 0.4))
    b = box((0.2, 0.0, 0.0), (0.4, 0.2, 0.2))  # sticks half into a
    verts = [torch.from_numpy(p.verts).float() for p in (a, b)]
    faces = [torch.from_numpy(p.faces) for p in (a, b)]
    return verts, faces


def test_voxelize_union_counts_overlaps_as_inside():
    from inverse3d.ops import voxelize_meshes
    from inverse3d.structures import Meshes

    verts, faces = _two_overlapping_boxes()
    union = voxelize_union(verts, faces, 16, surface_cells=False)
    # The cell centres inside either box, by an explicit test.
    from inverse3d.ops.voxel_grid import grid_points

    p = grid_points(16)
    in_a = (p.abs() < 0.2).all(-1)
    in_b = ((p - torch.tensor([0.2, 0.0, 0.0])).abs() < torch.tensor([0.2, 0.1, 0.1])).all(-1)
    assert torch.equal(union.bool(), in_a | in_b)
    # One concatenated mesh would count the overlap as outside (ray parity): the reason for the union.
    joined = voxelize_meshes(Meshes([torch.cat(verts)], [torch.cat([faces[0], faces[1] + 8])]), 16)[0]
    assert not torch.equal(joined.bool(), union.bool())
    with_surface = voxelize_union(verts, faces, 16)
    assert (with_surface >= union).all() and with_surface.sum() > union.sum()


def test_surface_samples_skip_buried_faces():
    verts, faces = _two_overlapping_boxes()
    torch.manual_seed(0)
    p, n = sample_union_surface(verts, faces, 3000)
    assert p.shape == (3000, 3) and n.shape == (3000, 3)
    strictly_in_a = (p.abs() < 0.2 - 1e-4).all(-1)
    strictly_in_b = ((p - torch.tensor([0.2, 0.0, 0.0])).abs() < torch.tensor([0.2, 0.1, 0.1]) - 1e-4).all(-1)
    assert not (strictly_in_a | strictly_in_b).any()
    # every point lies on one of the two boxes' surfaces
    on_a = ((p.abs() - 0.2).abs() < 1e-5).any(-1) & (p.abs() <= 0.2 + 1e-5).all(-1)
    q = (p - torch.tensor([0.2, 0.0, 0.0])).abs()
    half = torch.tensor([0.2, 0.1, 0.1])
    on_b = ((q - half).abs() < 1e-5).any(-1) & (q <= half + 1e-5).all(-1)
    assert (on_a | on_b).all()


def _dataset(root, **kw):
    args = dict(TINY, n_train=3, n_val=1, n_test=2, progress=False)
    args.update(kw)
    return ProceduralShapes(root, **args)


def _mtimes(folder):
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("*.pt")}


def test_dataset_generates_once_and_reuses_the_cache(tmp_path):
    ds = _dataset(tmp_path)
    assert len(ds) == 3 and ds.ids == ["chair_train_00000", "chair_train_00001", "chair_train_00002"]
    item = ds[1]
    _check_item(item, 32, 8, 64)
    assert item["id"] == "chair_train_00001" and item["category"] == "chair"
    assert ds[-1]["id"] == "chair_train_00002"
    with pytest.raises(IndexError):
        ds[3]
    manifest = json.loads((ds.folder / "manifest.json").read_text())
    assert manifest["params"]["image_size"] == 32 and manifest["inverse3d_version"]
    assert manifest["splits"]["test"] == ["chair_test_00000", "chair_test_00001"]
    assert sorted(manifest["files"]) == [f"{i}.pt" for i in ds.ids]
    assert ds.folder.parent == tmp_path and len(ds.folder.name) == 16
    stamps = _mtimes(ds.folder)
    again = _dataset(tmp_path)
    assert _mtimes(again.folder) == stamps, "second construction regenerated files"
    for key in ("images", "voxels", "points"):
        assert torch.equal(again[1][key], item[key])
    # Stored images are uint8 like an R2N2 PNG: values sit on the 1/255 grid.
    assert torch.allclose(item["images"] * 255, (item["images"] * 255).round(), atol=1e-4)


def test_corrupt_or_missing_files_are_regenerated(tmp_path):
    ds = _dataset(tmp_path)
    stamps = _mtimes(ds.folder)
    bad = ds.folder / "chair_train_00001.pt"
    reference = ds[1]
    bad.write_bytes(bad.read_bytes()[:-10] + b"0123456789")
    (ds.folder / "chair_train_00002.pt").unlink()
    with pytest.warns(UserWarning, match="chair_train_00001.pt"):
        again = _dataset(tmp_path)
    after = _mtimes(again.folder)
    assert after["chair_train_00000.pt"] == stamps["chair_train_00000.pt"]
    assert after["chair_train_00001.pt"] != stamps["chair_train_00001.pt"]
    assert "chair_train_00002.pt" in after
    assert torch.equal(again[1]["points"], reference["points"])  # same content as before the damage


def test_missing_manifest_with_foreign_files_is_rebuilt_and_leaves_them_alone(tmp_path):
    ds = _dataset(tmp_path)
    reference = ds[0]
    (ds.folder / "manifest.json").unlink()
    torch.save({"weights": torch.zeros(3)}, ds.folder / "chair_train_00000.pt")  # named like a sample: replaced
    (ds.folder / "notes.npz").write_bytes(b"mine")  # not named by the cache: kept
    with pytest.warns(UserWarning) as record:
        again = _dataset(tmp_path)
    messages = " ".join(str(w.message) for w in record)
    assert "notes.npz" in messages and "left alone" in messages
    assert "chair_train_00000.pt: not a sample of this dataset" in messages
    assert torch.equal(again[0]["points"], reference["points"])  # regenerated, no KeyError
    assert (ds.folder / "notes.npz").read_bytes() == b"mine"
    assert sorted(again.manifest["files"]) == [f"{i}.pt" for i in again.ids]


def test_parameter_change_regenerates_into_another_folder(tmp_path):
    a = _dataset(tmp_path)
    b = _dataset(tmp_path, random_colors=True)
    c = _dataset(tmp_path, image_size=24)
    assert len({a.folder, b.folder, c.folder}) == 3
    assert c[0]["images"].shape == (24, 24, 3)
    assert not torch.equal(a[0]["images"], b[0]["images"])
    # The returned fields that are not generation parameters share the cache.
    assert _dataset(tmp_path, return_mesh=False).folder == a.folder
    _check_item(_dataset(tmp_path, return_mesh=False)[0], 32, 8, 64, mesh=False)


def test_splits_are_disjoint_and_test_set_ignores_train_size(tmp_path):
    test_a = _dataset(tmp_path, split="test")
    test_b = _dataset(tmp_path, split="test", n_train=5)
    assert test_a.ids == test_b.ids == ["chair_test_00000", "chair_test_00001"]
    assert torch.equal(test_a[0]["verts"], test_b[0]["verts"])
    train = _dataset(tmp_path)
    val = _dataset(tmp_path, split="val")
    seeds = {split: {builtin.shape_seed(0, split, i) for i in range(3)} for split in ("train", "val", "test")}
    assert not (seeds["train"] & seeds["val"]) and not (seeds["train"] & seeds["test"])
    assert len(val) == 1 and not torch.equal(val[0]["points"], train[0]["points"])


def test_multiple_categories_and_collate(tmp_path):
    ds = _dataset(tmp_path, categories=("chair", "sofa"), n_train=2)
    assert [ds[i]["category"] for i in range(len(ds))] == ["chair", "chair", "sofa", "sofa"]
    loader = torch.utils.data.DataLoader(ds, batch_size=3, collate_fn=collate_batch)
    batch = next(iter(loader))
    assert batch["images"].shape == (3, 32, 32, 3) and batch["voxels"].shape == (3, 8, 8, 8)
    assert batch["points"].shape == (3, 64, 3) and batch["normals"].shape == (3, 64, 3)
    assert batch["R"].shape == (3, 3, 3) and batch["T"].shape == (3, 3) and batch["fov"].shape == (3,)
    assert batch["category"] == ["chair", "chair", "sofa"] and len(batch["id"]) == 3
    assert len(batch["mesh"]) == 3 and isinstance(batch["verts"], list)
    torch.testing.assert_close(batch["mesh"].verts_list()[2], ds[2]["verts"])
    no_mesh = collate_batch([_dataset(tmp_path, categories=("chair", "sofa"), n_train=2, return_mesh=False)[0]])
    assert "mesh" not in no_mesh and "verts" not in no_mesh


def test_collate_errors():
    with pytest.raises(ValueError, match="at least one"):
        collate_batch([])
    a = {"images": torch.zeros(4, 4, 3), "id": "a"}
    with pytest.raises(ValueError, match="keys"):
        collate_batch([a, {"images": torch.zeros(4, 4, 3)}])
    with pytest.raises(ValueError, match="images"):
        collate_batch([a, {"images": torch.zeros(5, 5, 3), "id": "b"}])


def test_workers_give_the_same_samples(tmp_path):
    serial = _dataset(tmp_path / "serial", n_train=4)
    parallel = _dataset(tmp_path / "parallel", n_train=4, workers=2)
    assert serial.manifest["files"] == parallel.manifest["files"], "worker processes changed the samples"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(split="dev"), "split"),
        (dict(categories=("lamp",)), "lamp"),
        (dict(categories=()), "at least one"),
        (dict(categories=("chair", "chair")), "repeat"),
        (dict(n_train=-1), "n_train"),
        (dict(image_size=0), "positive"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _dataset(tmp_path, **kwargs)


def test_render_sample_bad_arguments():
    with pytest.raises(ValueError, match="unknown category"):
        render_sample("lamp", 0, **TINY)
    with pytest.raises(ValueError, match="n_points"):
        render_sample("chair", 0, image_size=32, voxel_res=8, n_points=0)
