"""Point rasterisation and compositing against the naive loops of tests/reference/points.py."""

from __future__ import annotations

import importlib

import pytest
import torch
from conftest import DEVICES
from reference.points import alpha_composite_naive, norm_weighted_sum_naive, pixel_centre, rasterize_points_naive

from inverse3d.renderer import (
    AlphaCompositor,
    FoVPerspectiveCameras,
    NormWeightedCompositor,
    PointsRasterizationSettings,
    PointsRasterizer,
    PointsRenderer,
    look_at_view_transform,
    rasterize_points,
)
from inverse3d.structures import Pointclouds

# The module itself (``inverse3d.renderer.points.rasterize_points`` names the function too, as in PyTorch3D).
rp = importlib.import_module("inverse3d.renderer.points.rasterize_points")


def _random_clouds(sizes, dtype=torch.float32, device="cpu", spread=1.3):
    """Clouds with x, y in [-spread, spread] (some off-image), z in [-0.3, 1.7] (some behind the camera)."""
    lo = torch.tensor([-spread, -spread, -0.3], dtype=dtype)
    hi = torch.tensor([spread, spread, 1.7], dtype=dtype)
    return Pointclouds(points=[(lo + (hi - lo) * torch.rand(n, 3, dtype=dtype)).to(device) for n in sizes])


def _naive(pc, H, W, radius, K):
    pts = pc.points_packed().detach().cpu()
    first = pc.cloud_to_packed_first_idx().tolist()
    counts = pc.num_points_per_cloud().tolist()
    return rasterize_points_naive(pts, first, counts, H, W, radius, K)


def _assert_same(out, ref):
    idx, zbuf, dists = (t.cpu() for t in out)
    assert idx.dtype == torch.int64
    assert torch.equal(idx, ref[0])
    torch.testing.assert_close(zbuf, ref[1])
    torch.testing.assert_close(dists, ref[2], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("size", [(8, 8), (6, 10), (11, 7)])
@pytest.mark.parametrize("K", [1, 4])
@pytest.mark.parametrize("bin_size", [None, 0])
def test_matches_naive(device, size, K, bin_size):
    H, W = size
    pc = _random_clouds([40, 0, 17], device=device)
    for radius in (0.25, 0.06):
        out = rasterize_points(pc, image_size=size if H != W else H, radius=radius, points_per_pixel=K, bin_size=bin_size)
        assert out[0].shape == (3, H, W, K)
        _assert_same(out, _naive(pc, H, W, radius, K))


@pytest.mark.parametrize("bin_size", [None, 0])
def test_per_point_radius_and_float64(bin_size):
    pc = _random_clouds([12, 20], dtype=torch.float64)
    radius = 0.02 + 0.5 * torch.rand(2, 20, dtype=torch.float64)  # (N, P_padded)
    out = rasterize_points(pc, image_size=(9, 7), radius=radius, points_per_pixel=5, bin_size=bin_size)
    packed = radius.reshape(-1)[pc.padded_to_packed_idx()]
    ref = _naive(pc, 9, 7, packed, 5)
    assert out[1].dtype == torch.float64
    _assert_same(out, ref)


def test_chunking_and_mixed_box_sizes_agree(monkeypatch):
    """Tiny chunks and the per-point-box path (one huge point among small ones) give the same output."""
    pc = _random_clouds([300, 150])
    radius = torch.full((2, 300), 0.05)
    radius[0, 7] = 1.5  # one disk covering most of the image forces the listed-box path
    want = rasterize_points(pc, 24, radius, 6, bin_size=0)
    got = rasterize_points(pc, 24, radius, 6)
    assert torch.equal(want[0], got[0])
    monkeypatch.setattr(rp, "_PAIRS_PER_CHUNK", 37)
    monkeypatch.setattr(rp, "_DENSE_PER_CHUNK", 500)
    for bin_size in (None, 0):
        out = rasterize_points(pc, 24, radius, 6, bin_size=bin_size)
        assert torch.equal(out[0], want[0])
        torch.testing.assert_close(out[2], want[2])


def test_pixel_centres_follow_conventions():
    """A tiny disk at the NDC centre of pixel (i, j) covers that pixel only, for a non-square image."""
    H, W = 5, 8
    for i, j in [(0, 0), (4, 7), (2, 5)]:
        x, y = pixel_centre(i, j, H, W)
        pc = Pointclouds(points=[torch.tensor([[x, y, 1.0]])])
        idx, zbuf, dists = rasterize_points(pc, (H, W), radius=0.05, points_per_pixel=1)
        hit = (idx[0, ..., 0] >= 0).nonzero().tolist()
        assert hit == [[i, j]]
        assert float(zbuf[0, i, j, 0]) == 1.0 and float(dists[0, i, j, 0]) < 1e-12
    # +X is left: the point at x = +0.9 lands in the leftmost columns.
    pc = Pointclouds(points=[torch.tensor([[0.9, 0.0, 1.0]])])
    idx = rasterize_points(pc, 16, radius=0.1, points_per_pixel=1)[0]
    cols = (idx[0, ..., 0] >= 0).nonzero()[:, 1]
    assert cols.max() < 3


def test_ties_keep_packed_order_and_z_sorting():
    pts = torch.tensor([[0.0, 0.0, 2.0], [0.0, 0.0, 1.0], [0.0, 0.0, 2.0], [0.0, 0.0, -1.0]])
    idx, zbuf, _ = rasterize_points(Pointclouds(points=[pts]), 4, radius=0.9, points_per_pixel=4)
    assert idx[0, 1, 1].tolist() == [1, 0, 2, -1]
    assert zbuf[0, 1, 1].tolist() == [1.0, 2.0, 2.0, -1.0]


def test_empty_and_bad_input():
    empty = Pointclouds(points=[torch.zeros(0, 3)])
    idx, zbuf, dists = rasterize_points(empty, 4, 0.1, 2)
    assert (idx == -1).all() and (zbuf == -1).all() and (dists == -1).all()
    with pytest.raises(ValueError, match="NaN"):
        rasterize_points(Pointclouds(points=[torch.tensor([[0.0, float("nan"), 1.0]])]), 4)
    ok = Pointclouds(points=[torch.rand(5, 3)])
    with pytest.raises(ValueError, match="radius"):
        rasterize_points(ok, 4, radius=torch.ones(2, 5))
    with pytest.raises(ValueError, match="radius"):
        rasterize_points(ok, 4, radius=-0.1)
    with pytest.raises(ValueError, match="points_per_pixel"):
        rasterize_points(ok, 4, points_per_pixel=0)
    with pytest.raises(ValueError, match="image_size"):
        rasterize_points(ok, (4, 0))


def test_gradcheck_zbuf_and_dists_wrt_points():
    torch.manual_seed(3)
    base = torch.tensor([[0.1, -0.2, 1.0], [-0.3, 0.35, 1.5], [0.02, 0.05, 0.7]], dtype=torch.float64)

    def fn(points):
        _, zbuf, dists = rasterize_points(Pointclouds(points=[points]), 5, radius=0.45, points_per_pixel=3)
        return zbuf, dists

    assert torch.autograd.gradcheck(fn, (base.clone().requires_grad_(),), eps=1e-6, atol=1e-6)


def _random_fragments(N=2, K=3, H=4, W=5, P=7, dtype=torch.float64):
    idx = torch.randint(0, P, (N, K, H, W))
    count = torch.randint(0, K + 1, (N, 1, H, W))
    idx = torch.where(torch.arange(K)[None, :, None, None] < count, idx, -1)  # -1 only after the points
    alphas = torch.rand(N, K, H, W, dtype=dtype)
    features = torch.rand(4, P, dtype=dtype)
    return idx, alphas, features


@pytest.mark.parametrize("device", DEVICES)
def test_compositors_match_naive(device):
    idx, alphas, features = _random_fragments()
    for comp, naive in ((AlphaCompositor(), alpha_composite_naive), (NormWeightedCompositor(), norm_weighted_sum_naive)):
        got = comp(idx.to(device), alphas.to(device), features.to(device))
        torch.testing.assert_close(got.cpu(), naive(idx, alphas, features))


def test_compositor_background():
    idx, alphas, features = _random_fragments()
    empty = idx[:, 0] < 0
    assert empty.any()
    out = AlphaCompositor(background_color=(0.1, 0.2, 0.3))(idx, alphas, features)  # RGB + alpha 1 on 4 channels
    want = torch.tensor([0.1, 0.2, 0.3, 1.0], dtype=out.dtype).expand(int(empty.sum()), 4)
    torch.testing.assert_close(out.permute(0, 2, 3, 1)[empty], want)
    plain = AlphaCompositor()(idx, alphas, features)
    torch.testing.assert_close(out.permute(0, 2, 3, 1)[~empty], plain.permute(0, 2, 3, 1)[~empty])
    out = NormWeightedCompositor()(idx, alphas, features, background_color=0.5)
    assert (out.permute(0, 2, 3, 1)[empty] == 0.5).all()
    with pytest.raises(ValueError, match="channels"):
        AlphaCompositor(background_color=(1.0, 1.0))(idx, alphas, features)


@pytest.mark.parametrize("compositor", [AlphaCompositor, NormWeightedCompositor])
def test_gradcheck_compositors(compositor):
    idx, alphas, features = _random_fragments(N=1, K=3, H=2, W=3, P=4)
    comp = compositor()
    assert torch.autograd.gradcheck(lambda a, f: comp(idx, a, f), (alphas.requires_grad_(), features.requires_grad_()))


def _renderer(image_size, radius, compositor, dtype=torch.float64, device="cpu"):
    R, T = look_at_view_transform(2.5, 15.0, 30.0)
    cams = FoVPerspectiveCameras(R=R.to(dtype), T=T.to(dtype), device=device)
    settings = PointsRasterizationSettings(image_size=image_size, radius=radius, points_per_pixel=4)
    return PointsRenderer(PointsRasterizer(cams, settings), compositor), cams


@pytest.mark.parametrize("device", DEVICES)
def test_renderer_matches_manual_pipeline(device):
    pts = (torch.rand(60, 3, dtype=torch.float64) - 0.5).to(device)
    feats = torch.rand(60, 3, dtype=torch.float64, device=device)
    renderer, cams = _renderer((10, 12), 0.15, AlphaCompositor(background_color=(1.0, 1.0, 1.0)), device=device)
    images = renderer(Pointclouds(points=[pts], features=[feats]))
    assert images.shape == (1, 10, 12, 3)
    # Manual: project, naive raster, PyTorch3D weights, naive compositing, background.
    ndc = cams.transform_points_ndc(pts[None])[0]
    view = cams.get_world_to_view_transform().transform_points(pts[None])[0]
    proj = torch.cat([ndc[:, :2], view[:, 2:]], -1).cpu()
    idx, zbuf, dists = rasterize_points_naive(proj, [0], [60], 10, 12, 0.15, 4)
    frag = renderer.rasterizer(Pointclouds(points=[pts], features=[feats]))
    assert torch.equal(frag.idx.cpu(), idx)
    torch.testing.assert_close(frag.zbuf.cpu(), zbuf)
    weights = (1 - dists / 0.15**2).permute(0, 3, 1, 2)
    want = alpha_composite_naive(idx.permute(0, 3, 1, 2), weights, feats.cpu().T).permute(0, 2, 3, 1)
    want[idx[..., 0] < 0] = 1.0
    torch.testing.assert_close(images.cpu(), want)


def test_renderer_gradients_wrt_positions_and_features():
    torch.manual_seed(1)
    pts = (torch.rand(6, 3, dtype=torch.float64) - 0.5) * 0.8
    feats = torch.rand(6, 2, dtype=torch.float64)
    renderer, _ = _renderer(6, 0.3, NormWeightedCompositor())

    def fn(p, f):
        return renderer(Pointclouds(points=[p], features=[f]))

    assert torch.autograd.gradcheck(fn, (pts.requires_grad_(), feats.requires_grad_()), eps=1e-6, atol=1e-5)


def test_renderer_per_point_radius_and_errors():
    pts = torch.rand(5, 3) - 0.5
    radius = torch.full((1, 5), 0.2)
    renderer, _ = _renderer(8, radius, AlphaCompositor(), dtype=torch.float32)
    img = renderer(Pointclouds(points=[pts], features=[torch.ones(5, 3)]))
    scalar, _ = _renderer(8, 0.2, AlphaCompositor(), dtype=torch.float32)
    torch.testing.assert_close(img, scalar(Pointclouds(points=[pts], features=[torch.ones(5, 3)])))
    with pytest.raises(ValueError, match="features"):
        scalar(Pointclouds(points=[pts]))
    with pytest.raises(ValueError, match="cameras"):
        PointsRasterizer()(Pointclouds(points=[pts]))


def test_points_behind_or_on_the_camera_plane_cover_nothing():
    cams = FoVPerspectiveCameras(R=torch.eye(3)[None], T=torch.zeros(1, 3))
    pts = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.1, -2.0], [0.0, 0.0, 3.0]])
    frag = PointsRasterizer(cams, PointsRasterizationSettings(image_size=8, radius=0.5, points_per_pixel=4))(
        Pointclouds(points=[pts])
    )
    assert set(frag.idx.unique().tolist()) == {-1, 3}


def test_transform_keeps_view_depth_for_every_camera_kind():
    from inverse3d.renderer import FoVOrthographicCameras, PerspectiveCameras

    R, T = look_at_view_transform(2.0, 20.0, 40.0)
    pts = torch.rand(1, 30, 3) - 0.5
    for cams in (
        FoVPerspectiveCameras(R=R, T=T),
        FoVOrthographicCameras(R=R, T=T),
        PerspectiveCameras(R=R, T=T, focal_length=((100.0, 100.0),), principal_point=((40.0, 30.0),),
                           in_ndc=False, image_size=((60, 80),)),
    ):
        proj = PointsRasterizer(cams).transform(Pointclouds(points=list(pts))).points_padded()
        torch.testing.assert_close(proj[..., :2], cams.transform_points_ndc(pts)[..., :2])
        torch.testing.assert_close(proj[..., 2], cams.get_world_to_view_transform().transform_points(pts)[..., 2])


def test_nearest_first_sweep_culls_without_changing_results(monkeypatch):
    """Tiny blocks, runs of clouds and chunks (so hidden points get culled between blocks) match the dense path."""
    torch.manual_seed(5)
    pc = _random_clouds([900, 40, 700, 1, 600], spread=0.9)  # crowded: most points are hidden behind K nearer ones
    radius = 0.04 + 0.2 * torch.rand(5, 900)
    radius[2, :50] = 0.001  # disks between pixel centres cover nothing
    want = rasterize_points(pc, (13, 17), radius, 3, bin_size=0)
    splatted = []
    splat = rp._splat
    monkeypatch.setattr(rp, "_splat", lambda live, *a: splatted.append(live.numel()) or splat(live, *a))
    for first, per_block, per_group, per_chunk in [(8, 40, 1000, 1 << 21), (1, 7, 1, 50), (64, 1 << 16, 10**6, 300)]:
        monkeypatch.setattr(rp, "_FIRST_BLOCK", first)
        monkeypatch.setattr(rp, "_PAIRS_PER_BLOCK", per_block)
        monkeypatch.setattr(rp, "_POINTS_PER_GROUP", per_group)
        monkeypatch.setattr(rp, "_PAIRS_PER_CHUNK", per_chunk)
        splatted.clear()
        got = rasterize_points(pc, (13, 17), radius, 3)
        assert torch.equal(got[0], want[0])
        torch.testing.assert_close(got[1], want[1])
        torch.testing.assert_close(got[2], want[2])
        assert sum(splatted) < 0.8 * pc.points_packed().shape[0]  # hidden points were culled, not splatted


def test_depth_ties_with_signed_zero_and_infinite_radius():
    """-0.0 and +0.0 tie (packed order); an infinite radius covers every pixel; matches the naive loops."""
    pts = torch.tensor([[0.0, 0.0, 0.0], [0.23, 0.1, -0.0], [0.5, -0.5, 0.0], [0.9, 0.9, 1e-30], [0.0, 0.0, 0.5]])
    radius = torch.tensor([[0.5, 0.5, float("inf"), 0.3, 1e-4]])
    for dtype in (torch.float32, torch.float64):
        pc = Pointclouds(points=[pts.to(dtype)])
        for bin_size in (None, 0):
            out = rasterize_points(pc, 6, radius.to(dtype), 4, bin_size=bin_size)
            _assert_same(out, _naive(pc, 6, 6, radius[0].to(dtype), 4))


@pytest.mark.parametrize("kwargs,error,message", [
    ({"image_size": 8.5}, TypeError, "image_size must be an int or (H, W) of ints; got 8.5 (float)"),
    ({"image_size": "8"}, TypeError, "got '8' (str)"),
    ({"image_size": True}, TypeError, "(bool)"),
    ({"image_size": (4, 4, 4)}, ValueError, "(3 values)"),
    ({"image_size": -1}, ValueError, "image_size must be positive"),
    ({"radius": -0.5}, ValueError, "radius must be a finite number >= 0"),
    ({"radius": "0.1"}, TypeError, "radius must be a number"),
    ({"points_per_pixel": 0}, ValueError, "points_per_pixel must be at least 1"),
    ({"points_per_pixel": 2.0}, TypeError, "points_per_pixel must be an int"),
])
def test_points_settings_are_checked(kwargs, error, message):
    with pytest.raises(error) as info:
        PointsRasterizationSettings(**kwargs)
    assert message in str(info.value)


def test_points_rasterizer_refuses_an_empty_batch():
    rasterizer = PointsRasterizer(cameras=FoVPerspectiveCameras(), raster_settings=PointsRasterizationSettings(4))
    with pytest.raises(ValueError, match=r"the Pointclouds batch is empty \(0 clouds\)"):
        rasterizer(Pointclouds(points=[]))
    with pytest.raises(TypeError, match="image_size must be an int"):
        rasterize_points(Pointclouds(points=[torch.rand(3, 3)]), image_size=4.0)
