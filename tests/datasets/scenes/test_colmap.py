"""COLMAP text and binary models: camera models, poses, sparse points, images_N, splits, bad input."""

import struct

import numpy as np
import pytest
import torch
from PIL import Image

from inverse3d.datasets.scenes.colmap import read_colmap, read_model, write_colmap
from inverse3d.datasets.scenes.conventions import SceneFormatError, c2w_from_cameras
from inverse3d.datasets.scenes.dataset import load_scene

from reference.scene_formats import HEIGHT, WIDTH, make_cameras, orbit_c2w


def _images(n):
    return torch.rand(n, HEIGHT, WIDTH, 3, generator=torch.Generator().manual_seed(0))


def _cams(n=3, fx=40.0, fy=44.0):
    return make_cameras(orbit_c2w(n), fx, fy, 25.5, 14.25)


@pytest.mark.parametrize("binary", [True, False])
def test_text_and_binary_read_the_same(tmp_path, binary):
    pts, rgb = torch.randn(6, 3, dtype=torch.float64), torch.rand(6, 3)
    cams = _cams()
    model = write_colmap(tmp_path, _images(3), cams, points=pts, points_rgb=rgb, binary=binary,
                         camera_model="OPENCV", distortion={"k1": 0.01, "k2": -0.002, "p1": 1e-4, "p2": 2e-4})
    assert model == tmp_path / "sparse" / "0"
    assert (model / ("cameras.bin" if binary else "cameras.txt")).is_file()
    cameras, images, xyz, rgb8 = read_model(model)
    assert len(cameras) == 1 and cameras[1].model == "OPENCV" and (cameras[1].width, cameras[1].height) == (48, 32)
    assert np.allclose(cameras[1].params, [40, 44, 25.5, 14.25, 0.01, -0.002, 1e-4, 2e-4])
    assert [im.name for im in images.values()] == ["00000.png", "00001.png", "00002.png"]
    assert np.allclose(xyz, pts.numpy()) and np.array_equal(rgb8, np.round(rgb.numpy() * 255).astype(np.uint8))
    ds = load_scene(tmp_path, "all")
    assert ds.format == "colmap" and ds.frames[0].distortion == {"k1": 0.01, "k2": -0.002, "p1": 1e-4, "p2": 2e-4}
    assert torch.allclose(c2w_from_cameras(ds.cameras), c2w_from_cameras(cams), atol=1e-6)
    assert np.allclose(ds.points, pts.numpy(), atol=1e-6) and ds.points_rgb.shape == (6, 3)
    assert ds.points_rgb.max() <= 1.0


@pytest.mark.parametrize("model,params,expect", [
    ("SIMPLE_PINHOLE", "40 24 16", (40, 40, 24, 16, {})),
    ("PINHOLE", "40 44 24.5 16.5", (40, 44, 24.5, 16.5, {})),
    ("SIMPLE_RADIAL", "40 24 16 0.02", (40, 40, 24, 16, {"k1": 0.02})),
    ("OPENCV", "40 44 24 16 0.1 0.2 0.3 0.4", (40, 44, 24, 16, {"k1": 0.1, "k2": 0.2, "p1": 0.3, "p2": 0.4})),
])
def test_hand_written_text_model(tmp_path, model, params, expect):
    """A camera at the origin with identity rotation looks along world +Z (OpenCV); one at t = (0, 0, 2) with
    a 180-degree turn about y (q = (0, 0, 1, 0)) sits at (0, 0, 2) looking along -Z."""
    sparse = tmp_path / "sparse" / "0"
    sparse.mkdir(parents=True)
    (sparse / "cameras.txt").write_text(f"# comment\n1 {model} 48 32 {params}\n")
    (sparse / "images.txt").write_text(
        "# IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME\n"
        "1 1 0 0 0 0 0 0 1 a.png\n"
        "\n"  # empty 2D-points line
        "2 0 0 1 0 0 0 2 1 b.png\n"
        "10.0 20.0 -1\n"
    )
    (sparse / "points3D.txt").write_text("1 0 0 5 255 0 0 0.5 1 0 2 0\n")
    (tmp_path / "images").mkdir()
    for name in ("a.png", "b.png"):
        Image.new("RGB", (48, 32)).save(tmp_path / "images" / name)
    ds = read_colmap(tmp_path, "all")
    f = ds.frames[0]
    assert (f.fx, f.fy, f.cx, f.cy, f.distortion) == expect
    assert f.camera_model == model
    assert np.allclose(f.c2w_opencv, np.eye(4))
    assert np.allclose(ds.frames[1].c2w_opencv[:3, 3], [0, 0, 2])
    assert np.allclose(ds.frames[1].c2w_opencv[:3, 2], [0, 0, -1])
    # the point at (0, 0, 5) projects to the principal point of view 0, at depth 5
    p = ds.cameras[0].transform_points_screen(torch.tensor([[0.0, 0.0, 5.0]]))
    assert torch.allclose(p[0, :2], torch.tensor([expect[2], expect[3]], dtype=torch.float32))
    assert np.allclose(ds.points, [[0, 0, 5]]) and np.allclose(ds.points_rgb, [[1, 0, 0]])
    # near/far from the points in front of each camera (view 1 looks away from the point)
    assert ds.near == pytest.approx(0.9 * 5, rel=1e-6) and ds.far == pytest.approx(1.1 * 5, rel=1e-6)


def test_split_every_8th_by_name(tmp_path):
    names = [f"img_{i:02d}.png" for i in range(10)][::-1]  # reversed ids: views are sorted by name
    write_colmap(tmp_path, torch.zeros(10, 8, 8, 3), make_cameras(orbit_c2w(10), 8.0, 8.0, 4.0, 4.0, 8, 8),
                 names=names)
    test = read_colmap(tmp_path, "test")
    assert [f.image_path.name for f in test.frames] == ["img_00.png", "img_08.png"]
    assert len(read_colmap(tmp_path, "train")) == 8 and len(read_colmap(tmp_path, "val")) == 2


def test_downscale_images_n_or_resize(tmp_path):
    write_colmap(tmp_path, _images(2), _cams(2))
    ds = read_colmap(tmp_path, "all", downscale=4)
    assert ds.image_size == (8, 12) and ds.frames[0].image_path.parent.name == "images"
    assert ds.frames[0].fx == pytest.approx(10.0) and ds.frames[0].cy == pytest.approx(14.25 / 4)
    (tmp_path / "images_4").mkdir()
    for i in range(2):
        Image.new("RGB", (12, 8), (0, 255, 0)).save(tmp_path / "images_4" / f"{i:05d}.jpg")  # other suffix
    ds = read_colmap(tmp_path, "all", downscale=4)
    assert ds.frames[1].image_path == tmp_path / "images_4" / "00001.jpg"
    assert ds[1]["image"][..., 1].min() > 0.95


def test_model_folder_given_directly(tmp_path):
    write_colmap(tmp_path, _images(2), _cams(2), binary=False)
    assert len(load_scene(tmp_path / "sparse" / "0", "all")) == 2


def _write(tmp_path, **kw):
    write_colmap(tmp_path, _images(3), _cams(), points=torch.randn(4, 3), **kw)
    return tmp_path / "sparse" / "0"


def test_unsupported_camera_model_names_file_and_camera(tmp_path):
    model = _write(tmp_path, binary=False)
    text = (model / "cameras.txt").read_text().replace("PINHOLE 48 32 40.0 44.0 25.5 14.25",
                                                       "FULL_OPENCV 48 32 40 44 25 14 0 0 0 0 0 0 0 0")
    (model / "cameras.txt").write_text(text)
    with pytest.raises(SceneFormatError, match=r"cameras\.txt camera 1: unsupported camera model FULL_OPENCV") as e:
        load_scene(tmp_path, "all")
    assert "\n" not in str(e.value)


def test_unsupported_camera_model_binary(tmp_path):
    model = _write(tmp_path)
    data = bytearray((model / "cameras.bin").read_bytes())
    struct.pack_into("<i", data, 12, 5)  # model id of the first camera -> OPENCV_FISHEYE (8 params)
    data += struct.pack("<4d", 0, 0, 0, 0)  # PINHOLE had 4 parameters, the fisheye model has 8
    (model / "cameras.bin").write_bytes(bytes(data))
    with pytest.raises(SceneFormatError, match=r"cameras\.bin camera 1: unsupported camera model OPENCV_FISHEYE"):
        load_scene(tmp_path, "all")


@pytest.mark.parametrize("name", ["cameras.bin", "images.bin", "points3D.bin"])
def test_truncated_binary(tmp_path, name):
    model = _write(tmp_path)
    data = (model / name).read_bytes()
    (model / name).write_bytes(data[: len(data) - 5])
    with pytest.raises(SceneFormatError, match=rf"{name}.*truncated: the file ends inside"):
        load_scene(tmp_path, "all")


def test_missing_image(tmp_path):
    _write(tmp_path)
    (tmp_path / "images" / "00001.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"00001\.png image 2 \(00001\.png\): image file not found"):
        load_scene(tmp_path, "all")


def test_not_rigid_quaternion(tmp_path):
    model = _write(tmp_path, binary=False)
    lines = (model / "images.txt").read_text().splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("2 "))
    e = lines[i].split()
    e[1:5] = ["0.5", "0.5", "0.5", "0.9"]
    lines[i] = " ".join(e)
    (model / "images.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(SceneFormatError, match=r"images\.txt image 2 \(00001\.png\): pose is not a rigid transform"):
        load_scene(tmp_path, "all")


def test_image_size_differs_from_camera(tmp_path):
    _write(tmp_path)
    Image.new("RGB", (50, 32)).save(tmp_path / "images" / "00002.png")
    with pytest.raises(SceneFormatError, match=r"00002\.png image 3 \(00002\.png\): image is 50x32 but cameras\.bin "
                                               r"camera 1 is 48x32"):
        load_scene(tmp_path, "all")


def test_inconsistent_sizes_between_cameras(tmp_path):
    cams = make_cameras(orbit_c2w(2), 40.0, 44.0, 25.5, 14.25)
    write_colmap(tmp_path / "a", _images(2), cams, binary=False)
    model = tmp_path / "a" / "sparse" / "0"
    (model / "cameras.txt").write_text("1 PINHOLE 48 32 40 44 25.5 14.25\n2 PINHOLE 40 32 40 44 20 14.25\n")
    text = (model / "images.txt").read_text().splitlines()
    j = next(k for k, line in enumerate(text) if line.startswith("2 "))
    e = text[j].split()
    e[8] = "2"
    text[j] = " ".join(e)
    (model / "images.txt").write_text("\n".join(text) + "\n")
    Image.new("RGB", (40, 32)).save(tmp_path / "a" / "images" / "00001.png")
    with pytest.raises(SceneFormatError, match=r"00001\.png image 2 \(00001\.png\): inconsistent image sizes"):
        load_scene(tmp_path / "a", "all")


def test_malformed_text(tmp_path):
    model = _write(tmp_path, binary=False)
    (model / "images.txt").write_text("1 1 0 0 0 0 0 x 1 a.png\n\n")
    with pytest.raises(SceneFormatError, match=r"images\.txt: line 1: expected IMAGE_ID QW"):
        load_scene(tmp_path, "all")
    (model / "images.txt").write_text("1 1 0 0 0 0 0 0 7 00000.png\n\n")
    with pytest.raises(SceneFormatError, match=r"images\.txt image 1 \(00000\.png\): camera 7 is not in cameras\.txt"):
        load_scene(tmp_path, "all")


def test_writer_checks_model(tmp_path):
    with pytest.raises(ValueError, match="SIMPLE_PINHOLE has one focal length"):
        write_colmap(tmp_path, _images(3), _cams(), camera_model="SIMPLE_PINHOLE")
    with pytest.raises(ValueError, match="cannot store distortion"):
        write_colmap(tmp_path, _images(3), _cams(), camera_model="PINHOLE", distortion={"k1": 0.1})
