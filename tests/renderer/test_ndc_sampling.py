"""ndc_grid_sample / ndc_to_grid_sample_coords against a per-point bilinear reference in PyTorch3D's NDC."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from reference.ndc_sampling import naive_ndc_bilinear_sample

from inverse3d.renderer import ndc_grid_sample, ndc_to_grid_sample_coords
from inverse3d.renderer.points.rasterize_points import pixel_centres_ndc


@pytest.mark.parametrize("hw", [(6, 6), (5, 8), (9, 4)])
def test_matches_reference(hw):
    H, W = hw
    images = torch.rand(2, 3, H, W, dtype=torch.float64)
    grid = (torch.rand(2, 4, 5, 2, dtype=torch.float64) * 2 - 1) * 1.3 * torch.tensor([W, H]) / min(H, W)
    out = ndc_grid_sample(images, grid)
    assert out.shape == (2, 3, 4, 5)
    for b in range(2):
        for i in range(4):
            for j in range(5):
                x, y = grid[b, i, j].tolist()
                np.testing.assert_allclose(out[b, :, i, j].numpy(), naive_ndc_bilinear_sample(images[b], x, y),
                                           atol=1e-12)


def test_pixel_centres_sample_their_pixels():
    H, W = 5, 8
    image = torch.rand(1, 2, H, W, dtype=torch.float64)
    xs, ys = pixel_centres_ndc(H, W, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], -1)[None]  # (1, H, W, 2) as (x, y)
    torch.testing.assert_close(ndc_grid_sample(image, grid), image)


def test_coords_and_gradcheck():
    xy = torch.tensor([[1.0, 0.5], [-0.25, -1.0]], dtype=torch.float64)
    torch.testing.assert_close(ndc_to_grid_sample_coords(xy, (4, 8)), torch.tensor([[-0.5, -0.5], [0.125, 1.0]],
                                                                                    dtype=torch.float64))
    torch.testing.assert_close(ndc_to_grid_sample_coords(xy, (8, 4)), torch.tensor([[-1.0, -0.25], [0.25, 0.5]],
                                                                                    dtype=torch.float64))
    image = torch.rand(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    grid = (torch.rand(1, 3, 2, dtype=torch.float64) - 0.5).requires_grad_()
    assert torch.autograd.gradcheck(lambda im, g: ndc_grid_sample(im, g), (image, grid))


def test_bad_input():
    with pytest.raises(ValueError, match="same batch size"):
        ndc_grid_sample(torch.rand(2, 1, 4, 4), torch.rand(3, 5, 2))
    with pytest.raises(ValueError, match="4-dimensional"):
        ndc_grid_sample(torch.rand(2, 4, 4), torch.rand(2, 5, 2))
    with pytest.raises(ValueError, match="== 2"):
        ndc_grid_sample(torch.rand(2, 1, 4, 4), torch.rand(2, 5, 3))
    with pytest.raises(ValueError, match="positive"):
        ndc_to_grid_sample_coords(torch.rand(3, 2), (0, 4))
