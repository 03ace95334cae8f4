"""rasterize_meshes and MeshRasterizer against the naive per-pixel reference (values and gradients)."""

from __future__ import annotations

import importlib
import itertools
import math

import pytest
import torch
from reference.rasterize_meshes import rasterize_face_verts_naive, rasterize_meshes_naive

from conftest import DEVICES
from inverse3d.renderer.mesh.rasterize_meshes import rasterize_face_verts, rasterize_meshes
from inverse3d.renderer.mesh.rasterizer import Fragments, MeshRasterizer, RasterizationSettings
from inverse3d.structures import Meshes

# The module itself (``inverse3d.renderer.mesh.rasterize_meshes`` names the function too, as in PyTorch3D).
rm = importlib.import_module("inverse3d.renderer.mesh.rasterize_meshes")


def random_faces(F: int, zlo: float = 0.5, zhi: float = 3.0, seed: int = 0) -> torch.Tensor:
    """(F, 3, 3) float64 faces: NDC x, y in [-1.2, 1.2], depth in [zlo, zhi]."""
    g = torch.Generator().manual_seed(seed)
    fv = torch.rand(F, 3, 3, generator=g, dtype=torch.float64)
    fv[..., :2] = fv[..., :2] * 2.4 - 1.2
    fv[..., 2] = fv[..., 2] * (zhi - zlo) + zlo
    return fv


def assert_same(out, ref, atol=1e-9):
    p2f, zbuf, bary, dists = out
    assert torch.equal(p2f.cpu(), ref[0]), f"{(p2f.cpu() != ref[0]).sum()} pixels differ"
    torch.testing.assert_close(zbuf.cpu().double(), ref[1], atol=atol, rtol=1e-12)  # depths can be ~1e8 (see _bary)
    torch.testing.assert_close(bary.cpu().double(), ref[2], atol=atol, rtol=1e-12)
    torch.testing.assert_close(dists.cpu().double(), ref[3], atol=atol, rtol=0)


CONFIGS = [
    dict(perspective_correct=p, blur_radius=b, faces_per_pixel=k, clip_barycentric_coords=c, cull_backfaces=cb,
         image_size=(7, 9) if (p + k + cb) % 2 else 8)  # non-square and square images in turn
    for p, b, k, c, cb in itertools.product([False, True], [0.0, 0.03], [1, 3], [False, True], [False, True])
    if not (c and b == 0.0)  # clipping barycentrics only matters outside faces
]


@pytest.mark.parametrize("kw", CONFIGS, ids=lambda kw: "-".join(f"{v}" for v in kw.values()))
def test_matches_reference(kw):
    fv = random_faces(10, seed=hash(tuple(kw.values())) % 1000)
    f2m = torch.tensor([0] * 6 + [1] * 4)
    out = rasterize_face_verts(fv, f2m, 2, **kw)
    ref = rasterize_face_verts_naive(fv, f2m.tolist(), 2, **kw)
    assert_same(out, ref)
    assert (out[0] >= 0).any()


@pytest.mark.parametrize("persp", [False, True])
@pytest.mark.parametrize("blur,clip_bary", [(0.0, False), (0.05, False), (0.05, True)])
def test_near_plane_clipping_matches_reference(persp, blur, clip_bary):
    # Depths in [-1.5, 2.5] with the clipping plane at 0.4: many faces cross it, some lie behind it.
    fv = random_faces(8, zlo=-1.5, zhi=2.5, seed=3)
    f2m = torch.zeros(8, dtype=torch.int64)
    kw = dict(image_size=(9, 7), blur_radius=blur, faces_per_pixel=4, perspective_correct=persp,
              clip_barycentric_coords=clip_bary, z_clip_value=0.4)
    fa = fv.clone().requires_grad_(True)
    fb = fv.clone().requires_grad_(True)
    out = rasterize_face_verts(fa, f2m, 1, **kw)
    ref = rasterize_face_verts_naive(fb, f2m.tolist(), 1, **kw)
    assert_same(out, ref)
    crossing = ((fv[..., 2] < 0.4).sum(1) % 3 != 0).nonzero().squeeze(1)
    assert torch.isin(out[0], crossing).any(), "no clipped face was drawn"
    _compare_grads(out, ref, fa, fb)


def _compare_grads(out, ref, fa, fb, seed=0):
    g = torch.Generator().manual_seed(seed)
    ws = [torch.randn(x.shape, generator=g, dtype=torch.float64) for x in out[1:]]
    la = sum((w * x).sum() for w, x in zip(ws, out[1:]))
    lb = sum((w * x).sum() for w, x in zip(ws, ref[1:]))
    (ga,) = torch.autograd.grad(la, fa)
    (gb,) = torch.autograd.grad(lb, fb)
    assert torch.isfinite(ga).all()
    torch.testing.assert_close(ga, gb, atol=1e-7, rtol=1e-7)


@pytest.mark.parametrize("persp", [False, True])
@pytest.mark.parametrize("blur,K,clip_bary", [(0.0, 1, False), (0.04, 3, False), (0.04, 3, True)])
def test_gradients_match_reference(persp, blur, K, clip_bary):
    fv = random_faces(6, seed=11)
    f2m = torch.zeros(6, dtype=torch.int64)
    kw = dict(image_size=(8, 6), blur_radius=blur, faces_per_pixel=K, perspective_correct=persp,
              clip_barycentric_coords=clip_bary)
    fa = fv.clone().requires_grad_(True)
    fb = fv.clone().requires_grad_(True)
    out = rasterize_face_verts(fa, f2m, 1, **kw)
    ref = rasterize_face_verts_naive(fb, f2m.tolist(), 1, **kw)
    assert_same(out, ref)
    _compare_grads(out, ref, fa, fb)


@pytest.mark.parametrize("persp", [False, True])
def test_gradcheck(persp):
    # Two overlapping triangles, 6 x 5 pixels, K = 2 with blur: gradients of depth, barycentrics and distances.
    verts = torch.tensor(
        [[-0.7, -0.6, 1.2], [0.8, -0.5, 2.0], [0.1, 0.9, 1.5], [0.6, 0.7, 1.1], [-0.8, 0.2, 1.9], [0.3, -0.9, 1.4]],
        dtype=torch.float64,
        requires_grad=True,
    )
    faces = torch.tensor([[0, 1, 2], [3, 4, 5]])
    f2m = torch.zeros(2, dtype=torch.int64)

    def fn(v):
        _, zbuf, bary, dists = rasterize_face_verts(
            v[faces], f2m, 1, image_size=(6, 5), blur_radius=0.05, faces_per_pixel=2, perspective_correct=persp
        )
        return zbuf, bary, dists

    assert torch.autograd.gradcheck(fn, (verts,), eps=1e-6, atol=1e-5, fast_mode=True)


def test_near_plane_gradcheck():
    # One face crossing the near plane (perspective): gradients through the clipped polygon's distances.
    # (Chosen so that no pixel centre is within 1e-5 of a coverage or sign change.)
    verts = torch.tensor([[-0.57, -0.47, 1.43], [0.66, -0.38, 0.23], [0.09, 0.77, 1.71]], dtype=torch.float64,
                         requires_grad=True)
    f2m = torch.zeros(1, dtype=torch.int64)

    def fn(v):
        _, zbuf, bary, dists = rasterize_face_verts(
            v[None], f2m, 1, image_size=(6, 5), blur_radius=0.05, faces_per_pixel=1, perspective_correct=True,
            z_clip_value=0.5,
        )
        return zbuf, bary, dists

    assert torch.autograd.gradcheck(fn, (verts,), eps=1e-6, atol=1e-5)


def test_faces_behind_camera_without_clipping():
    # Perspective without z_clip_value: faces with a vertex behind the camera are skipped (they cannot be projected).
    fv = torch.tensor([[[-0.5, -0.5, 1.0], [0.5, -0.5, 1.0], [0.0, 0.5, 1.0]],
                       [[-0.9, -0.9, 2.0], [0.9, -0.9, -1.0], [0.0, 0.9, 2.0]]], dtype=torch.float64)
    f2m = torch.zeros(2, dtype=torch.int64)
    p2f, zbuf, _, _ = rasterize_face_verts(fv, f2m, 1, image_size=8, faces_per_pixel=2, perspective_correct=True)
    assert set(p2f.unique().tolist()) == {-1, 0}
    # Without perspective correction, pixels at negative depth are skipped but the rest of the face draws.
    p2f, zbuf, _, _ = rasterize_face_verts(fv, f2m, 1, image_size=8, faces_per_pixel=2)
    assert (p2f == 1).any() and (zbuf[p2f >= 0] >= 0).all()


def test_degenerate_faces_give_no_nan():
    verts = torch.tensor(
        [[-0.5, -0.5, 1.0], [0.5, -0.5, 1.0], [0.0, 0.5, 1.0], [0.2, 0.2, 1.0], [0.2, 0.2, 1.0], [0.4, 0.4, 1.0],
         [0.9, 0.9, 1.0]],
        dtype=torch.float64,
        requires_grad=True,
    )
    faces = torch.tensor([[0, 1, 2], [3, 4, 5], [3, 3, 3], [3, 5, 6], [0, 0, 1]])  # 1..4 have zero area
    for persp, blur, K in [(False, 0.0, 1), (True, 0.1, 4)]:
        out = rasterize_face_verts(verts[faces], torch.zeros(5, dtype=torch.int64), 1, image_size=10,
                                   blur_radius=blur, faces_per_pixel=K, perspective_correct=persp)
        assert set(out[0].unique().tolist()) == {-1, 0}
        assert all(torch.isfinite(x).all() for x in out[1:])
        loss = out[1].sum() + out[2].sum() + out[3].sum()
        (g,) = torch.autograd.grad(loss, verts)
        assert torch.isfinite(g).all()
        assert g[3:].abs().sum() == 0 and g[:3].abs().sum() > 0


def test_one_triangle_covers_the_pixel_centres_of_the_conventions():
    # Square 4 x 4: column i has its centre at x = 1 - (2i + 1) / 4 (+X is left), row j at y = 1 - (2j + 1) / 4.
    # The triangle x + y >= 0.9 (x, y <= 1) holds the centres (0.75, 0.75), (0.75, 0.25), (0.25, 0.75).
    fv = torch.tensor([[[1.0, 1.0, 1.0], [-0.1, 1.0, 1.0], [1.0, -0.1, 1.0]]])
    p2f, zbuf, bary, dists = rasterize_face_verts(fv, torch.zeros(1, dtype=torch.int64), 1, image_size=4,
                                                  faces_per_pixel=1)
    expected = torch.tensor([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)
    assert torch.equal(p2f[0, ..., 0] >= 0, expected)
    # Pixel (0, 0) at (0.75, 0.75): nearest edges x = 1 and y = 1 at squared distance 0.25^2, inside; pixel (0, 1)
    # at (0.25, 0.75): nearest edge x + y = 0.9 at squared distance 0.1^2 / 2.
    torch.testing.assert_close(dists[0, 0, 0, 0], torch.tensor(-0.0625), atol=1e-6, rtol=0)
    torch.testing.assert_close(dists[0, 0, 1, 0], torch.tensor(-0.005), atol=1e-6, rtol=0)
    torch.testing.assert_close(zbuf[0, 0, 1, 0], torch.tensor(1.0))
    torch.testing.assert_close(bary[0, 0, 0, 0].sum(), torch.tensor(1.0))
    # Non-square 2 x 4: the shorter side (H) spans [-1, 1], x centres at 1.5, 0.5, -0.5, -1.5, y at 0.5, -0.5.
    fv = torch.tensor([[[1.6, 0.6, 1.0], [0.4, 0.6, 1.0], [1.6, -0.6, 1.0]]])
    p2f, *_ = rasterize_face_verts(fv, torch.zeros(1, dtype=torch.int64), 1, image_size=(2, 4), faces_per_pixel=1)
    assert torch.equal(p2f[0, ..., 0] >= 0, torch.tensor([[1, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.bool))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shared_edges_through_pixel_centres_leave_no_cracks(dtype):
    # A quad split along its diagonal, which passes exactly through the centres of pixels (i, i).
    verts = torch.tensor([[1.5, 1.5, 1.0], [-1.5, 1.5, 1.0], [-1.5, -1.5, 1.0], [1.5, -1.5, 1.0]], dtype=dtype)
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    p2f, *_ = rasterize_face_verts(verts[faces], torch.zeros(2, dtype=torch.int64), 1, image_size=8,
                                   faces_per_pixel=1)
    assert (p2f >= 0).all()


@pytest.mark.parametrize("K", [1, 3])
def test_chunking_gives_the_same_result(monkeypatch, K):
    fv = random_faces(40, seed=5).float()
    f2m = torch.tensor([0] * 25 + [1] * 15)
    kw = dict(image_size=(20, 16), faces_per_pixel=K, blur_radius=0.01, perspective_correct=True)
    whole = rasterize_face_verts(fv, f2m, 2, **kw)
    monkeypatch.setattr(rm, "_PAIR_BUDGET", 16)
    chunked = rasterize_face_verts(fv, f2m, 2, **kw)
    for a, b in zip(whole, chunked):
        assert torch.equal(a, b)


@pytest.mark.parametrize("persp", [False, True])
@pytest.mark.parametrize("budget", [None, 64])
def test_occlusion_culling_changes_nothing(monkeypatch, persp, budget):
    # K = 1 in float32 skips tiles of faces turned away from the camera where nearer faces already cover them;
    # with bounds that never cull, the result must be the same, bit for bit (back faces are often nearest here).
    fv = random_faces(300, zlo=1.0, zhi=1.5, seed=11).float()
    fv[::7, :, 2] = 1.0 + 1e-3 * torch.arange(3.0)  # nearly flat at the same depth: ties and close calls
    f2m = torch.tensor([0] * 200 + [1] * 100)
    kw = dict(image_size=(40, 36), faces_per_pixel=1, perspective_correct=persp)
    if budget is not None:
        monkeypatch.setattr(rm, "_PAIR_BUDGET", budget)
    calls = []
    window_max = rm._window_max_depth
    monkeypatch.setattr(rm, "_window_max_depth", lambda *a: calls.append(1) or window_max(*a))
    culled = rasterize_face_verts(fv, f2m, 2, **kw)
    assert calls  # the culling ran
    monkeypatch.setattr(rm, "_occlusion_bounds", lambda geom, hx, hy: torch.full_like(geom.fv[:, 0, 0], -math.inf))
    plain = rasterize_face_verts(fv, f2m, 2, **kw)
    for a, b in zip(culled, plain):
        assert torch.equal(a, b)
    assert (culled[0] >= 0).float().mean() > 0.5
    back = rm._FaceGeometry(fv, persp, None, False).back
    assert back[culled[0][culled[0] >= 0]].any()  # some pixels do show back faces


def test_chunked_values_are_checkpointed_with_the_same_gradients(monkeypatch):
    fv = random_faces(12, seed=8)
    f2m = torch.zeros(12, dtype=torch.int64)
    kw = dict(image_size=(10, 9), faces_per_pixel=3, blur_radius=0.02, perspective_correct=True,
              clip_barycentric_coords=True)
    fa = fv.clone().requires_grad_(True)
    fb = fv.clone().requires_grad_(True)
    whole = rasterize_face_verts(fa, f2m, 1, **kw)
    monkeypatch.setattr(rm, "_PAIR_BUDGET", 32)
    chunked = rasterize_face_verts(fb, f2m, 1, **kw)
    assert_same(chunked, [x.detach() for x in whole])
    _compare_grads(chunked, whole, fb, fa)


def test_float32_agrees_with_float64():
    fv = random_faces(30, seed=7)
    f2m = torch.zeros(30, dtype=torch.int64)
    kw = dict(image_size=(24, 20), faces_per_pixel=3, blur_radius=0.01, perspective_correct=True)
    a = rasterize_face_verts(fv, f2m, 1, **kw)
    b = rasterize_face_verts(fv.float(), f2m, 1, **kw)
    same = a[0] == b[0]
    assert same.float().mean() > 0.99
    torch.testing.assert_close(b[1][same].double(), a[1][same], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(b[2][same].double(), a[2][same], atol=1e-4, rtol=1e-4)


def test_meshes_batch_with_empty_mesh():
    fv = random_faces(4, seed=2)
    verts = fv.reshape(-1, 3)
    faces = torch.arange(12).reshape(4, 3)
    meshes = Meshes(verts=[verts, torch.zeros(0, 3, dtype=torch.float64), verts[:6]],
                    faces=[faces, torch.zeros(0, 3, dtype=torch.int64), faces[:2]])
    out = rasterize_meshes(meshes, image_size=6, faces_per_pixel=2)
    ref = rasterize_meshes_naive(meshes, image_size=6, faces_per_pixel=2)
    assert_same(out, ref)
    assert (out[0][1] == -1).all()
    assert out[0][2].max() >= 4  # packed indices of the third mesh come after the first mesh's four faces
    empty = Meshes(verts=[torch.zeros(0, 3)], faces=[torch.zeros(0, 3, dtype=torch.int64)])
    p2f, zbuf, bary, dists = rasterize_meshes(empty, image_size=(3, 5), faces_per_pixel=2)
    assert p2f.shape == (1, 3, 5, 2) and bary.shape == (1, 3, 5, 2, 3) and (p2f == -1).all()


def test_bad_input():
    fv = random_faces(2)
    f2m = torch.zeros(2, dtype=torch.int64)
    with pytest.raises(ValueError, match="NaN"):
        rasterize_face_verts(fv.index_fill(0, torch.tensor([1]), math.nan), f2m, 1, image_size=4)
    with pytest.raises(ValueError, match="faces_per_pixel"):
        rasterize_face_verts(fv, f2m, 1, image_size=4, faces_per_pixel=0)
    with pytest.raises(ValueError, match="image_size"):
        rasterize_face_verts(fv, f2m, 1, image_size=(4, 0))
    with pytest.raises(ValueError, match="blur_radius"):
        rasterize_face_verts(fv, f2m, 1, image_size=4, blur_radius=-1.0)
    with pytest.raises(ValueError, match="shape"):
        rasterize_face_verts(fv[:, :2], f2m, 1, image_size=4)


def _ico_sphere(level: int) -> Meshes:
    from inverse3d.utils import ico_sphere

    return ico_sphere(level)


@pytest.mark.parametrize("device", DEVICES)
def test_mesh_rasterizer_sphere_matches_reference(device):
    from inverse3d.renderer import FoVPerspectiveCameras, look_at_view_transform

    sphere = _ico_sphere(1).to(device)
    R, T = look_at_view_transform(dist=2.7, elev=20.0, azim=30.0)
    cameras = FoVPerspectiveCameras(R=R, T=T, device=device)
    settings = RasterizationSettings(image_size=(10, 12), faces_per_pixel=2, blur_radius=1e-3)
    rasterizer = MeshRasterizer(cameras=cameras, raster_settings=settings)
    frags = rasterizer(sphere)
    assert isinstance(frags, Fragments) and frags.pix_to_face.shape == (1, 10, 12, 2)
    projected = rasterizer.transform(sphere)
    ref = rasterize_meshes_naive(projected.cpu(), image_size=(10, 12), faces_per_pixel=2, blur_radius=1e-3,
                                 perspective_correct=True, clip_barycentric_coords=True, z_clip_value=0.5)
    assert_same((frags.pix_to_face, frags.zbuf, frags.bary_coords, frags.dists), ref, atol=1e-5)
    # The nearest depth at the image centre is the camera distance minus (about) the radius.
    assert abs(float(frags.zbuf[0, 5, 6, 0]) - 1.7) < 0.05
    both = frags.pix_to_face[..., 1] >= 0
    assert (frags.zbuf[..., 1][both] >= frags.zbuf[..., 0][both]).all()  # sorted by depth


def test_mesh_rasterizer_silhouette_area_and_overrides():
    from inverse3d.renderer import FoVPerspectiveCameras, look_at_view_transform

    sphere = _ico_sphere(3)
    R, T = look_at_view_transform(dist=3.0, elev=0.0, azim=0.0)
    cameras = FoVPerspectiveCameras(R=R, T=T)
    rasterizer = MeshRasterizer(cameras=cameras)  # default settings: 256 px, 1 face per pixel
    frags = rasterizer(sphere, raster_settings=RasterizationSettings(image_size=64))
    # A unit sphere at distance 3 under a 60 degree field of view: silhouette radius tan(asin(1/3)) / tan(30 deg).
    r = math.tan(math.asin(1 / 3)) / math.tan(math.radians(30))
    area = (frags.pix_to_face[0, ..., 0] >= 0).sum().item() * (2 / 64) ** 2
    assert abs(area - math.pi * r * r) / (math.pi * r * r) < 0.05
    # Camera parameters given to forward override the camera's own.
    R2, T2 = look_at_view_transform(dist=6.0, elev=0.0, azim=0.0)
    small = rasterizer(sphere, R=R2, T=T2, raster_settings=RasterizationSettings(image_size=64))
    assert (small.pix_to_face >= 0).sum() < (frags.pix_to_face >= 0).sum() / 3
    # Backface culling: the far side never shows up even with K = 2.
    culled = rasterizer(sphere, raster_settings=RasterizationSettings(image_size=32, faces_per_pixel=2,
                                                                     cull_backfaces=True))
    assert (culled.pix_to_face[..., 1] == -1).all() and (culled.pix_to_face[..., 0] >= 0).any()


def test_mesh_rasterizer_gradients_reach_vertices():
    from inverse3d.renderer import FoVPerspectiveCameras, look_at_view_transform

    sphere = _ico_sphere(1)
    verts = sphere.verts_packed().clone().requires_grad_(True)
    mesh = Meshes(verts=[verts], faces=[sphere.faces_packed()])
    R, T = look_at_view_transform(dist=2.7, elev=0.0, azim=0.0)
    sigma = 1e-4
    settings = RasterizationSettings(image_size=32, faces_per_pixel=8, blur_radius=math.log(1 / 1e-4 - 1) * sigma)
    frags = MeshRasterizer(FoVPerspectiveCameras(R=R, T=T), settings)(mesh)
    prob = torch.sigmoid(-frags.dists / sigma) * (frags.pix_to_face >= 0)
    alpha = 1 - torch.prod(1 - prob, dim=-1)
    (g,) = torch.autograd.grad(alpha.sum() + frags.zbuf.sum(), verts)
    assert torch.isfinite(g).all() and g.abs().sum() > 0
    detached = frags.detach()
    assert not detached.zbuf.requires_grad and not detached.dists.requires_grad


def test_settings_defaults_and_errors():
    s = RasterizationSettings()
    assert (s.image_size, s.blur_radius, s.faces_per_pixel, s.perspective_correct, s.cull_backfaces) == (
        256, 0.0, 1, None, False)
    with pytest.raises(ValueError, match="cameras"):
        MeshRasterizer()(_ico_sphere(0))


@pytest.mark.parametrize("image_size,error,message", [
    (8.5, TypeError, "image_size must be an int or (H, W) of ints; got 8.5 (float)"),
    ("8", TypeError, "got '8' (str)"),
    (True, TypeError, "got True (bool)"),
    (0, ValueError, "image_size must be positive"),
    (-3, ValueError, "image_size must be positive"),
    ((8, 8, 1), ValueError, "(3 values)"),
    ((8, None), TypeError, "(NoneType)"),
])
def test_image_size_must_be_an_int_or_a_pair_of_ints(image_size, error, message):
    with pytest.raises(error) as info:
        RasterizationSettings(image_size=image_size)
    assert message in str(info.value)
    with pytest.raises(error):
        rasterize_face_verts(random_faces(2), torch.zeros(2, dtype=torch.int64), 1, image_size=image_size)


def test_settings_reject_bad_counts_and_radii():
    with pytest.raises(TypeError, match="faces_per_pixel must be an int"):
        RasterizationSettings(faces_per_pixel=2.5)
    with pytest.raises(ValueError, match="faces_per_pixel must be at least 1"):
        RasterizationSettings(faces_per_pixel=0)
    with pytest.raises(ValueError, match="blur_radius must be a finite number >= 0"):
        RasterizationSettings(blur_radius=math.nan)
    with pytest.raises(ValueError, match="bin_size must be at least 0"):
        RasterizationSettings(bin_size=-1)
    with pytest.raises(ValueError, match="z_clip_value"):
        RasterizationSettings(z_clip_value=math.inf)
    assert RasterizationSettings(image_size=(12, 16), blur_radius=1e-4, bin_size=0).image_size == (12, 16)


def test_empty_batch_is_refused_and_faceless_meshes_render_as_background():
    from inverse3d.renderer import FoVPerspectiveCameras

    rasterizer = MeshRasterizer(cameras=FoVPerspectiveCameras(), raster_settings=RasterizationSettings(image_size=4))
    with pytest.raises(ValueError, match=r"the Meshes batch is empty \(0 meshes\)"):
        rasterizer(Meshes(verts=[], faces=[]))
    faceless = Meshes(verts=[torch.rand(3, 3)], faces=[torch.zeros(0, 3, dtype=torch.int64)])
    assert (rasterizer(faceless).pix_to_face == -1).all()
