"""Reading and writing binvox voxel files (R2N2's ``model.binvox``), aligned to inverse3d's grid convention.

The format (Patrick Min's binvox) is a text header and run-length-encoded bytes::

    #binvox 1
    dim 32 32 32
    translate tx ty tz
    scale s
    data
    <(value, count) byte pairs, value 0 or 1, count 1..255>

The decoded values run over the voxel indices ``(x, y, z)`` with **y fastest, then z, then x**
(linear index ``x * dim^2 + z * dim + y``). Voxel ``i`` along an axis covers the world interval
``[t + s * i / dim, t + s * (i + 1) / dim]`` of that axis (``t`` its translate component): the grid splits the box
``[translate, translate + scale]`` into equal cells.

inverse3d's grids (``inverse3d.ops.voxel_grid``) are ``(D, H, W)`` arrays indexed ``(z, y, x)``, cell-centred over
a box. ``Binvox.voxels`` uses that order, so a ``Binvox`` is an ordinary inverse3d grid over ``Binvox.bounds``:
``index_to_world(idx, voxels.shape, bounds=b.bounds)`` gives its cell centres. ``write_binvox`` with the default
``translate=(-0.5, -0.5, -0.5)`` and ``scale=1`` writes a grid over the cube ``[-0.5, 0.5]^3`` of CONVENTIONS.md,
and reading it back gives the same array and the same world positions.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Sequence, Union

import numpy as np
import torch

PathOrFile = Union[str, os.PathLike, BinaryIO]


@dataclass
class Binvox:
    """A decoded binvox file.

    Attributes:
        voxels: (D, H, W) bool occupancy, axes (z, y, x) as every inverse3d grid (D = H = W = dim).
        translate: (x, y, z) world position of the grid's minimum corner.
        scale: world side length of the whole grid (a cube).
    """

    voxels: torch.Tensor
    translate: tuple[float, float, float] = (-0.5, -0.5, -0.5)
    scale: float = 1.0

    @property
    def bounds(self) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """The box the grid covers, ``(lo_xyz, hi_xyz)``, for ``inverse3d.ops.voxel_grid`` functions."""
        lo = tuple(float(t) for t in self.translate)
        return lo, tuple(t + float(self.scale) for t in lo)  # type: ignore[return-value]

    def to_grid(self, resolution: int = 32, source_bounds=None, bounds=(-0.5, 0.5)) -> torch.Tensor:
        """Resamples the occupancy onto an inverse3d grid of cells over ``bounds`` (nearest cell).

        Args:
            resolution: side of the output grid.
            source_bounds: ``(lo_xyz, hi_xyz)`` world box the binvox grid covers; default ``self.bounds`` (the
                header). R2N2 readers pass a box fitted to the mesh instead (``bbox_aligned_bounds``).
            bounds: the box of the output grid (default the cube [-0.5, 0.5]^3).

        Returns:
            (resolution,) * 3 float occupancy in {0, 1}, axes (z, y, x).
        """
        from inverse3d.ops.voxel_grid import grid_points, world_to_index

        src = self.voxels
        centres = grid_points(resolution, bounds=bounds)  # (R, R, R, 3) world x, y, z
        idx = world_to_index(centres, tuple(src.shape), bounds=source_bounds or self.bounds).round().long()
        size = torch.tensor(src.shape)
        inside = ((idx >= 0) & (idx < size)).all(dim=-1)  # (R, R, R)
        idx = torch.minimum(idx.clamp(min=0), size - 1)
        values = src[idx[..., 0], idx[..., 1], idx[..., 2]] & inside
        return values.float()

    def bbox_aligned_bounds(self, verts: torch.Tensor) -> tuple[list[float], list[float]]:
        """The box to give this grid so that the centres of its occupied cells span the bounding box of ``verts``.

        This is how R2N2's voxels are put in the frame of their ShapeNet mesh (PyTorch3D and Mesh R-CNN do the same
        rather than trust the headers). binvox marks every cell the surface crosses, so the outermost occupied cells
        contain the mesh's extreme points, which on average sit at their centres.

        Args:
            verts: (V, 3) float mesh vertices.

        Returns:
            ``(lo_xyz, hi_xyz)`` for ``to_grid(source_bounds=...)``.
        """
        occ = self.voxels
        if not bool(occ.any()):
            raise ValueError("cannot align an empty voxel grid to a mesh")
        if verts.ndim != 2 or verts.shape[1] != 3 or len(verts) == 0:
            raise ValueError(f"verts must be a non-empty (V, 3) tensor, got shape {tuple(verts.shape)}")
        idx = occ.nonzero().flip(-1).double()  # (K, 3) x, y, z cell indices
        first, last = idx.min(0).values, idx.max(0).values
        v = verts.detach().double().cpu()
        v_lo, v_hi = v.min(0).values, v.max(0).values
        # World size of one cell on each axis; an axis with one occupied layer (or a flat mesh) keeps the header's.
        span = last - first
        header_cell = torch.full_like(span, float(self.scale) / occ.shape[0])
        per_cell = torch.where((span > 0) & (v_hi > v_lo), (v_hi - v_lo) / span.clamp(min=1), header_cell)
        centre_first = torch.where(span > 0, v_lo, (v_lo + v_hi) / 2)  # world centre of the first occupied cell
        dims = torch.tensor(occ.shape, dtype=torch.float64).flip(0)  # x, y, z sizes
        lo = centre_first - (first + 0.5) * per_cell
        hi = lo + dims * per_cell
        return lo.tolist(), hi.tolist()


def _name(f: PathOrFile) -> str:
    return str(f) if isinstance(f, (str, os.PathLike)) else getattr(f, "name", "<binvox stream>")


def _read_bytes(f: PathOrFile) -> bytes:
    if isinstance(f, (str, os.PathLike)):
        path = Path(f)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: binvox file not found")
        return path.read_bytes()
    return f.read()


def read_binvox(f: PathOrFile) -> Binvox:
    """Reads a binvox file (path or binary file object).

    Returns:
        A ``Binvox`` with (D, D, D) bool voxels in inverse3d's (z, y, x) order.

    Raises:
        FileNotFoundError naming a missing file; ValueError naming the file and the problem for a bad header
        (missing ``#binvox``, ``dim``, ``translate``, ``scale`` or ``data`` line, a non-cubic grid) or bad data
        (odd length, values other than 0/1, zero counts, run lengths not adding up to dim^3).
    """
    name = _name(f)
    data = _read_bytes(f)
    stream = io.BytesIO(data)

    def fail(problem: str) -> ValueError:
        return ValueError(f"{name}: not a valid binvox file: {problem}")

    first = stream.readline().strip()
    if not first.startswith(b"#binvox"):
        raise fail(f"first line must be '#binvox 1', got {first[:40]!r}")
    dims = translate = scale = None
    while True:
        line = stream.readline()
        if not line:
            raise fail("the header has no 'data' line")
        words = line.strip().split()
        if not words:
            continue
        key = words[0]
        if key == b"data":
            break
        if key not in (b"dim", b"translate", b"scale"):
            raise fail(f"unknown header line {line.strip()[:40]!r}")
        try:
            if key == b"dim":
                dims = tuple(int(w) for w in words[1:])
            elif key == b"translate":
                translate = tuple(float(w) for w in words[1:])
            else:
                scale = float(words[1])
        except (ValueError, IndexError):
            raise fail(f"malformed header line {line.strip()[:40]!r}") from None
    if dims is None or len(dims) != 3:
        raise fail(f"the header needs 'dim n n n', got {dims}")
    if len(set(dims)) != 1 or dims[0] < 1:
        raise fail(f"only cubic grids are supported, got dim {dims}")
    if translate is None or len(translate) != 3:
        raise fail("the header needs 'translate tx ty tz'")
    if scale is None or not np.isfinite(scale) or scale <= 0:
        raise fail(f"the header needs a positive 'scale', got {scale}")
    n = dims[0]
    raw = np.frombuffer(data, dtype=np.uint8, offset=stream.tell())
    if len(raw) % 2:
        raise fail(f"run-length data has an odd number of bytes ({len(raw)})")
    values, counts = raw[0::2], raw[1::2]
    if values.size and values.max() > 1:
        raise fail(f"voxel values must be 0 or 1, found {int(values.max())}")
    if values.size and counts.min() == 0:
        raise fail("run-length data has a run of length 0")
    total = int(counts.sum(dtype=np.int64))
    if total != n**3:
        raise fail(f"runs cover {total} voxels but dim {n} needs {n ** 3}")
    dense = np.repeat(values.astype(bool), counts)  # linear index x * n^2 + z * n + y
    grid = torch.from_numpy(dense.reshape(n, n, n)).permute(1, 2, 0).contiguous()  # (x, z, y) -> (z, y, x)
    return Binvox(grid, (float(translate[0]), float(translate[1]), float(translate[2])), float(scale))


def _encode(voxels: torch.Tensor) -> bytes:
    """Run-length bytes of a (z, y, x) grid in binvox order (x slowest, then z, then y)."""
    flat = voxels.permute(2, 0, 1).reshape(-1).cpu().numpy().astype(np.uint8)  # (x, z, y) order
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [flat.size]]))
    pieces = (lengths + 254) // 255  # runs longer than 255 are split
    run_of_piece = np.repeat(np.arange(len(lengths)), pieces)
    first_piece = np.cumsum(pieces) - pieces
    piece_in_run = np.arange(len(run_of_piece)) - first_piece[run_of_piece]
    counts = np.minimum(lengths[run_of_piece] - 255 * piece_in_run, 255)
    out = np.empty(2 * len(counts), dtype=np.uint8)
    out[0::2] = flat[starts][run_of_piece]
    out[1::2] = counts
    return out.tobytes()


def write_binvox(
    f: PathOrFile,
    voxels: torch.Tensor,
    translate: Sequence[float] = (-0.5, -0.5, -0.5),
    scale: float = 1.0,
) -> None:
    """Writes a cubic occupancy grid as a binvox file (atomically when given a path).

    Args:
        f: path or binary file object.
        voxels: (D, D, D) bool or {0, 1} occupancy, axes (z, y, x) (inverse3d's order); values >= 0.5 count
            as occupied.
        translate: (x, y, z) world position of the grid's minimum corner.
        scale: world side length of the grid. The defaults describe the cube [-0.5, 0.5]^3.
    """
    if voxels.ndim != 3 or len(set(voxels.shape)) != 1 or voxels.shape[0] < 1:
        raise ValueError(f"write_binvox: voxels must be a cubic (D, D, D) grid, got shape {tuple(voxels.shape)}")
    if len(translate) != 3 or not np.all(np.isfinite(translate)) or not (np.isfinite(scale) and scale > 0):
        raise ValueError(
            f"write_binvox: translate must be 3 finite numbers and scale positive, got {translate}, {scale}"
        )
    tx, ty, tz = (float(t) for t in translate)
    occupied = voxels >= 0.5 if voxels.is_floating_point() else voxels.bool()
    n = voxels.shape[0]
    header = f"#binvox 1\ndim {n} {n} {n}\ntranslate {tx!r} {ty!r} {tz!r}\nscale {float(scale)!r}\ndata\n"
    data = header.encode() + _encode(occupied)
    if isinstance(f, (str, os.PathLike)):
        from inverse3d.datasets.cache import atomic_write_bytes

        atomic_write_bytes(f, data)
    else:
        f.write(data)
