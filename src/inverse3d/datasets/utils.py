"""Batching of mesh dataset items into a ``Meshes`` (PyTorch3D's ``pytorch3d.datasets.utils``)."""

from __future__ import annotations

from typing import Any, Sequence


def collate_batched_meshes(batch: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Merges dataset items into one dict of lists, plus ``"mesh"``: a ``Meshes`` of their verts and faces.

    Usable as ``DataLoader(dataset, collate_fn=collate_batched_meshes)``.

    Args:
        batch: B dicts with the same keys, e.g. ShapeNetCore items (``verts`` (V_i, 3), ``faces`` (F_i, 3),
            ``textures`` (F_i, R, R, 3) or None, strings...).
    Returns:
        {key: [B values]} and ``"mesh"``: ``Meshes`` of the B meshes (textured by a ``TexturesAtlas`` when every
        item has a ``textures`` atlas), or None when the items have no ``verts`` / ``faces``; None for an empty batch.
    """
    if batch is None or len(batch) == 0:
        return None
    collated: dict[str, Any] = {key: [item[key] for item in batch] for key in batch[0]}
    collated["mesh"] = None
    if "verts" in collated and "faces" in collated:
        from inverse3d.renderer.mesh.textures import TexturesAtlas
        from inverse3d.structures import Meshes

        atlases = collated.get("textures")
        textures = None
        if atlases is not None and all(a is not None for a in atlases):
            textures = TexturesAtlas(atlas=list(atlases))
        collated["mesh"] = Meshes(verts=collated["verts"], faces=collated["faces"], textures=textures)
    return collated
