"""Batched 3D data: Meshes, Pointclouds, Volumes, with list / padded / packed views."""

from inverse3d._lazy import attach

_EXPORTS = {
    "Meshes": ".meshes",
    "join_meshes_as_batch": ".meshes",
    "join_meshes_as_scene": ".meshes",
    "Pointclouds": ".pointclouds",
    "join_pointclouds_as_batch": ".pointclouds",
    "join_pointclouds_as_scene": ".pointclouds",
    "Volumes": ".volumes",
    "Gaussians": ".gaussians",
    "list_to_packed": ".utils",
    "list_to_padded": ".utils",
    "packed_to_list": ".utils",
    "padded_to_list": ".utils",
    "padded_to_packed": ".utils",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
