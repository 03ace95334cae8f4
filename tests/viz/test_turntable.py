"""Turntables, dolly zooms, camera paths and frame writing, on tiny images."""

from __future__ import annotations

import importlib.util

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from inverse3d.renderer import TexturesVertex
from inverse3d.structures import Meshes, Pointclouds
from inverse3d.utils import ico_sphere
from inverse3d.viz.images import image_grid, save_frames, save_image
from inverse3d.viz.turntable import (
    camera_path_frames,
    dolly_zoom,
    render_turntable,
    render_views,
    save_dolly_zoom,
    save_turntable,
)

WHITE = torch.tensor([255, 255, 255], dtype=torch.uint8)


def _foreground(frames: torch.Tensor, background=WHITE) -> torch.Tensor:
    """(T, H, W) bool: pixels that differ from the background."""
    return (frames != background).any(dim=-1)


def _square(offset=(0.0, 0.0, 0.0)) -> Meshes:
    """A unit square in the z = 0 plane facing +z, as two triangles, coloured red."""
    verts = torch.tensor([[-0.5, -0.5, 0.0], [0.5, -0.5, 0.0], [0.5, 0.5, 0.0], [-0.5, 0.5, 0.0]]) + torch.tensor(offset)
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    return Meshes(verts=[verts], faces=[faces], textures=TexturesVertex([torch.tensor([[1.0, 0.0, 0.0]]).expand(4, 3)]))


def _l_shape_voxels() -> torch.Tensor:
    grid = torch.zeros(6, 6, 6)
    grid[1:5, 1:2, 1:5] = 1.0
    grid[1:2, 1:5, 1:3] = 1.0
    return grid


def _block_voxels() -> torch.Tensor:
    grid = torch.zeros(6, 6, 6)
    grid[1:5, 1:5, 1:5] = 1.0
    grid[2:4, 5, 2:4] = 1.0
    return grid


def _objects():
    sphere = ico_sphere(1)
    pts = torch.randn(300, 3) * 0.3
    return {
        "mesh": sphere,
        "points_rgb": Pointclouds(points=[pts], features=[torch.rand(300, 3)]),
        "points_plain": Pointclouds(points=[pts]),
        "points_tensor": pts,
        "voxels": _block_voxels(),
        "voxel_logits_np": (_block_voxels()[None] * 8 - 4).numpy(),
    }


@pytest.mark.parametrize("name", list(_objects()))
def test_every_kind_renders_framed(name):
    frames = render_turntable(_objects()[name], n_frames=3, image_size=32, progress=False)
    assert frames.shape == (3, 32, 32, 3) and frames.dtype == torch.uint8 and frames.device.type == "cpu"
    fg = _foreground(frames)
    assert fg[:, 16, 16].all(), "the object sits in the middle"
    border = torch.cat([fg[:, 0], fg[:, -1], fg[:, :, 0], fg[:, :, -1]], dim=1)
    assert not border.any(), "auto-framing keeps the object inside the image"
    assert fg.float().mean() > 0.05


def test_azimuths_differ_and_batches_agree():
    vox = _l_shape_voxels()
    frames = render_turntable(vox, n_frames=4, image_size=32, elev=30, progress=False)
    assert not torch.equal(frames[0], frames[1])
    one_by_one = render_turntable(vox, n_frames=4, image_size=32, elev=30, progress=False, batch_size=1)
    assert torch.equal(frames, one_by_one)


def test_non_square_colour_override_and_background():
    frames = render_turntable(
        ico_sphere(1), n_frames=2, image_size=(24, 40), background=(0.0, 0.0, 0.0), color=(0.0, 1.0, 0.0), progress=False
    )
    assert frames.shape == (2, 24, 40, 3)
    assert frames[:, 0, 0].eq(0).all()
    centre = frames[:, 12, 20].int()
    assert (centre[:, 1] > 100).all() and (centre[:, 0] < 30).all() and (centre[:, 2] < 30).all()


def test_texture_off_uses_default_colour():
    red = _square()
    with_tex = render_turntable(red, n_frames=1, image_size=32, elev=0, progress=False)
    without = render_turntable(red, n_frames=1, image_size=32, elev=0, texture=False, progress=False)
    r, g, b = with_tex[0, 16, 16].int().tolist()
    assert r > 100 and g < 30 and b < 30
    r, g, b = without[0, 16, 16].int().tolist()
    assert b > r and g > 60


def test_dolly_zoom_keeps_the_focal_plane_size():
    frames = dolly_zoom(_square(), n_frames=4, image_size=48, fov_range=(20.0, 90.0), elev=0.0, azim=0.0, progress=False)
    sizes = _foreground(frames).sum(dim=(1, 2)).float()
    assert sizes.min() > 50
    assert (sizes.max() - sizes.min()) / sizes.mean() < 0.1


def test_camera_path_translation_moves_the_image():
    mesh = ico_sphere(1)
    shifts = torch.tensor([[0.0, 0.0, 0.0], [0.6, 0.0, 0.0]])
    frames = camera_path_frames(mesh, translations=shifts, image_size=32, progress=False)
    cols = [_foreground(f[None])[0].nonzero()[:, 1].float().mean() for f in frames]
    assert cols[1] < cols[0] - 2, "+X in view space is to the left of the image"
    roll = torch.eye(3).expand(2, 3, 3)
    assert torch.equal(camera_path_frames(mesh, rotations=roll, image_size=32, progress=False)[1], frames[0])


def test_render_views_matches_turntable():
    from inverse3d.renderer import look_at_view_transform

    sphere = ico_sphere(1)
    R, T = look_at_view_transform(3.0, 10.0, torch.tensor([0.0, 90.0]))
    frames = render_views(sphere, R, T, image_size=32)
    assert frames.shape == (2, 32, 32, 3)
    with pytest.raises(ValueError, match="R must be"):
        render_views(sphere, R, T[:1], image_size=32)


def test_bad_input():
    with pytest.raises(ValueError, match="threshold"):
        render_turntable(torch.zeros(4, 4, 4), n_frames=1, image_size=16, progress=False)
    with pytest.raises(ValueError, match="voxel grid must have shape"):
        render_turntable(torch.zeros(2, 4, 4, 4), n_frames=1, image_size=16, progress=False)
    with pytest.raises(ValueError, match="cannot render"):
        render_turntable("a string", n_frames=1, image_size=16, progress=False)
    with pytest.raises(ValueError, match="fov"):
        render_turntable(ico_sphere(0), n_frames=1, image_size=16, fov=180, progress=False)
    with pytest.raises(ValueError, match="empty"):
        render_turntable(Pointclouds(points=[torch.zeros(0, 3)]), n_frames=1, image_size=16, progress=False)
    with pytest.raises(TypeError, match="unexpected"):
        render_turntable(ico_sphere(0), n_frames=1, image_size=16, progress=False, colour=(1, 0, 0))


def test_save_turntable_gif_png_folder_and_mp4(tmp_path):
    sphere = ico_sphere(1)
    gif = save_turntable(sphere, tmp_path / "t.gif", fps=10, n_frames=3, image_size=32, progress=True)
    frames = iio.imread(gif)
    assert frames.shape == (3, 32, 32, 3)
    assert iio.immeta(gif)["loop"] == 0
    folder = save_dolly_zoom(sphere, tmp_path / "frames", n_frames=2, image_size=32, progress=False)
    assert sorted(p.name for p in folder.iterdir()) == ["frame_0000.png", "frame_0001.png"]
    with pytest.raises(ValueError, match="unsupported"):
        save_frames(np.zeros((1, 4, 4, 3), np.uint8), tmp_path / "t.avi")
    if importlib.util.find_spec("imageio_ffmpeg") is None:
        pytest.skip("imageio-ffmpeg is not installed")
    mp4 = save_frames(torch.rand(3, 17, 21, 3), tmp_path / "t.mp4", fps=5)
    assert mp4.stat().st_size > 0


def test_save_image_and_grid(tmp_path):
    grid = image_grid([torch.rand(8, 10, 3), np.zeros((6, 6), np.uint8), torch.rand(8, 10, 4)], ncols=2, pad=1)
    assert grid.shape == (2 * 9 + 1, 2 * 11 + 1, 4) and grid.dtype == torch.uint8
    path = save_image(tmp_path / "sub" / "g.png", grid)
    assert iio.imread(path).shape == tuple(grid.shape)
    with pytest.raises(ValueError, match="shape"):
        save_image(tmp_path / "bad.png", torch.rand(4, 4, 2))


# ----------------------------------------------------------------------------------------------------------------
# Writing frames: one at a time, safely


def test_save_frames_consumes_an_iterable_one_frame_at_a_time(tmp_path, monkeypatch):
    """The GIF writer takes each frame as it comes: frame t is produced only after frame t - 1 was written."""
    import inverse3d.viz.images as images

    produced, written = [], []
    original = images._write_gif

    def frames():
        for t in range(5):
            assert len(written) == t  # the previous frames are already written
            produced.append(t)
            yield np.full((6, 8, 3), 40 * t, np.uint8)

    def spying(stream, path, fps):
        original((written.append(1) or f for f in stream), path, fps)

    monkeypatch.setattr(images, "_write_gif", spying)
    gif = save_frames(frames(), tmp_path / "s.gif", fps=20)
    video = iio.imread(gif)
    assert video.shape == (5, 6, 8, 3) and produced == list(range(5))
    assert np.abs(video[:, 0, 0, 0].astype(int) - np.arange(5) * 40).max() <= 2
    assert iio.immeta(gif)["loop"] == 0 and iio.immeta(gif)["duration"] == 50


def test_save_turntable_matches_render_turntable(tmp_path):
    sphere = ico_sphere(1)
    frames = render_turntable(sphere, n_frames=5, image_size=24, progress=False)
    folder = save_turntable(sphere, tmp_path / "f", n_frames=5, image_size=24, progress=False, batch_size=2)
    saved = np.stack([iio.imread(folder / f"frame_{t:04d}.png") for t in range(5)])
    assert np.array_equal(saved, frames.numpy())


def test_save_frames_bad_input_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="empty output path"):
        save_frames(np.zeros((1, 4, 4, 3), np.uint8), "")
    with pytest.raises(ValueError, match="fps must be a positive number"):
        save_frames(np.zeros((1, 4, 4, 3), np.uint8), tmp_path / "a.gif", fps=0)
    with pytest.raises(ValueError, match="got no frame"):
        save_frames(iter([]), tmp_path / "new" / "b.gif")
    with pytest.raises(ValueError, match="frame 1 has shape"):
        save_frames([np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)], tmp_path / "new" / "c")
    with pytest.raises(ValueError, match="empty output path"):
        save_image("", np.zeros((4, 4, 3), np.uint8))
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no output, temporary file, lock or folder


def test_png_folder_removes_only_stale_frames(tmp_path):
    out = tmp_path / "frames"
    save_frames(np.zeros((5, 4, 4, 3), np.uint8), out)
    (out / "frame_99999.png").write_bytes(b"old")
    (out / "keep.png").write_bytes(b"mine")
    save_frames(np.zeros((2, 4, 4, 3), np.uint8), out)
    assert sorted(p.name for p in out.iterdir()) == ["frame_0000.png", "frame_0001.png", "keep.png"]


def test_save_image_replaces_atomically(tmp_path):
    path = save_image(tmp_path / "i.png", np.zeros((3, 3, 3), np.uint8))
    save_image(path, np.full((3, 3, 3), 255, np.uint8))
    assert iio.imread(path).min() == 255
    assert sorted(p.name for p in tmp_path.iterdir()) == ["i.png"]


def test_render_memory_check(monkeypatch):
    import inverse3d.viz.turntable as turntable

    assert turntable.render_memory_bytes(100, "mesh", 2, 3) == 320 * 100 * 100 * 2 + 3 * 100 * 100 * 3 + (64 << 20)
    monkeypatch.setattr(turntable, "available_memory_bytes", lambda device=None: 1 << 30)
    turntable.check_render_memory(256, "points", 4, 4)
    with pytest.raises(ValueError, match=r"image_size 4096: rendering 4096 x 4096 pixel frames needs about 5.5 GB"):
        turntable.check_render_memory(4096, "mesh", 1, 1)
    with pytest.raises(ValueError, match="needs about"):
        render_turntable(ico_sphere(0), n_frames=1, image_size=(4096, 4096), progress=False)
