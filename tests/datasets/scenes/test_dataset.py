"""SceneDataset and load_scene: format detection, items, rays, distortion, near/far, cache, scene_info."""

import math
import pickle

import numpy as np
import pytest
import torch

from inverse3d.datasets.scenes.blender import write_blender_split
from inverse3d.datasets.scenes.colmap import write_colmap
from inverse3d.datasets.scenes.conventions import SceneFileNotFoundError, SceneFormatError, focal_from_fov
from inverse3d.datasets.scenes.course import write_course
from inverse3d.datasets.scenes.dataset import (
    Frame,
    SceneDataset,
    detect_format,
    distort_points,
    downscaled_size,
    estimate_near_far,
    frame_rays,
    load_scene,
    undistort_points,
)
from inverse3d.datasets.scenes.info import scene_info
from inverse3d.datasets.scenes.llff import write_llff
from inverse3d.datasets.scenes.nerfstudio import write_nerfstudio

from reference.scene_formats import HEIGHT, WIDTH, make_cameras, orbit_c2w


def _cams(n=3, square=False):
    return make_cameras(orbit_c2w(n), 40.0, 40.0 if square else 44.0, WIDTH / 2 + (0 if square else 1.5),
                        HEIGHT / 2)


def _imgs(n=3):
    return torch.rand(n, HEIGHT, WIDTH, 4, generator=torch.Generator().manual_seed(1))


def test_detect_each_format(tmp_path):
    write_blender_split(tmp_path / "b", "train", _imgs(), orbit_c2w(3), 0.8)
    write_nerfstudio(tmp_path / "n", _imgs(), _cams())
    write_colmap(tmp_path / "c", _imgs(), _cams())
    write_llff(tmp_path / "l", _imgs(), _cams(square=True), [1, 5])
    write_course(tmp_path / "p" / "x.pth", _imgs(), _cams())
    for name, fmt in (("b", "blender"), ("n", "nerfstudio"), ("c", "colmap"), ("l", "llff"), ("p", "course")):
        assert detect_format(tmp_path / name) == fmt
        assert load_scene(tmp_path / name, "all").format == fmt
    assert detect_format(tmp_path / "b" / "transforms_train.json") == "blender"
    assert detect_format(tmp_path / "p" / "x.pth") == "course"
    # LLFF captures also carry a COLMAP model: COLMAP is read unless NDC is asked for
    write_colmap(tmp_path / "l2", _imgs(), _cams(square=True))
    write_llff(tmp_path / "l2", _imgs(), _cams(square=True), [1, 5])
    assert detect_format(tmp_path / "l2") == "colmap"
    assert detect_format(tmp_path / "l2", ndc=True) == "llff"
    assert load_scene(tmp_path / "l2", "all", format="llff").format == "llff"


def test_detect_errors(tmp_path):
    with pytest.raises(SceneFileNotFoundError, match="nowhere: no such scene folder or file"):
        detect_format(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SceneFormatError, match=r"empty: no known scene layout"):
        load_scene(tmp_path / "empty")
    with pytest.raises(ValueError, match="format must be"):
        load_scene(tmp_path / "empty", format="mesh")
    with pytest.raises(ValueError, match="split must be"):
        write_nerfstudio(tmp_path / "n", _imgs(), _cams())
        load_scene(tmp_path / "n", split="training")


def test_item_fields_and_indexing(tmp_path):
    write_colmap(tmp_path, _imgs(), _cams(), points=torch.randn(3, 3))
    ds = load_scene(tmp_path, "all")
    assert isinstance(ds, SceneDataset) and isinstance(ds, torch.utils.data.Dataset)
    assert ds.root == tmp_path and ds.split == "all" and ds.white_background and ds.downscale == 1
    assert ds.cameras.image_size.tolist() == [[HEIGHT, WIDTH]] * 3
    item = ds[np.int64(-1)]
    assert item["index"] == 2 and item["image"].dtype == torch.float32 and item["image"].shape == (HEIGHT, WIDTH, 3)
    assert torch.equal(item["camera"].R, ds.cameras.R[2:])
    assert "depth" not in item and "normal" not in item
    with pytest.raises(IndexError, match="index 3 out of range for 3 views"):
        ds[3]
    assert "colmap" in repr(ds) and ds.images().shape == (3, HEIGHT, WIDTH, 3)
    assert ds.cached_bytes > 0
    copy = pickle.loads(pickle.dumps(ds))  # DataLoader workers started by "spawn" pickle the dataset
    assert copy.cached_bytes == 0 and torch.equal(copy[1]["image"], ds[1]["image"])
    assert downscaled_size(5, 7, 2) == (3, 4) and downscaled_size(1, 1, 8) == (1, 1)


def test_world_rays_go_through_pixel_centres(tmp_path):
    write_nerfstudio(tmp_path, _imgs(), _cams())
    ds = load_scene(tmp_path, "all")
    origins, dirs = ds.rays(1)
    assert origins.shape == dirs.shape == (HEIGHT, WIDTH, 3)
    cam = ds.cameras[1]
    points = (origins + 2.5 * dirs).reshape(-1, 3)
    screen = cam.transform_points_screen(points).reshape(HEIGHT, WIDTH, 3)
    rows, cols = torch.meshgrid(torch.arange(HEIGHT) + 0.5, torch.arange(WIDTH) + 0.5, indexing="ij")
    assert torch.allclose(screen[..., 0], cols, atol=1e-3) and torch.allclose(screen[..., 1], rows, atol=1e-3)
    depth = cam.get_world_to_view_transform().transform_points(points)[:, 2]
    assert torch.allclose(depth, torch.full_like(depth, 2.5), atol=1e-4)  # unit component along the view axis


def test_undistort_inverts_distort():
    g = torch.Generator().manual_seed(0)
    xy = (torch.rand(200, 2, generator=g, dtype=torch.float64) - 0.5) * 1.2
    dist = {"k1": -0.12, "k2": 0.03, "k3": -0.004, "k4": 0.0005, "p1": 0.001, "p2": -0.002}
    back = undistort_points(distort_points(xy, dist), dist)
    assert torch.allclose(back, xy, atol=1e-8)
    assert torch.equal(undistort_points(xy, {}), xy)


def test_near_far_estimate_like_nerf_synthetic():
    """Cameras 4.03 from the origin with NeRF-synthetic's 0.69 rad field of view: near/far near NeRF's 2 and 6."""
    frames = []
    for i, c2w in enumerate(orbit_c2w(8, radius=4.03)):
        f = focal_from_fov(0.6911, 800)
        frames.append(Frame(image_path="x", c2w=c2w, fx=f, fy=f, cx=400, cy=400, width=800, height=800))
    near, far = estimate_near_far(frames)
    assert 1.8 < near < 2.6 and 5.4 < far < 6.3
    pts = np.array([[0, 0, 0.5], [0, 0, -0.5]])
    near_p, far_p = estimate_near_far(frames[:1], pts)
    d = np.linalg.norm(frames[0].c2w[:3, 3])
    assert near_p == pytest.approx(0.9 * (d - 0.5 * abs(frames[0].c2w[2, 2])), rel=1e-2)
    assert far_p > near_p


def test_frame_rays_of_a_hand_made_frame():
    c2w = np.eye(4)
    c2w[:3, 3] = [1, 2, 3]
    f = Frame(image_path="x", c2w=c2w, fx=10, fy=20, cx=2, cy=1, width=4, height=2)
    o, d = frame_rays(f)
    assert torch.allclose(o, torch.tensor([1.0, 2.0, 3.0]).expand(2, 4, 3))
    # OpenGL identity: camera looks along -Z, image +y (down) is world -Y; pixel (0, 0) centre at u = v = 0.5
    assert torch.allclose(d[0, 0], torch.tensor([(0.5 - 2) / 10, -(0.5 - 1) / 20, -1.0]))
    assert np.allclose(f.c2w_opencv[:3, :3], np.diag([1, -1, -1]))


def test_dataset_checks(tmp_path):
    f = Frame(image_path=tmp_path / "a.png", c2w=np.eye(4), fx=1, fy=1, cx=1, cy=1, width=2, height=2)
    with pytest.raises(SceneFormatError, match="no views in split 'train'"):
        SceneDataset(tmp_path, "train", "colmap", [])
    with pytest.raises(ValueError, match="cache_bytes"):
        SceneDataset(tmp_path, "train", "colmap", [f], cache_bytes=-1)
    with pytest.raises(ValueError, match="downscale"):
        SceneDataset(tmp_path, "train", "colmap", [f], downscale=3)
    ds = SceneDataset(tmp_path, "train", "colmap", [f], near=0.5, far=2.0)
    assert (ds.near, ds.far) == (0.5, 2.0)
    with pytest.raises(FileNotFoundError, match=r"a\.png: image file not found"):
        ds[0]


def test_scene_info(tmp_path):
    angle = 2 * math.atan(WIDTH / 2 / 40.0)
    write_blender_split(tmp_path / "b", "train", _imgs(), orbit_c2w(3), angle,
                        depths=torch.ones(3, HEIGHT, WIDTH))
    write_blender_split(tmp_path / "b", "test", _imgs(2), orbit_c2w(2), angle)
    text = scene_info(tmp_path / "b")
    assert "blender scene" in text
    assert "train     3 views  48x32  SIMPLE_PINHOLE  fx 40.0 fy 40.0 px  + depth" in text
    assert "val       - (no transforms_val.json)" in text and "test      2 views" in text
    assert "near/far" in text and "estimated from the camera layout" in text
    write_colmap(tmp_path / "c", _imgs(9), make_cameras(orbit_c2w(9), 40.0, 44.0, 24.0, 16.0),
                 points=torch.randn(20, 3) * 0.2, camera_model="OPENCV", distortion={"k1": 0.01})
    text = scene_info(tmp_path / "c")
    assert "colmap scene" in text and "train     7 views" in text and "test      2 views" in text
    assert "OPENCV" in text and "distorted" in text and "sparse points   20" in text
    assert "from the sparse points" in text
    write_llff(tmp_path / "l", _imgs(2), _cams(2, square=True), [1.5, 6.0])
    text = scene_info(tmp_path / "l")
    assert "depth bounds    1.5 .. 6" in text and "near/far        1.35 / 6" in text
