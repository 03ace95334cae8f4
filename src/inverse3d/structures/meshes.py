"""``Meshes``: a batch of triangle meshes with list, padded and packed views (PyTorch3D's names and semantics).

For N meshes, mesh i having V_i vertices and F_i faces:

========================  ==========================  ===============================================
view                      vertices                    faces
========================  ==========================  ===============================================
list                      N tensors (V_i, 3)          N tensors (F_i, 3), indices into that mesh's verts
padded                    (N, max V_i, 3), zeros      (N, max F_i, 3), rows of -1 after the real faces
packed                    (sum V_i, 3)                (sum F_i, 3), indices into the packed verts
========================  ==========================  ===============================================

Index maps tie the packed rows to their mesh: ``verts_packed_to_mesh_idx`` (sum V_i,),
``mesh_to_verts_packed_first_idx`` (N,), ``num_verts_per_mesh`` (N,), the same for faces and edges,
and ``verts_padded_to_packed_idx`` (sum V_i,) so that ``verts_padded().reshape(-1, 3)[idx] == verts_packed()``.

A Meshes object is built from lists or padded tensors and computes every other view the first time it
is asked for, then caches it. Every view is computed with batched tensor ops (no loop over faces or
vertices) and is differentiable with respect to the vertices. Empty meshes (no vertices and/or no
faces) are allowed anywhere in a batch; every view of them is an empty tensor of the right shape.

Textures are duck-typed like PyTorch3D's ``TexturesBase`` (``inverse3d.renderer.TexturesVertex`` /
``TexturesUV``): they travel with indexing, ``extend``, ``clone``, ``detach``, ``to`` and the joins.
"""

from __future__ import annotations

import operator
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from inverse3d.ops.packed_to_padded import packed_to_padded
from inverse3d.structures import utils as struct_utils
from inverse3d.structures.utils import _bounding_boxes, _index_maps, _padded_to_packed_idx

__all__ = ["Meshes", "join_meshes_as_batch", "join_meshes_as_scene"]

_NORMAL_EPS = 1e-6  # below this length a normal is returned as the zero vector (no NaN)


def _is_int_dtype(t: torch.Tensor) -> bool:
    return not (t.is_floating_point() or t.is_complex() or t.dtype == torch.bool)


class Meshes(struct_utils.TensorContainer):
    """A batch of triangle meshes of possibly different sizes; see the module docstring for the views."""

    # Tensors (or lists of tensors) held by a Meshes object; clone / detach / to map over these.
    _INTERNAL_TENSORS = [
        "_verts_list",
        "_faces_list",
        "_verts_packed",
        "_verts_packed_to_mesh_idx",
        "_mesh_to_verts_packed_first_idx",
        "_verts_padded",
        "_num_verts_per_mesh",
        "_faces_packed",
        "_faces_packed_to_mesh_idx",
        "_mesh_to_faces_packed_first_idx",
        "_faces_padded",
        "_faces_areas_packed",
        "_verts_normals_packed",
        "_faces_normals_packed",
        "_num_faces_per_mesh",
        "_edges_packed",
        "_edges_packed_to_mesh_idx",
        "_mesh_to_edges_packed_first_idx",
        "_faces_packed_to_edges_packed",
        "_num_edges_per_mesh",
        "_verts_padded_to_packed_idx",
        "_laplacian_packed",
        "valid",
    ]

    def __init__(
        self,
        verts: Sequence[torch.Tensor] | torch.Tensor,
        faces: Sequence[torch.Tensor] | torch.Tensor,
        textures: Any = None,
        *,
        verts_normals: Sequence[torch.Tensor] | torch.Tensor | None = None,
    ) -> None:
        """
        Args:
            verts: either N float tensors (V_i, 3), or a padded float tensor (N, V, 3). With a padded
                tensor every mesh has V vertices (as in PyTorch3D; the padding is unused vertices).
            faces: either N integer tensors (F_i, 3) with indices in [0, V_i), or a padded integer tensor
                (N, F, 3) whose padding rows are all -1 and come after the real faces of each mesh.
                Rows that are all -1 are also dropped from list input (PyTorch3D does the same).
            textures: optional texture object (``TexturesVertex``, ``TexturesUV``, ...) for the batch.
            verts_normals: optional vertex normals, N tensors (V_i, 3) or padded (N, V, 3); used as given
                until the vertices move (``offset_verts_`` with per-vertex offsets recomputes them).

        Raises:
            ValueError: wrong types, shapes or dtypes, list lengths that differ, tensors on different
                devices, face indices outside [0, V_i), misplaced padding, NaN or infinite vertices,
                textures that do not look like textures or do not match the meshes.
        """
        self._reset_state()
        if isinstance(verts, (list, tuple)) and isinstance(faces, (list, tuple)):
            with torch.no_grad():  # checks only: keep them out of the autograd graph
                verts_list, faces_list = _check_lists(list(verts), list(faces))
            num_verts = [v.shape[0] for v in verts_list]
            num_faces = [f.shape[0] for f in faces_list]
            device = verts_list[0].device if verts_list else torch.device("cpu")
            dtype = verts_list[0].dtype if verts_list else torch.float32
            self._set_counts(num_verts, num_faces, device, dtype)
            self._verts_list, self._faces_list = verts_list, faces_list
        elif torch.is_tensor(verts) and torch.is_tensor(faces):
            with torch.no_grad():
                num_faces = _check_padded(verts, faces)
            self._set_counts([verts.shape[1]] * verts.shape[0], num_faces, verts.device, verts.dtype)
            self._verts_padded, self._faces_padded = verts, faces.to(torch.int64)
        else:
            raise ValueError(
                "Meshes: verts and faces must both be lists of tensors [(V_i, 3)], [(F_i, 3)] or both padded "
                f"tensors (N, V, 3), (N, F, 3); got {type(verts).__name__} and {type(faces).__name__}"
            )
        self.textures = None
        self._attach_textures(textures)
        if verts_normals is not None:
            self._set_verts_normals(verts_normals)

    # ------------------------------------------------------------------------------------------
    # construction helpers

    def _reset_state(self) -> None:
        self.device = torch.device("cpu")
        self._dtype = torch.float32
        self.textures = None
        self.equisized = False
        self.valid = torch.zeros((0,), dtype=torch.bool)
        self._N = 0  # number of meshes
        self._V = 0  # max number of vertices per mesh
        self._F = 0  # max number of faces per mesh
        self._num_verts_list: list[int] = []
        self._num_faces_list: list[int] = []
        for name in self._INTERNAL_TENSORS:
            if name != "valid":
                setattr(self, name, None)
        self._verts_normals_given = False

    def _set_counts(self, num_verts: list[int], num_faces: list[int], device: torch.device, dtype: torch.dtype) -> None:
        """Sets N, the per-mesh sizes (Python lists and (N,) int64 tensors), valid and equisized."""
        self.device = torch.device(device)
        self._dtype = dtype
        self._N = len(num_verts)
        self._num_verts_list = [int(n) for n in num_verts]
        self._num_faces_list = [int(n) for n in num_faces]
        self._V = max(self._num_verts_list, default=0)
        self._F = max(self._num_faces_list, default=0)
        self._num_verts_per_mesh = torch.tensor(self._num_verts_list, dtype=torch.int64, device=self.device)
        self._num_faces_per_mesh = torch.tensor(self._num_faces_list, dtype=torch.int64, device=self.device)
        self.valid = torch.tensor(
            [nv > 0 and nf > 0 for nv, nf in zip(self._num_verts_list, self._num_faces_list)],
            dtype=torch.bool,
            device=self.device,
        )
        self.equisized = self._N > 0 and len(set(self._num_verts_list)) == 1 and len(set(self._num_faces_list)) == 1

    @classmethod
    def _from_views(
        cls,
        num_verts: list[int],
        num_faces: list[int],
        device: torch.device,
        dtype: torch.dtype,
        textures: Any = None,
        **views: Any,
    ) -> "Meshes":
        """Builds a Meshes from views already known to be valid (internal; no checks, no device sync).

        ``views`` sets any of _verts_list, _faces_list, _verts_padded, _faces_padded, _verts_packed,
        _faces_packed (at least one verts view and one faces view).
        """
        new = cls.__new__(cls)
        new._reset_state()
        new._set_counts(num_verts, num_faces, device, dtype)
        for name, value in views.items():
            setattr(new, name, value)
        new._attach_textures(textures)
        return new

    def _attach_textures(self, textures: Any) -> None:
        """Stores ``textures`` and tells it the per-mesh sizes, as PyTorch3D's Meshes does."""
        if textures is None:
            self.textures = None
            return
        if not hasattr(textures, "sample_textures"):
            raise ValueError(f"Meshes: expected textures to be a TexturesBase-like object, got {type(textures).__name__}")
        check = getattr(textures, "check_shapes", None)
        if check is not None and not check(self._N, self._V, self._F):
            raise ValueError(
                f"Meshes: textures do not match the meshes (N={self._N}, max verts={self._V}, max faces={self._F})"
            )
        self.textures = textures  # the setter tells the textures the per-mesh sizes

    def _set_verts_normals(self, verts_normals: Sequence[torch.Tensor] | torch.Tensor) -> None:
        if isinstance(verts_normals, (list, tuple)):
            if len(verts_normals) != self._N:
                raise ValueError(f"Meshes: verts_normals has {len(verts_normals)} tensors for {self._N} meshes")
            for i, (n, nv) in enumerate(zip(verts_normals, self._num_verts_list)):
                if not torch.is_tensor(n) or n.ndim != 2 or n.shape != (nv, 3):
                    shape = tuple(n.shape) if torch.is_tensor(n) else type(n).__name__
                    raise ValueError(f"Meshes: verts_normals[{i}] has shape {shape}, expected ({nv}, 3)")
            packed = (
                torch.cat(list(verts_normals), 0)
                if self._N
                else torch.zeros((0, 3), dtype=self._dtype, device=self.device)
            )
        elif torch.is_tensor(verts_normals):
            if verts_normals.ndim != 3 or verts_normals.shape[0] != self._N or verts_normals.shape[2] != 3:
                raise ValueError(
                    f"Meshes: padded verts_normals has shape {tuple(verts_normals.shape)}, expected ({self._N}, V, 3)"
                )
            if verts_normals.shape[1] < self._V:
                raise ValueError(f"Meshes: padded verts_normals has {verts_normals.shape[1]} rows, meshes need {self._V}")
            packed = struct_utils.padded_to_packed(verts_normals, split_size=self._num_verts_list)
        else:
            raise ValueError(f"Meshes: verts_normals must be a list of tensors or a tensor, got {type(verts_normals).__name__}")
        if packed.device != self.device:
            raise ValueError(f"Meshes: verts_normals are on {packed.device} but the vertices are on {self.device}")
        self._verts_normals_packed = packed
        self._verts_normals_given = True

    @property
    def textures(self) -> Any:
        """The texture object of the batch, or None. Assigning one tells it the per-mesh sizes."""
        return self._textures

    @textures.setter
    def textures(self, textures: Any) -> None:
        self._textures = textures
        if textures is not None:
            try:
                textures._num_faces_per_mesh = list(self._num_faces_list)
                textures._num_verts_per_mesh = list(self._num_verts_list)
                textures.valid = self.valid
            except AttributeError:  # an object that does not take attributes: use it as it is
                pass

    # ------------------------------------------------------------------------------------------
    # basic properties

    def __len__(self) -> int:
        return self._N

    def __repr__(self) -> str:
        return (
            f"Meshes(N={self._N}, verts={self._num_verts_list}, faces={self._num_faces_list}, "
            f"device={self.device}, textures={type(self.textures).__name__ if self.textures is not None else None})"
        )

    def isempty(self) -> bool:
        """True when the batch has no mesh with both vertices and faces."""
        return self._N == 0 or not any(nv > 0 and nf > 0 for nv, nf in zip(self._num_verts_list, self._num_faces_list))

    def num_verts_per_mesh(self) -> torch.Tensor:
        """(N,) int64, V_i."""
        return self._num_verts_per_mesh

    def num_faces_per_mesh(self) -> torch.Tensor:
        """(N,) int64, F_i."""
        return self._num_faces_per_mesh

    def _empty(self, *shape: int, dtype: torch.dtype | None = None) -> torch.Tensor:
        return torch.zeros(shape, dtype=dtype or self._dtype, device=self.device)

    # ------------------------------------------------------------------------------------------
    # index maps (computed from the sizes only)

    def _compute_index_maps(self) -> None:
        if self._verts_packed_to_mesh_idx is None or self._mesh_to_verts_packed_first_idx is None:
            first, to_mesh = _index_maps(self._num_verts_per_mesh, sum(self._num_verts_list))
            self._mesh_to_verts_packed_first_idx, self._verts_packed_to_mesh_idx = first, to_mesh
        if self._faces_packed_to_mesh_idx is None or self._mesh_to_faces_packed_first_idx is None:
            first, to_mesh = _index_maps(self._num_faces_per_mesh, sum(self._num_faces_list))
            self._mesh_to_faces_packed_first_idx, self._faces_packed_to_mesh_idx = first, to_mesh

    def verts_packed_to_mesh_idx(self) -> torch.Tensor:
        """(sum V_i,) int64, the mesh of each packed vertex."""
        self._compute_index_maps()
        return self._verts_packed_to_mesh_idx

    def mesh_to_verts_packed_first_idx(self) -> torch.Tensor:
        """(N,) int64, the packed row of each mesh's first vertex."""
        self._compute_index_maps()
        return self._mesh_to_verts_packed_first_idx

    def faces_packed_to_mesh_idx(self) -> torch.Tensor:
        """(sum F_i,) int64, the mesh of each packed face."""
        self._compute_index_maps()
        return self._faces_packed_to_mesh_idx

    def mesh_to_faces_packed_first_idx(self) -> torch.Tensor:
        """(N,) int64, the packed row of each mesh's first face."""
        self._compute_index_maps()
        return self._mesh_to_faces_packed_first_idx

    def verts_padded_to_packed_idx(self) -> torch.Tensor:
        """(sum V_i,) int64, x such that ``verts_padded().reshape(-1, 3)[x] == verts_packed()``."""
        if self._verts_padded_to_packed_idx is None:
            self._verts_padded_to_packed_idx = _padded_to_packed_idx(
                self._num_verts_per_mesh, sum(self._num_verts_list), self._padded_verts_stride()
            )
        return self._verts_padded_to_packed_idx

    def _padded_verts_stride(self) -> int:
        return self._verts_padded.shape[1] if self._verts_padded is not None else self._V

    # ------------------------------------------------------------------------------------------
    # vertices and faces in the three views

    def verts_list(self) -> list[torch.Tensor]:
        """N tensors (V_i, 3)."""
        if self._verts_list is None:
            if self._N == 0:
                self._verts_list = []
            elif self._verts_packed is not None:
                self._verts_list = struct_utils.packed_to_list(self._verts_packed, self._num_verts_list)
            else:
                self._verts_list = struct_utils.padded_to_list(self._verts_padded, self._num_verts_list)
        return self._verts_list

    def faces_list(self) -> list[torch.Tensor]:
        """N int64 tensors (F_i, 3), indices into each mesh's own vertices."""
        if self._faces_list is None:
            if self._N == 0:
                self._faces_list = []
            elif self._faces_padded is not None:
                self._faces_list = struct_utils.padded_to_list(self._faces_padded, self._num_faces_list)
            else:
                local = self._faces_packed - self._faces_offsets()
                self._faces_list = struct_utils.packed_to_list(local, self._num_faces_list)
        return self._faces_list

    def verts_packed(self) -> torch.Tensor:
        """(sum V_i, 3) all vertices, mesh after mesh."""
        if self._verts_packed is None:
            if self._N == 0:
                self._verts_packed = self._empty(0, 3)
            elif self._verts_list is not None:
                self._verts_packed = torch.cat(self._verts_list, 0)
            else:
                flat = self._verts_padded.reshape(-1, 3)
                if sum(self._num_verts_list) == flat.shape[0]:  # no padding rows
                    self._verts_packed = flat
                else:
                    self._verts_packed = flat[self.verts_padded_to_packed_idx()]
        return self._verts_packed

    def _faces_offsets(self) -> torch.Tensor:
        """(sum F_i, 1) int64, first packed vertex of the mesh of each packed face."""
        self._compute_index_maps()
        return self._mesh_to_verts_packed_first_idx[self._faces_packed_to_mesh_idx][:, None]

    def faces_packed(self) -> torch.Tensor:
        """(sum F_i, 3) int64, faces indexing into ``verts_packed()``."""
        if self._faces_packed is None:
            if self._N == 0:
                self._faces_packed = self._empty(0, 3, dtype=torch.int64)
            elif self._faces_list is not None:
                self._faces_packed = torch.cat(self._faces_list, 0) + self._faces_offsets()
            else:
                padded = self._faces_padded
                idx = _padded_to_packed_idx(self._num_faces_per_mesh, sum(self._num_faces_list), padded.shape[1])
                self._faces_packed = padded.reshape(-1, 3)[idx] + self._faces_offsets()
        return self._faces_packed

    def verts_padded(self) -> torch.Tensor:
        """(N, max V_i, 3) vertices, zeros after each mesh's last vertex."""
        if self._verts_padded is None:
            if self._N == 0:
                self._verts_padded = self._empty(0, 0, 3)
            elif self._verts_list is not None:
                self._verts_padded = struct_utils.list_to_padded(
                    self._verts_list, (self._V, 3), pad_value=0.0, equisized=self.equisized
                )
            else:
                self._verts_padded = packed_to_padded(
                    self._verts_packed, self.mesh_to_verts_packed_first_idx(), self._V
                )
        return self._verts_padded

    def faces_padded(self) -> torch.Tensor:
        """(N, max F_i, 3) int64 faces with per-mesh vertex indices, rows of -1 after the real faces."""
        if self._faces_padded is None:
            if self._N == 0:
                self._faces_padded = self._empty(0, 0, 3, dtype=torch.int64)
            elif self._faces_list is not None:
                self._faces_padded = struct_utils.list_to_padded(
                    self._faces_list, (self._F, 3), pad_value=-1, equisized=self.equisized
                )
            else:
                local = self._faces_packed - self._faces_offsets()
                # shift by one so that the zero padding of packed_to_padded becomes -1
                self._faces_padded = packed_to_padded(local + 1, self.mesh_to_faces_packed_first_idx(), self._F) - 1
        return self._faces_padded

    def get_mesh_verts_faces(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Vertices (V_i, 3) and faces (F_i, 3) of mesh ``index`` in [0, N)."""
        if not isinstance(index, int):
            raise ValueError(f"Meshes.get_mesh_verts_faces: index must be an int, got {type(index).__name__}")
        if index < 0 or index >= self._N:
            raise ValueError(f"Meshes.get_mesh_verts_faces: index {index} is outside [0, {self._N})")
        return self.verts_list()[index], self.faces_list()[index]

    # ------------------------------------------------------------------------------------------
    # edges and the graph Laplacian

    def _compute_edges_packed(self) -> None:
        if self._edges_packed is not None and self._faces_packed_to_edges_packed is not None:
            return
        faces = self.faces_packed()  # (F, 3)
        n_faces = faces.shape[0]
        v0, v1, v2 = faces.unbind(1)
        # Edge k of a face is the one opposite its vertex k: (v1, v2), (v2, v0), (v0, v1).
        edges = torch.cat([torch.stack([v1, v2], 1), torch.stack([v2, v0], 1), torch.stack([v0, v1], 1)], 0)
        edges, _ = edges.sort(dim=1)  # (3F, 2), smaller index first
        n_verts = max(sum(self._num_verts_list), 1)
        edge_hash = edges[:, 0] * n_verts + edges[:, 1]
        unique_hash, inverse = torch.unique(edge_hash, sorted=True, return_inverse=True)
        self._edges_packed = torch.stack([unique_hash // n_verts, unique_hash % n_verts], 1)  # (E, 2)
        self._faces_packed_to_edges_packed = inverse.reshape(3, n_faces).t().contiguous()  # (F, 3)
        # Packed vertex indices grow with the mesh index, so sorted edges come mesh after mesh.
        self._compute_index_maps()
        self._edges_packed_to_mesh_idx = self._verts_packed_to_mesh_idx[self._edges_packed[:, 0]]
        num_edges = torch.bincount(self._edges_packed_to_mesh_idx, minlength=self._N)
        self._num_edges_per_mesh = num_edges.to(torch.int32)  # int32, as PyTorch3D
        self._mesh_to_edges_packed_first_idx = torch.cumsum(num_edges, 0) - num_edges  # int64

    def edges_packed(self) -> torch.Tensor:
        """(sum E_i, 2) int64 unique undirected edges (v0 < v1) in packed vertex indices, sorted."""
        self._compute_edges_packed()
        return self._edges_packed

    def edges_packed_to_mesh_idx(self) -> torch.Tensor:
        """(sum E_i,) int64, the mesh of each packed edge."""
        self._compute_edges_packed()
        return self._edges_packed_to_mesh_idx

    def mesh_to_edges_packed_first_idx(self) -> torch.Tensor:
        """(N,) int64, the packed row of each mesh's first edge."""
        self._compute_edges_packed()
        return self._mesh_to_edges_packed_first_idx

    def num_edges_per_mesh(self) -> torch.Tensor:
        """(N,) int32, E_i (PyTorch3D's dtype)."""
        self._compute_edges_packed()
        return self._num_edges_per_mesh

    def faces_packed_to_edges_packed(self) -> torch.Tensor:
        """(sum F_i, 3) int64: column k is the packed edge opposite vertex k of each face."""
        self._compute_edges_packed()
        return self._faces_packed_to_edges_packed

    def laplacian_packed(self) -> torch.Tensor:
        """(sum V_i, sum V_i) sparse uniform Laplacian: L[i, j] = 1 / deg(i) for each edge (i, j),
        L[i, i] = -1, 0 elsewhere (deg(i): number of neighbours; a vertex without edges keeps only -1)."""
        if self._laplacian_packed is None:
            n_verts = sum(self._num_verts_list)
            edges = self.edges_packed()
            e0, e1 = edges.unbind(1)
            rows, cols = torch.cat([e0, e1]), torch.cat([e1, e0])
            deg = torch.bincount(rows, minlength=n_verts).to(self._dtype)
            off_diag = 1.0 / deg[rows]
            diag = torch.arange(n_verts, dtype=torch.int64, device=self.device)
            index = torch.stack([torch.cat([rows, diag]), torch.cat([cols, diag])], 0)
            values = torch.cat([off_diag, torch.full((n_verts,), -1.0, dtype=self._dtype, device=self.device)])
            self._laplacian_packed = torch.sparse_coo_tensor(
                index, values, (n_verts, n_verts), check_invariants=False
            ).coalesce()
        return self._laplacian_packed

    # ------------------------------------------------------------------------------------------
    # normals and areas

    def _compute_face_areas_normals(self) -> None:
        if self._faces_areas_packed is not None and self._faces_normals_packed is not None:
            return
        cross = self._faces_cross()  # (F, 3), length = 2 * area
        length = torch.linalg.vector_norm(cross, dim=1)  # (F,), gradient 0 at 0 (no NaN)
        self._faces_areas_packed = 0.5 * length
        self._faces_normals_packed = cross / length.clamp_min(_NORMAL_EPS)[:, None]

    def _faces_cross(self) -> torch.Tensor:
        """(F, 3): (v1 - v0) x (v2 - v0) of each packed face, the normal scaled by twice the area."""
        tri = self.verts_packed()[self.faces_packed()]  # (F, 3 corners, 3)
        return torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=1)

    def faces_areas_packed(self) -> torch.Tensor:
        """(sum F_i,) area of each packed face."""
        self._compute_face_areas_normals()
        return self._faces_areas_packed

    def faces_normals_packed(self) -> torch.Tensor:
        """(sum F_i, 3) unit normal (v1 - v0) x (v2 - v0) of each face; zero for a zero-area face."""
        self._compute_face_areas_normals()
        return self._faces_normals_packed

    def faces_normals_list(self) -> list[torch.Tensor]:
        """N tensors (F_i, 3) of unit face normals."""
        return struct_utils.packed_to_list(self.faces_normals_packed(), self._num_faces_list) if self._N else []

    def faces_normals_padded(self) -> torch.Tensor:
        """(N, max F_i, 3) unit face normals, zeros after each mesh's last face."""
        if self._N == 0:
            return self._empty(0, 0, 3)
        return packed_to_padded(self.faces_normals_packed(), self.mesh_to_faces_packed_first_idx(), self._F)

    def has_verts_normals(self) -> bool:
        """True when vertex normals were given or have been computed."""
        return self._verts_normals_packed is not None

    def verts_normals_packed(self) -> torch.Tensor:
        """(sum V_i, 3) unit vertex normals: the area-weighted sum of the normals of the faces around
        each vertex, normalised; zero for a vertex whose faces all have zero area or that has no face."""
        if self._verts_normals_packed is None:
            verts, faces = self.verts_packed(), self.faces_packed()
            cross = self._faces_cross()  # (F, 3), already weighted by twice the face area
            summed = torch.zeros_like(verts).index_add(0, faces.reshape(-1), cross.repeat_interleave(3, dim=0))
            self._verts_normals_packed = F.normalize(summed, dim=1, eps=_NORMAL_EPS)
        return self._verts_normals_packed

    def verts_normals_list(self) -> list[torch.Tensor]:
        """N tensors (V_i, 3) of vertex normals."""
        return struct_utils.packed_to_list(self.verts_normals_packed(), self._num_verts_list) if self._N else []

    def verts_normals_padded(self) -> torch.Tensor:
        """(N, max V_i, 3) vertex normals, zeros after each mesh's last vertex."""
        if self._N == 0:
            return self._empty(0, 0, 3)
        return packed_to_padded(self.verts_normals_packed(), self.mesh_to_verts_packed_first_idx(), self._V)

    def _invalidate_geometry(self, keep_given_normals: bool = False) -> None:
        """Forgets what depends on vertex positions (not the topology)."""
        self._faces_areas_packed = None
        self._faces_normals_packed = None
        if not (keep_given_normals and self._verts_normals_given):
            self._verts_normals_packed = None
            self._verts_normals_given = False

    # ------------------------------------------------------------------------------------------
    # bounding boxes

    def get_bounding_boxes(self) -> torch.Tensor:
        """(N, 3, 2): [i, j] = (min, max) of mesh i's vertices along axis j; zeros for a mesh without vertices."""
        return _bounding_boxes(self.verts_padded(), self._num_verts_per_mesh)

    # ------------------------------------------------------------------------------------------
    # moving vertices

    def offset_verts_(self, vert_offsets_packed: torch.Tensor) -> "Meshes":
        """Adds offsets to the vertices in place and returns self.

        Args:
            vert_offsets_packed: (sum V_i, 3) one offset per packed vertex, or (3,) one for all.
                Per-vertex offsets make face and vertex normals recompute; a global shift keeps them.
        """
        verts_packed = self.verts_packed()
        if not torch.is_tensor(vert_offsets_packed):
            raise ValueError("Meshes.offset_verts_: offsets must be a tensor of shape (3,) or (sum V_i, 3)")
        global_shift = tuple(vert_offsets_packed.shape) == (3,)
        if not global_shift and vert_offsets_packed.shape != verts_packed.shape:
            raise ValueError(
                f"Meshes.offset_verts_: offsets have shape {tuple(vert_offsets_packed.shape)}, "
                f"expected (3,) or {tuple(verts_packed.shape)}"
            )
        offsets = vert_offsets_packed.expand_as(verts_packed) if global_shift else vert_offsets_packed
        new_packed = verts_packed + offsets
        padded = self._verts_padded
        self._verts_packed = new_packed
        self._verts_list = None
        if padded is not None:
            if global_shift and sum(self._num_verts_list) == padded.shape[0] * padded.shape[1]:
                self._verts_padded = padded + vert_offsets_packed
            else:
                flat_offsets = torch.zeros_like(padded).reshape(-1, 3)
                flat_offsets = flat_offsets.index_copy(0, self.verts_padded_to_packed_idx(), offsets)
                self._verts_padded = padded + flat_offsets.view_as(padded)
        if not global_shift:
            self._invalidate_geometry()
        return self

    def offset_verts(self, vert_offsets_packed: torch.Tensor) -> "Meshes":
        """Out-of-place :meth:`offset_verts_`: a new Meshes with offset vertices."""
        return self.clone().offset_verts_(vert_offsets_packed)

    def scale_verts_(self, scale: float | torch.Tensor) -> "Meshes":
        """Multiplies the vertices of each mesh by a scalar, in place; returns self.

        Args:
            scale: a number, or a tensor of shape () / (1,) / (N,) with one factor per mesh.
        """
        if torch.is_tensor(scale):
            if scale.numel() == 1:
                scale = scale.reshape(()).expand(self._N)
            if scale.shape != (self._N,):
                raise ValueError(f"Meshes.scale_verts_: scale has shape {tuple(scale.shape)}, expected ({self._N},)")
            scale = scale.to(device=self.device, dtype=self._dtype)
        else:
            scale = torch.full((self._N,), float(scale), dtype=self._dtype, device=self.device)
        verts_packed = self.verts_packed()
        self._verts_packed = verts_packed * scale[self.verts_packed_to_mesh_idx()][:, None]
        self._verts_list = None
        if self._verts_padded is not None:
            self._verts_padded = self._verts_padded * scale[:, None, None]
        self._invalidate_geometry(keep_given_normals=True)
        return self

    def scale_verts(self, scale: float | torch.Tensor) -> "Meshes":
        """Out-of-place :meth:`scale_verts_`."""
        return self.clone().scale_verts_(scale)

    def update_padded(self, new_verts_padded: torch.Tensor) -> "Meshes":
        """A new Meshes with the same faces, textures and topology caches and new padded vertices.

        Args:
            new_verts_padded: (N, max V_i, 3) float; rows past V_i are ignored.
        """
        expected = (self._N, self._padded_verts_stride(), 3)
        if not torch.is_tensor(new_verts_padded) or tuple(new_verts_padded.shape) != expected:
            shape = tuple(new_verts_padded.shape) if torch.is_tensor(new_verts_padded) else type(new_verts_padded).__name__
            raise ValueError(f"Meshes.update_padded: new vertices have shape {shape}, expected {expected}")
        if new_verts_padded.device != self.device:
            raise ValueError(f"Meshes.update_padded: new vertices are on {new_verts_padded.device}, meshes on {self.device}")
        if not new_verts_padded.is_floating_point():
            raise ValueError(f"Meshes.update_padded: new vertices have dtype {new_verts_padded.dtype}, expected floating")
        new = self._shallow_copy()  # shares faces, sizes, index maps, edges, Laplacian and textures
        new._dtype = new_verts_padded.dtype
        new._verts_padded = new_verts_padded
        new._verts_list = None
        new._verts_packed = None
        new._invalidate_geometry()
        return new

    # ------------------------------------------------------------------------------------------
    # batch operations

    def __getitem__(self, index: int | slice | list[int] | torch.Tensor) -> "Meshes":
        """The meshes selected by an int, a slice, a list of ints, or a 1-D bool / integer tensor.

        The vertex and face tensors are shared with self, not copied.
        """
        if isinstance(index, bool):
            raise IndexError(index)
        if not torch.is_tensor(index) and hasattr(index, "__index__"):  # numpy integers
            index = operator.index(index)
        if isinstance(index, int):
            if not -self._N <= index < self._N:
                raise IndexError(f"Meshes index {index} out of range for {self._N} meshes")
            ids = [index % self._N]
        elif isinstance(index, slice):
            ids = list(range(self._N))[index]
        elif isinstance(index, (list, tuple)):
            ids = [int(i) for i in index]
        elif torch.is_tensor(index):
            if index.ndim != 1 or index.is_floating_point() or index.is_complex():
                raise IndexError(f"Meshes: a tensor index must be 1-D bool or integer, got {index.dtype} {tuple(index.shape)}")
            if index.dtype == torch.bool:
                if index.shape[0] != self._N:
                    raise IndexError(f"Meshes: bool index has {index.shape[0]} entries for {self._N} meshes")
                index = index.nonzero().reshape(-1)
            ids = [int(i) for i in index.tolist()]
        else:
            raise IndexError(index)
        if any(not -self._N <= i < self._N for i in ids):
            raise IndexError(f"Meshes index {ids} out of range for {self._N} meshes")
        ids = [i % self._N for i in ids]
        # textures get an int for an int (PyTorch3D's convention), a slice for a slice, else a list
        tex_index: Any = ids[0] if isinstance(index, int) else index if isinstance(index, slice) else list(ids)
        verts_list, faces_list = self.verts_list(), self.faces_list()
        textures = None if self.textures is None else self.textures[tex_index]
        new = type(self)._from_views(
            [self._num_verts_list[i] for i in ids],
            [self._num_faces_list[i] for i in ids],
            self.device,
            self._dtype,
            textures=textures,
            _verts_list=[verts_list[i] for i in ids],
            _faces_list=[faces_list[i] for i in ids],
        )
        if self._verts_normals_given:
            normals = self.verts_normals_list()
            new._verts_normals_packed = (
                torch.cat([normals[i] for i in ids], 0) if ids else self._empty(0, 3)
            )
            new._verts_normals_given = True
        return new

    def split(self, split_sizes: Sequence[int]) -> list["Meshes"]:
        """Splits into consecutive Meshes of the given sizes, as ``torch.split``."""
        if not all(isinstance(s, int) and s >= 0 for s in split_sizes):
            raise ValueError("Meshes.split: split_sizes must be non-negative ints")
        if sum(split_sizes) > self._N:
            raise ValueError(f"Meshes.split: sizes {list(split_sizes)} add up to more than {self._N} meshes")
        out, start = [], 0
        for size in split_sizes:
            out.append(self[start : start + size])
            start += size
        return out

    def extend(self, N: int) -> "Meshes":
        """A new Meshes holding each mesh N times in a row (mesh 0 N times, then mesh 1, ...); copies data."""
        if not isinstance(N, int) or isinstance(N, bool):
            raise ValueError(f"Meshes.extend: N must be an int, got {type(N).__name__}")
        if N <= 0:
            raise ValueError(f"Meshes.extend: N must be > 0, got {N}")
        textures = None if self.textures is None else self.textures.extend(N)
        new = type(self)._from_views(
            [n for n in self._num_verts_list for _ in range(N)],
            [n for n in self._num_faces_list for _ in range(N)],
            self.device,
            self._dtype,
            textures=textures,
            _verts_padded=self.verts_padded().repeat_interleave(N, dim=0),
            _faces_padded=self.faces_padded().repeat_interleave(N, dim=0),
        )
        return new

    def _shallow_copy(self) -> "Meshes":
        new = self.__class__.__new__(self.__class__)
        new.__dict__.update(self.__dict__)
        new._num_verts_list = list(self._num_verts_list)
        new._num_faces_list = list(self._num_faces_list)
        return new

    def _apply(self, method: str, *args) -> "Meshes":
        """A copy with ``<method>(*args)`` applied to every internal tensor and to the textures."""
        new = super()._apply(method, *args)
        new.textures = None
        new._attach_textures(None if self.textures is None else getattr(self.textures, method)(*args))
        return new

    # ------------------------------------------------------------------------------------------
    # textures and sub-meshes

    def sample_textures(self, fragments: Any) -> torch.Tensor:
        """Colours of the rasterised fragments from the attached textures (what the shaders call)."""
        if self.textures is None:
            raise ValueError("Meshes.sample_textures: these meshes have no textures")
        return self.textures.sample_textures(fragments, faces_packed=self.faces_packed())

    def submeshes(self, face_indices: Sequence[Sequence[torch.Tensor]] | torch.Tensor) -> "Meshes":
        """Meshes made of chosen faces: for each mesh n, one sub-mesh per index tensor in face_indices[n].

        Args:
            face_indices: N sequences (or an (N, S, K) int tensor) of 1-D int64 tensors of face indices.

        Returns:
            Meshes with one mesh per index tensor, keeping only the vertices those faces use
            (in increasing order); textures follow through ``textures.submeshes``.
        """
        if len(face_indices) != self._N:
            raise ValueError(f"Meshes.submeshes: got {len(face_indices)} index sets for {self._N} meshes")
        sub_verts, sub_faces, verts_ids, faces_ids = [], [], [], []
        for ids_per_mesh, faces, verts in zip(face_indices, self.faces_list(), self.verts_list()):
            verts_ids.append([])
            faces_ids.append([])
            for ids in ids_per_mesh:
                kept = faces[ids]
                used, local = torch.unique(kept, sorted=True, return_inverse=True)
                sub_verts.append(verts[used])
                sub_faces.append(local.reshape(-1, 3))
                verts_ids[-1].append(used)
                faces_ids[-1].append(ids)
        textures = None if self.textures is None else self.textures.submeshes(verts_ids, faces_ids)
        return self.__class__(verts=sub_verts, faces=sub_faces, textures=textures)


# ----------------------------------------------------------------------------------------------
# validation


def _check_lists(verts: list, faces: list) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Checks list input and returns it normalised: empty tensors as (0, 3), faces as int64."""
    if len(verts) != len(faces):
        raise ValueError(f"Meshes: got {len(verts)} vertex tensors but {len(faces)} face tensors")
    verts_out, faces_out = [], []
    for i, (v, f) in enumerate(zip(verts, faces)):
        for name, t in (("verts", v), ("faces", f)):
            if not torch.is_tensor(t):
                raise ValueError(f"Meshes: {name}[{i}] is a {type(t).__name__}, expected a torch.Tensor")
        if v.ndim >= 1 and v.numel() == 0 and v.shape[0] == 0:
            v = v.reshape(0, 3)
        if f.ndim >= 1 and f.numel() == 0 and f.shape[0] == 0:
            f = f.reshape(0, 3)
        if v.ndim != 2 or v.shape[1] != 3:
            raise ValueError(f"Meshes: verts[{i}] has shape {tuple(v.shape)}, expected (V, 3)")
        if f.ndim != 2 or f.shape[1] != 3:
            raise ValueError(f"Meshes: faces[{i}] has shape {tuple(f.shape)}, expected (F, 3)")
        if not v.is_floating_point():
            raise ValueError(f"Meshes: verts[{i}] has dtype {v.dtype}, expected a floating-point dtype")
        if not _is_int_dtype(f):
            raise ValueError(f"Meshes: faces[{i}] has dtype {f.dtype}, expected an integer dtype")
        verts_out.append(v)
        faces_out.append(f.to(torch.int64))
    if not verts_out:
        return verts_out, faces_out
    device, dtype = verts_out[0].device, verts_out[0].dtype
    for i, (v, f) in enumerate(zip(verts_out, faces_out)):
        if v.device != device or f.device != device:
            raise ValueError(f"Meshes: mesh {i} is on {v.device}/{f.device} but mesh 0 is on {device}")
        if v.dtype != dtype:
            raise ValueError(f"Meshes: verts[{i}] has dtype {v.dtype} but verts[0] has {dtype}")

    # One vectorised pass (and one device sync) over all meshes for indices, padding rows and NaNs.
    num_verts = torch.tensor([v.shape[0] for v in verts_out], dtype=torch.int64, device=device)
    num_faces_list = [f.shape[0] for f in faces_out]
    total_faces = sum(num_faces_list)
    flags = [torch.zeros((), dtype=torch.bool, device=device)] * 3
    if total_faces:
        all_faces = torch.cat(faces_out, 0)
        face_mesh = torch.repeat_interleave(
            torch.arange(len(faces_out), device=device),
            torch.tensor(num_faces_list, device=device),
            output_size=total_faces,
        )
        is_pad = (all_faces == -1).all(1)
        out_of_range = ((all_faces < 0) | (all_faces >= num_verts[face_mesh][:, None])).any(1) & ~is_pad
        flags[0], flags[1] = out_of_range.any(), is_pad.any()
    if sum(v.shape[0] for v in verts_out):
        flags[2] = ~torch.isfinite(torch.cat(verts_out, 0)).all()
    bad_index, has_pad, non_finite = torch.stack(flags).tolist()

    if bad_index:
        for i, (v, f) in enumerate(zip(verts_out, faces_out)):
            rows = f[~(f == -1).all(1)]
            if rows.numel() and (rows.min() < 0 or rows.max() >= v.shape[0]):
                raise ValueError(
                    f"Meshes: faces[{i}] has vertex indices in [{int(rows.min())}, {int(rows.max())}] "
                    f"but mesh {i} has {v.shape[0]} vertices (valid: [0, {v.shape[0]}))"
                )
    if non_finite:
        bad = [i for i, v in enumerate(verts_out) if v.numel() and not bool(torch.isfinite(v).all())]
        raise ValueError(f"Meshes: verts of mesh(es) {bad} contain NaN or infinite values")
    if has_pad:  # rows that are all -1 are padding: drop them (PyTorch3D does the same)
        faces_out = [f[~(f == -1).all(1)] for f in faces_out]
    return verts_out, faces_out


def _check_padded(verts: torch.Tensor, faces: torch.Tensor) -> list[int]:
    """Checks padded input; returns the number of real faces of each mesh."""
    if verts.ndim != 3 or verts.shape[2] != 3:
        raise ValueError(f"Meshes: padded verts have shape {tuple(verts.shape)}, expected (N, V, 3)")
    if faces.ndim != 3 or faces.shape[2] != 3:
        raise ValueError(f"Meshes: padded faces have shape {tuple(faces.shape)}, expected (N, F, 3)")
    if verts.shape[0] != faces.shape[0]:
        raise ValueError(f"Meshes: padded verts hold {verts.shape[0]} meshes but padded faces hold {faces.shape[0]}")
    if not verts.is_floating_point():
        raise ValueError(f"Meshes: verts have dtype {verts.dtype}, expected a floating-point dtype")
    if not _is_int_dtype(faces):
        raise ValueError(f"Meshes: faces have dtype {faces.dtype}, expected an integer dtype")
    if verts.device != faces.device:
        raise ValueError(f"Meshes: verts are on {verts.device} but faces are on {faces.device}")
    n_meshes, n_verts = verts.shape[:2]
    if n_meshes == 0:
        return []
    is_pad = (faces == -1).all(2)  # (N, F)
    out_of_range = ((faces < 0) | (faces >= n_verts)).any(2) & ~is_pad
    misplaced = (is_pad[:, :-1] & ~is_pad[:, 1:]).any() if faces.shape[1] > 1 else is_pad.new_zeros(())
    non_finite = ~torch.isfinite(verts).all()
    num_faces = (~is_pad).sum(1)
    stats = torch.cat([torch.stack([out_of_range.any(), misplaced, non_finite]).long(), num_faces]).tolist()
    if stats[0]:
        mesh = int(out_of_range.any(1).nonzero()[0, 0])
        raise ValueError(
            f"Meshes: padded faces of mesh {mesh} index vertices outside [0, {n_verts}) "
            "(only whole rows of -1 are allowed as padding)"
        )
    if stats[1]:
        raise ValueError("Meshes: padding rows of -1 in padded faces must come after the real faces of each mesh")
    if stats[2]:
        raise ValueError("Meshes: padded verts contain NaN or infinite values")
    return stats[3:]


# ----------------------------------------------------------------------------------------------
# joins


def join_meshes_as_batch(meshes: Sequence[Meshes], include_textures: bool = True) -> Meshes:
    """One Meshes holding all meshes of a list of Meshes, in order.

    Args:
        meshes: Meshes objects on one device.
        include_textures: join the textures too (all must have textures of one type, or none has);
            with False the result has no textures.
    """
    if isinstance(meshes, Meshes):
        raise ValueError("join_meshes_as_batch expects a list of Meshes, not a Meshes")
    meshes = list(meshes)
    if not all(isinstance(m, Meshes) for m in meshes):
        raise ValueError("join_meshes_as_batch: every item must be a Meshes")
    devices = {m.device for m in meshes}
    if len(devices) > 1:
        raise ValueError(f"join_meshes_as_batch: meshes are on different devices {sorted(map(str, devices))}")
    verts = [v for m in meshes for v in m.verts_list()]
    faces = [f for m in meshes for f in m.faces_list()]
    textures = None
    if meshes and include_textures:
        has_tex = [m.textures is not None for m in meshes]
        if any(has_tex) and not all(has_tex):
            raise ValueError("join_meshes_as_batch: some meshes have textures and some do not")
        if all(has_tex):
            first = meshes[0].textures
            if any(type(m.textures) is not type(first) for m in meshes):
                raise ValueError("join_meshes_as_batch: all meshes must have the same type of texture")
            textures = first.join_batch([m.textures for m in meshes[1:]])
    if not meshes:
        return Meshes(verts=[], faces=[])
    return Meshes._from_views(
        [n for m in meshes for n in m._num_verts_list],
        [n for m in meshes for n in m._num_faces_list],
        meshes[0].device,
        meshes[0]._dtype,
        textures=textures,
        _verts_list=verts,
        _faces_list=faces,
    )


def join_meshes_as_scene(meshes: Meshes | Sequence[Meshes], include_textures: bool = True) -> Meshes:
    """A Meshes with a single mesh made of all the meshes of a batch (or of a list of Meshes).

    Args:
        meshes: a Meshes, or a list of Meshes joined as a batch first.
        include_textures: join the textures as one scene texture (``textures.join_scene()``).
    """
    if not isinstance(include_textures, (bool, int)):
        raise ValueError(f"join_meshes_as_scene: include_textures must be a bool, got {type(include_textures).__name__}")
    if not isinstance(meshes, Meshes):
        meshes = join_meshes_as_batch(meshes, include_textures=include_textures)
    if len(meshes) == 1:
        return meshes
    textures = None
    if include_textures and meshes.textures is not None:
        textures = meshes.textures.join_scene()
    verts, faces = meshes.verts_packed(), meshes.faces_packed()
    return Meshes._from_views(
        [verts.shape[0]],
        [faces.shape[0]],
        meshes.device,
        meshes._dtype,
        textures=textures,
        _verts_packed=verts,
        _faces_packed=faces,
        _verts_list=[verts],
        _faces_list=[faces],
    )
