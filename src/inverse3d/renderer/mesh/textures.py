"""Textures of a batch of meshes: per-vertex features and UV-mapped images (PyTorch3D semantics).

A texture object holds one texture per mesh of a ``Meshes`` batch and samples it at the rasteriser's fragments:
``sample_textures(fragments, faces_packed=...) -> (N, H, W, K, C)``. ``Meshes`` sets ``_N``,
``_num_verts_per_mesh``, ``_num_faces_per_mesh`` and ``valid`` on the textures it is given and calls
``check_shapes``, ``__getitem__``, ``extend``, ``clone``, ``detach``, ``to``, ``join_batch`` and ``join_scene``.

UV convention (PyTorch3D, OpenGL): u runs left to right across a map, v runs bottom to top, so v = 0 is the
bottom row of the image (the last row of the (H, W, C) tensor). With ``align_corners=True`` the values 0 and 1
hit the centres of the edge pixels.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

from .utils import interpolate_face_attributes

__all__ = [
    "TexturesBase",
    "TexturesVertex",
    "TexturesUV",
    "pack_uv_maps",
]


# ----------------------------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------------------------


def _pad(tensors: Sequence[torch.Tensor], pad_value: float = 0.0) -> torch.Tensor:
    """Stacks (M_i, ...) tensors into (N, max M_i, ...), padding with ``pad_value``."""
    if len(tensors) == 0:
        raise ValueError("cannot pad an empty list")
    return pad_sequence(list(tensors), batch_first=True, padding_value=pad_value)


def _unpad(padded: torch.Tensor, sizes: Sequence[int]) -> list[torch.Tensor]:
    """Splits (N, M, ...) into N tensors (sizes[i], ...)."""
    if len(sizes) != padded.shape[0]:
        raise ValueError(f"got {len(sizes)} sizes for a batch of {padded.shape[0]}")
    return [padded[i, : int(s)] for i, s in enumerate(sizes)]


def _check_finite(t: torch.Tensor, name: str) -> None:
    if t.is_floating_point() and torch.isnan(t).any():
        raise ValueError(f"{name} contains NaN")


def _index_batch(index: Any, n: int) -> list[int] | int:
    """Normalises a batch index (int, slice, list, bool or long tensor) to an int or a list of ints."""
    if isinstance(index, int):
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a batch of {n}")
        return index % n if n else index
    if isinstance(index, slice):
        return list(range(n))[index]
    if isinstance(index, (list, tuple)):
        index = torch.tensor(index, dtype=torch.long) if len(index) else torch.zeros(0, dtype=torch.long)
    if torch.is_tensor(index):
        if index.dtype == torch.bool:
            if index.shape != (n,):
                raise IndexError(f"boolean index must have shape ({n},); got {tuple(index.shape)}")
            return index.nonzero().flatten().tolist()
        if index.dim() == 0:
            return _index_batch(int(index), n)
        out = index.flatten().tolist()
        for i in out:
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of range for a batch of {n}")
        return [i % n for i in out]
    raise IndexError(f"unsupported index type {type(index).__name__}")


class TexturesBase:
    """Behaviour shared by the texture classes (PyTorch3D's ``TexturesBase`` contract).

    Attributes set by subclasses and overwritten by ``Meshes``:
        _N: batch size.
        _num_verts_per_mesh / _num_faces_per_mesh: list of ints, the meshes' true sizes (for padded inputs).
        valid: (N,) bool, False for empty meshes.
        device: torch.device of the tensors.
    """

    _N: int
    valid: torch.Tensor
    device: torch.device

    def __len__(self) -> int:
        return self._N

    def isempty(self) -> bool:
        """True when the batch holds no (non-empty) mesh."""
        if self._N == 0:
            return True
        valid = getattr(self, "valid", None)
        return bool(valid is not None and valid.numel() > 0 and not bool(valid.any()))

    def to(self, device: str | torch.device) -> "TexturesBase":
        """Moves every tensor (and list of tensors) to ``device`` in place; returns self."""
        device = torch.device(device)
        self.__dict__.pop("_nchw_cache", None)
        for name, value in list(self.__dict__.items()):
            if torch.is_tensor(value):
                setattr(self, name, value.to(device))
            elif isinstance(value, (list, tuple)) and value and all(torch.is_tensor(v) for v in value):
                setattr(self, name, [v.to(device) for v in value])
        self.device = device
        return self

    def _extend(self, N: int, props: Sequence[str]) -> dict[str, Any]:
        """Returns each property (attribute or method result) with every batch element repeated N times."""
        if not isinstance(N, int) or isinstance(N, bool):
            raise ValueError("N must be an integer.")
        if N <= 0:
            raise ValueError("N must be > 0.")
        out: dict[str, Any] = {}
        for p in props:
            value = getattr(self, p)
            if callable(value):
                value = value()
            if torch.is_tensor(value):
                out[p] = value.repeat_interleave(N, dim=0)
            elif isinstance(value, (list, tuple)):
                out[p] = list(itertools.chain.from_iterable([v] * N for v in value))
            else:
                raise ValueError(f"cannot extend property {p!r} of type {type(value).__name__}")
        return out

    def sample_textures(self, fragments: Any, **kwargs: Any) -> torch.Tensor:
        """Returns (N, H, W, K, C) texture values at the fragments; implemented by subclasses."""
        raise NotImplementedError()

    def faces_verts_textures_packed(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Returns (sum F_i, 3, C), the texture at the three corners of every packed face."""
        raise NotImplementedError()

    def submeshes(self, vertex_ids_list: Any, faces_ids_list: Any) -> "TexturesBase":
        raise NotImplementedError(f"{self.__class__.__name__} does not support submeshes")

    def clone(self) -> "TexturesBase":
        raise NotImplementedError()

    def detach(self) -> "TexturesBase":
        raise NotImplementedError()

    def __getitem__(self, index: Any) -> "TexturesBase":
        raise NotImplementedError()

    def extend(self, N: int) -> "TexturesBase":
        raise NotImplementedError()

    def join_batch(self, textures: list["TexturesBase"]) -> "TexturesBase":
        raise NotImplementedError()

    def join_scene(self) -> "TexturesBase":
        raise NotImplementedError()

    def check_shapes(self, batch_size: int, max_num_verts: int, max_num_faces: int) -> bool:
        raise NotImplementedError()


# ----------------------------------------------------------------------------------------------------------------
# TexturesVertex
# ----------------------------------------------------------------------------------------------------------------


class TexturesVertex(TexturesBase):
    """A C-dimensional feature (e.g. RGB colour) per vertex, interpolated across faces with barycentrics.

    Args:
        verts_features: a list of N tensors (V_i, C) or a padded tensor (N, V, C).
    """

    def __init__(self, verts_features: torch.Tensor | Sequence[torch.Tensor]) -> None:
        if isinstance(verts_features, (list, tuple)):
            if not all(torch.is_tensor(v) and v.dim() == 2 for v in verts_features):
                raise ValueError("Expected verts_features to be a list of tensors of shape (V, C).")
            if len({v.shape[1] for v in verts_features}) > 1:
                raise ValueError(
                    f"verts_features must all have the same C; got {[tuple(v.shape) for v in verts_features]}"
                )
            self._verts_features_list: list[torch.Tensor] | None = list(verts_features)
            self._verts_features_padded: torch.Tensor | None = None
            self._N = len(verts_features)
            self._num_verts_per_mesh = [int(v.shape[0]) for v in verts_features]
            self.device = verts_features[0].device if self._N > 0 else torch.device("cpu")
            if any(v.device != self.device for v in verts_features):
                raise ValueError("verts_features must all be on the same device")
            for v in verts_features:
                _check_finite(v, "verts_features")
        elif torch.is_tensor(verts_features):
            if verts_features.dim() != 3:
                raise ValueError(f"Expected verts_features to be of shape (N, V, C); got {tuple(verts_features.shape)}")
            _check_finite(verts_features, "verts_features")
            self._verts_features_padded = verts_features
            self._verts_features_list = None
            self._N = int(verts_features.shape[0])
            self._num_verts_per_mesh = [int(verts_features.shape[1])] * self._N
            self.device = verts_features.device
        else:
            raise ValueError("verts_features must be a tensor or list of tensors")
        self.valid = torch.ones((self._N,), dtype=torch.bool, device=self.device)

    def __repr__(self) -> str:
        return f"TexturesVertex(N={self._N}, verts_per_mesh={self._num_verts_per_mesh})"

    # views -------------------------------------------------------------------------------------------------
    def verts_features_list(self) -> list[torch.Tensor]:
        """N tensors (V_i, C)."""
        if self._verts_features_list is None:
            assert self._verts_features_padded is not None
            self._verts_features_list = _unpad(self._verts_features_padded, self._num_verts_per_mesh)
        return self._verts_features_list

    def verts_features_padded(self) -> torch.Tensor:
        """(N, max V_i, C), zero-padded."""
        if self._verts_features_padded is None:
            feats = self.verts_features_list()
            if self._N == 0:
                self._verts_features_padded = torch.zeros((0, 0, 3), device=self.device)
            else:
                self._verts_features_padded = _pad(feats, 0.0)
        return self._verts_features_padded

    def verts_features_packed(self) -> torch.Tensor:
        """(sum V_i, C)."""
        feats = self.verts_features_list()
        if len(feats) == 0:
            return torch.zeros((0, 3), device=self.device)
        return torch.cat(feats, dim=0)

    # sampling ----------------------------------------------------------------------------------------------
    def faces_verts_textures_packed(self, faces_packed: torch.Tensor | None = None) -> torch.Tensor:
        """Returns (F, 3, C): the features at the corners of the packed faces ``faces_packed`` (F, 3)."""
        if faces_packed is None:
            raise ValueError("TexturesVertex needs faces_packed (the meshes' packed faces) to find face corners")
        feats = self.verts_features_packed()  # (V, C)
        if faces_packed.numel() > 0 and int(faces_packed.max()) >= feats.shape[0]:
            raise ValueError(
                f"faces_packed refers to vertex {int(faces_packed.max())} but there are {feats.shape[0]} "
                "vertex features; do the textures match the meshes?"
            )
        return feats[faces_packed]

    def sample_textures(self, fragments: Any, faces_packed: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:
        """Interpolates the vertex features at every fragment.

        Args:
            fragments: rasteriser output; uses ``pix_to_face`` (N, H, W, K) and ``bary_coords`` (N, H, W, K, 3).
            faces_packed: (F, 3) the meshes' packed faces (``Meshes.faces_packed()``).
        Returns:
            (N, H, W, K, C) features; 0 where a fragment is empty.
        """
        faces_verts = self.faces_verts_textures_packed(faces_packed)  # (F, 3, C)
        return interpolate_face_attributes(fragments.pix_to_face, fragments.bary_coords, faces_verts)

    # batch operations ----------------------------------------------------------------------------------------
    def clone(self) -> "TexturesVertex":
        tex = self.__class__([f.clone() for f in self.verts_features_list()])
        if self._verts_features_padded is not None:
            tex._verts_features_padded = self._verts_features_padded.clone()
        tex._num_verts_per_mesh = list(self._num_verts_per_mesh)
        tex.valid = self.valid.clone()
        return tex

    def detach(self) -> "TexturesVertex":
        tex = self.__class__([f.detach() for f in self.verts_features_list()])
        if self._verts_features_padded is not None:
            tex._verts_features_padded = self._verts_features_padded.detach()
        tex._num_verts_per_mesh = list(self._num_verts_per_mesh)
        tex.valid = self.valid.detach()
        return tex

    def __getitem__(self, index: Any) -> "TexturesVertex":
        idx = _index_batch(index, self._N)
        feats = self.verts_features_list()
        if isinstance(idx, int):
            tex = self.__class__([feats[idx]])
            tex.valid = self.valid[idx : idx + 1].clone()
        else:
            if len(idx) == 0:
                return self.__class__(torch.zeros((0, 0, self._channels()), device=self.device))
            tex = self.__class__([feats[i] for i in idx])
            tex.valid = self.valid[idx].clone()
        return tex

    def _channels(self) -> int:
        feats = self.verts_features_list()
        return int(feats[0].shape[-1]) if feats else 3

    def extend(self, N: int) -> "TexturesVertex":
        """Returns a batch with each texture repeated N times in place: (t0, t0, ..., t1, t1, ...)."""
        props = self._extend(N, ["verts_features_list", "_num_verts_per_mesh"])
        tex = self.__class__(props["verts_features_list"])
        tex._num_verts_per_mesh = props["_num_verts_per_mesh"]
        tex.valid = self.valid.repeat_interleave(N)
        return tex

    def join_batch(self, textures: list["TexturesVertex"]) -> "TexturesVertex":
        """Returns one batch holding self's textures followed by those of ``textures``."""
        if not all(isinstance(t, TexturesVertex) for t in textures):
            raise ValueError("All textures must be of type TexturesVertex.")
        feats = list(self.verts_features_list())
        nverts = list(self._num_verts_per_mesh)
        for t in textures:
            feats += t.verts_features_list()
            nverts += t._num_verts_per_mesh
        tex = self.__class__(feats)
        tex._num_verts_per_mesh = nverts
        return tex

    def join_scene(self) -> "TexturesVertex":
        """Returns a batch of one texture, the concatenation of the batch (for ``join_meshes_as_scene``)."""
        return self.__class__([self.verts_features_packed()])

    def check_shapes(self, batch_size: int, max_num_verts: int, max_num_faces: int) -> bool:
        """True when the padded features are (batch_size, max_num_verts, C)."""
        return tuple(self.verts_features_padded().shape[:2]) == (batch_size, max_num_verts)

    def submeshes(self, vertex_ids_list: list[list[torch.Tensor]], faces_ids_list: Any) -> "TexturesVertex":
        """Features of the kept vertices of each submesh (see ``Meshes.submeshes``)."""
        feats = self.verts_features_list()
        if len(vertex_ids_list) != len(feats):
            raise IndexError("verts_features_list must be of the same length as vertex_ids_list.")
        return self.__class__([f[ids] for ids_list, f in zip(vertex_ids_list, feats) for ids in ids_list])


# ----------------------------------------------------------------------------------------------------------------
# TexturesUV
# ----------------------------------------------------------------------------------------------------------------


def _uv_to_grid(uv: torch.Tensor) -> torch.Tensor:
    """Maps uv in [0, 1]^2 (v up) to grid_sample's [-1, 1]^2 (y down)."""
    return torch.stack([uv[..., 0] * 2.0 - 1.0, 1.0 - uv[..., 1] * 2.0], dim=-1)


def _shelf_pack(sizes: Sequence[tuple[int, int]]) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """Places rectangles (h, w) without overlap, tallest first, on shelves of a roughly square sheet.

    Returns:
        the (row, col) of each rectangle's top-left corner and the (H, W) of the sheet.
    """
    if not sizes:
        return [], (0, 0)
    max_w = max(w for _, w in sizes)
    area = sum(h * w for h, w in sizes)
    width_limit = max(max_w, int(math.ceil(math.sqrt(area))))
    order = sorted(range(len(sizes)), key=lambda i: (-sizes[i][0], -sizes[i][1]))
    positions: list[tuple[int, int]] = [(0, 0)] * len(sizes)
    row = col = shelf_h = used_w = 0
    for i in order:
        h, w = sizes[i]
        if col > 0 and col + w > width_limit:
            row += shelf_h
            col = shelf_h = 0
        positions[i] = (row, col)
        col += w
        shelf_h = max(shelf_h, h)
        used_w = max(used_w, col)
    return positions, (row + shelf_h, used_w)


def _same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    """True when a and b hold the same values and sharing them loses no gradient."""
    if a.shape != b.shape or a.dtype != b.dtype or a.device != b.device:
        return False
    if a.data_ptr() == b.data_ptr() and a.stride() == b.stride():
        return True
    if a.requires_grad or b.requires_grad:
        return False
    return bool(torch.equal(a, b))


def pack_uv_maps(
    maps: Sequence[torch.Tensor],
    verts_uvs: Sequence[torch.Tensor],
    align_corners: bool = True,
    padding_mode: str = "border",
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Packs several texture maps into one atlas image and remaps each map's uv coordinates into it.

    Identical maps are stored once. Sampling the atlas at the remapped uvs gives the same values as sampling each
    map at its own uvs, for uvs within [0, 1] (the atlas has no per-map wrap-around or padding beyond that).
    Differentiable with respect to the maps and the uvs.

    Args:
        maps: M tensors (H_i, W_i, C).
        verts_uvs: M tensors (V_i, 2), uv coordinates into the matching map.
        align_corners: the ``grid_sample`` convention the uvs follow; with False each map gets a one-pixel
            border (copies of its edge, or zeros when ``padding_mode="zeros"``).
        padding_mode: the ``grid_sample`` padding mode of the textures.
    Returns:
        atlas: (H, W, C) image holding every map.
        verts_uvs: M tensors (V_i, 2), the uvs remapped into the atlas.
    """
    if len(maps) != len(verts_uvs):
        raise ValueError(f"got {len(maps)} maps but {len(verts_uvs)} uv sets")
    if len(maps) == 0:
        raise ValueError("pack_uv_maps needs at least one map")
    if len({m.shape[-1] for m in maps}) != 1 or any(m.dim() != 3 for m in maps):
        raise ValueError(f"maps must all be (H, W, C) with the same C; got {[tuple(m.shape) for m in maps]}")

    border = 0 if align_corners else 1
    unique: list[int] = []  # index into maps of each distinct map
    slot = []  # which distinct map each map uses
    for i, m in enumerate(maps):
        for u_pos, u in enumerate(unique):
            if _same_tensor(maps[u], m):
                slot.append(u_pos)
                break
        else:
            slot.append(len(unique))
            unique.append(i)
    sizes = [(maps[u].shape[0] + 2 * border, maps[u].shape[1] + 2 * border) for u in unique]
    positions, (total_h, total_w) = _shelf_pack(sizes)

    # Paste each distinct map (with its border) into a zero atlas; slice assignment keeps gradients to the maps.
    atlas = maps[0].new_zeros((total_h, total_w, maps[0].shape[-1]))
    for u, (r, c) in zip(unique, positions):
        m = maps[u]
        if border:
            mode = "constant" if padding_mode == "zeros" else "replicate"
            m = F.pad(m.permute(2, 0, 1)[None], (1, 1, 1, 1), mode=mode)[0].permute(1, 2, 0)
        atlas[r : r + m.shape[0], c : c + m.shape[1]] = m

    new_uvs = []
    for i, uvs in enumerate(verts_uvs):
        r, c = positions[slot[i]]
        h, w = maps[i].shape[0], maps[i].shape[1]
        r, c = r + border, c + border
        u, v = uvs[..., 0], uvs[..., 1]
        if align_corners:
            # column u * (w - 1) of the map is column c + u * (w - 1) of the atlas, and u' * (W - 1) hits it
            u_new = (c + u * (w - 1)) / max(total_w - 1, 1)
            v_new = 1.0 - (r + (1.0 - v) * (h - 1)) / max(total_h - 1, 1)
        else:
            # pixel edges: u * w of the map is c + u * w of the atlas, hit by u' * W
            u_new = (c + u * w) / total_w
            v_new = 1.0 - (r + (1.0 - v) * h) / total_h
        new_uvs.append(torch.stack([u_new, v_new], dim=-1))
    return atlas, new_uvs


class TexturesUV(TexturesBase):
    """One texture image per mesh, mapped with per-face-corner uv coordinates (PyTorch3D's ``TexturesUV``).

    Maps of different sizes may be mixed in a batch (a list): each is sampled at its own resolution.

    Args:
        maps: (N, H, W, C) tensor, or a list of N tensors (H_i, W_i, C) whose sizes may differ.
        faces_uvs: (N, F, 3) long or a list of N (F_i, 3): for each face corner, an index into ``verts_uvs``.
        verts_uvs: (N, T, 2) float or a list of N (T_i, 2): uv coordinates in [0, 1] (v up).
        padding_mode: ``grid_sample`` padding for uvs outside [0, 1]: "border", "zeros" or "reflection".
        align_corners: ``grid_sample``'s convention; True means uv 0 and 1 are the centres of the edge pixels.
        sampling_mode: "bilinear" or "nearest".
    """

    def __init__(
        self,
        maps: torch.Tensor | Sequence[torch.Tensor],
        faces_uvs: torch.Tensor | Sequence[torch.Tensor],
        verts_uvs: torch.Tensor | Sequence[torch.Tensor],
        padding_mode: str = "border",
        align_corners: bool = True,
        sampling_mode: str = "bilinear",
    ) -> None:
        if padding_mode not in ("border", "zeros", "reflection"):
            raise ValueError(f"padding_mode must be 'border', 'zeros' or 'reflection'; got {padding_mode!r}")
        if sampling_mode not in ("bilinear", "nearest"):
            raise ValueError(f"sampling_mode must be 'bilinear' or 'nearest'; got {sampling_mode!r}")
        self.padding_mode = padding_mode
        self.align_corners = bool(align_corners)
        self.sampling_mode = sampling_mode

        # faces_uvs
        if isinstance(faces_uvs, (list, tuple)):
            for f in faces_uvs:
                if not torch.is_tensor(f) or f.dim() != 2 or f.shape[-1] != 3:
                    raise ValueError(f"Expected faces_uvs to be of shape (F, 3); got {getattr(f, 'shape', f)!r}")
            self._faces_uvs_list: list[torch.Tensor] | None = [f.long() for f in faces_uvs]
            self._faces_uvs_padded: torch.Tensor | None = None
            self._N = len(faces_uvs)
            self._num_faces_per_mesh = [int(f.shape[0]) for f in faces_uvs]
            self.device = faces_uvs[0].device if self._N > 0 else torch.device("cpu")
        elif torch.is_tensor(faces_uvs):
            if faces_uvs.dim() != 3 or faces_uvs.shape[-1] != 3:
                raise ValueError(f"Expected faces_uvs to be of shape (N, F, 3); got {tuple(faces_uvs.shape)}")
            self._faces_uvs_padded = faces_uvs.long()
            self._faces_uvs_list = None
            self._N = int(faces_uvs.shape[0])
            self._num_faces_per_mesh = [int(faces_uvs.shape[1])] * self._N
            self.device = faces_uvs.device
        else:
            raise ValueError("Expected faces_uvs to be a tensor or list")

        # verts_uvs
        if isinstance(verts_uvs, (list, tuple)):
            for v in verts_uvs:
                if not torch.is_tensor(v) or v.dim() != 2 or v.shape[-1] != 2:
                    raise ValueError(f"Expected verts_uvs to be of shape (V, 2); got {getattr(v, 'shape', v)!r}")
                _check_finite(v, "verts_uvs")
            if len(verts_uvs) != self._N:
                raise ValueError("verts_uvs and faces_uvs must have the same batch dimension")
            if any(v.device != self.device for v in verts_uvs):
                raise ValueError("verts_uvs and faces_uvs must be on the same device")
            self._verts_uvs_list: list[torch.Tensor] | None = list(verts_uvs)
            self._verts_uvs_padded: torch.Tensor | None = None
        elif torch.is_tensor(verts_uvs):
            if verts_uvs.dim() != 3 or verts_uvs.shape[-1] != 2 or verts_uvs.shape[0] != self._N:
                raise ValueError(
                    f"Expected verts_uvs to be of shape (N, V, 2) with N={self._N}; got {tuple(verts_uvs.shape)}"
                )
            if verts_uvs.device != self.device:
                raise ValueError("verts_uvs and faces_uvs must be on the same device")
            _check_finite(verts_uvs, "verts_uvs")
            self._verts_uvs_padded = verts_uvs
            self._verts_uvs_list = None
        else:
            raise ValueError("Expected verts_uvs to be a tensor or list")

        # maps
        if isinstance(maps, (list, tuple)):
            if len(maps) != self._N:
                raise ValueError(
                    f"Expected one texture map per mesh in the batch: {len(maps)} maps for {self._N} meshes"
                )
            if not all(torch.is_tensor(m) and m.dim() == 3 for m in maps):
                raise ValueError("Invalid number of dimensions in texture maps: each must be (H, W, C)")
            if len({m.shape[-1] for m in maps}) > 1:
                raise ValueError("Inconsistent number of channels in maps")
            self._maps_list: list[torch.Tensor] | None = list(maps)
            self._maps_padded: torch.Tensor | None = None
        elif torch.is_tensor(maps):
            if maps.dim() != 4 or maps.shape[0] != self._N:
                raise ValueError(f"Expected maps to be of shape (N, H, W, C) with N={self._N}; got {tuple(maps.shape)}")
            self._maps_padded = maps
            self._maps_list = None
        else:
            raise ValueError("Expected maps to be a tensor or list of tensors.")
        for m in self._maps_list if self._maps_list is not None else [maps]:  # type: ignore[list-item]
            if m.device != self.device:
                raise ValueError("maps must be on the same device as verts/faces uvs.")
            if not m.is_floating_point():
                raise ValueError(f"maps must be floating point (e.g. RGB in [0, 1]); got {m.dtype}")
            if m.shape[-3] == 0 or m.shape[-2] == 0:
                raise ValueError(f"texture maps must not be empty; got shape {tuple(m.shape)}")
            _check_finite(m, "maps")

        self._check_indices()
        self.valid = torch.ones((self._N,), dtype=torch.bool, device=self.device)

    def _check_indices(self) -> None:
        for i, (f, v) in enumerate(zip(self.faces_uvs_list(), self.verts_uvs_list())):
            if f.numel() and (int(f.min()) < 0 or int(f.max()) >= v.shape[0]):
                raise ValueError(
                    f"faces_uvs of mesh {i} index uv {int(f.min())}..{int(f.max())} "
                    f"but there are {v.shape[0]} verts_uvs"
                )

    def __repr__(self) -> str:
        sizes = [tuple(m.shape) for m in self.maps_list()]
        return f"TexturesUV(N={self._N}, maps={sizes}, faces_per_mesh={self._num_faces_per_mesh})"

    def _like(self, maps: Any, faces_uvs: Any, verts_uvs: Any) -> "TexturesUV":
        return self.__class__(
            maps=maps,
            faces_uvs=faces_uvs,
            verts_uvs=verts_uvs,
            padding_mode=self.padding_mode,
            align_corners=self.align_corners,
            sampling_mode=self.sampling_mode,
        )

    # views -------------------------------------------------------------------------------------------------
    def faces_uvs_list(self) -> list[torch.Tensor]:
        """N long tensors (F_i, 3)."""
        if self._faces_uvs_list is None:
            assert self._faces_uvs_padded is not None
            self._faces_uvs_list = _unpad(self._faces_uvs_padded, self._num_faces_per_mesh)
        return self._faces_uvs_list

    def faces_uvs_padded(self) -> torch.Tensor:
        """(N, max F_i, 3), zero-padded."""
        if self._faces_uvs_padded is None:
            lst = self.faces_uvs_list()
            self._faces_uvs_padded = (
                _pad(lst, 0) if lst else torch.zeros((0, 0, 3), dtype=torch.long, device=self.device)
            )
        return self._faces_uvs_padded

    def verts_uvs_list(self) -> list[torch.Tensor]:
        """N tensors (T_i, 2). From a padded input every element keeps all T rows (uv counts are not tracked)."""
        if self._verts_uvs_list is None:
            assert self._verts_uvs_padded is not None
            self._verts_uvs_list = list(self._verts_uvs_padded.unbind(0))
        return self._verts_uvs_list

    def verts_uvs_padded(self) -> torch.Tensor:
        """(N, max T_i, 2), zero-padded."""
        if self._verts_uvs_padded is None:
            lst = self.verts_uvs_list()
            self._verts_uvs_padded = _pad(lst, 0.0) if lst else torch.zeros((0, 0, 2), device=self.device)
        return self._verts_uvs_padded

    def maps_list(self) -> list[torch.Tensor]:
        """N maps (H_i, W_i, C), each at its own size."""
        if self._maps_list is not None:
            return self._maps_list
        assert self._maps_padded is not None
        return list(self._maps_padded.unbind(0))

    def maps_padded(self) -> torch.Tensor:
        """(N, max H_i, max W_i, C). Maps smaller than the largest are resized bilinearly (as PyTorch3D does);
        sampling never uses this resized copy."""
        if self._maps_padded is None:
            maps = self.maps_list()
            if not maps:
                return torch.zeros((0, 0, 0, 3), device=self.device)
            size = (max(m.shape[0] for m in maps), max(m.shape[1] for m in maps))
            out = []
            for m in maps:
                if tuple(m.shape[:2]) != size:
                    m = F.interpolate(
                        m.permute(2, 0, 1)[None], size=size, mode="bilinear", align_corners=self.align_corners
                    )[0].permute(1, 2, 0)
                out.append(m)
            self._maps_padded = torch.stack(out, dim=0)
        return self._maps_padded

    def faces_verts_uvs_packed(self) -> torch.Tensor:
        """(sum F_i, 3, 2): the uv coordinates at the three corners of every packed face."""
        per_mesh = [v[f] for f, v in zip(self.faces_uvs_list(), self.verts_uvs_list())]
        if not per_mesh:
            return torch.zeros((0, 3, 2), device=self.device)
        return torch.cat(per_mesh, dim=0)

    # sampling ----------------------------------------------------------------------------------------------
    def _maps_nchw(self, ids: list[int] | None) -> torch.Tensor:
        """The maps ``ids`` (all when None; one size) as a contiguous (n, C, H, W) tensor for grid_sample.

        grid_sample is several times faster on contiguous channels-first maps than on permuted channels-last
        ones, so the converted maps are cached while no map needs gradients (the cache key holds each map's
        identity, storage and version, so in-place edits and device moves are seen).
        """
        if ids is None and self._maps_list is None and self._maps_padded is not None:
            maps: list[torch.Tensor] = [self._maps_padded]
            stack = lambda: self._maps_padded.permute(0, 3, 1, 2).contiguous()  # noqa: E731
        else:
            maps = self.maps_list()
            maps = maps if ids is None else [maps[i] for i in ids]
            stack = lambda: torch.stack(maps, dim=0).permute(0, 3, 1, 2).contiguous()  # noqa: E731
        if any(m.requires_grad for m in maps):
            return stack()
        key = tuple((id(m), m.data_ptr(), m._version, m.device) for m in maps)
        cache = self.__dict__.setdefault("_nchw_cache", {})
        if key not in cache:
            if len(cache) > 8:
                cache.clear()
            cache[key] = stack()
        return cache[key]

    def _sample_maps(self, grid: torch.Tensor) -> torch.Tensor:
        """Samples map n at grid[n].

        Args:
            grid: (N, A, B, 2) grid_sample coordinates in [-1, 1] (x right, y down).
        Returns:
            (N, C, A, B) samples, in the maps' dtype.
        """
        kwargs = dict(mode=self.sampling_mode, padding_mode=self.padding_mode, align_corners=self.align_corners)
        maps_list = self.maps_list()
        dtype = maps_list[0].dtype
        # Group the maps by size and sample each group with one call.
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, m in enumerate(maps_list):
            groups.setdefault(tuple(m.shape), []).append(i)
        if len(groups) == 1:
            return F.grid_sample(self._maps_nchw(None), grid.to(dtype), **kwargs)
        out = grid.new_zeros((grid.shape[0], maps_list[0].shape[-1], grid.shape[1], grid.shape[2]), dtype=dtype)
        for ids in groups.values():
            idx = torch.tensor(ids, device=grid.device)
            sampled = F.grid_sample(self._maps_nchw(ids), grid.index_select(0, idx).to(dtype), **kwargs)
            out = out.index_copy(0, idx, sampled)
        return out

    def sample_textures(self, fragments: Any, **kwargs: Any) -> torch.Tensor:
        """Interpolates the uvs at every fragment and samples the mesh's map there.

        Args:
            fragments: rasteriser output; uses ``pix_to_face`` (N, H, W, K) and ``bary_coords`` (N, H, W, K, 3).
                pix_to_face indexes the packed faces of the batch (the faces of mesh n belong to image n).
            kwargs: ignored (``faces_packed`` is accepted for a uniform call).
        Returns:
            (N, H, W, K, C) sampled texture, differentiable with respect to maps, uvs and barycentrics.
        """
        N, H, W, K = fragments.pix_to_face.shape
        if N != self._N:
            raise ValueError(f"fragments have batch size {N} but the textures have {self._N}")
        faces_verts_uvs = self.faces_verts_uvs_packed()  # (F, 3, 2)
        pixel_uvs = interpolate_face_attributes(fragments.pix_to_face, fragments.bary_coords, faces_verts_uvs)
        grid = _uv_to_grid(pixel_uvs).reshape(N, H, W * K, 2)  # (N, H, W*K, 2)
        texels = self._sample_maps(grid)  # (N, C, H, W*K)
        C = texels.shape[1]
        return texels.reshape(N, C, H, W, K).permute(0, 2, 3, 4, 1)  # (N, H, W, K, C)

    def faces_verts_textures_packed(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Returns (sum F_i, 3, C): the map sampled at the three uv corners of every packed face."""
        lists = self.faces_uvs_list()
        per_mesh = [v[f] for f, v in zip(lists, self.verts_uvs_list())]  # (F_i, 3, 2)
        if not per_mesh:
            return torch.zeros((0, 3, 3), device=self.device)
        grid = _uv_to_grid(_pad(per_mesh, 0.0))  # (N, maxF, 3, 2)
        texels = self._sample_maps(grid).permute(0, 2, 3, 1)  # (N, maxF, 3, C)
        return torch.cat([texels[i, : f.shape[0]] for i, f in enumerate(lists)], dim=0)

    # batch operations ----------------------------------------------------------------------------------------
    def _copy_meta(self, tex: "TexturesUV") -> "TexturesUV":
        tex._num_faces_per_mesh = list(self._num_faces_per_mesh)
        tex.valid = self.valid.clone()
        return tex

    def clone(self) -> "TexturesUV":
        tex = self._like(
            [m.clone() for m in self.maps_list()],
            [f.clone() for f in self.faces_uvs_list()],
            [v.clone() for v in self.verts_uvs_list()],
        )
        if self._maps_list is None and self._maps_padded is not None:
            tex._maps_padded, tex._maps_list = self._maps_padded.clone(), None
        return self._copy_meta(tex)

    def detach(self) -> "TexturesUV":
        tex = self._like(
            [m.detach() for m in self.maps_list()],
            [f.detach() for f in self.faces_uvs_list()],
            [v.detach() for v in self.verts_uvs_list()],
        )
        if self._maps_list is None and self._maps_padded is not None:
            tex._maps_padded, tex._maps_list = self._maps_padded.detach(), None
        return self._copy_meta(tex)

    def __getitem__(self, index: Any) -> "TexturesUV":
        idx = _index_batch(index, self._N)
        ids = [idx] if isinstance(idx, int) else idx
        maps, faces, verts = self.maps_list(), self.faces_uvs_list(), self.verts_uvs_list()
        if not ids:
            raise IndexError("indexing TexturesUV with an empty selection is not supported")
        tex = self._like([maps[i] for i in ids], [faces[i] for i in ids], [verts[i] for i in ids])
        tex.valid = self.valid[ids].clone()
        return tex

    def extend(self, N: int) -> "TexturesUV":
        """Returns a batch with each texture repeated N times in place: (t0, t0, ..., t1, t1, ...)."""
        props = self._extend(N, ["maps_list", "faces_uvs_list", "verts_uvs_list", "_num_faces_per_mesh"])
        if self._maps_list is None and self._maps_padded is not None:
            maps: Any = self._maps_padded.repeat_interleave(N, dim=0)
        else:
            maps = props["maps_list"]
        tex = self._like(maps, props["faces_uvs_list"], props["verts_uvs_list"])
        tex._num_faces_per_mesh = props["_num_faces_per_mesh"]
        tex.valid = self.valid.repeat_interleave(N)
        return tex

    def _check_compatible(self, textures: list["TexturesUV"]) -> None:
        if not all(isinstance(t, TexturesUV) for t in textures):
            raise ValueError("All textures must be of type TexturesUV.")
        for attr in ("padding_mode", "align_corners", "sampling_mode"):
            if any(getattr(t, attr) != getattr(self, attr) for t in textures):
                raise ValueError(f"All textures must have the same {attr}.")

    def join_batch(self, textures: list["TexturesUV"]) -> "TexturesUV":
        """Returns one batch holding self's textures followed by those of ``textures`` (maps keep their sizes)."""
        self._check_compatible(textures)
        maps, faces, verts = list(self.maps_list()), list(self.faces_uvs_list()), list(self.verts_uvs_list())
        nfaces = list(self._num_faces_per_mesh)
        for t in textures:
            maps += t.maps_list()
            faces += t.faces_uvs_list()
            verts += t.verts_uvs_list()
            nfaces += t._num_faces_per_mesh
        tex = self._like(maps, faces, verts)
        tex._num_faces_per_mesh = nfaces
        return tex

    def join_scene(self) -> "TexturesUV":
        """Returns a batch of one texture for the whole batch joined into one mesh (``join_meshes_as_scene``).

        The maps are packed into one atlas (identical maps once) and the uvs remapped into it; the faces_uvs of
        mesh i are offset by the number of uvs of the meshes before it.
        """
        atlas, new_uvs = pack_uv_maps(self.maps_list(), self.verts_uvs_list(), self.align_corners, self.padding_mode)
        faces, offset = [], 0
        for f, v in zip(self.faces_uvs_list(), self.verts_uvs_list()):
            faces.append(f + offset)
            offset += v.shape[0]
        return self._like([atlas], [torch.cat(faces, dim=0)], [torch.cat(new_uvs, dim=0)])

    def check_shapes(self, batch_size: int, max_num_verts: int, max_num_faces: int) -> bool:
        """True when faces_uvs are (batch_size, max_num_faces, 3) and there are batch_size uv sets."""
        return (
            tuple(self.faces_uvs_padded().shape[:2]) == (batch_size, max_num_faces)
            and len(self.verts_uvs_list()) == batch_size
        )

    def submeshes(self, vertex_ids_list: Any, faces_ids_list: list[list[torch.Tensor]]) -> "TexturesUV":
        """Textures of the kept faces of each submesh (see ``Meshes.submeshes``)."""
        faces = self.faces_uvs_list()
        if len(faces_ids_list) != len(faces):
            raise IndexError("faces_uvs_padded must be of the same length as face_ids_list.")
        maps, verts = self.maps_list(), self.verts_uvs_list()
        sub = [(maps[i], faces[i][ids], verts[i]) for i, ids_list in enumerate(faces_ids_list) for ids in ids_list]
        return self._like([s[0] for s in sub], [s[1] for s in sub], [s[2] for s in sub])

