"""Losses for fitting and training: chamfer, point-mesh distances, voxel BCE, mesh regularisers."""

from inverse3d._lazy import attach

_EXPORTS = {
    "chamfer_distance": ".chamfer",
    "voxel_bce_loss": ".voxel",
    "mesh_laplacian_smoothing": ".mesh_laplacian_smoothing",
    "mesh_edge_loss": ".mesh_edge_loss",
    "mesh_normal_consistency": ".mesh_normal_consistency",
    "point_mesh_face_distance": ".point_mesh_distance",
    "point_mesh_edge_distance": ".point_mesh_distance",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
