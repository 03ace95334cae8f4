"""zoom: nearest-neighbour enlargement of tensors and arrays against a loop over the output pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inverse3d.viz.images import zoom


def _zoom_loop(image: np.ndarray, k: int) -> np.ndarray:
    """Output pixel (y, x) is input pixel (y // k, x // k)."""
    *lead, H, W, C = image.shape
    out = np.zeros((*lead, H * k, W * k, C), image.dtype)
    for y in range(H * k):
        for x in range(W * k):
            out[..., y, x, :] = image[..., y // k, x // k, :]
    return out


@pytest.mark.parametrize("shape", [(3, 5, 3), (2, 3, 4, 1)])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_zoom_matches_the_loop(shape, k):
    image = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    expected = _zoom_loop(image, k)
    out = zoom(image, k)
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)
    t = zoom(torch.from_numpy(image).float(), k)
    assert torch.is_tensor(t) and t.dtype == torch.float32
    np.testing.assert_array_equal(t.numpy(), expected.astype(np.float32))


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_zoom_bad_factor(k):
    with pytest.raises(ValueError, match="zoom: factor must be a whole number >= 1"):
        zoom(np.zeros((2, 2, 3)), k)
