"""The ShapeNet / R2N2 reader on a tiny fake tree written here: 2 chairs, 3 views each, binvox voxels, metadata."""

import json
import shutil

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from reference.r2n2_camera import r2n2_camera_reference

from inverse3d.datasets.binvox import write_binvox
from inverse3d.datasets.builtin import R2N2_FOV, collate_batch, render_view, voxelize_union
from inverse3d.datasets.procedural import make_shape
from inverse3d.datasets.r2n2 import R2N2, r2n2_camera, read_rendering, read_rendering_metadata
from inverse3d.io import save_obj

SYNSET = "03001627"
MODELS = ("1a6f615e8b1b5ae4dbbc9440457e303e", "1a74a83fa6d24b3cacd67ce2c72c02e")
VIEWS = [(30.0, 25.5, 0.0, 0.8, 25.0), (150.0, 28.0, 0.0, 0.7, 25.0), (275.5, 29.9, 0.0, 0.75, 25.0)]
SIZE, RES = 48, 16
ITEM_KEYS = {"images", "voxels", "points", "normals", "verts", "faces", "R", "T", "fov", "dist", "elev", "azim", "category", "id"}


def _parts(seed):
    shape, verts, faces, colors = make_shape("chair", seed)
    sizes = [len(p.verts) for p in shape.parts]
    v = torch.from_numpy(verts)
    return v, torch.from_numpy(faces), torch.from_numpy(colors), list(torch.split(v, sizes)), [torch.from_numpy(p.faces) for p in shape.parts]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """shapenet/<synset>/<model>/model.obj, r2n2/ShapeNetRendering/..., r2n2/ShapeNetVoxels/..., splits.json."""
    root = tmp_path_factory.mktemp("r2n2")
    truth = {}
    for k, model in enumerate(MODELS):
        verts, faces, colors, pv, pf = _parts(k)
        (root / "shapenet" / SYNSET / model).mkdir(parents=True)
        save_obj(root / "shapenet" / SYNSET / model / "model.obj", verts, faces)
        rendering = root / "r2n2" / "ShapeNetRendering" / SYNSET / model / "rendering"
        rendering.mkdir(parents=True)
        lines = []
        for i, (az, el, rot, ratio, fov) in enumerate(VIEWS):
            R, T = r2n2_camera_reference(az, el, ratio * 1.75)
            rgb = render_view(verts, faces, colors, R.float(), T.float(), R2N2_FOV, SIZE, supersample=1)
            alpha = (rgb < 0.999).any(-1, keepdim=True).float()
            rgba = torch.cat([rgb * alpha, alpha], -1)  # transparent background stored black, as RGBA files may
            iio.imwrite(rendering / f"{i:02d}.png", (rgba.numpy() * 255).round().astype(np.uint8))
            lines.append(" ".join(str(x) for x in (az, el, rot, ratio, fov)))
        (rendering / "rendering_metadata.txt").write_text("\n".join(lines) + "\n")
        (rendering / "renderings.txt").write_text("".join(f"{i:02d}.png\n" for i in range(len(VIEWS))))
        voxels = voxelize_union(pv, pf, RES)
        truth[model] = voxels
        vox_dir = root / "r2n2" / "ShapeNetVoxels" / SYNSET / model
        vox_dir.mkdir(parents=True)
        if k == 0:  # the grid over [-0.5, 0.5]^3 itself
            write_binvox(vox_dir / "model.binvox", voxels)
        else:  # R2N2-like: a finer grid in its own frame, the box [-0.6, 0.6]^3 stated by the header
            scaled = [v / 1.2 for v in pv]
            write_binvox(vox_dir / "model.binvox", voxelize_union(scaled, pf, 2 * RES), translate=(-0.6,) * 3, scale=1.2)
    splits = {"train": {SYNSET: {MODELS[0]: [0, 1, 2], MODELS[1]: [0, 2]}}, "val": {SYNSET: {MODELS[1]: [1]}}, "test": {}}
    (root / "splits.json").write_text(json.dumps(splits))
    return root, truth


def _dataset(root, split="train", **kw):
    return R2N2(split, root / "shapenet", root / "r2n2", root / "splits.json", voxel_res=RES, n_points=256, **kw)


@pytest.mark.parametrize("azim, elev, ratio", [(0.0, 25.0, 0.7), (293.6, 25.9, 0.81), (170.0, 30.0, 0.9), (359.0, 27.0, 0.65)])
def test_camera_matches_reference_formula(azim, elev, ratio):
    R, T, (dist, elev_l, azim_l) = r2n2_camera(azim, elev, ratio)
    R0, T0 = r2n2_camera_reference(azim, elev, ratio * 1.75)
    torch.testing.assert_close(R.double(), R0, atol=1e-6, rtol=0)
    torch.testing.assert_close(T.double(), T0, atol=1e-6, rtol=0)
    assert dist == pytest.approx(ratio * 1.75) and elev_l == elev and azim_l == pytest.approx((90 - azim) % 360)
    assert R2N2_FOV == pytest.approx(49.134, abs=1e-3)  # 35 mm lens, 32 mm sensor: focal 2.1875 in NDC


def test_camera_bad_values():
    with pytest.raises(ValueError, match="non-finite"):
        r2n2_camera(float("nan"), 25, 0.8)
    with pytest.raises(ValueError, match="positive"):
        r2n2_camera(0, 25, 0.0)
    with pytest.warns(UserWarning, match="in-plane"):
        r2n2_camera(0, 25, 0.8, in_plane=5.0)


def test_items_have_the_procedural_format(tree):
    root, _ = tree
    ds = _dataset(root)
    assert len(ds) == 5  # 3 + 2 views of the train split
    item = ds[0]
    assert set(item) == ITEM_KEYS
    assert item["images"].shape == (SIZE, SIZE, 3) and item["images"].dtype == torch.float32
    assert item["voxels"].shape == (RES,) * 3 and item["points"].shape == (256, 3) and item["normals"].shape == (256, 3)
    assert item["R"].shape == (3, 3) and item["T"].shape == (3,) and item["fov"].shape == ()
    assert item["category"] == SYNSET and item["id"] == MODELS[0]
    assert torch.equal(item["images"][0, 0], torch.ones(3)), "transparent background must come out white"
    assert float(item["elev"]) == pytest.approx(VIEWS[0][1]) and float(item["azim"]) == pytest.approx(60.0)
    assert ds[4]["id"] == MODELS[1] and float(ds[4]["elev"]) == pytest.approx(VIEWS[2][1])
    assert len(_dataset(root, split="val")) == 1
    # Points lie on the mesh's surface: within its bounding box, deterministic per model.
    lo, hi = item["verts"].min(0).values, item["verts"].max(0).values
    assert ((item["points"] >= lo - 1e-5) & (item["points"] <= hi + 1e-5)).all()
    assert torch.equal(ds[1]["points"], item["points"])


def test_camera_of_an_item_reproduces_its_image(tree):
    root, _ = tree
    ds = _dataset(root)
    for index in (0, 1, 4):
        item = ds[index]
        colors = torch.full_like(item["verts"], 0.5)
        again = render_view(item["verts"], item["faces"], colors, item["R"], item["T"], float(item["fov"]), SIZE, supersample=1)
        fg_file, fg_again = (item["images"] < 0.999).any(-1), (again < 0.999).any(-1)
        iou = (fg_file & fg_again).sum() / (fg_file | fg_again).sum()
        assert iou > 0.97, f"item {index}: silhouette IoU {iou:.3f}"


def test_voxels_land_in_the_mesh_frame(tree):
    root, truth = tree
    header = _dataset(root, voxel_align="header")
    bbox = _dataset(root)

    def iou(a, b):
        return float((a.bool() & b.bool()).sum() / (a.bool() | b.bool()).sum())

    assert torch.equal(header[0]["voxels"], truth[MODELS[0]])  # written in the [-0.5, 0.5]^3 frame: exact
    assert iou(header[4]["voxels"], truth[MODELS[1]]) > 0.7
    assert iou(bbox[0]["voxels"], truth[MODELS[0]]) > 0.7
    assert iou(bbox[4]["voxels"], truth[MODELS[1]]) > 0.7
    assert iou(header[4]["voxels"], truth[MODELS[0]]) < 0.6  # the other chair: the test can tell them apart
    no_vox = _dataset(root, return_voxels=False)[0]["voxels"]
    assert no_vox.shape == (RES,) * 3 and no_vox.sum() == 0


def test_one_random_view_per_model(tree):
    root, _ = tree
    ds = _dataset(root, return_all_views=False)
    assert len(ds) == 2
    elevs = {round(float(ds[1]["elev"]), 3) for _ in range(12)}
    assert elevs <= {VIEWS[0][1], VIEWS[2][1]} and len(elevs) == 2


def test_collate_r2n2_items(tree):
    root, _ = tree
    ds = _dataset(root)
    batch = collate_batch([ds[0], ds[4]])
    assert batch["images"].shape == (2, SIZE, SIZE, 3) and batch["voxels"].shape == (2, RES, RES, RES)
    assert batch["id"] == list(MODELS) and len(batch["mesh"]) == 2
    assert batch["mesh"].num_verts_per_mesh().tolist() == [len(ds[0]["verts"]), len(ds[4]["verts"])]
    no_mesh = _dataset(root, return_mesh=False)[0]
    assert "verts" not in no_mesh and "faces" not in no_mesh


def test_split_file_variants(tree, tmp_path):
    root, _ = tree
    splits = tmp_path / "split_03001627.json"
    splits.write_text(json.dumps({"train": {SYNSET: list(MODELS)}, "test": {SYNSET: {MODELS[0]: None}}}))
    ds = R2N2("train", root / "shapenet", root / "r2n2", splits, voxel_res=RES, n_points=16)
    assert len(ds) == 6  # every view of both models
    assert len(R2N2("test", root / "shapenet", root / "r2n2", splits, voxel_res=RES, n_points=16)) == 3
    with pytest.raises(ValueError, match="no 'val' split"):
        R2N2("val", root / "shapenet", root / "r2n2", splits)
    with pytest.raises(ValueError, match="split must be"):
        R2N2("dev", root / "shapenet", root / "r2n2", splits)
    splits.write_text("{oops")
    with pytest.raises(ValueError, match="split_03001627.json"):
        R2N2("train", root / "shapenet", root / "r2n2", splits)


def test_missing_things_are_named(tree, tmp_path):
    root, _ = tree
    splits = tmp_path / "splits.json"
    splits.write_text(json.dumps({"train": {SYNSET: {MODELS[0]: [0], "deadbeef": [0]}}}))
    with pytest.warns(UserWarning, match="deadbeef"):
        ds = R2N2("train", root / "shapenet", root / "r2n2", splits, voxel_res=RES, n_points=16)
    assert len(ds) == 1
    splits.write_text(json.dumps({"train": {SYNSET: {"deadbeef": [0]}}}))
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="no model"):
        R2N2("train", root / "shapenet", root / "r2n2", splits)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        R2N2("train", tmp_path / "nowhere", root / "r2n2", root / "splits.json")
    with pytest.raises(FileNotFoundError, match="ShapeNetRendering"):
        R2N2("train", root / "shapenet", tmp_path, root / "splits.json")
    with pytest.raises(FileNotFoundError, match="no_splits.json"):
        R2N2("train", root / "shapenet", root / "r2n2", tmp_path / "no_splits.json")

    # A copy of the tree with files removed: errors at access name the file.
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    rendering = copy / "r2n2" / "ShapeNetRendering" / SYNSET / MODELS[0] / "rendering"
    (rendering / "01.png").unlink()
    (copy / "r2n2" / "ShapeNetVoxels" / SYNSET / MODELS[1] / "model.binvox").unlink()
    ds = _dataset(copy)
    with pytest.raises(FileNotFoundError, match="01.png"):
        ds[1]
    with pytest.raises(FileNotFoundError, match="model.binvox"):
        ds[3]
    (rendering / "rendering_metadata.txt").write_text("30 25 0 0.8\n")
    with pytest.raises(ValueError, match=r"rendering_metadata.txt:1"):
        ds[0]
    shutil.rmtree(copy / "r2n2" / "ShapeNetVoxels")
    with pytest.raises(FileNotFoundError, match="ShapeNetVoxels"):
        _dataset(copy)


def test_read_rendering_and_metadata(tmp_path):
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[1:3, 1:3] = [255, 0, 0, 255]
    rgba[0, 0] = [0, 0, 255, 128]  # half-transparent blue over white
    iio.imwrite(tmp_path / "00.png", rgba)
    img = read_rendering(tmp_path / "00.png")
    assert img.shape == (4, 4, 3)
    torch.testing.assert_close(img[1, 1], torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(img[3, 3], torch.ones(3))
    torch.testing.assert_close(img[0, 0], torch.tensor([1 - 128 / 255, 1 - 128 / 255, 1.0]), atol=1e-6, rtol=0)
    (tmp_path / "m.txt").write_text("1 2 0 0.5 25\n\n3 4 0 0.6 25\n")
    assert read_rendering_metadata(tmp_path / "m.txt").tolist() == [[1, 2, 0, 0.5, 25], [3, 4, 0, 0.6, 25]]
    (tmp_path / "bad.txt").write_text("1 2 x 0.5 25\n")
    with pytest.raises(ValueError, match="bad.txt:1"):
        read_rendering_metadata(tmp_path / "bad.txt")
    with pytest.raises(FileNotFoundError, match="01.png"):
        read_rendering(tmp_path / "01.png")
