"""list / padded / packed conversions of structures.utils against loop references."""

import pytest
import torch
from reference.structures import packed_views, padded_view

from inverse3d.structures import list_to_packed, list_to_padded, packed_to_list, padded_to_list, padded_to_packed


def _items(sizes, width=3):
    return [torch.randn(n, width) for n in sizes]


@pytest.mark.parametrize("sizes", [[3, 0, 5], [2, 2], [0, 4]])
def test_list_to_packed_matches_loop(sizes):
    items = _items(sizes)
    packed, num, first, to_item = list_to_packed(items)
    ref = packed_views(items)
    torch.testing.assert_close(packed, ref["packed"])
    assert num.tolist() == ref["num"].tolist()
    assert first.tolist() == ref["first"].tolist()
    assert to_item.tolist() == ref["to_item"].tolist()
    back = packed_to_list(packed, num.tolist())
    assert all(torch.equal(a, b) for a, b in zip(back, items))


@pytest.mark.parametrize("sizes", [[3, 0, 5], [2, 2]])
def test_padded_round_trip(sizes):
    items = _items(sizes)
    padded = list_to_padded(items, pad_value=-2.0)
    torch.testing.assert_close(padded, padded_view(items, max(sizes), -2.0))
    assert all(torch.equal(a, b) for a, b in zip(padded_to_list(padded, sizes), items))
    torch.testing.assert_close(padded_to_packed(padded, split_size=sizes), torch.cat(items))
    assert padded_to_packed(padded).shape == (len(sizes) * max(sizes), 3)


def test_list_to_padded_options():
    items = [torch.ones(2, 3), torch.ones(1, 2), torch.zeros(0)]
    out = list_to_padded(items)  # per-dimension maxima; the 1-D empty tensor is an empty item
    assert out.shape == (3, 2, 3) and out[1, 0, 2] == 0 and out[2].abs().sum() == 0
    assert list_to_padded(items, pad_size=(4, 5)).shape == (3, 4, 5)
    assert list_to_padded([torch.ones(2, 2)] * 2, equisized=True).shape == (2, 2, 2)
    sizes = [[2, 3], [1, 2], [0, 0]]
    assert [tuple(t.shape) for t in padded_to_list(out, sizes)] == [(2, 3), (1, 2), (0, 0)]


def test_padded_to_packed_with_pad_value():
    padded = torch.tensor([[[1.0, 2.0], [-1.0, -1.0]], [[3.0, 4.0], [5.0, -1.0]]])
    assert padded_to_packed(padded, pad_value=-1.0).tolist() == [[1, 2], [3, 4], [5, -1]]


def test_gradients_flow():
    items = [torch.randn(2, 3, requires_grad=True), torch.randn(3, 3, requires_grad=True)]
    (list_to_padded(items).sum() + list_to_packed(items)[0].sum()).backward()
    assert all(torch.equal(t.grad, torch.full_like(t, 2.0)) for t in items)


def test_bad_inputs():
    with pytest.raises(ValueError):
        list_to_padded([torch.ones(2, 3), torch.ones(2, 3, 1)])
    with pytest.raises(ValueError):
        list_to_padded([torch.ones(2, 3)], pad_size=(2,))
    with pytest.raises(ValueError):
        padded_to_list(torch.ones(2, 3), [1, 2, 3])
    with pytest.raises(ValueError):
        padded_to_packed(torch.ones(2, 3))
    with pytest.raises(ValueError):
        padded_to_packed(torch.ones(2, 3, 3), split_size=[1, 2], pad_value=0.0)
    with pytest.raises(ValueError):
        padded_to_packed(torch.ones(2, 3, 3), split_size=[1, 4])
    with pytest.raises(ValueError):
        packed_to_list(torch.ones(4, 3), [1, 2])
