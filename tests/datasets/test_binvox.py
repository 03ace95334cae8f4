"""binvox reading and writing: round trips, the axis order of the format, world placement, bad files."""

import io

import numpy as np
import pytest
import torch

from inverse3d.datasets.binvox import Binvox, read_binvox, write_binvox
from inverse3d.ops.voxel_grid import grid_points, index_to_world


def _header(n=4, translate="0 0 0", scale="1"):
    return f"#binvox 1\ndim {n} {n} {n}\ntranslate {translate}\nscale {scale}\ndata\n".encode()


def _rle(dense_xzy: np.ndarray) -> bytes:
    """Naive run-length encoder, one voxel at a time, over the binvox linear order."""
    out, flat = bytearray(), dense_xzy.reshape(-1)
    value, count = int(flat[0]), 0
    for v in flat:
        if int(v) == value and count < 255:
            count += 1
        else:
            out += bytes([value, count])
            value, count = int(v), 1
    out += bytes([value, count])
    return bytes(out)


@pytest.mark.parametrize("n", [1, 5, 8])
def test_round_trip_bytes_and_path(tmp_path, n):
    g = torch.Generator().manual_seed(n)
    voxels = torch.rand(n, n, n, generator=g) > 0.6
    buf = io.BytesIO()
    write_binvox(buf, voxels, translate=(0.1, -0.2, 0.3), scale=2.5)
    buf.seek(0)
    back = read_binvox(buf)
    assert back.voxels.dtype == torch.bool and torch.equal(back.voxels, voxels)
    assert back.translate == (0.1, -0.2, 0.3) and back.scale == 2.5
    path = tmp_path / "model.binvox"
    write_binvox(path, voxels.float())  # float {0, 1} input too
    assert torch.equal(read_binvox(path).voxels, voxels)
    assert [p.name for p in tmp_path.iterdir()] == ["model.binvox"]  # no temporary file left


def test_axis_order_of_the_format():
    # binvox: y fastest, then z, then x. Mark voxel (x=1, y=2, z=3) by hand.
    n = 4
    dense = np.zeros((n, n, n), dtype=np.uint8)  # indexed [x, z, y]
    dense[1, 3, 2] = 1
    grid = read_binvox(io.BytesIO(_header(n) + _rle(dense))).voxels  # (z, y, x)
    assert grid.nonzero().tolist() == [[3, 2, 1]]
    # and our writer produces the same bytes as the naive encoder
    buf = io.BytesIO()
    write_binvox(buf, grid, translate=(0, 0, 0), scale=1)
    assert buf.getvalue().endswith(_rle(dense))


def test_long_runs_split_at_255():
    voxels = torch.zeros(8, 8, 8, dtype=torch.bool)
    voxels[7, 7, 7] = True  # the last voxel in binvox order (x=7, z=7, y=7)
    buf = io.BytesIO()
    write_binvox(buf, voxels)
    data = buf.getvalue().split(b"data\n", 1)[1]
    pairs = np.frombuffer(data, dtype=np.uint8).reshape(-1, 2)
    assert pairs[:, 1].max() == 255 and pairs[:, 1].sum() == 512
    assert pairs[-1].tolist() == [1, 1]
    assert torch.equal(read_binvox(io.BytesIO(buf.getvalue())).voxels, voxels)


def test_world_placement_matches_grid_convention():
    # A grid written with the defaults covers [-0.5, 0.5]^3 with cell centres where voxel_grid puts them.
    n = 8
    b = Binvox(torch.zeros(n, n, n, dtype=torch.bool), translate=(-1.0, 0.0, 2.0), scale=4.0)
    lo, hi = b.bounds
    assert lo == (-1.0, 0.0, 2.0) and hi == (3.0, 4.0, 6.0)
    centre = index_to_world(torch.tensor([[0.0, 1.0, 2.0]]), (n, n, n), bounds=b.bounds)  # (d, h, w)
    # binvox: voxel i spans [t + s i / n, t + s (i + 1) / n]
    expect = [-1.0 + 4.0 * 2.5 / n, 0.0 + 4.0 * 1.5 / n, 2.0 + 4.0 * 0.5 / n]
    torch.testing.assert_close(centre[0], torch.tensor(expect))
    default = Binvox(torch.zeros(n, n, n, dtype=torch.bool))
    assert default.bounds == ((-0.5, -0.5, -0.5), (0.5, 0.5, 0.5))


def test_to_grid_resamples_by_world_position():
    n = 8
    voxels = torch.zeros(n, n, n, dtype=torch.bool)
    voxels[2:6, 1:4, 3:7] = True
    b = Binvox(voxels)
    torch.testing.assert_close(b.to_grid(n), voxels.float())
    up = b.to_grid(16)
    torch.testing.assert_close(up, voxels.float().repeat_interleave(2, 0).repeat_interleave(2, 1).repeat_interleave(2, 2))
    # a grid placed over [0, 1]^3 only touches the positive octant of [-0.5, 0.5]^3
    shifted = Binvox(torch.ones(n, n, n, dtype=torch.bool), translate=(0.0, 0.0, 0.0), scale=1.0).to_grid(n)
    pts = grid_points(n)
    torch.testing.assert_close(shifted, (pts > 0).all(-1).float())


def test_bbox_aligned_bounds():
    n = 8
    voxels = torch.zeros(n, n, n, dtype=torch.bool)
    voxels[2:6, 1:7, 3:5] = True  # z cells 2..5, y 1..6, x 3..4 (centres span the box)
    verts = torch.tensor([[-0.2, -0.3, -0.1], [0.2, 0.3, 0.1]])
    lo, hi = Binvox(voxels, translate=(5.0, 5.0, 5.0), scale=0.1).bbox_aligned_bounds(verts)
    occupied = index_to_world(voxels.nonzero().double(), (n, n, n), bounds=(lo, hi))  # cell centres
    torch.testing.assert_close(occupied.min(0).values, verts[0].double())
    torch.testing.assert_close(occupied.max(0).values, verts[1].double())
    with pytest.raises(ValueError, match="empty"):
        Binvox(torch.zeros(n, n, n, dtype=torch.bool)).bbox_aligned_bounds(verts)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"#notbinvox\n", "first line"),
        (b"#binvox 1\ndim 4 4 4\ntranslate 0 0 0\nscale 1\n", "no 'data' line"),
        (_header(4).replace(b"dim 4 4 4", b"dim 4 4 2"), "cubic"),
        (_header(4).replace(b"dim 4 4 4", b"dim four"), "malformed"),
        (_header(4).replace(b"scale 1", b"scale -1"), "positive 'scale'"),
        (_header(4).replace(b"translate 0 0 0", b"translate 0 0"), "translate"),
        (_header(4).replace(b"scale 1\n", b"scale 1\nbogus 3\n"), "unknown header"),
        (_header(4) + bytes([0, 64, 1]), "odd number"),
        (_header(4) + bytes([0, 60]), "cover 60 voxels"),
        (_header(4) + bytes([2, 64]), "0 or 1"),
        (_header(4) + bytes([0, 0, 0, 64]), "length 0"),
    ],
)
def test_bad_files(data, message):
    with pytest.raises(ValueError, match=message):
        read_binvox(io.BytesIO(data))


def test_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope" / "model.binvox"
    with pytest.raises(FileNotFoundError, match="nope"):
        read_binvox(missing)
    bad = tmp_path / "bad.binvox"
    bad.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="bad.binvox"):
        read_binvox(bad)
    with pytest.raises(ValueError, match="cubic"):
        write_binvox(io.BytesIO(), torch.zeros(2, 3, 3))
    with pytest.raises(ValueError, match="scale"):
        write_binvox(io.BytesIO(), torch.zeros(2, 2, 2), scale=0)
