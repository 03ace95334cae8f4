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

import math
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

from .utils import interpolate_face_attributes

__all__ = [
    "Textures",
    "TexturesBase",
    "TexturesVertex",
    "TexturesUV",
    "TexturesAtlas",
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
        """Returns each property (attribute or method result) with every batch element repeated N times.

        Tensors are copied (as PyTorch3D's ``extend`` does): no two batch elements of the result, nor the result
        and self, share storage.
        """
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
                out[p] = [v.clone() if torch.is_tensor(v) else v for v in value for _ in range(N)]
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

    With ``maps_ids`` each mesh has M maps (a set (M, H, W, C)) and each face names the map it samples.

    Args:
        maps: (N, H, W, C) tensor, or a list of N tensors (H_i, W_i, C) whose sizes may differ. With maps_ids:
            (N, M, H, W, C), or a list of N sets (M_i, H_i, W_i, C).
        faces_uvs: (N, F, 3) long or a list of N (F_i, 3): for each face corner, an index into ``verts_uvs``.
        verts_uvs: (N, T, 2) float or a list of N (T_i, 2): uv coordinates in [0, 1] (v up).
        padding_mode: ``grid_sample`` padding for uvs outside [0, 1]: "border", "zeros" or "reflection".
        align_corners: ``grid_sample``'s convention; True means uv 0 and 1 are the centres of the edge pixels.
        sampling_mode: "bilinear" or "nearest".
        maps_ids: (N, F) long or a list of N (F_i,): the map (in [0, M_i)) each face samples; None for one map
            per mesh.
    """

    def __init__(
        self,
        maps: torch.Tensor | Sequence[torch.Tensor],
        faces_uvs: torch.Tensor | Sequence[torch.Tensor],
        verts_uvs: torch.Tensor | Sequence[torch.Tensor],
        padding_mode: str = "border",
        align_corners: bool = True,
        sampling_mode: str = "bilinear",
        *,
        maps_ids: torch.Tensor | Sequence[torch.Tensor] | None = None,
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

        self._maps_ids_padded, self._maps_ids_list = self._format_maps_ids(maps_ids)
        multi = self._has_maps_ids()
        map_dim = 4 if multi else 3
        shape_name = "(M, H, W, C)" if multi else "(H, W, C)"

        # maps
        if isinstance(maps, (list, tuple)):
            if len(maps) != self._N:
                raise ValueError(
                    f"Expected one texture map per mesh in the batch: {len(maps)} maps for {self._N} meshes"
                )
            if not all(torch.is_tensor(m) and m.dim() == map_dim for m in maps):
                raise ValueError(f"Invalid number of dimensions in texture maps: each must be {shape_name}")
            if len({m.shape[-1] for m in maps}) > 1:
                raise ValueError("Inconsistent number of channels in maps")
            self._maps_list: list[torch.Tensor] | None = list(maps)
            self._maps_padded: torch.Tensor | None = None
        elif torch.is_tensor(maps):
            if maps.dim() != map_dim + 1 or maps.shape[0] != self._N:
                raise ValueError(
                    f"Expected maps to be of shape (N, {shape_name[1:]} with N={self._N}; got {tuple(maps.shape)}"
                )
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
        ids = self.maps_ids_list()
        if ids is not None:
            for i, (mid, m) in enumerate(zip(ids, self.maps_list())):
                if mid.numel() and (int(mid.min()) < 0 or int(mid.max()) >= m.shape[0]):
                    raise ValueError(
                        f"maps_ids of mesh {i} name maps {int(mid.min())}..{int(mid.max())} "
                        f"but the mesh has {m.shape[0]} maps"
                    )

    def _has_maps_ids(self) -> bool:
        return self._maps_ids_padded is not None or self._maps_ids_list is not None

    def _format_maps_ids(self, maps_ids: Any) -> tuple[torch.Tensor | None, list[torch.Tensor] | None]:
        """Checks ``maps_ids`` against the faces; returns (padded (N, F) or None, list of (F_i,) or None)."""
        if maps_ids is None:
            return None, None
        if isinstance(maps_ids, (list, tuple)):
            for mid in maps_ids:
                if not torch.is_tensor(mid) or mid.dim() != 1:
                    raise ValueError(f"Expected maps_ids to be of shape (F,); got {getattr(mid, 'shape', mid)!r}")
            if len(maps_ids) != self._N:
                raise ValueError("map_ids, faces_uvs and verts_uvs must have the same batch dimension")
            if any(mid.device != self.device for mid in maps_ids):
                raise ValueError("maps_ids and verts/faces uvs must be on the same device")
            if any(mid.shape[0] != nf for mid, nf in zip(maps_ids, self._num_faces_per_mesh)):
                raise ValueError("map_ids and faces_uvs must have the same number of faces per mesh")
            return None, [mid.long() for mid in maps_ids]
        if torch.is_tensor(maps_ids):
            if maps_ids.dim() != 2 or maps_ids.shape[0] != self._N:
                raise ValueError(f"Expected maps_ids to be of shape (N, F); got {tuple(maps_ids.shape)}")
            if maps_ids.shape[1] != max(self._num_faces_per_mesh, default=0):
                raise ValueError("map_ids and faces_uvs must have the same number of faces per mesh")
            if maps_ids.device != self.device:
                raise ValueError("maps_ids and verts/faces uvs must be on the same device")
            return maps_ids.long(), None
        raise ValueError("Expected maps_ids to be a tensor or list")

    def maps_ids_padded(self) -> torch.Tensor | None:
        """(N, max F_i) long map index of every face (zero-padded), or None without maps_ids."""
        if self._maps_ids_padded is None and self._maps_ids_list is not None:
            lst = self._maps_ids_list
            self._maps_ids_padded = (
                _pad(lst, 0) if lst else torch.zeros((0, 0), dtype=torch.long, device=self.device)
            )
        return self._maps_ids_padded

    def maps_ids_list(self) -> list[torch.Tensor] | None:
        """N long tensors (F_i,): the map index of every face, or None without maps_ids."""
        if self._maps_ids_list is None and self._maps_ids_padded is not None:
            self._maps_ids_list = _unpad(self._maps_ids_padded, self._num_faces_per_mesh)
        return self._maps_ids_list

    def _ids_for(self, index: list[int]) -> list[torch.Tensor] | None:
        ids = self.maps_ids_list()
        return None if ids is None else [ids[i] for i in index]

    def __repr__(self) -> str:
        sizes = [tuple(m.shape) for m in self.maps_list()]
        return f"TexturesUV(N={self._N}, maps={sizes}, faces_per_mesh={self._num_faces_per_mesh})"

    def _like(self, maps: Any, faces_uvs: Any, verts_uvs: Any, maps_ids: Any = None) -> "TexturesUV":
        return self.__class__(
            maps=maps,
            faces_uvs=faces_uvs,
            verts_uvs=verts_uvs,
            padding_mode=self.padding_mode,
            align_corners=self.align_corners,
            sampling_mode=self.sampling_mode,
            maps_ids=maps_ids,
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
        """N maps (H_i, W_i, C), each at its own size (with maps_ids: N sets (M_i, H_i, W_i, C))."""
        if self._maps_list is not None:
            return self._maps_list
        assert self._maps_padded is not None
        return list(self._maps_padded.unbind(0))

    def maps_padded(self) -> torch.Tensor:
        """(N, max H_i, max W_i, C). Maps smaller than the largest are resized bilinearly (as PyTorch3D does);
        sampling never uses this resized copy. With maps_ids: (N, max M_i, max H_i, max W_i, C), missing maps
        zero."""
        if self._maps_padded is None:
            maps = self.maps_list()
            multi = self._has_maps_ids()
            if not maps:
                return torch.zeros((0, 0, 0, 0, 3) if multi else (0, 0, 0, 3), device=self.device)
            size = (max(m.shape[-3] for m in maps), max(m.shape[-2] for m in maps))
            out = []
            for m in maps:
                sets = m if multi else m[None]  # (M, H, W, C)
                if tuple(sets.shape[1:3]) != size:
                    sets = F.interpolate(
                        sets.permute(0, 3, 1, 2), size=size, mode="bilinear", align_corners=self.align_corners
                    ).permute(0, 2, 3, 1)
                out.append(sets if multi else sets[0])
            if multi:
                out = [F.pad(m, (0, 0, 0, 0, 0, 0, 0, max(o.shape[0] for o in out) - m.shape[0])) for m in out]
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

    def _sample_maps(self, grid: torch.Tensor, ids: torch.Tensor | None = None) -> torch.Tensor:
        """Samples map n at grid[n] (with maps_ids: map ids[n, a, b] of mesh n's set).

        Args:
            grid: (N, A, B, 2) grid_sample coordinates in [-1, 1] (x right, y down).
            ids: (N, A, B) long map index of each sample; needed with maps_ids.
        Returns:
            (N, C, A, B) samples, in the maps' dtype.
        """
        if self._has_maps_ids():
            return self._sample_map_sets(grid, ids)
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

    def _sample_map_sets(self, grid: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """:meth:`_sample_maps` with one set of M maps per mesh: a 3D grid_sample whose depth coordinate lands
        exactly on the sample's map (with align_corners=True the coordinate PyTorch3D uses,
        2 id / (M - 1) - 1), so neighbouring maps never blend."""
        kwargs = dict(mode=self.sampling_mode, padding_mode=self.padding_mode, align_corners=self.align_corners)
        sets = self.maps_list()
        dtype = sets[0].dtype
        N, A, B, _ = grid.shape
        out = grid.new_zeros((N, sets[0].shape[-1], A, B), dtype=dtype)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, m in enumerate(sets):
            groups.setdefault(tuple(m.shape), []).append(i)
        for shape, members in groups.items():
            M = shape[0]
            if self.align_corners:
                z = ids.to(dtype) * (2.0 / (M - 1)) - 1.0 if M > 1 else torch.zeros_like(ids, dtype=dtype)
            else:
                z = (2.0 * ids.to(dtype) + 1.0) / M - 1.0
            idx = torch.tensor(members, device=grid.device)
            stack = torch.stack([sets[i] for i in members], dim=0).permute(0, 4, 1, 2, 3)  # (n, C, M, H, W)
            g = torch.cat([grid.index_select(0, idx).to(dtype), z.index_select(0, idx)[..., None]], dim=-1)
            sampled = F.grid_sample(stack, g[:, None], **kwargs)[:, :, 0]  # (n, C, A, B)
            out = sampled if len(groups) == 1 else out.index_copy(0, idx, sampled)
        return out

    def _pixel_map_ids(self, pix_to_face: torch.Tensor) -> torch.Tensor | None:
        """(N, H, W, K) long map index of each fragment's face (0 where empty), or None without maps_ids."""
        ids = self.maps_ids_list()
        if ids is None:
            return None
        packed = torch.cat(ids) if ids else torch.zeros(0, dtype=torch.long, device=self.device)
        if packed.numel() == 0:
            return torch.zeros_like(pix_to_face)
        return torch.where(pix_to_face >= 0, packed[pix_to_face.clamp(min=0)], torch.zeros_like(pix_to_face))

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
        ids = self._pixel_map_ids(fragments.pix_to_face)
        texels = self._sample_maps(grid, None if ids is None else ids.reshape(N, H, W * K))  # (N, C, H, W*K)
        C = texels.shape[1]
        return texels.reshape(N, C, H, W, K).permute(0, 2, 3, 4, 1)  # (N, H, W, K, C)

    def faces_verts_textures_packed(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Returns (sum F_i, 3, C): the map sampled at the three uv corners of every packed face."""
        lists = self.faces_uvs_list()
        per_mesh = [v[f] for f, v in zip(lists, self.verts_uvs_list())]  # (F_i, 3, 2)
        if not per_mesh:
            return torch.zeros((0, 3, 3), device=self.device)
        grid = _uv_to_grid(_pad(per_mesh, 0.0))  # (N, maxF, 3, 2)
        ids = self.maps_ids_padded()
        if ids is not None:
            ids = ids[:, : grid.shape[1], None].expand(-1, -1, 3)  # (N, maxF, 3): each face's map at its corners
        texels = self._sample_maps(grid, ids).permute(0, 2, 3, 1)  # (N, maxF, 3, C)
        return torch.cat([texels[i, : f.shape[0]] for i, f in enumerate(lists)], dim=0)

    # batch operations ----------------------------------------------------------------------------------------
    def _copy_meta(self, tex: "TexturesUV") -> "TexturesUV":
        tex._num_faces_per_mesh = list(self._num_faces_per_mesh)
        tex.valid = self.valid.clone()
        return tex

    def clone(self) -> "TexturesUV":
        ids = self.maps_ids_list()
        tex = self._like(
            [m.clone() for m in self.maps_list()],
            [f.clone() for f in self.faces_uvs_list()],
            [v.clone() for v in self.verts_uvs_list()],
            None if ids is None else [i.clone() for i in ids],
        )
        if self._maps_list is None and self._maps_padded is not None:
            tex._maps_padded, tex._maps_list = self._maps_padded.clone(), None
        return self._copy_meta(tex)

    def detach(self) -> "TexturesUV":
        ids = self.maps_ids_list()
        tex = self._like(
            [m.detach() for m in self.maps_list()],
            [f.detach() for f in self.faces_uvs_list()],
            [v.detach() for v in self.verts_uvs_list()],
            None if ids is None else [i.detach() for i in ids],
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
        tex = self._like([maps[i] for i in ids], [faces[i] for i in ids], [verts[i] for i in ids], self._ids_for(ids))
        tex.valid = self.valid[ids].clone()
        return tex

    def extend(self, N: int) -> "TexturesUV":
        """Returns a batch with each texture repeated N times in place: (t0, t0, ..., t1, t1, ...)."""
        props = self._extend(N, ["maps_list", "faces_uvs_list", "verts_uvs_list", "_num_faces_per_mesh"])
        if self._maps_list is None and self._maps_padded is not None:
            maps: Any = self._maps_padded.repeat_interleave(N, dim=0)
        else:
            maps = props["maps_list"]
        ids = self.maps_ids_list()
        ids = None if ids is None else [i.clone() for i in ids for _ in range(N)]
        tex = self._like(maps, props["faces_uvs_list"], props["verts_uvs_list"], ids)
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
        if any(t._has_maps_ids() != self._has_maps_ids() for t in textures):
            raise ValueError("All textures must have maps_ids, or none.")
        maps, faces, verts = list(self.maps_list()), list(self.faces_uvs_list()), list(self.verts_uvs_list())
        ids = None if not self._has_maps_ids() else list(self.maps_ids_list())
        nfaces = list(self._num_faces_per_mesh)
        for t in textures:
            maps += t.maps_list()
            faces += t.faces_uvs_list()
            verts += t.verts_uvs_list()
            nfaces += t._num_faces_per_mesh
            if ids is not None:
                ids += t.maps_ids_list()
        tex = self._like(maps, faces, verts, ids)
        tex._num_faces_per_mesh = nfaces
        return tex

    def join_scene(self) -> "TexturesUV":
        """Returns a batch of one texture for the whole batch joined into one mesh (``join_meshes_as_scene``).

        The maps are laid out side by side in one map exactly as PyTorch3D lays them out
        (``pack_unique_rectangles``; maps that are the same tensor object are stored once; a map may be stored
        turned by 90 degrees), with a one-pixel border of copied edge pixels (zeros with ``padding_mode="zeros"``)
        around each map when ``align_corners`` is False. The uvs are remapped into it, and the faces_uvs of mesh i
        offset by the number of uvs of the meshes before it. Sampling the result at uvs in [0, 1] gives what the
        batch gave (padding beyond [0, 1] is not reproduced). Differentiable with respect to maps and uvs.

        Raises:
            NotImplementedError: with maps_ids (as PyTorch3D).
        """
        from .utils import Rectangle, pack_unique_rectangles

        if self._has_maps_ids():
            raise NotImplementedError("join_scene does not support multiple maps.")
        maps, verts_uvs, faces_uvs = self.maps_list(), self.verts_uvs_list(), self.faces_uvs_list()
        if len(maps) == 1:
            return self._like([maps[0]], [faces_uvs[0]], [verts_uvs[0]])
        border = 0 if self.align_corners else 1
        plan = pack_unique_rectangles(
            [Rectangle(m.shape[0] + 2 * border, m.shape[1] + 2 * border, id(m)) for m in maps]
        )
        total_x, total_y = plan.total_size  # rows, columns of the joined map
        joined = maps[0].new_zeros((total_x, total_y, maps[0].shape[-1]))
        aligned = 1 if self.align_corners else 0
        new_uvs = []
        for m, loc, uvs in zip(maps, plan.locations, verts_uvs):
            source = m.transpose(0, 1) if loc.flipped else m  # (rows, cols, C) as placed
            if loc.is_first:
                if border:
                    mode = "constant" if self.padding_mode == "zeros" else "replicate"
                    source = F.pad(source.permute(2, 0, 1)[None], (1, 1, 1, 1), mode=mode)[0].permute(1, 2, 0)
                joined[loc.x: loc.x + source.shape[0], loc.y: loc.y + source.shape[1]] = source
            rows, cols = (m.shape[1], m.shape[0]) if loc.flipped else (m.shape[0], m.shape[1])
            u, v = (1.0 - uvs[:, 1], 1.0 - uvs[:, 0]) if loc.flipped else (uvs[:, 0], uvs[:, 1])
            # u: column u (cols - a) [+ border] of the map is column loc.y [+ border] + that of the joined map;
            # v likewise counted from the bottom row (a = 1 with align_corners, else 0).
            den_x, den_y = max(total_x - aligned, 1), max(total_y - aligned, 1)
            v_new = v * ((rows - aligned) / den_x) + (total_x - rows - loc.x - (1 - aligned)) / den_x
            u_new = u * ((cols - aligned) / den_y) + (loc.y + (1 - aligned)) / den_y
            new_uvs.append(torch.stack([u_new, v_new], dim=-1))
        faces, offset = [], 0
        for f, v in zip(faces_uvs, verts_uvs):
            faces.append(f + offset)
            offset += v.shape[0]
        return self._like([joined], [torch.cat(faces, dim=0)], [torch.cat(new_uvs, dim=0)])

    def centers_for_image(self, index: int) -> torch.Tensor:
        """Pixel coordinates in the map of the uvs of mesh ``index`` (e.g. to plot them over the image).

        Returns:
            (V, 2) float on the CPU: column and row (continuous, as grid_sample with the textures' own mode,
            padding and align_corners places them) of each of the mesh's verts_uvs.
        Raises:
            NotImplementedError: with maps_ids. ValueError: the batch holds more than one mesh (as PyTorch3D).
        """
        if self._has_maps_ids():
            raise NotImplementedError("This function does not support multiple maps.")
        if self._N != 1:
            raise ValueError("This function only supports plotting textures for one mesh.")
        image = self.maps_list()[0]
        H, W = image.shape[0], image.shape[1]
        uvs = self.verts_uvs_list()[index]  # (V, 2)
        dtype = image.dtype if image.is_floating_point() else torch.float32
        cols = torch.arange(W, dtype=dtype, device=uvs.device).expand(H, W)
        rows = torch.arange(H - 1, -1, -1, dtype=dtype, device=uvs.device)[:, None].expand(H, W)
        # (1, 2, H, W): column, and image row, of the map flipped upside down (row r holds image row H - 1 - r),
        # so that grid (2u - 1, 2v - 1) reads the pixel coordinates of uv (u, v) (v up the image)
        coords = torch.stack([cols, rows])[None]
        with torch.no_grad():
            centers = F.grid_sample(coords, (uvs.to(dtype) * 2.0 - 1.0)[None, None], mode=self.sampling_mode,
                                    align_corners=self.align_corners, padding_mode=self.padding_mode)
        return centers[0, :, 0].t().cpu()

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
        maps, verts, map_ids = self.maps_list(), self.verts_uvs_list(), self.maps_ids_list()
        sub = [(maps[i], faces[i][ids], verts[i], None if map_ids is None else map_ids[i][ids])
               for i, ids_list in enumerate(faces_ids_list) for ids in ids_list]
        return self._like([s[0] for s in sub], [s[1] for s in sub], [s[2] for s in sub],
                          None if map_ids is None else [s[3] for s in sub])


# ----------------------------------------------------------------------------------------------------------------
# TexturesAtlas
# ----------------------------------------------------------------------------------------------------------------


class TexturesAtlas(TexturesBase):
    """An R x R texture per face (SoftRas's texture atlas; PyTorch3D's ``TexturesAtlas``).

    Cell (y, x) of face f's map covers the part of the face near barycentric coordinates
    (w0, w1) = ((x + 1/3) / R, (y + 1/3) / R) when x + y < R, else ((R - 1 - x + 2/3) / R, (R - 1 - y + 2/3) / R):
    the face is cut into R * R small triangles and each cell holds one of them (``io.mtl_io.make_material_atlas``
    builds such maps from a texture image). Sampling picks the cell of each fragment's barycentrics, so it is
    differentiable with respect to the atlas but not to the barycentrics.

    Args:
        atlas: (N, F, R, R, C) tensor or a list of N tensors (F_i, R, R, C) with one R.
    """

    def __init__(self, atlas: torch.Tensor | Sequence[torch.Tensor]) -> None:
        if isinstance(atlas, (list, tuple)):
            ok = all(
                torch.is_tensor(a) and a.dim() == 4 and a.shape[1] == a.shape[2] == atlas[0].shape[1] for a in atlas
            )
            if not ok:
                raise ValueError(
                    "Expected atlas to be a list of tensors of shape (F, R, R, C) with the same value of R."
                )
            if len({a.shape[-1] for a in atlas}) > 1:
                raise ValueError(f"atlas maps must all have the same C; got {[tuple(a.shape) for a in atlas]}")
            self._atlas_list: list[torch.Tensor] | None = list(atlas)
            self._atlas_padded: torch.Tensor | None = None
            self._N = len(atlas)
            self._num_faces_per_mesh = [int(a.shape[0]) for a in atlas]
            self.device = atlas[0].device if self._N > 0 else torch.device("cpu")
            if any(a.device != self.device for a in atlas):
                raise ValueError("atlas tensors must all be on the same device")
        elif torch.is_tensor(atlas):
            if atlas.dim() != 5:
                raise ValueError(f"Expected atlas to be of shape (N, F, R, R, C); got {atlas.dim()!r}")
            if atlas.shape[2] != atlas.shape[3]:
                raise ValueError(f"Expected atlas to be of shape (N, F, R, R, C); got {tuple(atlas.shape)}")
            self._atlas_padded = atlas
            self._atlas_list = None
            self._N = int(atlas.shape[0])
            self._num_faces_per_mesh = [int(atlas.shape[1])] * self._N
            self.device = atlas.device
        else:
            raise ValueError("Expected atlas to be a tensor or list")
        for a in self._atlas_list if self._atlas_list is not None else [atlas]:  # type: ignore[list-item]
            if not a.is_floating_point():
                raise ValueError(f"atlas must be floating point (e.g. RGB in [0, 1]); got {a.dtype}")
            _check_finite(a, "atlas")
        self.valid = torch.ones((self._N,), dtype=torch.bool, device=self.device)

    def __repr__(self) -> str:
        return f"TexturesAtlas(N={self._N}, faces_per_mesh={self._num_faces_per_mesh}, R={self._resolution()})"

    def _resolution(self) -> int:
        if self._atlas_padded is not None:
            return int(self._atlas_padded.shape[2])
        return int(self._atlas_list[0].shape[1]) if self._atlas_list else 0

    def _channels(self) -> int:
        if self._atlas_padded is not None:
            return int(self._atlas_padded.shape[-1])
        return int(self._atlas_list[0].shape[-1]) if self._atlas_list else 3

    # views -------------------------------------------------------------------------------------------------
    def atlas_list(self) -> list[torch.Tensor]:
        """N tensors (F_i, R, R, C)."""
        if self._atlas_list is None:
            assert self._atlas_padded is not None
            self._atlas_list = _unpad(self._atlas_padded, self._num_faces_per_mesh)
        return self._atlas_list

    def atlas_padded(self) -> torch.Tensor:
        """(N, max F_i, R, R, C), zero-padded."""
        if self._atlas_padded is None:
            lst = self.atlas_list()
            if self._N == 0:
                return torch.zeros((0, 0, 0, 0, 3), device=self.device)
            self._atlas_padded = _pad(lst, 0.0)
        return self._atlas_padded

    def atlas_packed(self) -> torch.Tensor:
        """(sum F_i, R, R, C)."""
        lst = self.atlas_list()
        if not lst:
            R = self._resolution()
            return torch.zeros((0, R, R, self._channels()), device=self.device)
        return torch.cat(lst, dim=0)

    # sampling ----------------------------------------------------------------------------------------------
    def sample_textures(self, fragments: Any, **kwargs: Any) -> torch.Tensor:
        """The atlas cell of every fragment: nearest-cell lookup, no interpolation (PyTorch3D's rule).

        With R the resolution and (w0, w1) the first two barycentrics, the cell is (x, y) = floor(R (w0, w1))
        (clamped to [0, R - 1]) when R (w0 + w1) - x - y <= 1 (the small triangle below the cell's diagonal), else
        (R - 1 - x, R - 1 - y).

        Args:
            fragments: uses ``pix_to_face`` (N, H, W, K) and ``bary_coords`` (N, H, W, K, 3).
        Returns:
            (N, H, W, K, C) texels; 0 where a fragment is empty. Differentiable with respect to the atlas.
        """
        atlas = self.atlas_packed()  # (F, R, R, C)
        R = atlas.shape[1]
        pix_to_face = fragments.pix_to_face
        empty = pix_to_face < 0
        w01 = torch.where(empty[..., None], torch.zeros((), dtype=fragments.bary_coords.dtype),
                          fragments.bary_coords[..., :2])  # (N, H, W, K, 2)
        # Truncation as PyTorch3D (towards zero); negative barycentrics (blur without clipping) get cell 0
        # where PyTorch3D would index from the far end.
        cell = (w01 * R).to(torch.int64).clamp(min=0, max=R - 1)  # (N, H, W, K, 2)
        below = (w01.sum(-1) * R - cell.sum(-1).to(w01.dtype)) <= 1.0  # (N, H, W, K)
        cell = torch.where(below[..., None], cell, R - 1 - cell)
        x, y = cell.unbind(-1)
        if atlas.shape[0] == 0:
            return atlas.new_zeros((*pix_to_face.shape, atlas.shape[-1]))
        texels = atlas[pix_to_face.clamp(min=0), y, x]  # (N, H, W, K, C)
        return texels * (~empty)[..., None].to(texels.dtype)

    def faces_verts_textures_packed(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """(sum F_i, 3, C): the cells at the three corners of every face (barycentrics (1, 0), (0, 1), (0, 0))."""
        atlas = self.atlas_packed()
        return torch.stack([atlas[:, 0, -1], atlas[:, -1, 0], atlas[:, 0, 0]], dim=1)

    # batch operations ----------------------------------------------------------------------------------------
    def _map(self, fn: Any) -> "TexturesAtlas":
        """A copy with ``fn`` applied to the stored atlas tensors."""
        if self._atlas_list is not None:
            tex = self.__class__([fn(a) for a in self._atlas_list])
        else:
            tex = self.__class__(fn(self._atlas_padded))
        tex._num_faces_per_mesh = list(self._num_faces_per_mesh)
        tex.valid = fn(self.valid)
        return tex

    def clone(self) -> "TexturesAtlas":
        return self._map(torch.clone)

    def detach(self) -> "TexturesAtlas":
        return self._map(torch.Tensor.detach)

    def __getitem__(self, index: Any) -> "TexturesAtlas":
        idx = _index_batch(index, self._N)
        ids = [idx] if isinstance(idx, int) else idx
        if not ids:
            raise IndexError("indexing TexturesAtlas with an empty selection is not supported")
        lst = self.atlas_list()
        tex = self.__class__([lst[i] for i in ids])
        tex.valid = self.valid[ids].clone()
        return tex

    def extend(self, N: int) -> "TexturesAtlas":
        """Returns a batch with each texture repeated N times in place: (t0, t0, ..., t1, t1, ...)."""
        props = self._extend(N, ["atlas_list", "_num_faces_per_mesh"])
        tex = self.__class__(props["atlas_list"])
        tex._num_faces_per_mesh = props["_num_faces_per_mesh"]
        tex.valid = self.valid.repeat_interleave(N)
        return tex

    def join_batch(self, textures: list["TexturesAtlas"]) -> "TexturesAtlas":
        """Returns one batch holding self's textures followed by those of ``textures``."""
        if not all(isinstance(t, TexturesAtlas) for t in textures):
            raise ValueError("All textures must be of type TexturesAtlas.")
        lst = list(self.atlas_list())
        nfaces = list(self._num_faces_per_mesh)
        for t in textures:
            lst += t.atlas_list()
            nfaces += t._num_faces_per_mesh
        tex = self.__class__(lst)
        tex._num_faces_per_mesh = nfaces
        return tex

    def join_scene(self) -> "TexturesAtlas":
        """Returns a batch of one texture, the faces' maps of the whole batch in order."""
        return self.__class__([self.atlas_packed()])

    def check_shapes(self, batch_size: int, max_num_verts: int, max_num_faces: int) -> bool:
        """True when the padded atlas is (batch_size, max_num_faces, ...)."""
        return tuple(self.atlas_padded().shape[:2]) == (batch_size, max_num_faces)

    def submeshes(self, vertex_ids_list: Any, faces_ids_list: list[list[torch.Tensor]]) -> "TexturesAtlas":
        """The maps of the kept faces of each submesh (see ``Meshes.submeshes``)."""
        lst = self.atlas_list()
        if len(faces_ids_list) != len(lst):
            raise IndexError("faces_ids_list must be of the same length as atlas_list.")
        return self.__class__([a[ids] for a, ids_list in zip(lst, faces_ids_list) for ids in ids_list])


# PyTorch3D keeps its deprecated Textures wrapper in this module.
from inverse3d.renderer.mesh.textures_compat import Textures  # noqa: E402,F401
