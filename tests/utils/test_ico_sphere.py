"""ico_sphere: counts per level, unit vertices, outward counter-clockwise faces, a closed genus-0 surface."""

from __future__ import annotations

import pytest
import torch
import trimesh
from conftest import DEVICES

from inverse3d.utils import ico_sphere
from inverse3d.utils.ico_sphere import subdivide_faces


@pytest.mark.parametrize("level", [0, 1, 2, 3, 5])
def test_counts_unit_norm_and_outward(level: int) -> None:
    mesh = ico_sphere(level)
    verts, faces = mesh.verts_packed(), mesh.faces_packed()
    assert verts.shape == (10 * 4**level + 2, 3) and verts.dtype == torch.float32
    assert faces.shape == (20 * 4**level, 3) and faces.dtype == torch.int64
    torch.testing.assert_close(verts.norm(dim=1), torch.ones(len(verts)), atol=1e-6, rtol=0)
    normals = torch.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]], dim=1)
    assert ((normals * verts[faces].mean(dim=1)).sum(dim=1) > 0).all()


@pytest.mark.parametrize("level", [0, 2])
def test_closed_genus_zero(level: int) -> None:
    mesh = ico_sphere(level)
    tm = trimesh.Trimesh(mesh.verts_packed().numpy(), mesh.faces_packed().numpy(), process=False)
    assert tm.is_watertight and tm.is_winding_consistent
    assert tm.euler_number == 2
    assert tm.volume > 0  # outward orientation


def test_level0_matches_pytorch3d_vertices() -> None:
    # PyTorch3D's level-0 vertices (4 decimals) in its order.
    expected = torch.tensor(
        [[-0.5257, 0.8507, 0.0], [0.5257, 0.8507, 0.0], [0.0, -0.5257, 0.8507], [-0.8507, 0.0, 0.5257]]
    )
    verts = ico_sphere(0).verts_packed()
    torch.testing.assert_close(verts[[0, 1, 4, 11]], expected, atol=1e-4, rtol=0)


def test_edges_nearly_uniform() -> None:
    mesh = ico_sphere(3)
    v, e = mesh.verts_packed(), mesh.edges_packed()
    lengths = (v[e[:, 0]] - v[e[:, 1]]).norm(dim=1)
    assert lengths.max() / lengths.min() < 1.4


def test_subdivide_keeps_old_vertices_and_adds_midpoints() -> None:
    verts = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])
    faces = torch.tensor([[0, 1, 2]])
    v, f = subdivide_faces(verts, faces)
    assert v.shape == (6, 3) and f.shape == (4, 3)
    torch.testing.assert_close(v[:3], verts)
    torch.testing.assert_close(v[3:].sum(0), torch.tensor([1.0, 1.0, 0.0]))  # the three edge midpoints
    n = torch.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]], dim=1)
    assert (n[:, 2] > 0).all()  # winding kept


@pytest.mark.parametrize("device", DEVICES)
def test_device(device: str) -> None:
    mesh = ico_sphere(1, device=device)
    assert mesh.verts_packed().device.type == device


@pytest.mark.parametrize("level", [-1, 1.5, True])
def test_bad_level(level) -> None:
    with pytest.raises(ValueError, match="level"):
        ico_sphere(level)


def test_levels_above_8_are_bounded_by_memory_only(monkeypatch) -> None:
    # As in PyTorch3D there is no fixed cap: a level is refused, before anything is allocated, only when its
    # sphere would not fit in the memory available, with the estimate in the message.
    import importlib

    module = importlib.import_module("inverse3d.utils.ico_sphere")
    monkeypatch.setattr(module, "_free_memory_bytes", lambda device: 4 * 2**30)
    module._check_memory(9, None)  # 5.2M faces: about 0.8 GiB
    module._check_memory(10, None)  # 21M faces: about 3.1 GiB
    with pytest.raises(ValueError, match=r"level 11 would make 83,886,080 faces .* about 12\.5 GiB .* only 4\.0 GiB"):
        module._check_memory(11, None)
    monkeypatch.setattr(module, "_free_memory_bytes", lambda device: 2**20)
    with pytest.raises(ValueError, match="use a lower level"):
        ico_sphere(9)
    monkeypatch.setattr(module, "_free_memory_bytes", lambda device: None)  # unknown: no refusal
    module._check_memory(12, None)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="GiB"):  # far beyond any machine
        ico_sphere(16)
