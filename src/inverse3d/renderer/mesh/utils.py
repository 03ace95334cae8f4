"""Helpers of the mesh renderer (PyTorch3D's ``renderer.mesh.utils``).

- ``interpolate_face_attributes``: per-pixel interpolation of attributes given at the corners of faces.
- ``pack_rectangles`` / ``pack_unique_rectangles``: the layout PyTorch3D uses to put several texture maps side by
  side in one map when ``TexturesUV.join_scene`` (and so ``join_meshes_as_scene``) merges a batch. The layout is
  PyTorch3D's exactly, so joined scenes get the same map and the same uv coordinates.
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch


def interpolate_face_attributes(
    pix_to_face: torch.Tensor,
    barycentric_coords: torch.Tensor,
    face_attributes: torch.Tensor,
) -> torch.Tensor:
    """Interpolates an attribute given at the three corners of every face to every rasterised fragment.

    Differentiable with respect to ``barycentric_coords`` and ``face_attributes``.

    Args:
        pix_to_face: (N, H, W, K) long, packed face index of each fragment, -1 where empty.
        barycentric_coords: (N, H, W, K, 3) float, barycentric coordinates of each fragment in its face.
        face_attributes: (F, 3, D) float, the attribute at the three corners of each packed face.
    Returns:
        (N, H, W, K, D) float: sum_j bary[..., j] * face_attributes[face, j]; 0 where pix_to_face is -1.
    Raises:
        ValueError: on mismatched shapes or a face index outside [-1, F).
    """
    if face_attributes.dim() != 3 or face_attributes.shape[1] != 3:
        raise ValueError(f"face_attributes must have shape (F, 3, D); got {tuple(face_attributes.shape)}")
    if pix_to_face.dim() != 4:
        raise ValueError(f"pix_to_face must have shape (N, H, W, K); got {tuple(pix_to_face.shape)}")
    if barycentric_coords.shape != (*pix_to_face.shape, 3):
        raise ValueError(
            f"barycentric_coords must have shape {(*pix_to_face.shape, 3)} to match pix_to_face; "
            f"got {tuple(barycentric_coords.shape)}"
        )
    num_faces, _, dim = face_attributes.shape
    out_shape = (*pix_to_face.shape, dim)
    dtype = torch.promote_types(barycentric_coords.dtype, face_attributes.dtype)
    if num_faces == 0:
        if (pix_to_face >= 0).any():
            raise ValueError("pix_to_face refers to faces but face_attributes is empty")
        # Keep the graph connected so callers can still backpropagate (zeros).
        return (barycentric_coords.sum() * 0 + face_attributes.sum() * 0).to(dtype).expand(out_shape).clone()
    if pix_to_face.numel() > 0 and int(pix_to_face.max()) >= num_faces:
        raise ValueError(f"pix_to_face holds face index {int(pix_to_face.max())} but there are only {num_faces} faces")

    mask = pix_to_face >= 0  # (N, H, W, K)
    idx = pix_to_face.clamp(min=0).reshape(-1)  # (P,)
    corner_vals = face_attributes.reshape(num_faces, 3 * dim).index_select(0, idx).view(-1, 3, dim)  # (P, 3, D)
    bary = barycentric_coords.reshape(-1, 3)  # (P, 3)
    # sum_j bary_j * corner_j, written as fused multiply-adds (faster than a reduction over a dim of size 3)
    vals = corner_vals[:, 0] * bary[:, 0:1]
    vals = vals.addcmul(corner_vals[:, 1], bary[:, 1:2]).addcmul(corner_vals[:, 2], bary[:, 2:3])
    vals = vals.view(out_shape)  # (N, H, W, K, D)
    return torch.where(mask[..., None], vals, vals.new_zeros(()))


# ----------------------------------------------------------------------------------------------------------------
# Rectangle packing (texture maps of a scene)
# ----------------------------------------------------------------------------------------------------------------


class Rectangle(NamedTuple):
    """A rectangle to pack: its two side lengths and an identifier (equal identifiers are packed once)."""

    xsize: int
    ysize: int
    identifier: int


class PackedRectangle(NamedTuple):
    """Where a rectangle went: offset (x, y), whether its sides were swapped, and whether it is the first of
    its identifier (the one whose content is copied)."""

    x: int
    y: int
    flipped: bool
    is_first: bool


class PackedRectangles(NamedTuple):
    """A packing: the (x, y) size of the enclosing rectangle and the location of each input."""

    total_size: Tuple[int, int]
    locations: List[PackedRectangle]


def _place_beside(
    size: Tuple[int, int], skyline: List[List[int]]
) -> Optional[Tuple[Tuple[int, int], List[List[int]]]]:
    """Finds room for a rectangle to the right of those placed above the first (widest) one.

    The sheet is ``skyline[0][0]`` wide. ``skyline`` lists, from the bottom up, the steps of the right-hand
    boundary of what has been placed: step i covers y from the previous step's top to ``skyline[i][1]`` and is
    occupied up to x = ``skyline[i][0]``; step 0 is the first rectangle, which spans the whole width.

    Returns:
        (x, y) of the rectangle and the new skyline, or None when no run of consecutive steps with room for the
        rectangle's width (``size[0]``) adds up to its height (``size[1]``).
    """
    width, height = size
    sheet = skyline[0][0]
    run_start = None  # first step of the current run of steps with room
    run_x = 0  # where the rectangle would start: the rightmost occupied x over the run
    run_height = 0
    below = 0  # top of the previous step
    for i, (occupied_x, top) in enumerate(skyline):
        if occupied_x <= sheet - width:
            run_height += top - below
            run_x = max(run_x, occupied_x)
            if run_start is None:
                run_start = i
            if run_height >= height:
                y = skyline[run_start - 1][1]
                step = [run_x + width, y + height]
                new = [list(s) for s in skyline]
                if run_height == height:  # the rectangle ends exactly at a step's top: it replaces the run
                    new[run_start: i + 1] = [step]
                elif i > run_start:  # it ends inside step i: steps before i are covered
                    new[run_start: i] = [step]
                else:  # inside the run's only step: split it
                    new.insert(i, step)
                return (run_x, y), new
        else:
            run_start, run_x, run_height = None, 0, 0
        below = top
    return None


def pack_rectangles(sizes: Sequence[Tuple[int, int]]) -> PackedRectangles:
    """Packs rectangles, allowing 90 degree turns, into one enclosing rectangle (PyTorch3D's layout).

    The rectangles are taken with their longer side along x, largest first (ordered by (x size, y size)). The
    largest goes at the origin and fixes the width; the second goes on top of it. Each further one goes to the
    right of those above the first where it fits -- as it is, else turned -- and otherwise on top of the stack.

    Args:
        sizes: (x size, y size) of each rectangle; at least two.
    Returns:
        the enclosing (x, y) size and, for each input in order, its offset and whether it was turned
        (``is_first`` is always True).
    Raises:
        ValueError: fewer than two rectangles.
    """
    if len(sizes) < 2:
        raise ValueError("Cannot pack less than two boxes")
    # (size with the longer side first, input index, turned) sorted as tuples: by size, then index
    queue = sorted(
        ((int(a), int(b)), i, False) if a >= b else ((int(b), int(a)), i, True) for i, (a, b) in enumerate(sizes)
    )
    placed = [PackedRectangle(-1, -1, False, False)] * len(sizes)
    (first_size, first_i, first_turned) = queue.pop()
    placed[first_i] = PackedRectangle(0, 0, first_turned, True)
    (second_size, second_i, second_turned) = queue.pop()
    height = first_size[1]
    placed[second_i] = PackedRectangle(0, height, second_turned, True)
    height += second_size[1]
    skyline = [list(first_size), [second_size[0], height]]
    for size, i, turned in reversed(queue):
        for candidate, flag in ((size, turned), ((size[1], size[0]), not turned)):
            found = _place_beside(candidate, skyline)
            if found is not None:
                (x, y), skyline = found
                placed[i] = PackedRectangle(x, y, flag, True)
                break
        else:  # no room beside the stack: on top of it
            placed[i] = PackedRectangle(0, height, turned, True)
            height += size[1]
            skyline.append([size[0], height])
    return PackedRectangles((first_size[0], height), placed)


def pack_unique_rectangles(rectangles: Sequence[Rectangle]) -> PackedRectangles:
    """:func:`pack_rectangles` with rectangles of equal ``identifier`` packed once and sharing a location.

    Only the first rectangle of each identifier has ``is_first`` True. When all rectangles share one identifier,
    that one rectangle is the whole packing.

    Raises:
        ValueError: fewer than two rectangles.
    """
    if len(rectangles) < 2:
        raise ValueError("Cannot pack less than two boxes")
    slot_of: dict = {}
    unique_sizes: List[Tuple[int, int]] = []
    slots: List[Tuple[int, bool]] = []
    for r in rectangles:
        first = r.identifier not in slot_of
        if first:
            slot_of[r.identifier] = len(unique_sizes)
            unique_sizes.append((r.xsize, r.ysize))
        slots.append((slot_of[r.identifier], first))
    if len(unique_sizes) == 1:
        locations = [PackedRectangle(0, 0, False, first) for _, first in slots]
        return PackedRectangles(unique_sizes[0], locations)
    total, unique_locations = pack_rectangles(unique_sizes)
    return PackedRectangles(total, [unique_locations[slot]._replace(is_first=first) for slot, first in slots])
