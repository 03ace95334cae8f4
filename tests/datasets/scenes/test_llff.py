"""LLFF ``poses_bounds.npy``: column order, bounds, NeRF's NDC pipeline and rays, downscale, bad input."""

import numpy as np
import pytest
import torch
from PIL import Image

from inverse3d.datasets.scenes.conventions import SceneFormatError, c2w_from_cameras
from inverse3d.datasets.scenes.dataset import frame_rays, load_scene, ndc_rays
from inverse3d.datasets.scenes.llff import BD_FACTOR, average_pose, read_llff, write_llff

from reference.scene_formats import HEIGHT, WIDTH, look_at_c2w, make_cameras, orbit_c2w

F = 40.0


def _cams(n=9):
    return make_cameras(orbit_c2w(n, forward=True), F, F, WIDTH / 2, HEIGHT / 2)


def _write(root, n=9, bounds=None):
    rng = np.random.default_rng(0)
    b = bounds if bounds is not None else np.stack([rng.uniform(1.5, 2.0, n), rng.uniform(4.0, 5.0, n)], 1)
    write_llff(root, torch.rand(n, HEIGHT, WIDTH, 3), _cams(n), b)
    return b


def test_column_order_down_right_back(tmp_path):
    """A camera at (0, 0, 3) looking at the origin (OpenGL c2w = [I | t]) is stored as [down, right, back] =
    [(0, -1, 0), (1, 0, 0), (0, 0, 1)] with hwf = (H, W, f), as LLFF's imgs2poses writes it."""
    cams = make_cameras(look_at_c2w((0, 0, 3))[None], F, F, WIDTH / 2, HEIGHT / 2)
    write_llff(tmp_path, torch.zeros(1, HEIGHT, WIDTH, 3), cams, [2.0, 4.0])
    arr = np.load(tmp_path / "poses_bounds.npy")
    assert arr.shape == (1, 17)
    m = arr[0, :15].reshape(3, 5)
    assert np.allclose(m[:, :3], [[0, 1, 0], [-1, 0, 0], [0, 0, 1]], atol=1e-6)
    assert np.allclose(m[:, 3], [0, 0, 3], atol=1e-6) and np.allclose(m[:, 4], [HEIGHT, WIDTH, F])
    assert np.allclose(arr[0, 15:], [2.0, 4.0])
    ds = read_llff(tmp_path, "all")
    assert np.allclose(ds.frames[0].c2w, look_at_c2w((0, 0, 3)), atol=1e-6)


def test_reader_matches_nerf_reordering(tmp_path):
    _write(tmp_path)
    arr = np.load(tmp_path / "poses_bounds.npy")
    # NeRF's load_llff_data: poses (3, 5, N); reorder to [x, y, z] = [p[:, 1], -p[:, 0], p[:, 2]]
    p = arr[:, :-2].reshape([-1, 3, 5]).transpose([1, 2, 0])
    p = np.concatenate([p[:, 1:2, :], -p[:, 0:1, :], p[:, 2:, :]], 1)
    nerf_c2w = np.moveaxis(p, -1, 0)[:, :, :4]  # (N, 3, 4)
    ds = read_llff(tmp_path, "all")
    assert np.allclose(np.stack([f.c2w[:3] for f in ds.frames]), nerf_c2w)
    assert torch.allclose(c2w_from_cameras(ds.cameras), c2w_from_cameras(_cams()), atol=1e-5)


def test_bounds_splits_near_far(tmp_path):
    b = _write(tmp_path)
    ds = read_llff(tmp_path, "train")
    assert len(ds) == 7 and len(read_llff(tmp_path, "test")) == 2  # views 0 and 8 held out
    assert [f.name for f in read_llff(tmp_path, "val").frames] == ["0", "8"]
    assert ds.near == pytest.approx(0.9 * b.min()) and ds.far == pytest.approx(b.max())
    assert np.allclose(ds.meta["bounds"], b[[1, 2, 3, 4, 5, 6, 7]])
    assert ds.frames[0].camera_model == "SIMPLE_PINHOLE"


def test_ndc_pipeline(tmp_path):
    b = _write(tmp_path)
    ds = load_scene(tmp_path, "all", ndc=True)  # auto-detects LLFF for ndc
    assert ds.format == "llff" and ds.ndc and (ds.near, ds.far) == (0.0, 1.0)
    c2w = np.stack([f.c2w for f in ds.frames])
    assert np.allclose(average_pose(c2w), np.eye(4), atol=1e-9)  # recentred
    assert ds.meta["bounds"].min() == pytest.approx(1 / BD_FACTOR)  # rescaled
    scale = 1 / (b.min() * BD_FACTOR)
    world = ds.meta["world_transform"]
    raw = read_llff(tmp_path, "all")
    assert np.allclose(world @ raw.frames[3].c2w[:, 3], c2w[3, :, 3])
    assert np.allclose(np.linalg.norm(world[:3, :3], axis=0), scale)
    origins, dirs = ds.rays(0)
    assert origins.shape == dirs.shape == (HEIGHT, WIDTH, 3)
    assert torch.allclose(origins[..., 2], torch.full((HEIGHT, WIDTH), -1.0), atol=1e-5)  # rays start at z_ndc = -1
    # the same pixel's world ray: a point on it lands on the NDC ray
    o, d = frame_rays(ds.frames[0], torch.float64)
    X = o[5, 7] + 6.0 * d[5, 7]
    f, W, H = ds.frames[0].fx, WIDTH, HEIGHT
    X_ndc = torch.stack([-f / (W / 2) * X[0] / X[2], -f / (H / 2) * X[1] / X[2], 1 + 2 * 1.0 / X[2]])
    t = (X_ndc[2] - origins[5, 7, 2].double()) / dirs[5, 7, 2].double()
    assert 0 < t < 1
    assert torch.allclose(origins[5, 7].double() + t * dirs[5, 7].double(), X_ndc, atol=1e-5)


def _nerf_ndc_rays(H, W, focal, near, rays_o, rays_d):
    """NeRF's run_nerf_helpers.ndc_rays, written out ray by ray."""
    out_o, out_d = [], []
    for o, d in zip(rays_o.tolist(), rays_d.tolist()):
        t = -(near + o[2]) / d[2]
        o = [o[k] + t * d[k] for k in range(3)]
        out_o.append([-1.0 / (W / (2.0 * focal)) * o[0] / o[2], -1.0 / (H / (2.0 * focal)) * o[1] / o[2],
                      1.0 + 2.0 * near / o[2]])
        out_d.append([-1.0 / (W / (2.0 * focal)) * (d[0] / d[2] - o[0] / o[2]),
                      -1.0 / (H / (2.0 * focal)) * (d[1] / d[2] - o[1] / o[2]), -2.0 * near / o[2]])
    return torch.tensor(out_o, dtype=torch.float64), torch.tensor(out_d, dtype=torch.float64)


def test_ndc_rays_match_nerf():
    g = torch.Generator().manual_seed(0)
    o = torch.randn(20, 3, generator=g, dtype=torch.float64) * 0.2
    d = torch.randn(20, 3, generator=g, dtype=torch.float64) * 0.3 + torch.tensor([0, 0, -1.0], dtype=torch.float64)
    ours = ndc_rays(o, d, 35.0, 48, 32, near=1.0)
    ref = _nerf_ndc_rays(32, 48, 35.0, 1.0, o, d)
    assert torch.allclose(ours[0], ref[0]) and torch.allclose(ours[1], ref[1])


def test_downscale(tmp_path):
    _write(tmp_path)
    ds = read_llff(tmp_path, "all", downscale=2)
    assert ds.image_size == (HEIGHT // 2, WIDTH // 2) and ds.frames[0].fx == pytest.approx(F / 2)
    (tmp_path / "images_2").mkdir()
    for i in range(9):
        Image.new("RGB", (WIDTH // 2, HEIGHT // 2)).save(tmp_path / "images_2" / f"{i:05d}.jpg")
    ds = read_llff(tmp_path, "all", downscale=2)
    assert ds.frames[4].image_path == tmp_path / "images_2" / "00004.jpg"
    assert ds.frames[4].fx == pytest.approx(F / 2) and ds.frames[4].cx == pytest.approx(WIDTH / 4)


def test_wrong_shape_and_truncated(tmp_path):
    _write(tmp_path)
    np.save(tmp_path / "poses_bounds.npy", np.zeros((9, 15)))
    with pytest.raises(SceneFormatError, match=r"poses_bounds\.npy: expected an \(N, 17\) array.*\(9, 15\)"):
        load_scene(tmp_path, "all")
    data = (tmp_path / "poses_bounds.npy").read_bytes()
    (tmp_path / "poses_bounds.npy").write_bytes(data[:100])
    with pytest.raises(SceneFormatError, match=r"poses_bounds\.npy: cannot read \.npy"):
        load_scene(tmp_path, "all")


def test_count_mismatch_and_missing_images(tmp_path):
    _write(tmp_path)
    (tmp_path / "images" / "00003.png").unlink()
    with pytest.raises(SceneFormatError, match=r"poses_bounds\.npy: has 9 poses but .*images holds 8 images"):
        load_scene(tmp_path, "all")


def test_not_rigid(tmp_path):
    _write(tmp_path)
    arr = np.load(tmp_path / "poses_bounds.npy")
    arr[4, 0] *= 2
    np.save(tmp_path / "poses_bounds.npy", arr)
    with pytest.raises(SceneFormatError, match=r"poses_bounds\.npy frame 4: pose matrix is not a rigid transform"):
        load_scene(tmp_path, "all")


def test_inconsistent_sizes(tmp_path):
    _write(tmp_path)
    Image.new("RGB", (WIDTH * 2, HEIGHT * 2)).save(tmp_path / "images" / "00002.png")  # right aspect, twice the size
    with pytest.raises(SceneFormatError, match=r"00002\.png frame 2: inconsistent image sizes"):
        load_scene(tmp_path, "all")
    Image.new("RGB", (WIDTH, WIDTH)).save(tmp_path / "images" / "00002.png")
    with pytest.raises(SceneFormatError, match=r"00002\.png frame 2: image is 48x48, not in the aspect of hwf 48x32"):
        load_scene(tmp_path, "all")


def test_writer_and_ndc_checks(tmp_path):
    with pytest.raises(ValueError, match="fx != fy"):
        write_llff(tmp_path, torch.zeros(2, HEIGHT, WIDTH, 3), make_cameras(orbit_c2w(2), 40.0, 44.0, 24.0, 16.0),
                   [1, 2])
    with pytest.raises(ValueError, match="centred principal point"):
        write_llff(tmp_path, torch.zeros(2, HEIGHT, WIDTH, 3), make_cameras(orbit_c2w(2), 40.0, 40.0, 25.0, 16.0),
                   [1, 2])
    from inverse3d.datasets.scenes.nerfstudio import write_nerfstudio

    write_nerfstudio(tmp_path / "ns", torch.zeros(2, HEIGHT, WIDTH, 3), _cams(2))
    with pytest.raises(ValueError, match="ndc=True needs an LLFF scene"):
        load_scene(tmp_path / "ns", ndc=True)
