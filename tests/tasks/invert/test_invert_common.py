"""The inverse problems' shared pieces: the rotation error against a slow reference, the cow-like mesh's topology and
UVs, image losses, and the one-line errors of target images."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from inverse3d.tasks.invert.common import image_loss, read_image, rotation_error_degrees
from inverse3d.tasks.invert.meshes import cow_like_mesh, spherical_uvs


def _angle_reference(A, B) -> float:
    """Slow, obvious: the angle of the relative rotation A^T B from its trace, with Python loops and math.acos."""
    trace = 0.0
    for i in range(3):
        for k in range(3):
            trace += float(A[k][i]) * float(B[k][i])
    return math.degrees(math.acos(max(-1.0, min(1.0, (trace - 1.0) / 2.0))))


def test_rotation_error_matches_reference():
    from inverse3d.transforms import axis_angle_to_matrix, random_rotations

    torch.manual_seed(0)
    A = random_rotations(16, dtype=torch.float64)
    axis = torch.nn.functional.normalize(torch.randn(16, 3, dtype=torch.float64), dim=1)
    angles = torch.cat([torch.tensor([0.0, 1e-3, 0.5, 2.0, 90.0, 179.0, 180.0], dtype=torch.float64),
                        torch.rand(9, dtype=torch.float64) * 180])
    B = A @ axis_angle_to_matrix(axis * torch.deg2rad(angles)[:, None])
    got = rotation_error_degrees(A, B)
    want = torch.tensor([_angle_reference(a, b) for a, b in zip(A, B)], dtype=torch.float64)
    # acos loses accuracy near 0 and 180 degrees; the atan2 form does not: compare to the construction there.
    assert torch.allclose(got, angles, atol=1e-6)
    assert torch.allclose(got[2:6], want[2:6], atol=1e-6)
    with pytest.raises(ValueError, match=r"\(N, 3, 3\)"):
        rotation_error_degrees(A[:, :2], B[:, :2])


def test_cow_like_mesh_is_closed_genus0_and_normalised():
    mesh = cow_like_mesh(level=2, texture_size=16)
    v, f = mesh.verts_packed(), mesh.faces_packed()
    edges = torch.cat([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]).sort(dim=1).values
    uniq, counts = torch.unique(edges, dim=0, return_counts=True)
    assert (counts == 2).all()  # watertight, manifold
    assert v.shape[0] - uniq.shape[0] + f.shape[0] == 2  # Euler characteristic 2: genus 0
    lo, hi = v.amin(0), v.amax(0)
    assert torch.allclose(torch.linalg.norm(hi - lo), torch.tensor(1.0), atol=1e-5)
    assert torch.allclose((lo + hi) / 2, torch.zeros(3), atol=1e-5)
    # Outward faces: the signed volume is positive.
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    assert float((a * torch.cross(b, c, dim=1)).sum()) > 0
    maps = mesh.textures.maps_padded()
    assert maps.shape == (1, 16, 24, 3) and 0 <= float(maps.min()) and float(maps.max()) <= 1


def test_spherical_uvs_split_the_seam():
    from inverse3d.utils.ico_sphere import ico_sphere_verts_faces

    v, f = ico_sphere_verts_faces(2)
    verts_uvs, faces_uvs = spherical_uvs(v / v.norm(dim=1, keepdim=True), f)
    u = verts_uvs[faces_uvs][..., 0]  # (F, 3)
    away = (v[f][..., 1].abs() / v[f].norm(dim=-1)).amax(1) < 0.9  # faces away from the poles (singular there)
    assert away.sum() > 0.8 * len(f)
    assert float((u.amax(1) - u.amin(1))[away].max()) < 0.15  # no face stretched across the map
    assert 0 <= float(verts_uvs.min()) and float(verts_uvs.max()) <= 1


def test_image_loss():
    a = torch.zeros(2, 4, 4, 1)
    b = torch.ones(2, 4, 4, 1)
    b[1] = 0
    assert torch.allclose(image_loss(a, b, "mse"), torch.tensor([1.0, 0.0]))
    assert torch.allclose(image_loss(b, b, "iou")[0], torch.tensor(0.0))
    assert torch.allclose(image_loss(a + 0.5, b, "l1"), torch.tensor([0.5, 0.5]))
    with pytest.raises(ValueError, match="--loss"):
        image_loss(a, b, "ssim")


def test_read_image_errors(tmp_path):
    import imageio.v3 as iio

    with pytest.raises(ValueError, match="no such file"):
        read_image(tmp_path / "missing.png")
    img = np.full((8, 8, 3), 255, np.uint8)
    img[2:5, 3:6] = 0
    iio.imwrite(tmp_path / "t.png", img)
    out = read_image(tmp_path / "t.png", 8)
    assert out.shape == (8, 8, 4) and float(out[..., 3].sum()) == 9
    with pytest.raises(ValueError, match=r"t.png: image is 8x8, expected 16x16"):
        read_image(tmp_path / "t.png", 16)
    bad = np.zeros((8, 8, 4), np.float32)
    bad[0, 0, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(ValueError, match="NaN"):
        read_image(tmp_path / "nan.npy", 8)
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="junk.png: not a readable image"):
        read_image(tmp_path / "junk.png")
