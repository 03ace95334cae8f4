"""inverse3d.vis.texture_vis: a TexturesUV map with its uv positions marked."""

import matplotlib
import numpy as np
import pytest
import torch

from inverse3d.renderer import TexturesUV
from inverse3d.vis import texturesuv_image_matplotlib, texturesuv_image_PIL

matplotlib.use("Agg")


def _texture(H=8, W=10):
    maps = torch.zeros(1, H, W, 3)
    maps[..., 1] = 0.5
    # pixel centres (column, row) (0, 0), (5, 3), (9, 7): u = col / (W - 1), v = 1 - row / (H - 1) (align_corners)
    uvs = torch.tensor([[0.0, 1.0], [5 / (W - 1), 1 - 3 / (H - 1)], [1.0, 0.0]])
    return TexturesUV(maps=maps, faces_uvs=torch.tensor([[[0, 1, 2]]]), verts_uvs=uvs[None])


def test_pil_image_draws_a_disc_at_each_uv():
    image = texturesuv_image_PIL(_texture(), radius=1, color=(255, 0, 0))
    array = np.asarray(image)
    assert image.size == (10, 8) and array.dtype == np.uint8
    red = (array == [255, 0, 0]).all(-1)
    for col, row in [(0, 0), (5, 3), (9, 7)]:  # v runs up the image
        assert red[row, col], (row, col)
    assert red.sum() <= 3 * 9  # small discs, nothing else drawn
    untouched = array[~red]
    assert (untouched == [0, 128, 0]).all()  # the map, 0..1 scaled to 0..255


def test_pil_subsample_limits_the_discs():
    np.random.seed(0)
    array = np.asarray(texturesuv_image_PIL(_texture(), radius=1, color=(255, 0, 0), subsample=1))
    assert (array == [255, 0, 0]).all(-1).sum() >= 1
    assert (array == [255, 0, 0]).all(-1).sum() <= 9


def test_matplotlib_draws_map_and_circles():
    import matplotlib.pyplot as plt

    plt.figure()
    texturesuv_image_matplotlib(_texture(), radius=0.5, subsample=None)
    axes = plt.gca()
    assert len(axes.images) == 1 and axes.images[0].get_array().shape == (8, 10, 3)
    centres = sorted(tuple(np.round(p.center, 3)) for p in axes.patches)
    assert centres == [(0.0, 0.0), (5.0, 3.0), (9.0, 7.0)]
    plt.close("all")


def test_more_than_one_mesh_is_refused():
    tex = _texture()
    two = TexturesUV(maps=tex.maps_padded().expand(2, -1, -1, -1), faces_uvs=tex.faces_uvs_padded().expand(2, -1, -1),
                     verts_uvs=tex.verts_uvs_padded().expand(2, -1, -1))
    with pytest.raises(ValueError, match="one mesh"):
        texturesuv_image_PIL(two)
