"""Clipping faces to a view frustum before rasterisation, and mapping fragments back (PyTorch3D's ``mesh.clip``).

Faces arrive as ``face_verts (F, 3, 3)`` whose x, y may already be projected (NDC or screen) while z is still the view
depth. Each face falls in one of four cases against the near plane ``z = z_clip_value``:

1. all three vertices in front (z >= z_clip_value): kept unchanged;
2. all three behind, or the whole face outside one side of the frustum (culling on): dropped;
3. two vertices behind: replaced by the smaller triangle (p4, p5, p1) in front of the plane;
4. one vertex behind: the visible part is a quadrilateral, split into t1 = (p4, p2, p5) and t2 = (p5, p2, p3),
   stored next to each other.

Here p1 is the vertex alone on its side of the plane, p2 and p3 follow it in the face's winding order, p4 is where
edge p1-p2 meets the plane and p5 where edge p1-p3 does. :func:`clip_faces` does the clipping;
:func:`convert_clipped_rasterization_to_original_faces` turns face indices and barycentric coordinates found on the
clipped faces back into ones on the original faces.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch

__all__ = ["ClipFrustum", "ClippedFaces", "clip_faces", "convert_clipped_rasterization_to_original_faces"]


class ClippedFaces:
    """The faces of a batch of meshes after :func:`clip_faces`, and how to map results back to the original faces.

    Args:
        face_verts: (F_clipped, 3, 3) vertices of the clipped faces, in the coordinates given to :func:`clip_faces`.
        mesh_to_face_first_idx: (N,) int64, index into ``face_verts`` of each mesh's first face.
        num_faces_per_mesh: (N,) int64, number of clipped faces of each mesh.
        faces_clipped_to_unclipped_idx: (F_clipped,) int64, the original (packed) face each clipped face comes from;
            None when no face was clipped or culled (then ``face_verts`` are the original faces).
        barycentric_conversion: (T, 3, 3) matrices for the T faces of cases 3 and 4 (case 3 faces first, then the
            t1 and then the t2 halves of case 4 faces, each in face order); column k holds the barycentric
            coordinates, on the original face, of vertex k of the clipped face, so ``bary_original =
            barycentric_conversion[i] @ bary_clipped``. None when no face was cut by the near plane.
        faces_clipped_to_conversion_idx: (F_clipped,) int64, row of ``barycentric_conversion`` for each clipped
            face, -1 for faces kept unchanged. None when no face was cut.
        clipped_faces_neighbor_idx: (F_clipped,) int64, for each half of a split (case 4) face the index of the
            other half, -1 for the rest. None when no face was cut.
    """

    __slots__ = [
        "face_verts",
        "mesh_to_face_first_idx",
        "num_faces_per_mesh",
        "faces_clipped_to_unclipped_idx",
        "barycentric_conversion",
        "faces_clipped_to_conversion_idx",
        "clipped_faces_neighbor_idx",
    ]

    def __init__(
        self,
        face_verts: torch.Tensor,
        mesh_to_face_first_idx: torch.Tensor,
        num_faces_per_mesh: torch.Tensor,
        faces_clipped_to_unclipped_idx: Optional[torch.Tensor] = None,
        barycentric_conversion: Optional[torch.Tensor] = None,
        faces_clipped_to_conversion_idx: Optional[torch.Tensor] = None,
        clipped_faces_neighbor_idx: Optional[torch.Tensor] = None,
    ) -> None:
        self.face_verts = face_verts
        self.mesh_to_face_first_idx = mesh_to_face_first_idx
        self.num_faces_per_mesh = num_faces_per_mesh
        self.faces_clipped_to_unclipped_idx = faces_clipped_to_unclipped_idx
        self.barycentric_conversion = barycentric_conversion
        self.faces_clipped_to_conversion_idx = faces_clipped_to_conversion_idx
        self.clipped_faces_neighbor_idx = clipped_faces_neighbor_idx


class ClipFrustum:
    """Planes to cull faces against, and the near plane to clip them at. A bound left as None is not used.

    Args:
        left, right: x below ``left`` or above ``right`` is outside (x as given: NDC or screen).
        top, bottom: y below ``top`` or above ``bottom`` is outside (PyTorch3D's rasteriser passes top=-1, bottom=1).
        znear, zfar: view depth below ``znear`` or above ``zfar`` is outside.
        perspective_correct: x, y were divided by z (perspective camera): new vertices on the near plane are
            interpolated in view space and projected again, rather than interpolated in x, y directly.
        cull: drop faces whose three vertices are all outside the same one of the planes above.
        z_clip_value: when set, cut faces so that only their part with z >= z_clip_value remains (cases 3 and 4);
            this keeps perspective projections finite for faces reaching behind the camera.
    """

    __slots__ = ["left", "right", "top", "bottom", "znear", "zfar", "perspective_correct", "cull", "z_clip_value"]

    def __init__(
        self,
        left: Optional[float] = None,
        right: Optional[float] = None,
        top: Optional[float] = None,
        bottom: Optional[float] = None,
        znear: Optional[float] = None,
        zfar: Optional[float] = None,
        perspective_correct: bool = False,
        cull: bool = True,
        z_clip_value: Optional[float] = None,
    ) -> None:
        self.left = left
        self.right = right
        self.top = top
        self.bottom = bottom
        self.znear = znear
        self.zfar = zfar
        self.perspective_correct = perspective_correct
        self.cull = cull
        self.z_clip_value = z_clip_value


def _culled_faces(face_verts: torch.Tensor, frustum: ClipFrustum) -> torch.Tensor:
    """Faces whose three vertices lie outside the same frustum plane.

    Args:
        face_verts: (F, 3, 3) vertices, last axis (x, y, z).
    Returns:
        (F,) bool, True for faces to drop.

    This is the rule PyTorch3D documents; its 0.7.9 code compares the three coordinates of vertex number ``axis``
    instead of coordinate ``axis`` of the three vertices, which can drop faces that cross the image.
    """
    culled = torch.zeros(face_verts.shape[0], dtype=torch.bool, device=face_verts.device)
    if not frustum.cull:
        return culled
    lower = ((frustum.left, 0), (frustum.top, 1), (frustum.znear, 2))  # outside when below the bound
    upper = ((frustum.right, 0), (frustum.bottom, 1), (frustum.zfar, 2))  # outside when above it
    for bounds, outside in ((lower, torch.lt), (upper, torch.gt)):
        for value, axis in bounds:
            if value is not None:
                culled |= outside(face_verts[:, :, axis], value).all(dim=1)
    return culled


def _near_plane_points(
    face_verts: torch.Tensor, p1_idx: torch.Tensor, z_clip: float, perspective_correct: bool
) -> Tuple[torch.Tensor, torch.Tensor]:
    """The five points of a face cut by the near plane: p1, p2, p3 (its corners, from the lone vertex p1 on in
    winding order) and p4, p5 (where edges p1-p2 and p1-p3 meet the plane z = z_clip).

    Args:
        face_verts: (T, 3, 3) faces with p1 on one side of the plane and p2, p3 on the other.
        p1_idx: (T,) int64 in 0..2, the corner that is p1.
        z_clip: depth of the plane.
        perspective_correct: x, y are projected (divided by z): interpolate x*z, y*z and divide by z_clip.
    Returns:
        points: (T, 5, 3) p1 ... p5. Gradients flow through both intersection weights (PyTorch3D detaches the one
            of p5).
        bary: (T, 5, 3) barycentric coordinates of p1 ... p5 on the face (corners in the face's own order).
    """
    T = face_verts.shape[0]
    corner = torch.stack((p1_idx, (p1_idx + 1) % 3, (p1_idx + 2) % 3), dim=1)  # (T, 3): p1, p2, p3
    p = face_verts.gather(1, corner[:, :, None].expand(T, 3, 3))  # (T, 3, 3)
    z = p[:, :, 2]  # (T, 3)
    w = (z[:, :1] - z_clip) / (z[:, :1] - z[:, 1:])  # (T, 2): weight of p2 at p4 and of p3 at p5
    w_ = w[:, :, None]  # (T, 2, 1)
    cut = p[:, :1] * (1 - w_) + p[:, 1:] * w_  # (T, 2, 3): p4, p5 interpolated in (x, y, z)
    if perspective_correct:  # interpolate the unprojected (x z, y z), then project at the plane's depth
        xy_view = p[:, :, :2] * z[:, :, None]  # (T, 3, 2)
        xy = (xy_view[:, :1] * (1 - w_) + xy_view[:, 1:] * w_) / z_clip  # (T, 2, 2)
        cut = torch.cat((xy, cut[:, :, 2:]), dim=2)
    points = torch.cat((p, cut), dim=1)  # (T, 5, 3)

    onehot = torch.zeros(T, 3, 3, dtype=face_verts.dtype, device=face_verts.device)  # row k: corner k of p1..p3
    onehot = onehot.scatter(2, corner[:, :, None], 1.0)
    bary_cut = onehot[:, :1] * (1 - w_) + onehot[:, 1:] * w_  # (T, 2, 3)
    return points, torch.cat((onehot, bary_cut), dim=1)


def clip_faces(
    face_verts_unclipped: torch.Tensor,
    mesh_to_face_first_idx: torch.Tensor,
    num_faces_per_mesh: torch.Tensor,
    frustum: ClipFrustum,
) -> ClippedFaces:
    """Cull faces outside ``frustum`` and cut faces crossing its near plane ``z_clip_value`` (cases in the module
    docstring); faces keep their order, a split face's two halves are adjacent.

    Args:
        face_verts_unclipped: (F, 3, 3) packed faces' vertices: x, y as given (may be NDC / screen), z view depth.
        mesh_to_face_first_idx: (N,) int64, index of each mesh's first face in ``face_verts_unclipped``.
        num_faces_per_mesh: (N,) int64, number of faces of each mesh.
        frustum: the planes to cull against and the near plane to clip at.
    Returns:
        ClippedFaces. When no face is culled or cut, it holds the inputs themselves and None for the mapping
        fields; when faces are only culled, ``faces_clipped_to_unclipped_idx`` is set and the conversion fields are
        None. Differentiable with respect to ``face_verts_unclipped``.
    """
    fv = face_verts_unclipped
    F = fv.shape[0]
    device = fv.device
    culled = _culled_faces(fv, frustum)  # (F,)
    z_clip = frustum.z_clip_value
    if z_clip is not None:
        behind = fv[:, :, 2] < z_clip  # (F, 3)
    else:
        behind = torch.zeros(F, 3, dtype=torch.bool, device=device)
    num_behind = behind.sum(dim=1)  # (F,)
    if not bool(culled.any()) and not bool(behind.any()):
        return ClippedFaces(fv, mesh_to_face_first_idx, num_faces_per_mesh)

    kept = ~culled
    case1 = kept & (num_behind == 0)
    case3 = kept & (num_behind == 2)
    case4 = kept & (num_behind == 1)
    out_count = case1.long() + case3.long() + 2 * case4.long()  # (F,) faces each original face becomes
    out_end = out_count.cumsum(0)
    out_start = out_end - out_count  # (F,) its first clipped face (that of the next face when it is dropped)
    F_clipped = int(out_end[-1]) if F > 0 else 0
    start_ext = torch.cat((out_start, out_start.new_full((1,), F_clipped)))  # (F + 1,)
    first_clipped = start_ext[mesh_to_face_first_idx]  # (N,)
    num_clipped = start_ext[mesh_to_face_first_idx + num_faces_per_mesh] - first_clipped  # (N,)
    clipped_to_unclipped = torch.repeat_interleave(torch.arange(F, device=device), out_count)  # (F_clipped,)

    idx1 = case1.nonzero()[:, 0]
    idx3 = case3.nonzero()[:, 0]
    idx4 = case4.nonzero()[:, 0]
    if idx3.numel() + idx4.numel() == 0:  # culling only: a subset of the faces
        return ClippedFaces(fv[idx1], first_clipped, num_clipped, clipped_to_unclipped)

    cut_idx = torch.cat((idx3, idx4))  # (T3 + T4,)
    # p1 is the lone corner on its side: in front for case 3, behind for case 4
    lone = torch.where(case3[cut_idx, None], ~behind[cut_idx], behind[cut_idx])  # (T3 + T4, 3)
    p1_idx = lone.long().argmax(dim=1)
    points, bary = _near_plane_points(fv[cut_idx], p1_idx, float(z_clip), frustum.perspective_correct)
    T3 = idx3.numel()
    tri = (  # vertex k of each new triangle, as indices into p1 ... p5 (0 ... 4)
        (points[:T3], bary[:T3], (3, 4, 0)),  # case 3: (p4, p5, p1)
        (points[T3:], bary[T3:], (3, 1, 4)),  # case 4, t1: (p4, p2, p5)
        (points[T3:], bary[T3:], (4, 1, 2)),  # case 4, t2: (p5, p2, p3)
    )
    new_verts = torch.cat([pts[:, list(k)] for pts, _, k in tri])  # (T, 3, 3), T = T3 + 2 T4
    conversion = torch.cat([b[:, list(k)].transpose(1, 2) for _, b, k in tri])  # (T, 3, 3), column k: vertex k
    new_pos = torch.cat((out_start[idx3], out_start[idx4], out_start[idx4] + 1))  # (T,)

    # every clipped face is an unchanged face or a new one; gather them into output order
    rows = torch.cat((fv[idx1], new_verts))  # (F_clipped, 3, 3), sources in arbitrary order
    pos = torch.cat((out_start[idx1], new_pos))  # (F_clipped,) output position of each row
    order = torch.empty_like(pos).scatter_(0, pos, torch.arange(F_clipped, device=device))
    face_verts = rows[order]

    to_conversion = torch.full((F_clipped,), -1, dtype=torch.int64, device=device)
    to_conversion[new_pos] = torch.arange(new_pos.numel(), device=device)
    neighbor = torch.full((F_clipped,), -1, dtype=torch.int64, device=device)
    t1 = out_start[idx4]
    neighbor[t1] = t1 + 1
    neighbor[t1 + 1] = t1
    return ClippedFaces(
        face_verts, first_clipped, num_clipped, clipped_to_unclipped, conversion, to_conversion, neighbor
    )


def convert_clipped_rasterization_to_original_faces(
    pix_to_face_clipped: torch.Tensor, bary_coords_clipped: torch.Tensor, clipped_faces: ClippedFaces
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Express rasterisation results on the clipped faces in terms of the original faces.

    Args:
        pix_to_face_clipped: (N, H, W, K) int64, indices into ``clipped_faces.face_verts``, -1 where empty.
        bary_coords_clipped: (N, H, W, K, 3) barycentric coordinates on those clipped faces.
        clipped_faces: what :func:`clip_faces` returned.
    Returns:
        pix_to_face: (N, H, W, K) int64, indices of the original (packed) faces, -1 where empty.
        bary_coords: (N, H, W, K, 3) barycentric coordinates on the original faces (entries of empty pixels and of
            faces that were not cut are passed through). Differentiable with respect to ``bary_coords_clipped``
            and ``clipped_faces.barycentric_conversion``. Distances are not converted (the rasteriser handles them).
    """
    to_unclipped = clipped_faces.faces_clipped_to_unclipped_idx
    if to_unclipped is None or to_unclipped.numel() == 0:
        return pix_to_face_clipped, bary_coords_clipped
    hit = pix_to_face_clipped >= 0  # (N, H, W, K)
    safe = pix_to_face_clipped.clamp(min=0)
    pix_to_face = torch.where(hit, to_unclipped[safe], torch.full_like(pix_to_face_clipped, -1))

    conversion = clipped_faces.barycentric_conversion
    if conversion is None:
        return pix_to_face, bary_coords_clipped
    row = torch.where(hit, clipped_faces.faces_clipped_to_conversion_idx[safe], torch.full_like(safe, -1))
    converted = row >= 0  # (N, H, W, K)
    sel = converted.nonzero(as_tuple=True)
    matrices = conversion[row[sel]]  # (P, 3, 3)
    new_bary = (matrices @ bary_coords_clipped[sel][:, :, None])[:, :, 0]  # (P, 3)
    bary = bary_coords_clipped.index_put(sel, new_bary.to(bary_coords_clipped.dtype))
    return pix_to_face, bary
