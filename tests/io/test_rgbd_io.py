"""load_rgbd: 16-bit PNG depth with a scale, NPY / NPZ depth, intrinsics as a matrix or JSON, clear file errors."""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from inverse3d.io import MeshFileError, RGBDImage, load_rgbd
from inverse3d.io.rgbd_io import read_depth, read_intrinsics
from inverse3d.ops import unproject_depth_image

H, W = 6, 8
K = [[20.0, 0.0, 4.0], [0.0, 20.0, 3.0], [0.0, 0.0, 1.0]]


@pytest.fixture
def frame(tmp_path: Path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    rgb = (np.arange(H * W * 3) % 256).astype(np.uint8).reshape(H, W, 3)
    depth_mm = np.full((H, W), 1500, dtype=np.uint16)
    depth_mm[0, 0] = 0  # unknown
    depth_mm[2, 5] = 4000
    iio.imwrite(tmp_path / "color.png", rgb)
    iio.imwrite(tmp_path / "depth.png", depth_mm)
    return tmp_path / "color.png", tmp_path / "depth.png", rgb, depth_mm


def test_png_depth_scaled_and_masked(frame) -> None:
    color, depth, rgb, depth_mm = frame
    out = load_rgbd(color, depth)
    assert isinstance(out, RGBDImage) and out.camera is None and out.K is None
    assert out.image.shape == (H, W, 3) and out.image.dtype == torch.float32
    torch.testing.assert_close(out.image, torch.from_numpy(rgb).float() / 255)
    torch.testing.assert_close(out.depth, torch.from_numpy(depth_mm.astype(np.float32)) / 1000)
    assert out.mask.sum() == H * W - 1 and not out.mask[0, 0]
    assert load_rgbd(color, depth, depth_scale=5000.0).depth[2, 5] == pytest.approx(0.8)
    assert not load_rgbd(color, depth, max_depth=3.0).mask[2, 5]


def test_npy_npz_float_depth_taken_as_is(tmp_path: Path, frame) -> None:
    color = frame[0]
    d = np.random.rand(H, W).astype(np.float32) + 0.5
    np.save(tmp_path / "d.npy", d)
    np.savez(tmp_path / "d.npz", depth=d, other=np.zeros(3))
    np.savez(tmp_path / "single.npz", anything=d[None])
    np.save(tmp_path / "mm.npy", (d * 1000).astype(np.uint16))
    for name in ("d.npy", "d.npz", "single.npz"):
        torch.testing.assert_close(load_rgbd(color, tmp_path / name).depth, torch.from_numpy(d))
    torch.testing.assert_close(load_rgbd(color, tmp_path / "mm.npy").depth, torch.from_numpy(d), atol=1e-3, rtol=0)
    np.savez(tmp_path / "two.npz", a=d, b=d)
    torch.testing.assert_close(read_depth(tmp_path / "two.npz", key="b"), torch.from_numpy(d))
    with pytest.raises(MeshFileError, match="two.npz.*several arrays"):
        read_depth(tmp_path / "two.npz")


@pytest.mark.parametrize("style", ["matrix", "fx", "K", "open3d"])
def test_intrinsics_sources_agree(tmp_path: Path, frame, style: str) -> None:
    color, depth = frame[:2]
    Km = np.array(K)
    if style == "matrix":
        intr = Km
    else:
        content = {
            "fx": {"fx": 20.0, "fy": 20.0, "cx": 4.0, "cy": 3.0, "width": W, "height": H},
            "K": {"K": K},
            "open3d": {"intrinsic_matrix": Km.T.flatten().tolist(), "width": W, "height": H},
        }[style]
        intr = tmp_path / "intrinsics.json"
        intr.write_text(json.dumps(content))
    out = load_rgbd(color, depth, intrinsics=intr)
    torch.testing.assert_close(out.K, torch.tensor(K))
    points, colours = unproject_depth_image(out.image, out.mask, out.depth, out.camera)
    assert points.shape == (H * W - 1, 3) and colours.shape == (H * W - 1, 3)
    # Pixel (row 2, col 5) at 4 m: OpenCV x = (5.5 - 4) / 20 * 4, y = (2.5 - 3) / 20 * 4; world = (x left, y up).
    flat = torch.arange(H * W).view(H, W)[out.mask]
    p = points[(flat == 2 * W + 5).nonzero()[0, 0]]
    torch.testing.assert_close(p, torch.tensor([-0.3, 0.1, 4.0]), atol=1e-5, rtol=0)


def test_extrinsics_move_the_world(frame) -> None:
    color, depth = frame[:2]
    E = np.eye(4)
    E[:3, 3] = [0.0, 0.0, 1.0]  # x_cam = x_world + (0, 0, 1): world origin 1 m in front of the camera
    out = load_rgbd(color, depth, intrinsics=np.array(K), extrinsics=E)
    points, _ = unproject_depth_image(out.image, out.mask, out.depth, out.camera)
    torch.testing.assert_close(points[:, 2].max(), torch.tensor(3.0))  # 4 m deep pixel -> z = 3 in world
    assert points[:, 1].min() < 0  # OpenCV world: y down, rows above the centre have negative y


def test_errors_name_the_files(tmp_path: Path, frame) -> None:
    color, depth = frame[:2]
    with pytest.raises(FileNotFoundError, match="missing.png"):
        load_rgbd(color, tmp_path / "missing.png")
    iio.imwrite(tmp_path / "small.png", np.zeros((3, 3), np.uint16))
    with pytest.raises(MeshFileError, match="small.png.*color.png"):
        load_rgbd(color, tmp_path / "small.png")
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(MeshFileError, match="bad.npy"):
        load_rgbd(color, tmp_path / "bad.npy")
    with pytest.raises(MeshFileError, match="color.png.*single-channel"):
        read_depth(color)
    (tmp_path / "depth.xyz").write_text("1")
    with pytest.raises(MeshFileError, match="unknown depth format"):
        read_depth(tmp_path / "depth.xyz")
    (tmp_path / "k.json").write_text(json.dumps({"focal": 3}))
    with pytest.raises(MeshFileError, match="k.json.*fx"):
        load_rgbd(color, depth, intrinsics=tmp_path / "k.json")
    (tmp_path / "k2.json").write_text(json.dumps({"K": K, "width": 100, "height": 50}))
    with pytest.raises(MeshFileError, match="k2.json.*depth.png"):
        load_rgbd(color, depth, intrinsics=tmp_path / "k2.json")
    (tmp_path / "k3.json").write_text("{not json")
    with pytest.raises(MeshFileError, match="k3.json.*JSON"):
        read_intrinsics(tmp_path / "k3.json")
    with pytest.raises(ValueError, match="3x3"):
        read_intrinsics(np.eye(4))
    with pytest.raises(ValueError, match="depth_scale"):
        read_depth(depth, depth_scale=0)


def test_oversized_images_are_refused_from_their_header(tmp_path: Path, frame, monkeypatch) -> None:
    from PIL import Image, ImageFile

    from inverse3d.io.images import ImageTooLargeError

    color, depth, _, _ = frame
    Image.new("1", (12000, 12000)).save(tmp_path / "bomb.png")
    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size) or real_load(self))
    with pytest.raises(ImageTooLargeError, match=r"bomb\.png: image of 12000x12000 = 144,000,000 pixels is over"):
        load_rgbd(tmp_path / "bomb.png", depth)
    with pytest.raises(MeshFileError, match=r"bomb\.png: image of 12000x12000"):
        read_depth(tmp_path / "bomb.png")
    assert decoded == []
    with pytest.raises(MeshFileError, match=r"color\.png: image of 8x6 = 48 pixels is over the budget of 47"):
        load_rgbd(color, depth, max_image_pixels=47)
    assert load_rgbd(color, depth, max_image_pixels=48).image.shape == (H, W, 3)


def test_folders_and_unreadable_files(tmp_path: Path, frame) -> None:
    color, depth, _, _ = frame
    with pytest.raises(MeshFileError, match=r"is a directory, expected an image file"):
        load_rgbd(tmp_path, depth)
    with pytest.raises(MeshFileError, match=r"is a directory, expected a depth file"):
        load_rgbd(color, tmp_path)
    (tmp_path / "k").mkdir()
    with pytest.raises(MeshFileError, match=r"k: is a directory, expected a JSON file"):
        load_rgbd(color, depth, intrinsics=tmp_path / "k")
    (tmp_path / "noise.png").write_bytes(np.random.default_rng(0).bytes(300))
    with pytest.raises(MeshFileError, match=r"noise\.png: cannot be read as an image") as err:
        load_rgbd(tmp_path / "noise.png", depth)
    assert "\n" not in str(err.value)
