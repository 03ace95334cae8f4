"""NeRF-synthetic ("Blender") layout: writer, reader, compositing, depth/normal extras, downscale, bad input."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from inverse3d.datasets.scenes.blender import read_blender, write_blender_split
from inverse3d.datasets.scenes.conventions import SceneFormatError, c2w_from_cameras
from inverse3d.datasets.scenes.dataset import load_scene

from reference.scene_formats import look_at_c2w, orbit_c2w, render

ANGLE = 0.9
SIZE = 24


def _scene(n=3, size=SIZE):
    from inverse3d.datasets.scenes.conventions import cameras_from_c2w, focal_from_fov

    c2w = orbit_c2w(n)
    f = focal_from_fov(ANGLE, size)
    cams = cameras_from_c2w(torch.from_numpy(c2w).float(), f, f, size / 2, size / 2, size, size)
    return c2w, cams, render(cams, size, size)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("blender")
    c2w, cams, rgba = _scene()
    depth = torch.rand(3, SIZE, SIZE) * (rgba[..., 3] > 0)
    normal = torch.nn.functional.normalize(torch.randn(3, SIZE, SIZE, 3), dim=-1) * (rgba[..., 3:] > 0)
    for split in ("train", "test"):
        write_blender_split(root, split, rgba, c2w, ANGLE, depths=depth, normals=normal)
    return root, c2w, cams, rgba, depth, normal


def test_layout_written(written):
    root, c2w, *_ = written
    meta = json.loads((root / "transforms_train.json").read_text())
    assert meta["camera_angle_x"] == ANGLE
    fr = meta["frames"][1]
    assert fr["file_path"] == "./train/r_1" and fr["rotation"] == 0.0
    assert np.allclose(fr["transform_matrix"], c2w[1])
    assert fr["depth_path"] == "./train/r_1_depth.npy" and fr["normal_path"] == "./train/r_1_normal.png"
    im = Image.open(root / "train" / "r_1.png")
    assert im.mode == "RGBA" and im.size == (SIZE, SIZE)
    assert np.load(root / "train" / "r_1_depth.npy").dtype == np.float32
    assert not list(root.rglob("*.tmp"))  # atomic writes leave no temporary files


def test_read_back_cameras_images_masks(written):
    root, c2w, cams, rgba, depth, normal = written
    ds = load_scene(root, "train")
    assert ds.format == "blender" and len(ds) == 3 and ds.image_size == (SIZE, SIZE)
    assert np.allclose(np.stack([f.c2w for f in ds.frames]), c2w)
    assert torch.allclose(c2w_from_cameras(ds.cameras), c2w_from_cameras(cams), atol=1e-6)
    assert torch.allclose(ds.cameras.focal_length, cams.focal_length, atol=1e-5)
    assert torch.allclose(ds.cameras.principal_point, cams.principal_point)
    q = torch.from_numpy(np.round(rgba.numpy() * 255) / 255).float()
    item = ds[2]
    assert item["index"] == 2 and len(item["camera"]) == 1
    assert torch.allclose(item["mask"], q[2, ..., 3])
    white = q[2, ..., :3] * q[2, ..., 3:] + (1 - q[2, ..., 3:])
    assert torch.allclose(item["image"], white, atol=1e-6)
    black = read_blender(root, "train", white_background=False)[2]["image"]
    assert torch.allclose(black, q[2, ..., :3] * q[2, ..., 3:], atol=1e-6)
    assert torch.allclose(item["depth"], depth[2])
    covered = normal[2].norm(dim=-1) > 0
    assert torch.equal(item["normal"].norm(dim=-1) > 0, covered)
    assert (item["normal"][covered] - normal[2][covered]).abs().max() < 0.02  # 8-bit encoding
    assert ds.frames[0].camera_model == "SIMPLE_PINHOLE"
    assert 0 < ds.near < ds.far


def test_splits_and_all(written):
    root = written[0]
    assert len(load_scene(root, "test")) == 3
    assert len(load_scene(root, "all")) == 6
    with pytest.raises(FileNotFoundError, match="transforms_val.json"):
        load_scene(root, "val")


def test_downscale_resizes_and_scales_intrinsics(written):
    root, *_ = written
    full = read_blender(root, "train")
    half = read_blender(root, "train", downscale=2)
    assert half.image_size == (SIZE // 2, SIZE // 2) and half.downscale == 2
    assert half.frames[0].fx == pytest.approx(full.frames[0].fx / 2)
    assert half.frames[0].cx == pytest.approx(SIZE / 4)
    a, b = full[0]["image"], half[0]["image"]
    assert torch.allclose(b, a.reshape(SIZE // 2, 2, SIZE // 2, 2, 3).mean((1, 3)), atol=1e-6)
    with pytest.raises(ValueError, match="downscale"):
        read_blender(root, downscale=3)


def test_cache_is_bounded(written):
    root = written[0]
    item_bytes = SIZE * SIZE * (3 + 1 + 1 + 3) * 4
    ds = read_blender(root, "train", cache_bytes=2 * item_bytes)
    for i in range(3):
        ds[i]
    assert ds.cached_bytes == 2 * item_bytes
    assert list(ds._cache) == [1, 2]
    none = read_blender(root, "train", cache_bytes=0)
    none[0]
    assert none.cached_bytes == 0
    first = ds[1]["image"]
    first += 1  # the caller's copy; the cache keeps its own
    assert ds[1]["image"].max() <= 1


def _copy(root, tmp_path):
    import shutil

    dst = tmp_path / "scene"
    shutil.copytree(root, dst)
    return dst


def test_missing_image(written, tmp_path):
    root = _copy(written[0], tmp_path)
    (root / "train" / "r_1.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"r_1\.png frame 1: image file not found"):
        load_scene(root)


def test_pose_not_rigid(written, tmp_path):
    root = _copy(written[0], tmp_path)
    meta = json.loads((root / "transforms_train.json").read_text())
    meta["frames"][2]["transform_matrix"][0][0] *= 1.5
    (root / "transforms_train.json").write_text(json.dumps(meta))
    with pytest.raises(SceneFormatError, match=r"transforms_train\.json frame 2: pose matrix is not a rigid transform"):
        load_scene(root)


def test_inconsistent_sizes(written, tmp_path):
    root = _copy(written[0], tmp_path)
    Image.new("RGBA", (SIZE + 2, SIZE)).save(root / "train" / "r_2.png")
    with pytest.raises(SceneFormatError, match=r"r_2\.png frame 2: inconsistent image sizes.*26x24.*24x24"):
        load_scene(root)


def test_malformed_json_and_missing_fields(written, tmp_path):
    root = _copy(written[0], tmp_path)
    text = (root / "transforms_train.json").read_text()
    (root / "transforms_train.json").write_text(text[: len(text) // 2])
    with pytest.raises(SceneFormatError, match=r"transforms_train\.json: malformed JSON at line \d+") as e:
        load_scene(root)
    assert "\n" not in str(e.value)
    (root / "transforms_train.json").write_text(json.dumps({"frames": []}))
    with pytest.raises(SceneFormatError, match="camera_angle_x"):
        load_scene(root)
    (root / "transforms_train.json").write_text(json.dumps({"camera_angle_x": 0.5, "frames": [{"file_path": "x"}]}))
    with pytest.raises(SceneFormatError, match=r"frame 0: frame needs 'file_path' and 'transform_matrix'"):
        load_scene(root)


def test_writer_refuses_bad_input(tmp_path):
    c2w = orbit_c2w(2)
    with pytest.raises(ValueError, match="images must have shape"):
        write_blender_split(tmp_path, "train", np.zeros((2, 4, 4, 2)), c2w, ANGLE)
    bad = c2w.copy()
    bad[1, :3, :3] *= -1
    with pytest.raises(ValueError, match=r"c2w\[1\].*det"):
        write_blender_split(tmp_path, "train", np.zeros((2, 4, 4, 4)), bad, ANGLE)
    with pytest.raises(ValueError, match="camera_angle_x"):
        write_blender_split(tmp_path, "train", np.zeros((2, 4, 4, 4)), c2w, 4.0)
    assert look_at_c2w((0, 0, 2))[2, 3] == 2 and math.isfinite(ANGLE)


def test_instant_ngp_style_intrinsics(tmp_path):
    """``fl_x``/``cx`` keys (instant-ngp exports) win over camera_angle_x; non-square images keep square pixels."""
    c2w = orbit_c2w(1)
    write_blender_split(tmp_path, "train", np.zeros((1, 10, 20, 4)), c2w, ANGLE)
    ds = read_blender(tmp_path)
    assert ds.frames[0].fx == ds.frames[0].fy == pytest.approx(10 / math.tan(ANGLE / 2))
    assert (ds.frames[0].cx, ds.frames[0].cy) == (10.0, 5.0)
    meta = json.loads((tmp_path / "transforms_train.json").read_text())
    meta.update(fl_x=30.0, fl_y=31.0, cx=9.0, cy=4.5)
    (tmp_path / "transforms_train.json").write_text(json.dumps(meta))
    f = read_blender(tmp_path).frames[0]
    assert (f.fx, f.fy, f.cx, f.cy) == (30.0, 31.0, 9.0, 4.5)
