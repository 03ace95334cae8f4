"""ops.packed_to_padded / padded_to_packed against loop references, with gradients."""

import pytest
import torch
from conftest import DEVICES
from reference.structures import packed_to_padded as packed_to_padded_ref
from reference.structures import padded_to_packed as padded_to_packed_ref

from inverse3d.ops import packed_to_padded, padded_to_packed


def _batch(sizes, dim, device, dtype=torch.float32):
    num = torch.tensor(sizes)
    first = (torch.cumsum(num, 0) - num).to(device)
    packed = torch.randn(int(num.sum()), dim, dtype=dtype, device=device)
    return packed, first


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("sizes", [[3, 0, 5, 1], [4], [0, 0], [2, 2, 2]])
def test_packed_to_padded_matches_loop(device, sizes):
    packed, first = _batch(sizes, 3, device)
    max_size = max(sizes + [1])
    out = packed_to_padded(packed, first, max_size)
    ref = packed_to_padded_ref(packed.cpu(), first.cpu(), max_size)
    assert out.shape == (len(sizes), max_size, 3)
    torch.testing.assert_close(out.cpu(), ref)
    back = padded_to_packed(out, first, packed.shape[0])
    torch.testing.assert_close(back, packed)
    torch.testing.assert_close(back.cpu(), padded_to_packed_ref(out.cpu(), first.cpu(), packed.shape[0]))


def test_one_dimensional_inputs_and_truncation():
    packed, first = _batch([3, 4], 1, "cpu")
    flat = packed[:, 0]
    out = packed_to_padded(flat, first, 2)  # rows past 2 are dropped
    assert out.shape == (2, 2)
    torch.testing.assert_close(out, packed_to_padded_ref(packed, first, 2)[..., 0])
    back = padded_to_packed(out, first, 7)  # rows that did not fit come back as zeros
    torch.testing.assert_close(back, padded_to_packed_ref(out[..., None], first, 7)[:, 0])
    assert back[2] == 0 and back[5] == 0 and back[6] == 0


def test_integer_inputs():
    first = torch.tensor([0, 2])
    out = packed_to_padded(torch.tensor([[1, 2], [3, 4], [5, 6]]), first, 2)
    assert out.dtype == torch.int64 and out.tolist() == [[[1, 2], [3, 4]], [[5, 6], [0, 0]]]


def test_gradcheck():
    packed, first = _batch([2, 0, 3], 2, "cpu", torch.float64)
    packed.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: packed_to_padded(x, first, 3), (packed,))
    padded = torch.randn(3, 3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: padded_to_packed(x, first, 5), (padded,))


def test_bad_inputs():
    first = torch.tensor([0, 2])
    with pytest.raises(ValueError, match="inputs"):
        packed_to_padded(torch.zeros(3, 2, 2), first, 2)
    with pytest.raises(ValueError, match="first_idxs"):
        packed_to_padded(torch.zeros(3, 2), first.float(), 2)
    with pytest.raises(ValueError, match="first_idxs"):
        packed_to_padded(torch.zeros(3, 2), first[None], 2)
    with pytest.raises(ValueError, match="items"):
        padded_to_packed(torch.zeros(3, 2, 2), first, 4)


def test_public_name_is_callable_whatever_the_import_order():
    import importlib

    importlib.import_module("inverse3d.ops.packed_to_padded")  # binds the package attribute to the module
    from inverse3d.ops import packed_to_padded as fn

    out = fn(torch.ones(3, 2), torch.tensor([0, 1]), 2)
    assert out.shape == (2, 2, 2)
