"""checkerboard: PyTorch3D's vertices, faces and colouring, checked square by square."""

from __future__ import annotations

import pytest
import torch

from inverse3d.utils import checkerboard


@pytest.mark.parametrize("radius", [1, 3])
def test_geometry_and_colours(radius):
    board = checkerboard(radius, color1=(0.1, 0.2, 0.3), color2=(0.9, 0.8, 0.7))
    verts, faces = board.verts_packed(), board.faces_packed()
    n = 2 * radius + 1
    assert verts.shape == (n * n, 3) and faces.shape == (8 * radius * radius, 3)
    torch.testing.assert_close(verts.amin(0), torch.tensor([-radius, -radius, 0.0]))
    torch.testing.assert_close(verts.amax(0), torch.tensor([radius, radius, 0.0]))
    assert (board.faces_normals_packed()[:, 2] == 1).all()  # counter-clockwise seen from +z
    atlas = board.textures.atlas_padded()[0, :, 0, 0]  # (F, 3)
    for f in range(faces.shape[0]):
        square = f // 2
        r, c = divmod(square, n - 1)
        centre = verts[faces[f]].mean(0)
        assert -radius + c <= centre[0] <= -radius + c + 1 and -radius + r <= centre[1] <= -radius + r + 1
        want = (0.9, 0.8, 0.7) if (r + c) % 2 else (0.1, 0.2, 0.3)
        torch.testing.assert_close(atlas[f], torch.tensor(want))


def test_pytorch3d_order_and_errors():
    board = checkerboard(1)
    assert board.faces_packed()[:2].tolist() == [[0, 1, 4], [0, 4, 3]]
    with pytest.raises(ValueError, match="radius"):
        checkerboard(0)
    with pytest.raises(ValueError, match="channels"):
        checkerboard(2, color1=(0.0,), color2=(1.0, 1.0))
