"""Render a scene, write it in each format, read it back, re-render from the read cameras: the same images."""

import numpy as np
import pytest
import torch

from inverse3d.datasets.scenes.blender import write_blender_split
from inverse3d.datasets.scenes.colmap import write_colmap
from inverse3d.datasets.scenes.conventions import c2w_from_cameras, fov_from_focal, intrinsics_from_cameras
from inverse3d.datasets.scenes.course import write_course
from inverse3d.datasets.scenes.dataset import load_scene
from inverse3d.datasets.scenes.llff import write_llff
from inverse3d.datasets.scenes.nerfstudio import write_nerfstudio

from reference.scene_formats import HEIGHT, WIDTH, render, scene


def _write(fmt, root, cams, images):
    """Writes the views in ``fmt``; returns the path to load and the split holding every view."""
    if fmt == "blender":
        c2w = c2w_from_cameras(cams, "opengl")
        angle = fov_from_focal(float(cams.focal_length[0, 0]), WIDTH)
        write_blender_split(root, "train", images, c2w, angle)
        return root, "train"
    if fmt == "nerfstudio":
        write_nerfstudio(root, images, cams)
        return root, "all"
    if fmt in ("colmap-bin", "colmap-txt"):
        write_colmap(root, images, cams, binary=fmt == "colmap-bin", points=torch.randn(5, 3),
                     points_rgb=torch.rand(5, 3))
        return root, "all"
    if fmt == "llff":
        write_llff(root, images, cams, bounds=(1.5, 4.5))
        return root, "all"
    if fmt == "course":
        return write_course(root / "scene.pth", images, cams, split=[[0, 1, 2, 3], [], []]), "train"
    raise AssertionError(fmt)


# Blender and LLFF store one focal length and a centred principal point: those get square pixels and a centred
# camera; nerfstudio, COLMAP and the course's format get fx != fy and an off-centre principal point.
SIMPLE = {"blender", "llff"}


@pytest.mark.parametrize("fmt", ["blender", "nerfstudio", "colmap-bin", "colmap-txt", "llff", "course"])
def test_round_trip(fmt, tmp_path):
    simple = fmt in SIMPLE
    cams, images = scene(n=4, square_pixels=simple, centred=simple)
    assert images[..., 3].sum() > 100  # the sphere is in view
    path, split = _write(fmt, tmp_path, cams, images)
    ds = load_scene(path, split=split, white_background=False)
    assert ds.format == fmt.split("-")[0]
    assert len(ds) == 4 and ds.image_size == (HEIGHT, WIDTH)
    # identical cameras (poses and pixel intrinsics) to 1e-5
    assert torch.allclose(c2w_from_cameras(ds.cameras), c2w_from_cameras(cams), atol=1e-5)
    a, b = intrinsics_from_cameras(ds.cameras), intrinsics_from_cameras(cams)
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-5), key
    # identical renders from the read cameras
    again = render(ds.cameras)
    assert torch.allclose(again, images, atol=1e-5)
    assert (again[..., 3] > 0).eq(images[..., 3] > 0).all()
    # the stored images read back as written (8-bit), composited over black, alpha as mask where kept
    q = torch.from_numpy(np.round(images.numpy() * 255) / 255).float()
    for i in range(4):
        item = ds[i]
        assert torch.allclose(item["image"], q[i, ..., :3] * q[i, ..., 3:], atol=1e-6)
        assert torch.allclose(item["mask"], q[i, ..., 3])
