"""``Pointclouds``: a batch of point clouds with optional normals and features (PyTorch3D's names and semantics).

For N clouds, cloud i having P_i points, each quantity (points, normals, features) has three views:

========  ======================================  ============================
view      points / normals                        features (C channels)
========  ======================================  ============================
list      N tensors (P_i, 3)                      N tensors (P_i, C)
padded    (N, max P_i, 3), zeros after P_i        (N, max P_i, C)
packed    (sum P_i, 3)                            (sum P_i, C)
========  ======================================  ============================

with the index maps ``packed_to_cloud_idx`` (sum P_i,), ``cloud_to_packed_first_idx`` (N,),
``num_points_per_cloud`` (N,) and ``padded_to_packed_idx`` (sum P_i,). Views are computed on first use
and cached; empty clouds are allowed anywhere in a batch.
"""

from __future__ import annotations

import operator
from typing import Any, Sequence

import torch

from inverse3d.ops.packed_to_padded import packed_to_padded
from inverse3d.structures import utils as struct_utils
from inverse3d.structures.utils import _bounding_boxes, _index_maps, _padded_to_packed_idx

__all__ = ["Pointclouds", "join_pointclouds_as_batch", "join_pointclouds_as_scene"]

_KINDS = ("points", "normals", "features")
_VIEWS = ("list", "padded", "packed")


class Pointclouds(struct_utils.TensorContainer):
    """A batch of point clouds of possibly different sizes; see the module docstring for the views."""

    _INTERNAL_TENSORS = [f"_{kind}_{view}" for kind in _KINDS for view in _VIEWS] + [
        "_packed_to_cloud_idx",
        "_cloud_to_packed_first_idx",
        "_num_points_per_cloud",
        "_padded_to_packed_idx",
        "valid",
    ]

    def __init__(
        self,
        points: Sequence[torch.Tensor] | torch.Tensor,
        normals: Sequence[torch.Tensor] | torch.Tensor | None = None,
        features: Sequence[torch.Tensor] | torch.Tensor | None = None,
    ) -> None:
        """
        Args:
            points: N float tensors (P_i, 3), or a padded float tensor (N, P, 3) in which every cloud
                has P points (as in PyTorch3D).
            normals: optional, N tensors (P_i, 3) or padded (N, P, 3).
            features: optional, N tensors (P_i, C) or padded (N, P, C), the same C for all clouds.

        Raises:
            ValueError: wrong types, shapes or dtypes, lengths that do not match the points, tensors on
                different devices, NaN or infinite values.
        """
        self._reset_state()
        if isinstance(points, (list, tuple)):
            points = list(points)
            checked = []
            for i, p in enumerate(points):
                p = _as_rows(p, 3, f"points[{i}]")
                checked.append(p)
            device = checked[0].device if checked else torch.device("cpu")
            dtype = checked[0].dtype if checked else torch.float32
            for i, p in enumerate(checked):
                if p.device != device:
                    raise ValueError(f"Pointclouds: points[{i}] is on {p.device} but points[0] is on {device}")
                if p.dtype != dtype:
                    raise ValueError(f"Pointclouds: points[{i}] has dtype {p.dtype} but points[0] has {dtype}")
            self._set_counts([p.shape[0] for p in checked], device, dtype)
            self._points_list = checked
        elif torch.is_tensor(points):
            if points.ndim != 3 or points.shape[2] != 3:
                raise ValueError(f"Pointclouds: padded points have shape {tuple(points.shape)}, expected (N, P, 3)")
            if not points.is_floating_point():
                raise ValueError(f"Pointclouds: points have dtype {points.dtype}, expected a floating-point dtype")
            self._set_counts([points.shape[1]] * points.shape[0], points.device, points.dtype)
            self._points_padded = points
        else:
            raise ValueError(
                "Pointclouds: points must be a list of (P_i, 3) tensors or a padded (N, P, 3) tensor, "
                f"got {type(points).__name__}"
            )
        if normals is not None:
            self._set_aux("normals", normals, channels=3)
        if features is not None:
            self._set_aux("features", features, channels=None)
        self._check_finite()

    # ------------------------------------------------------------------------------------------
    # construction helpers

    def _reset_state(self) -> None:
        self.device = torch.device("cpu")
        self._dtype = torch.float32
        self.equisized = False
        self.valid = torch.zeros((0,), dtype=torch.bool)
        self._N = 0  # number of clouds
        self._P = 0  # max number of points per cloud
        self._C: int | None = None  # feature channels
        self._num_points_list: list[int] = []
        for name in self._INTERNAL_TENSORS:
            if name != "valid":
                setattr(self, name, None)

    def _set_counts(self, num_points: list[int], device: torch.device, dtype: torch.dtype) -> None:
        self.device = torch.device(device)
        self._dtype = dtype
        self._N = len(num_points)
        self._num_points_list = [int(n) for n in num_points]
        self._P = max(self._num_points_list, default=0)
        self._num_points_per_cloud = torch.tensor(self._num_points_list, dtype=torch.int64, device=self.device)
        self.valid = self._num_points_per_cloud > 0
        self.equisized = self._N > 0 and len(set(self._num_points_list)) == 1

    @classmethod
    def _from_views(cls, num_points: list[int], device: torch.device, dtype: torch.dtype, C: int | None, **views: Any):
        """Builds from views known to be valid (internal: no checks, no device sync)."""
        new = cls.__new__(cls)
        new._reset_state()
        new._set_counts(num_points, device, dtype)
        new._C = C
        for name, value in views.items():
            setattr(new, name, value)
        return new

    def _set_aux(self, kind: str, value: Sequence[torch.Tensor] | torch.Tensor, channels: int | None) -> None:
        """Stores normals or features given as a list or a padded tensor, checking their shapes.

        As in PyTorch3D: with no clouds (N = 0) they are dropped (``normals_list()`` is None); in a list, an
        empty cloud may give None, and when every entry is None they are dropped too.
        """
        if self._N == 0:
            return
        if isinstance(value, (list, tuple)):
            if len(value) != self._N:
                raise ValueError(f"Pointclouds: {kind} has {len(value)} tensors for {self._N} clouds")
            for i, (v, n) in enumerate(zip(value, self._num_points_list)):
                if v is None and n > 0:
                    raise ValueError(f"Pointclouds: {kind}[{i}] is None but cloud {i} has {n} points")
            if all(v is None for v in value):
                return
            rows = [None if v is None else _as_rows(v, channels, f"{kind}[{i}]") for i, v in enumerate(value)]
            like = next(v for v in rows if v is not None)
            rows = [like.new_zeros((0, like.shape[1])) if v is None else v for v in rows]
            for i, (v, n) in enumerate(zip(rows, self._num_points_list)):
                if v.shape[0] != n:
                    raise ValueError(f"Pointclouds: {kind}[{i}] has {v.shape[0]} rows but cloud {i} has {n} points")
                if v.device != self.device:
                    raise ValueError(f"Pointclouds: {kind}[{i}] is on {v.device} but the points are on {self.device}")
            widths = {v.shape[1] for v in rows if v.shape[0] > 0}
            if len(widths) > 1:
                raise ValueError(f"Pointclouds: {kind} tensors have different numbers of channels {sorted(widths)}")
            width = widths.pop() if widths else max([v.shape[1] for v in rows] + [channels or 0])
            rows = [v if v.shape[1] == width else v.new_zeros((0, width)) for v in rows]  # empty clouds
            setattr(self, f"_{kind}_list", rows)
        elif torch.is_tensor(value):
            if value.ndim != 3 or value.shape[0] != self._N or value.shape[1] != self._P:
                raise ValueError(
                    f"Pointclouds: padded {kind} have shape {tuple(value.shape)}, expected ({self._N}, {self._P}, C)"
                )
            if channels is not None and value.shape[2] != channels:
                raise ValueError(f"Pointclouds: padded {kind} have {value.shape[2]} channels, expected {channels}")
            if not value.is_floating_point():
                raise ValueError(f"Pointclouds: {kind} have dtype {value.dtype}, expected a floating-point dtype")
            if value.device != self.device:
                raise ValueError(f"Pointclouds: {kind} are on {value.device} but the points are on {self.device}")
            width = value.shape[2]
            setattr(self, f"_{kind}_padded", value)
        else:
            raise ValueError(f"Pointclouds: {kind} must be a list of tensors or a padded tensor, got {type(value).__name__}")
        if kind == "features":
            self._C = int(width)

    def _check_finite(self) -> None:
        """One device sync for all inputs: NaN or infinite points, normals or features are an error."""
        flags, names = [], []
        for kind in _KINDS:
            for view in ("list", "padded"):
                value = getattr(self, f"_{kind}_{view}")
                if value is None:
                    continue
                tensors = value if isinstance(value, list) else [value]
                tensors = [t for t in tensors if t.numel()]
                if tensors:
                    flags.append(torch.stack([~torch.isfinite(t).all() for t in tensors]).any())
                    names.append(kind)
        if flags:
            bad = torch.stack(flags).tolist()
            found = [n for n, b in zip(names, bad) if b]
            if found:
                raise ValueError(f"Pointclouds: {', '.join(found)} contain NaN or infinite values")

    # ------------------------------------------------------------------------------------------
    # sizes and index maps

    def __len__(self) -> int:
        return self._N

    def __repr__(self) -> str:
        return (
            f"Pointclouds(N={self._N}, points={self._num_points_list}, normals={self._has('normals')}, "
            f"features={self._C}, device={self.device})"
        )

    def isempty(self) -> bool:
        """True when the batch has no point."""
        return self._N == 0 or not any(self._num_points_list)

    def num_points_per_cloud(self) -> torch.Tensor:
        """(N,) int64, P_i."""
        return self._num_points_per_cloud

    def _compute_index_maps(self) -> None:
        if self._packed_to_cloud_idx is None or self._cloud_to_packed_first_idx is None:
            first, to_cloud = _index_maps(self._num_points_per_cloud, sum(self._num_points_list))
            self._cloud_to_packed_first_idx, self._packed_to_cloud_idx = first, to_cloud

    def packed_to_cloud_idx(self) -> torch.Tensor:
        """(sum P_i,) int64, the cloud of each packed point."""
        self._compute_index_maps()
        return self._packed_to_cloud_idx

    def cloud_to_packed_first_idx(self) -> torch.Tensor:
        """(N,) int64, the packed row of each cloud's first point."""
        self._compute_index_maps()
        return self._cloud_to_packed_first_idx

    def padded_to_packed_idx(self) -> torch.Tensor:
        """(sum P_i,) int64, x such that ``points_padded().reshape(-1, 3)[x] == points_packed()``."""
        if self._padded_to_packed_idx is None:
            self._padded_to_packed_idx = _padded_to_packed_idx(
                self._num_points_per_cloud, sum(self._num_points_list), self._P
            )
        return self._padded_to_packed_idx

    # ------------------------------------------------------------------------------------------
    # the three views of points, normals and features

    def _has(self, kind: str) -> bool:
        return any(getattr(self, f"_{kind}_{view}") is not None for view in _VIEWS)

    def _width(self, kind: str) -> int:
        return (self._C or 0) if kind == "features" else 3

    def _list(self, kind: str) -> list[torch.Tensor] | None:
        if not self._has(kind):
            return None
        name = f"_{kind}_list"
        if getattr(self, name) is None:
            if self._N == 0:
                value = []
            elif getattr(self, f"_{kind}_packed") is not None:
                value = struct_utils.packed_to_list(getattr(self, f"_{kind}_packed"), self._num_points_list)
            else:
                value = struct_utils.padded_to_list(getattr(self, f"_{kind}_padded"), self._num_points_list)
            setattr(self, name, value)
        return getattr(self, name)

    def _packed(self, kind: str) -> torch.Tensor | None:
        if not self._has(kind):
            return None
        name = f"_{kind}_packed"
        if getattr(self, name) is None:
            listed, padded = getattr(self, f"_{kind}_list"), getattr(self, f"_{kind}_padded")
            if self._N == 0:
                value = torch.zeros((0, self._width(kind)), dtype=self._dtype, device=self.device)
            elif listed is not None:
                value = torch.cat(listed, 0)
            else:
                flat = padded.reshape(-1, padded.shape[2])
                value = flat if sum(self._num_points_list) == flat.shape[0] else flat[self.padded_to_packed_idx()]
            setattr(self, name, value)
        return getattr(self, name)

    def _padded(self, kind: str) -> torch.Tensor | None:
        if not self._has(kind):
            return None
        name = f"_{kind}_padded"
        if getattr(self, name) is None:
            listed = getattr(self, f"_{kind}_list")
            if self._N == 0:
                value = torch.zeros((0, 0, self._width(kind)), dtype=self._dtype, device=self.device)
            elif listed is not None:
                value = struct_utils.list_to_padded(
                    listed, (self._P, listed[0].shape[1]), pad_value=0.0, equisized=self.equisized
                )
            else:
                value = packed_to_padded(getattr(self, f"_{kind}_packed"), self.cloud_to_packed_first_idx(), self._P)
            setattr(self, name, value)
        return getattr(self, name)

    def points_list(self) -> list[torch.Tensor]:
        """N tensors (P_i, 3)."""
        return self._list("points")

    def points_packed(self) -> torch.Tensor:
        """(sum P_i, 3) all points, cloud after cloud."""
        return self._packed("points")

    def points_padded(self) -> torch.Tensor:
        """(N, max P_i, 3) points, zeros after each cloud's last point."""
        return self._padded("points")

    def normals_list(self) -> list[torch.Tensor] | None:
        """N tensors (P_i, 3), or None without normals."""
        return self._list("normals")

    def normals_packed(self) -> torch.Tensor | None:
        """(sum P_i, 3), or None without normals."""
        return self._packed("normals")

    def normals_padded(self) -> torch.Tensor | None:
        """(N, max P_i, 3), or None without normals."""
        return self._padded("normals")

    def features_list(self) -> list[torch.Tensor] | None:
        """N tensors (P_i, C), or None without features."""
        return self._list("features")

    def features_packed(self) -> torch.Tensor | None:
        """(sum P_i, C), or None without features."""
        return self._packed("features")

    def features_padded(self) -> torch.Tensor | None:
        """(N, max P_i, C), or None without features."""
        return self._padded("features")

    def get_cloud(self, index: int) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Points (P_i, 3), normals (P_i, 3) or None, features (P_i, C) or None of cloud ``index``."""
        if not isinstance(index, int):
            raise ValueError(f"Pointclouds.get_cloud: index must be an int, got {type(index).__name__}")
        if index < 0 or index >= self._N:
            raise ValueError(f"Pointclouds.get_cloud: index {index} is outside [0, {self._N})")
        normals, features = self.normals_list(), self.features_list()
        return (
            self.points_list()[index],
            None if normals is None else normals[index],
            None if features is None else features[index],
        )

    def get_bounding_boxes(self) -> torch.Tensor:
        """(N, 3, 2): [i, j] = (min, max) of cloud i along axis j; zeros for an empty cloud."""
        return _bounding_boxes(self.points_padded(), self._num_points_per_cloud)

    def inside_box(self, box: torch.Tensor) -> torch.Tensor:
        """(sum P_i,) bool: whether each packed point lies in its cloud's box (borders included).

        Args:
            box: (2, 3) ``[min_xyz, max_xyz]`` for all clouds, (1, 2, 3) likewise, or (N, 2, 3) one per cloud.
        """
        if not torch.is_tensor(box) or box.ndim not in (2, 3) or tuple(box.shape[-2:]) != (2, 3):
            raise ValueError("Input box must be of shape (2, 3) or (N, 2, 3).")
        if box.ndim == 3 and box.shape[0] not in (1, self._N):
            raise ValueError("Input box dimension is incompatible with pointcloud size.")
        box = box.reshape(-1, 2, 3).expand(self._N, 2, 3)
        if bool((box[:, 0] > box[:, 1]).any()):
            raise ValueError("Pointclouds.inside_box: box minima must not exceed maxima")
        per_point = box.to(self.device)[self.packed_to_cloud_idx()]  # (P, 2, 3)
        points = self.points_packed()
        return ((points >= per_point[:, 0]) & (points <= per_point[:, 1])).all(dim=1)

    # ------------------------------------------------------------------------------------------
    # moving points

    def offset_(self, offsets_packed: torch.Tensor) -> "Pointclouds":
        """Adds offsets to the points in place and returns self.

        Args:
            offsets_packed: (sum P_i, 3) one offset per packed point, or (3,) one for all.
        """
        points = self.points_packed()
        if not torch.is_tensor(offsets_packed):
            raise ValueError("Pointclouds.offset_: offsets must be a tensor of shape (3,) or (sum P_i, 3)")
        if tuple(offsets_packed.shape) == (3,):
            offsets_packed = offsets_packed.expand_as(points)
        if offsets_packed.shape != points.shape:
            raise ValueError(
                f"Pointclouds.offset_: offsets have shape {tuple(offsets_packed.shape)}, expected (3,) or {tuple(points.shape)}"
            )
        self._points_packed = points + offsets_packed
        self._points_list = None
        self._points_padded = None
        return self

    def offset(self, offsets_packed: torch.Tensor) -> "Pointclouds":
        """Out-of-place :meth:`offset_`."""
        return self.clone().offset_(offsets_packed)

    def scale_(self, scale: float | torch.Tensor) -> "Pointclouds":
        """Multiplies the points of each cloud by a scalar (a number or an (N,) tensor), in place."""
        if torch.is_tensor(scale):
            if scale.numel() == 1:
                scale = scale.reshape(()).expand(self._N)
            if scale.shape != (self._N,):
                raise ValueError(f"Pointclouds.scale_: scale has shape {tuple(scale.shape)}, expected ({self._N},)")
            scale = scale.to(device=self.device, dtype=self._dtype)
        else:
            scale = torch.full((self._N,), float(scale), dtype=self._dtype, device=self.device)
        points = self.points_packed()
        self._points_packed = points * scale[self.packed_to_cloud_idx()][:, None]
        self._points_list = None
        self._points_padded = None
        return self

    def scale(self, scale: float | torch.Tensor) -> "Pointclouds":
        """Out-of-place :meth:`scale_`."""
        return self.clone().scale_(scale)

    def update_padded(
        self,
        new_points_padded: torch.Tensor,
        new_normals_padded: torch.Tensor | None = None,
        new_features_padded: torch.Tensor | None = None,
    ) -> "Pointclouds":
        """A new Pointclouds with new padded points (and optionally normals / features), same sizes.

        Args:
            new_points_padded: (N, max P_i, 3).
            new_normals_padded: (N, max P_i, 3) or None to keep the current normals.
            new_features_padded: (N, max P_i, C') or None to keep the current features.
        """

        def check(x: torch.Tensor, name: str, channels: int | None) -> None:
            if not torch.is_tensor(x) or x.ndim != 3 or x.shape[:2] != (self._N, self._P):
                shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
                raise ValueError(f"Pointclouds.update_padded: {name} have shape {shape}, expected ({self._N}, {self._P}, C)")
            if channels is not None and x.shape[2] != channels:
                raise ValueError(f"Pointclouds.update_padded: {name} have {x.shape[2]} channels, expected {channels}")
            if x.device != self.device:
                raise ValueError(f"Pointclouds.update_padded: {name} are on {x.device}, clouds on {self.device}")

        check(new_points_padded, "points", 3)
        new = self._shallow_copy()
        new._dtype = new_points_padded.dtype
        new._points_padded, new._points_list, new._points_packed = new_points_padded, None, None
        if new_normals_padded is not None:
            check(new_normals_padded, "normals", 3)
            new._normals_padded, new._normals_list, new._normals_packed = new_normals_padded, None, None
        if new_features_padded is not None:
            check(new_features_padded, "features", None)
            new._features_padded, new._features_list, new._features_packed = new_features_padded, None, None
            new._C = new_features_padded.shape[2]
        return new

    # ------------------------------------------------------------------------------------------
    # batch operations

    def __getitem__(self, index: int | slice | list[int] | torch.Tensor) -> "Pointclouds":
        """The clouds selected by an int, a slice, a list of ints, or a 1-D bool / integer tensor (shared, not copied)."""
        ids = _select(index, self._N, "Pointclouds")
        views: dict[str, Any] = {}
        for kind in _KINDS:
            listed = self._list(kind)
            if listed is not None:
                views[f"_{kind}_list"] = [listed[i] for i in ids]
        return type(self)._from_views([self._num_points_list[i] for i in ids], self.device, self._dtype, self._C, **views)

    def split(self, split_sizes: Sequence[int]) -> list["Pointclouds"]:
        """Splits into consecutive Pointclouds of the given sizes, as ``torch.split``."""
        if not all(isinstance(s, int) and s >= 0 for s in split_sizes):
            raise ValueError("Pointclouds.split: split_sizes must be non-negative ints")
        if sum(split_sizes) > self._N:
            raise ValueError(f"Pointclouds.split: sizes {list(split_sizes)} add up to more than {self._N} clouds")
        out, start = [], 0
        for size in split_sizes:
            out.append(self[start : start + size])
            start += size
        return out

    def extend(self, N: int) -> "Pointclouds":
        """A new Pointclouds holding each cloud N times in a row (cloud 0 N times, then cloud 1, ...); copies data."""
        if not isinstance(N, int) or isinstance(N, bool):
            raise ValueError(f"Pointclouds.extend: N must be an int, got {type(N).__name__}")
        if N <= 0:
            raise ValueError(f"Pointclouds.extend: N must be > 0, got {N}")
        views = {
            f"_{kind}_padded": self._padded(kind).repeat_interleave(N, dim=0) for kind in _KINDS if self._has(kind)
        }
        counts = [n for n in self._num_points_list for _ in range(N)]
        return type(self)._from_views(counts, self.device, self._dtype, self._C, **views)

    def _shallow_copy(self) -> "Pointclouds":
        new = self.__class__.__new__(self.__class__)
        new.__dict__.update(self.__dict__)
        new._num_points_list = list(self._num_points_list)
        return new

    # ------------------------------------------------------------------------------------------
    # normals estimation and subsampling (PyTorch3D's methods)

    def estimate_normals(
        self,
        neighborhood_size: int = 50,
        disambiguate_directions: bool = True,
        assign_to_self: bool = False,
    ) -> torch.Tensor:
        """Normals of every point from the covariance of its K nearest neighbours.

        See ``inverse3d.ops.estimate_pointcloud_normals``; every cloud needs more than ``neighborhood_size``
        points.

        Args:
            neighborhood_size: K, neighbours per point.
            disambiguate_directions: orient neighbouring normals consistently.
            assign_to_self: also store them as this batch's normals (replacing any).

        Returns:
            (N, max P_i, 3) padded normals.
        """
        from inverse3d.ops.points_normals import estimate_pointcloud_normals

        normals = estimate_pointcloud_normals(
            self, neighborhood_size=neighborhood_size, disambiguate_directions=disambiguate_directions
        )
        if assign_to_self:
            self._normals_padded, self._normals_list, self._normals_packed = normals, None, None
        return normals

    def subsample(self, max_points: int | Sequence[int]) -> "Pointclouds":
        """Clouds keeping at most ``max_points`` points each, chosen uniformly at random without replacement.

        Kept points stay in their original order, with their normals and features. Returns ``self`` when no
        cloud exceeds its limit.

        Args:
            max_points: one limit for all clouds, or N limits.
        """
        if isinstance(max_points, int) and not isinstance(max_points, bool):
            limits = [max_points] * self._N
        else:
            limits = [int(m) for m in max_points]
            if len(limits) != self._N:
                raise ValueError("wrong number of max_points supplied")
        if any(m < 0 for m in limits):
            raise ValueError(f"Pointclouds.subsample: max_points must be non-negative, got {limits}")
        if all(n <= m for n, m in zip(self._num_points_list, limits)):
            return self
        limit = torch.tensor(limits, dtype=torch.int64, device=self.device)
        valid = torch.arange(self._P, device=self.device)[None] < self._num_points_per_cloud[:, None]  # (N, P)
        keys = torch.rand(self._N, self._P, device=self.device).masked_fill(~valid, 2.0)
        rank = keys.argsort(1).argsort(1)  # random rank of each point within its cloud
        keep = valid & (rank < limit[:, None])  # (N, P)
        counts = [min(n, m) for n, m in zip(self._num_points_list, limits)]
        views = {f"_{kind}_packed": self._padded(kind)[keep] for kind in _KINDS if self._has(kind)}
        return type(self)._from_views(counts, self.device, self._dtype, self._C, **views)



def _as_rows(t: Any, channels: int | None, name: str) -> torch.Tensor:
    """Checks a per-cloud tensor (P_i, channels) (an empty tensor becomes (0, channels))."""
    if not torch.is_tensor(t):
        raise ValueError(f"Pointclouds: {name} is a {type(t).__name__}, expected a torch.Tensor")
    if t.ndim >= 1 and t.shape[0] == 0 and t.numel() == 0 and (t.ndim == 1 or channels is not None):
        t = t.reshape(0, channels or 0)
    if t.ndim != 2 or (channels is not None and t.shape[1] != channels):
        raise ValueError(f"Pointclouds: {name} has shape {tuple(t.shape)}, expected (P, {channels or 'C'})")
    if not t.is_floating_point():
        raise ValueError(f"Pointclouds: {name} has dtype {t.dtype}, expected a floating-point dtype")
    return t


def _select(index: Any, n: int, what: str) -> list[int]:
    """Item ids (in [0, n)) chosen by an int, slice, list of ints or 1-D bool / integer tensor."""
    if isinstance(index, bool):
        raise IndexError(index)
    if not torch.is_tensor(index) and hasattr(index, "__index__"):  # numpy integers
        index = operator.index(index)
    if isinstance(index, int):
        ids = [index]
    elif isinstance(index, slice):
        ids = list(range(n))[index]
    elif isinstance(index, (list, tuple)):
        ids = [int(i) for i in index]
    elif torch.is_tensor(index):
        if index.ndim != 1 or index.is_floating_point() or index.is_complex():
            raise IndexError(f"{what}: a tensor index must be 1-D bool or integer, got {index.dtype} {tuple(index.shape)}")
        if index.dtype == torch.bool:
            if index.shape[0] != n:
                raise IndexError(f"{what}: bool index has {index.shape[0]} entries for {n} items")
            index = index.nonzero().reshape(-1)
        ids = [int(i) for i in index.tolist()]
    else:
        raise IndexError(index)
    if any(not -n <= i < n for i in ids):
        raise IndexError(f"{what} index {index} out of range for {n} items")
    return [i % n for i in ids]


def join_pointclouds_as_batch(pointclouds: Sequence[Pointclouds]) -> Pointclouds:
    """One Pointclouds holding all clouds of a list of Pointclouds, in order.

    All inputs must be on one device and either all or none have normals (features likewise, with
    the same number of channels).
    """
    if isinstance(pointclouds, Pointclouds):
        raise ValueError("join_pointclouds_as_batch expects a list of Pointclouds, not a Pointclouds")
    pointclouds = list(pointclouds)
    if not pointclouds:
        raise ValueError("join_pointclouds_as_batch: got an empty list")
    if not all(isinstance(p, Pointclouds) for p in pointclouds):
        raise ValueError("join_pointclouds_as_batch: every item must be a Pointclouds")
    devices = {p.device for p in pointclouds}
    if len(devices) > 1:
        raise ValueError(f"join_pointclouds_as_batch: clouds are on different devices {sorted(map(str, devices))}")
    views: dict[str, Any] = {}
    for kind in _KINDS:
        present = [p._has(kind) for p in pointclouds]
        if any(present) and not all(present):
            raise ValueError(f"join_pointclouds_as_batch: some clouds have {kind} and some do not")
        if all(present):
            views[f"_{kind}_list"] = [t for p in pointclouds for t in p._list(kind)]
    channels = {p._C for p in pointclouds}
    if len(channels) > 1:
        raise ValueError(f"join_pointclouds_as_batch: features have different numbers of channels {sorted(channels)}")
    first = pointclouds[0]
    counts = [n for p in pointclouds for n in p._num_points_list]
    return Pointclouds._from_views(counts, first.device, first._dtype, first._C, **views)


def join_pointclouds_as_scene(pointclouds: Pointclouds | Sequence[Pointclouds]) -> Pointclouds:
    """A Pointclouds with one cloud made of all the points of a batch (or of a list of Pointclouds)."""
    if not isinstance(pointclouds, Pointclouds):
        pointclouds = join_pointclouds_as_batch(pointclouds)
    if len(pointclouds) == 1:
        return pointclouds
    views = {}
    for kind in _KINDS:
        packed = pointclouds._packed(kind)
        if packed is not None:
            views[f"_{kind}_packed"] = packed
            views[f"_{kind}_list"] = [packed]
    total = sum(pointclouds._num_points_list)
    return Pointclouds._from_views([total], pointclouds.device, pointclouds._dtype, pointclouds._C, **views)
