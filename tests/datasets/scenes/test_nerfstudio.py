"""nerfstudio ``transforms.json``: global and per-frame intrinsics, distortion, splits, extras, bad input."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from inverse3d.datasets.scenes.conventions import SceneFormatError, c2w_from_cameras
from inverse3d.datasets.scenes.dataset import distort_points, load_scene
from inverse3d.datasets.scenes.nerfstudio import read_nerfstudio, write_nerfstudio

from reference.scene_formats import HEIGHT, WIDTH, make_cameras, orbit_c2w

DIST = {"k1": 0.05, "k2": -0.01, "p1": 0.002, "p2": -0.001}


def _images(n, h=HEIGHT, w=WIDTH):
    return torch.rand(n, h, w, 3, generator=torch.Generator().manual_seed(n))


def test_global_intrinsics_and_distortion(tmp_path):
    cams = make_cameras(orbit_c2w(3), 40.0, 44.0, 25.5, 15.0)
    path = write_nerfstudio(tmp_path, _images(3), cams, distortion=DIST,
                            applied_transform=np.eye(4)[:3])
    meta = json.loads(path.read_text())
    assert meta["camera_model"] == "OPENCV" and meta["fl_x"] == 40.0 and meta["fl_y"] == 44.0
    assert meta["w"] == WIDTH and meta["h"] == HEIGHT and meta["k1"] == 0.05
    assert "fl_x" not in meta["frames"][0] and meta["frames"][0]["file_path"] == "images/frame_00001.png"
    ds = read_nerfstudio(tmp_path, "all")
    f = ds.frames[1]
    assert (f.fx, f.fy, f.cx, f.cy, f.width, f.height) == (40.0, 44.0, 25.5, 15.0, WIDTH, HEIGHT)
    assert f.camera_model == "OPENCV" and f.distortion == DIST
    assert np.allclose(ds.meta["applied_transform"], np.eye(4))
    assert torch.allclose(c2w_from_cameras(ds.cameras), c2w_from_cameras(cams), atol=1e-6)
    assert ds.points is None


def test_per_frame_intrinsics_override(tmp_path):
    c2w = orbit_c2w(3)
    cams = make_cameras(c2w, torch.tensor([30.0, 35.0, 40.0]), 36.0, 24.0, 16.0)
    write_nerfstudio(tmp_path, _images(3), cams, distortion=[{"k1": 0.1 * i} for i in range(3)])
    meta = json.loads((tmp_path / "transforms.json").read_text())
    assert "fl_x" not in meta and meta["frames"][2]["fl_x"] == 40.0 and meta["frames"][2]["k1"] == pytest.approx(0.2)
    ds = load_scene(tmp_path, "all")
    assert [f.fx for f in ds.frames] == [30.0, 35.0, 40.0]
    assert [f.distortion.get("k1") for f in ds.frames] == pytest.approx([0.0, 0.1, 0.2])
    assert ds.cameras.focal_length[:, 0].tolist() == [30.0, 35.0, 40.0]


def test_default_split_every_8th_of_sorted_paths(tmp_path):
    n = 10
    write_nerfstudio(tmp_path, _images(n), make_cameras(orbit_c2w(n), 40.0, 40.0, 24.0, 16.0))
    meta = json.loads((tmp_path / "transforms.json").read_text())
    meta["frames"] = meta["frames"][::-1]  # order in the file does not matter: nerfstudio sorts by path
    (tmp_path / "transforms.json").write_text(json.dumps(meta))
    names = lambda ds: [f.image_path.name for f in ds.frames]  # noqa: E731
    test = load_scene(tmp_path, "test")
    assert names(test) == ["frame_00001.png", "frame_00009.png"]
    assert names(load_scene(tmp_path, "val")) == names(test)
    train = load_scene(tmp_path, "train")
    assert len(train) == 8 and "frame_00001.png" not in names(train)


def test_split_filenames(tmp_path):
    write_nerfstudio(tmp_path, _images(4), make_cameras(orbit_c2w(4), 40.0, 40.0, 24.0, 16.0),
                     splits={"train": [0, 2, 3], "test": [1]})
    assert [f.image_path.name for f in load_scene(tmp_path, "train").frames] == [
        "frame_00001.png", "frame_00003.png", "frame_00004.png"]
    assert [f.image_path.name for f in load_scene(tmp_path, "val").frames] == ["frame_00002.png"]  # val <- test
    meta = json.loads((tmp_path / "transforms.json").read_text())
    meta["test_filenames"] = ["images/nothing.png"]
    (tmp_path / "transforms.json").write_text(json.dumps(meta))
    with pytest.raises(SceneFormatError, match=r"transforms\.json: 'test_filenames' names 'images/nothing\.png'"):
        load_scene(tmp_path, "test")


def test_points_from_ply(tmp_path):
    pts, rgb = torch.randn(7, 3), torch.rand(7, 3)
    write_nerfstudio(tmp_path, _images(2), make_cameras(orbit_c2w(2), 40.0, 40.0, 24.0, 16.0), points=pts,
                     points_rgb=rgb)
    ds = load_scene(tmp_path, "all")
    assert np.allclose(ds.points, pts.numpy(), atol=1e-6)
    assert np.abs(ds.points_rgb - rgb.numpy()).max() <= 0.5 / 255 + 1e-6


def test_downscale_uses_images_n(tmp_path):
    write_nerfstudio(tmp_path, _images(2), make_cameras(orbit_c2w(2), 40.0, 44.0, 25.0, 15.0))
    resized = load_scene(tmp_path, "all", downscale=2)
    assert resized.image_size == (HEIGHT // 2, WIDTH // 2)
    assert resized.frames[0].image_path.parent.name == "images"
    assert (resized.frames[0].fx, resized.frames[0].cy) == (20.0, 7.5)
    (tmp_path / "images_2").mkdir()
    for i in (1, 2):
        Image.new("RGB", (WIDTH // 2, HEIGHT // 2), (255, 0, 0)).save(tmp_path / "images_2" / f"frame_{i:05d}.png")
    ds = load_scene(tmp_path, "all", downscale=2)
    assert ds.frames[0].image_path.parent.name == "images_2"
    assert torch.allclose(ds[0]["image"], torch.tensor([1.0, 0.0, 0.0]).expand(HEIGHT // 2, WIDTH // 2, 3))
    assert (ds.frames[0].fx, ds.frames[0].fy, ds.frames[0].cx) == (20.0, 22.0, 12.5)


def test_rays_undo_distortion(tmp_path):
    cams = make_cameras(orbit_c2w(1), 40.0, 44.0, 25.5, 15.0)
    write_nerfstudio(tmp_path, _images(1), cams, distortion=DIST)
    ds = load_scene(tmp_path, "all")
    origins, dirs = ds.rays(0)
    f = ds.frames[0]
    c2w = torch.from_numpy(f.c2w_opencv)
    local = dirs.double() @ c2w[:3, :3]  # camera (OpenCV) coordinates
    assert torch.allclose(local[..., 2], torch.ones_like(local[..., 2]), atol=1e-5)
    pix = distort_points(local[..., :2] / local[..., 2:], f.distortion)
    u = pix[..., 0] * f.fx + f.cx
    v = pix[..., 1] * f.fy + f.cy
    rows, cols = torch.meshgrid(torch.arange(HEIGHT) + 0.5, torch.arange(WIDTH) + 0.5, indexing="ij")
    assert (u - cols).abs().max() < 1e-3 and (v - rows).abs().max() < 1e-3
    assert torch.allclose(origins, c2w[:3, 3].float().expand_as(origins))


def _written(tmp_path, n=3):
    write_nerfstudio(tmp_path, _images(n), make_cameras(orbit_c2w(n), 40.0, 40.0, 24.0, 16.0))
    return json.loads((tmp_path / "transforms.json").read_text())


def _save(tmp_path, meta):
    (tmp_path / "transforms.json").write_text(json.dumps(meta))


def test_unknown_camera_model(tmp_path):
    meta = _written(tmp_path)
    meta["frames"][1]["camera_model"] = "OPENCV_FISHEYE"
    _save(tmp_path, meta)
    with pytest.raises(SceneFormatError, match=r"transforms\.json frame 1: unsupported camera_model 'OPENCV_FISHEYE'"):
        load_scene(tmp_path, "all")


def test_missing_image_and_size_mismatch(tmp_path):
    _written(tmp_path)
    (tmp_path / "images" / "frame_00002.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"frame_00002\.png frame 1: image file not found"):
        load_scene(tmp_path, "all")
    Image.new("RGB", (WIDTH, HEIGHT + 1)).save(tmp_path / "images" / "frame_00002.png")
    with pytest.raises(SceneFormatError, match=r"frame_00002\.png frame 1: image is 48x33 but transforms\.json says"):
        load_scene(tmp_path, "all")


def test_inconsistent_sizes_with_per_frame_w_h(tmp_path):
    meta = _written(tmp_path)
    Image.new("RGB", (WIDTH + 2, HEIGHT)).save(tmp_path / "images" / "frame_00003.png")
    meta["frames"][2]["w"] = WIDTH + 2
    _save(tmp_path, meta)
    with pytest.raises(SceneFormatError, match=r"frame_00003\.png frame 2: inconsistent image sizes"):
        load_scene(tmp_path, "all")


def test_not_rigid_and_malformed(tmp_path):
    meta = _written(tmp_path)
    meta["frames"][0]["transform_matrix"][1][1] = 3.0
    _save(tmp_path, meta)
    with pytest.raises(SceneFormatError, match=r"transforms\.json frame 0: pose matrix is not a rigid transform"):
        load_scene(tmp_path, "all")
    (tmp_path / "transforms.json").write_text('{"fl_x": 3,, }')
    with pytest.raises(SceneFormatError, match=r"transforms\.json: malformed JSON at line 1"):
        load_scene(tmp_path)
    _save(tmp_path, {"frames": [{"file_path": "images/frame_00001.png", "transform_matrix": np.eye(4).tolist()}]})
    with pytest.raises(SceneFormatError, match=r"frame 0: no focal length 'fl_x'"):
        load_scene(tmp_path, "all")
