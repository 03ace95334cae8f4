"""PyTorch3D's deprecated ``Textures`` constructor, still exported by ``pytorch3d.renderer``."""

from __future__ import annotations

import warnings
from typing import Optional, Sequence, Union

import torch


def Textures(  # noqa: N802 (PyTorch3D's name)
    maps: Optional[Union[Sequence[torch.Tensor], torch.Tensor]] = None,
    faces_uvs: Optional[torch.Tensor] = None,
    verts_uvs: Optional[torch.Tensor] = None,
    verts_rgb: Optional[torch.Tensor] = None,
):
    """Deprecated: ``TexturesUV(maps, faces_uvs, verts_uvs)`` when all three are given, else
    ``TexturesVertex(verts_rgb)``; warns with ``PendingDeprecationWarning`` as PyTorch3D does.

    Args:
        maps: (N, H, W, C) or a list of (H, W, C) texture maps.
        faces_uvs: (N, F, 3) indices into verts_uvs.
        verts_uvs: (N, T, 2) UV coordinates.
        verts_rgb: (N, V, C) per-vertex colours.
    Raises:
        ValueError: neither all three UV arguments nor ``verts_rgb`` are given.
    """
    from inverse3d.renderer.mesh.textures import TexturesUV, TexturesVertex

    warnings.warn(
        "Textures class is deprecated,\n        use TexturesUV, TexturesAtlas, TexturesVertex instead.\n"
        "        Textures class will be removed in future releases.",
        PendingDeprecationWarning,
        stacklevel=2,
    )
    if faces_uvs is not None and verts_uvs is not None and maps is not None:
        return TexturesUV(maps=maps, faces_uvs=faces_uvs, verts_uvs=verts_uvs)
    if verts_rgb is not None:
        return TexturesVertex(verts_features=verts_rgb)
    raise ValueError("Textures either requires all three of (faces uvs, verts uvs, maps) or verts rgb")
