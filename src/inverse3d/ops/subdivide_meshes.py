"""Loop-free midpoint subdivision of triangle meshes (PyTorch3D's ``SubdivideMeshes``).

Each edge gets a new vertex at its midpoint and each face (v0, v1, v2) becomes four faces, keeping the winding::

            v0
            /\\
       m01 /__\\ m20        f0 = (v0, m01, m20)    f1 = (v1, m12, m01)
          /\\  /\\           f2 = (v2, m20, m12)    f3 = (m12, m20, m01)
         /__\\/__\\
       v1   m12   v2

(m_ij is the midpoint of edge (vi, vj); in packed edge indices, the edge opposite corner k is
``faces_packed_to_edges_packed()[:, k]``). A mesh's new vertices are its old ones followed by one per edge, in the
order of ``edges_packed()``; its new faces are all f0, then all f1, f2 and f3. Per-vertex features are subdivided
the same way (midpoints average the two ends).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SubdivideMeshes"]


class SubdivideMeshes(nn.Module):
    """Subdivides meshes (module docstring); with ``meshes`` given, the faces of ``meshes[0]`` are precomputed
    and reused for every batch of meshes sharing that topology."""

    def __init__(self, meshes=None) -> None:
        """
        Args:
            meshes: optional ``Meshes`` whose first mesh fixes the topology of all later inputs.
        """
        super().__init__()
        self.precomputed = False
        self._N = -1
        if meshes is not None:
            with torch.no_grad():
                faces = self.subdivide_faces(meshes[0])
            self.register_buffer("_subdivided_faces", faces)
            self.precomputed = True

    def subdivide_faces(self, meshes) -> torch.Tensor:
        """(4 sum F_n, 3) long: the new faces in packed indices, all f0, then f1, f2, f3 (new vertices of edge
        e have index ``sum V_n + e``)."""
        with torch.no_grad():
            faces = meshes.faces_packed()  # (F, 3)
            mid = meshes.faces_packed_to_edges_packed() + meshes.verts_packed().shape[0]  # (F, 3) opposite corner k
            v0, v1, v2 = faces.unbind(1)
            m12, m20, m01 = mid.unbind(1)
            f0 = torch.stack([v0, m01, m20], 1)
            f1 = torch.stack([v1, m12, m01], 1)
            f2 = torch.stack([v2, m20, m12], 1)
            f3 = torch.stack([m12, m20, m01], 1)
            return torch.cat([f0, f1, f2, f3], 0)

    def forward(self, meshes, feats: torch.Tensor | None = None):
        """Subdivides a batch of meshes.

        Args:
            meshes: ``Meshes`` (N meshes).
            feats: optional per-vertex features parallel to the packed vertices, (sum V_n, D); with precomputed
                faces also (N, V, D).

        Returns:
            The subdivided ``Meshes`` (without textures), and the subdivided features if ``feats`` was given:
            (sum V'_n, D) packed, or (N, V', D) with precomputed faces.
        """
        self._N = len(meshes)
        if self.precomputed:
            return self.subdivide_homogeneous(meshes, feats)
        return self.subdivide_heterogenerous(meshes, feats)

    def subdivide_homogeneous(self, meshes, feats: torch.Tensor | None = None):
        """Subdivision of meshes that all have the topology of the mesh given at construction."""
        from inverse3d.structures import Meshes

        verts = meshes.verts_padded()  # (N, V, 3)
        edges = meshes[0].edges_packed()  # (E, 2), mesh-local indices
        N = verts.shape[0]
        new_faces = self._subdivided_faces[None].expand(N, -1, -1)
        new_verts = torch.cat([verts, verts[:, edges].mean(2)], 1)  # (N, V + E, 3)
        if feats is None:
            return Meshes(verts=new_verts, faces=new_faces)
        if feats.ndim == 2:
            feats = feats.view(N, verts.shape[1], feats.shape[1])
        if feats.ndim != 3:
            raise ValueError("features need to be of shape (N, V, D) or (N*V, D)")
        new_feats = torch.cat([feats, feats[:, edges].mean(2)], 1)
        return Meshes(verts=new_verts, faces=new_faces), new_feats

    def subdivide_heterogenerous(self, meshes, feats: torch.Tensor | None = None):
        """Subdivision of a batch of meshes with any topologies (PyTorch3D's spelling of the name)."""
        from inverse3d.structures import Meshes

        verts = meshes.verts_packed()  # (V, 3)
        device = verts.device
        V = verts.shape[0]
        with torch.no_grad():
            faces = self.subdivide_faces(meshes)  # (4F, 3) in [0, V + E)
            edges = meshes.edges_packed()
            num_verts = meshes.num_verts_per_mesh()
            num_edges = meshes.num_edges_per_mesh().to(torch.int64)
            num_new = num_verts + num_edges  # (N,)
            new_first = torch.cumsum(num_new, 0) - num_new
            # new packed index of every old vertex and of every edge midpoint
            vert_mesh = meshes.verts_packed_to_mesh_idx()
            edge_mesh = meshes.edges_packed_to_mesh_idx()
            vert_local = torch.arange(V, device=device) - meshes.mesh_to_verts_packed_first_idx()[vert_mesh]
            edge_local = torch.arange(edges.shape[0], device=device) - meshes.mesh_to_edges_packed_first_idx()[edge_mesh]
            where = torch.cat([new_first[vert_mesh] + vert_local, new_first[edge_mesh] + num_verts[edge_mesh] + edge_local])
            order = torch.empty_like(where)
            order[where] = torch.arange(where.shape[0], device=device)  # new position -> old (vertex or edge)
            # faces mesh after mesh, each mesh's f0 block, then f1, f2, f3
            face_mesh = meshes.faces_packed_to_mesh_idx().repeat(4)
            face_order = torch.argsort(face_mesh, stable=True)
            new_faces = where[faces][face_order] - new_first[face_mesh[face_order], None]
        new_verts = torch.cat([verts, verts[edges].mean(1)], 0)[order]
        counts = num_new.tolist()
        face_counts = (4 * meshes.num_faces_per_mesh()).tolist()
        out = Meshes(verts=list(new_verts.split(counts)), faces=list(new_faces.split(face_counts)))
        if feats is None:
            return out
        new_feats = torch.cat([feats, feats[edges].mean(1)], 0)[order]
        return out, new_feats
