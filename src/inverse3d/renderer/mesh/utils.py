"""Per-pixel interpolation of per-face-vertex attributes (PyTorch3D's ``interpolate_face_attributes``)."""

from __future__ import annotations

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
