"""marching_cubes follows PyTorch3D's algorithm exactly: same vertices, faces and order as a cell-by-cell loop."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES
from reference.marching_cubes import marching_cubes_loops

from inverse3d.ops import marching_cubes, marching_cubes_naive


def _field(shape, gen):
    """A smooth random field with several blobs (many cell configurations)."""
    D, H, W = shape
    z, y, x = torch.meshgrid(torch.linspace(0, 1, D), torch.linspace(0, 1, H), torch.linspace(0, 1, W), indexing="ij")
    out = torch.zeros(shape)
    for _ in range(4):
        c = torch.rand(3, generator=gen)
        out += torch.exp(-((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2) / 0.05)
    return out


@pytest.mark.parametrize("device", DEVICES)
def test_same_vertices_faces_and_order_as_the_loop(device):
    gen = torch.Generator().manual_seed(0)
    vols = torch.stack([_field((6, 7, 8), gen), _field((6, 7, 8), gen)])
    verts, faces = marching_cubes(vols.to(device), 0.6, return_local_coords=False)
    want_v, want_f = marching_cubes_loops(vols, 0.6)
    for v, f, wv, wf in zip(verts, faces, want_v, want_f):
        assert wf.shape[0] > 10
        torch.testing.assert_close(v.cpu(), wv)
        assert torch.equal(f.cpu(), wf)


def test_isolevel_at_the_maximum_and_on_grid_values():
    # binary grid, level = max: vertices snap onto the 1-valued samples, triangles within one sample vanish
    vol = torch.zeros(1, 5, 5, 5)
    vol[0, 1:4, 1:4, 1:4] = 1.0
    verts, faces = marching_cubes(vol, 1.0, return_local_coords=False)
    want_v, want_f = marching_cubes_loops(vol, 1.0)
    assert faces[0].shape[0] > 0
    torch.testing.assert_close(verts[0], want_v[0])
    assert torch.equal(faces[0], want_f[0])
    assert ((verts[0] >= 1) & (verts[0] <= 3)).all()  # every vertex on the block of ones
    # a single maximal sample: every triangle collapses onto it
    single = torch.zeros(1, 3, 3, 3)
    single[0, 1, 1, 1] = 1.0
    v, f = marching_cubes(single, 1.0)
    assert v[0].shape == (0, 3) and f[0].shape == (0, 3)
    # a level equal to sample values inside the range
    ramp = torch.arange(4.0)[None, None, None].expand(1, 4, 4, 4).contiguous()
    v, f = marching_cubes(ramp, 2.0, return_local_coords=False)
    wv, wf = marching_cubes_loops(ramp, 2.0)
    torch.testing.assert_close(v[0], wv[0])
    assert torch.equal(f[0], wf[0])


def test_local_coordinates_naive_alias_and_inside_above():
    gen = torch.Generator().manual_seed(1)
    vol = _field((5, 6, 7), gen)[None]
    index, faces = marching_cubes(vol, 0.5, return_local_coords=False)
    local, _ = marching_cubes(vol, 0.5)
    torch.testing.assert_close(local[0], index[0] * 2 / torch.tensor([6.0, 5.0, 4.0]) - 1)
    naive_v, naive_f = marching_cubes_naive(vol, 0.5)
    torch.testing.assert_close(naive_v[0], local[0])
    assert torch.equal(naive_f[0], faces[0])
    _, above = marching_cubes(vol, 0.5, inside="above")
    assert torch.equal(above[0], faces[0][:, [0, 2, 1]])


def test_default_level_and_float64():
    gen = torch.Generator().manual_seed(2)
    vol = _field((5, 5, 5), gen).double()[None]
    v, f = marching_cubes(vol, return_local_coords=False)
    level = float((vol.max() + vol.min()) / 2)
    wv, wf = marching_cubes_loops(vol.float(), level)
    assert v[0].dtype == torch.float64 and torch.equal(f[0], wf[0])
    torch.testing.assert_close(v[0].float(), wv[0], atol=1e-5, rtol=0)


def test_batch_with_dropped_triangles_matches_the_loop():
    # both grids cross the level on grid values, so triangles are dropped and the rest renumbered, per grid
    gen = torch.Generator().manual_seed(3)
    vols = torch.randint(0, 3, (2, 5, 6, 7), generator=gen).float()
    verts, faces = marching_cubes(vols, 1.0, return_local_coords=False)
    want_v, want_f = marching_cubes_loops(vols, 1.0)
    for v, f, wv, wf in zip(verts, faces, want_v, want_f):
        assert wf.shape[0] > 0
        torch.testing.assert_close(v, wv)
        assert torch.equal(f, wf)


def test_vertices_close_to_grid_points_without_snapping():
    # values a hair beyond 1e-5 from the level, next to large ones: vertices within 1e-5 of grid points without
    # snapping, so that triangles collapse (the case the fast path must still find)
    gen = torch.Generator().manual_seed(4)
    sign = torch.randint(0, 2, (1, 6, 6, 6), generator=gen).float() * 2 - 1
    offset = 10 ** (torch.rand(1, 6, 6, 6, generator=gen) * 8 - 7)  # 1e-7 .. 10
    vol = 0.5 + sign * offset
    verts, faces = marching_cubes(vol, 0.5, return_local_coords=False)
    want_v, want_f = marching_cubes_loops(vol, 0.5)
    torch.testing.assert_close(verts[0], want_v[0])
    assert torch.equal(faces[0], want_f[0])
    # one corner just below, the others far above: the one triangle collapses onto that corner
    corner = torch.full((1, 2, 2, 2), 10.0)
    corner[0, 0, 0, 0] = 0.5 - 2e-5
    v, f = marching_cubes(corner, 0.5, return_local_coords=False)
    assert marching_cubes_loops(corner, 0.5)[1][0].shape == (0, 3) and f[0].shape == (0, 3)


def test_sorted_key_lookup_gives_the_same_mesh(monkeypatch):
    import importlib

    module = importlib.import_module("inverse3d.ops.marching_cubes")
    gen = torch.Generator().manual_seed(5)
    vols = torch.stack([_field((6, 7, 8), gen), _field((6, 7, 8), gen)])
    dense = marching_cubes(vols, 0.6, return_local_coords=False)
    monkeypatch.setattr(module, "_DENSE_KEYS", 0)
    monkeypatch.setattr(module, "_DENSE_PER_KEY", 0)
    sorted_ = marching_cubes(vols, 0.6, return_local_coords=False)
    for a, b in zip(dense[0] + dense[1], sorted_[0] + sorted_[1]):
        assert torch.equal(a, b)


@pytest.mark.parametrize("length", [0, 1, 7, 8, 64, 1001, 4096])
def test_flatnonzero_matches_torch(length):
    import importlib

    flatnonzero = importlib.import_module("inverse3d.ops.marching_cubes")._flatnonzero
    gen = torch.Generator().manual_seed(length)
    for density in (0.0, 0.02, 0.5, 1.0):
        mask = torch.rand(length, generator=gen) < density
        assert torch.equal(flatnonzero(mask), mask.nonzero().squeeze(1))
        assert torch.equal(flatnonzero(mask.to(torch.uint8) * 3), mask.nonzero().squeeze(1))


def test_each_configuration_uses_exactly_its_cut_edges():
    # the vertex numbering takes each cut edge's first use from the first cell around it: every cell around a cut
    # edge must use it
    from inverse3d.ops.marching_cubes_data import CORNER_ORDER, EDGE_CORNERS, TRIANGLES

    for config, row in enumerate(TRIANGLES):
        below = {CORNER_ORDER[bit]: (config >> bit) & 1 for bit in range(8)}
        cut = {e for e, (a, b) in enumerate(EDGE_CORNERS) if below[a] != below[b]}
        assert set(row) == cut, config
