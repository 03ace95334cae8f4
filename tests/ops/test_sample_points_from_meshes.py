"""sample_points_from_meshes: points on the surface, density uniform by area, gradients, empty meshes, textures."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES

from inverse3d.ops import sample_points_from_meshes
from inverse3d.structures import Meshes
from inverse3d.utils import ico_sphere

# Cube [-1, 1]^3 with outward winding.
CUBE_VERTS = torch.tensor(
    [[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1], [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]],
    dtype=torch.float32,
)
CUBE_FACES = torch.tensor(
    [[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4],
     [2, 3, 7], [2, 7, 6], [1, 2, 6], [1, 6, 5], [0, 4, 7], [0, 7, 3]]
)


def _max_plane_distance(points: torch.Tensor, verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """For a convex mesh: max over faces of the signed distance to the face's plane; 0 exactly on the surface."""
    v0, v1, v2 = verts[faces].unbind(1)
    n = torch.nn.functional.normalize(torch.linalg.cross(v1 - v0, v2 - v0, dim=1), dim=1)  # (F, 3) outward
    return (points @ n.T - (n * v0).sum(1)).amax(-1)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_points_and_normals_lie_on_the_surface(device, dtype):
    sphere = ico_sphere(2, device=device)
    cube = Meshes([CUBE_VERTS.to(device, dtype)], [CUBE_FACES.to(device)])
    sphere = Meshes([sphere.verts_packed().to(dtype)], [sphere.faces_packed()])
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    for mesh in (cube, sphere):
        points, normals = sample_points_from_meshes(mesh, 3000, return_normals=True)
        assert points.shape == normals.shape == (1, 3000, 3) and points.dtype == dtype
        gap = _max_plane_distance(points[0], mesh.verts_packed(), mesh.faces_packed())
        assert gap.abs().max() < tol
        torch.testing.assert_close(normals.norm(dim=-1), torch.ones(1, 3000, dtype=dtype, device=device))
    # cube: the normal is the axis on which the point sits at +-1, pointing outwards
    points, normals = sample_points_from_meshes(cube, 2000, return_normals=True)
    torch.testing.assert_close((normals * points).sum(-1), torch.ones(1, 2000, dtype=dtype, device=device))


def test_density_is_uniform_by_area():
    """Chi-square test over regions of known area: a small triangle and the 4 midpoint sub-triangles of a big one."""
    torch.manual_seed(1234)
    verts = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [3, 0, 1], [0, 3, 1]], dtype=torch.float32)
    faces = torch.tensor([[0, 1, 2], [3, 4, 5]])  # areas 0.5 and 4.5
    S = 20000
    points = sample_points_from_meshes(Meshes([verts], [faces]), S)[0]
    small = points[:, 2] < 0.5
    # barycentric coordinates in the big triangle: w1 = x / 3, w2 = y / 3
    w1, w2 = points[~small, 0] / 3, points[~small, 1] / 3
    w0 = 1 - w1 - w2
    region = torch.full_like(w0, 3, dtype=torch.int64)  # the centre sub-triangle
    for k, w in enumerate((w0, w1, w2)):
        region[w > 0.5] = k
    counts = torch.cat([small.sum()[None], torch.bincount(region, minlength=4)]).double()
    expected = torch.tensor([0.5, 1.125, 1.125, 1.125, 1.125], dtype=torch.float64) / 5.0 * S
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 18.47  # 99.9% quantile of chi-square with 4 degrees of freedom
    # and within each sub-triangle, no corner is favoured: mean barycentric of the centre region is 1/3
    centre = region == 3
    torch.testing.assert_close(w0[centre].mean().item(), 1 / 3, atol=0.01, rtol=0)


def test_gradients_reach_the_vertices():
    verts = ico_sphere(1).verts_packed().clone().requires_grad_()
    faces = ico_sphere(1).faces_packed()
    points = sample_points_from_meshes(Meshes([verts], [faces]), 500)
    points.sum().backward()
    # every sample is a convex combination of its face's corners
    torch.testing.assert_close(verts.grad.sum(0), torch.full((3,), 500.0))

    gen_verts = CUBE_VERTS.double().clone().requires_grad_()

    def sample(v):
        torch.manual_seed(0)
        p, n = sample_points_from_meshes(Meshes([v], [CUBE_FACES]), 6, return_normals=True)
        return p, n

    assert torch.autograd.gradcheck(sample, (gen_verts,))


def test_empty_meshes_give_zeros():
    empty_v, empty_f = torch.zeros(0, 3), torch.zeros(0, 3, dtype=torch.int64)
    batch = Meshes([CUBE_VERTS, empty_v, CUBE_VERTS * 2], [CUBE_FACES, empty_f, CUBE_FACES])
    points, normals = sample_points_from_meshes(batch, 100, return_normals=True)
    assert points.shape == (3, 100, 3)
    assert (points[1] == 0).all() and (normals[1] == 0).all()
    assert points[0].abs().amax(-1).min() > 0.999 and points[2].abs().amax(-1).min() > 1.999
    with pytest.raises(ValueError, match="empty"):
        sample_points_from_meshes(Meshes([empty_v], [empty_f]), 10)


def test_reproducible_with_seed():
    mesh = ico_sphere(1)
    torch.manual_seed(3)
    a = sample_points_from_meshes(mesh, 50)
    torch.manual_seed(3)
    b = sample_points_from_meshes(mesh, 50)
    assert torch.equal(a, b)


def test_textures_follow_the_surface():
    textures_module = pytest.importorskip("inverse3d.renderer.mesh.textures")
    empty_v, empty_f = torch.zeros(0, 3), torch.zeros(0, 3, dtype=torch.int64)
    # colour = position, so the interpolated colour of a sample is the sample itself
    tex = textures_module.TexturesVertex([CUBE_VERTS.clone(), empty_v, CUBE_VERTS * 0.5])
    batch = Meshes([CUBE_VERTS, empty_v, CUBE_VERTS * 0.5], [CUBE_FACES, empty_f, CUBE_FACES], textures=tex)
    points, normals, colours = sample_points_from_meshes(batch, 200, return_normals=True, return_textures=True)
    assert colours.shape == (3, 200, 3)
    torch.testing.assert_close(colours, points)
    points, colours = sample_points_from_meshes(batch, 20, return_textures=True)
    torch.testing.assert_close(colours, points)


def test_uv_textures_follow_the_surface():
    textures_module = pytest.importorskip("inverse3d.renderer.mesh.textures")
    # a unit square in z = 0 with uv = (x, y) and a map whose value is u (linear between the two columns)
    verts = torch.tensor([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]])
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    tex = textures_module.TexturesUV(
        maps=torch.tensor([[[0.0], [1.0]], [[0.0], [1.0]]])[None],  # (1, H=2, W=2, C=1)
        faces_uvs=[faces],
        verts_uvs=[verts[:, :2]],
    )
    points, colours = sample_points_from_meshes(Meshes([verts], [faces], textures=tex), 300, return_textures=True)
    assert colours.shape == (1, 300, 1)
    torch.testing.assert_close(colours[..., 0], points[..., 0], atol=1e-5, rtol=0)


def test_bad_input():
    mesh = Meshes([CUBE_VERTS], [CUBE_FACES])
    with pytest.raises(ValueError, match="textures"):
        sample_points_from_meshes(mesh, 10, return_textures=True)
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="num_samples"):
            sample_points_from_meshes(mesh, bad)


def test_zero_area_mesh_still_samples():
    verts = torch.tensor([[0.0, 0, 0], [1, 0, 0], [2, 0, 0]])
    points = sample_points_from_meshes(Meshes([verts], [torch.tensor([[0, 1, 2]])]), 10)
    assert (points[0, :, 1:] == 0).all() and (points[0, :, 0] >= 0).all() and (points[0, :, 0] <= 2).all()
