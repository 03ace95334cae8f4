"""Datasets for single-view reconstruction: built-in procedural furniture and a ShapeNet / R2N2 reader.

Both return items with the same keys (``inverse3d.datasets.builtin`` documents them); ``collate_batch`` batches them.
PyTorch3D's ``ShapeNetCore``, ``collate_batched_meshes``, ``collate_batched_R2N2``, ``BlenderCamera`` and
``render_cubified_voxels`` are here too, with PyTorch3D's item keys.
"""

from inverse3d._lazy import attach

_EXPORTS = {
    "make_shape": ".procedural",
    "CATEGORIES": ".procedural",
    "ProceduralShapes": ".builtin",
    "render_sample": ".builtin",
    "collate_batch": ".builtin",
    "R2N2": ".r2n2",
    "r2n2_camera": ".r2n2",
    "read_binvox": ".binvox",
    "write_binvox": ".binvox",
    "Binvox": ".binvox",
    "ShapeNetCore": ".shapenet",
    "collate_batched_meshes": ".utils",
    "BlenderCamera": ".r2n2_utils",
    "collate_batched_R2N2": ".r2n2_utils",
    "render_cubified_voxels": ".r2n2_utils",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
