"""Geometry operators: nearest neighbours, mesh sampling, voxels, marching cubes, RGB-D unprojection."""

from inverse3d._lazy import attach

_EXPORTS = {
    "knn_points": ".knn",
    "knn_gather": ".knn",
    "sample_points_from_meshes": ".sample_points_from_meshes",
    "cubify": ".cubify",
    "voxelize_meshes": ".voxelize",
    "marching_cubes": ".marching_cubes",
    "index_to_world": ".voxel_grid",
    "world_to_index": ".voxel_grid",
    "grid_points": ".voxel_grid",
    "unproject_depth_image": ".rgbd",
    "rgbd_to_pointclouds": ".rgbd",
    "packed_to_padded": ".packed_to_padded",
    "padded_to_packed": ".packed_to_padded",
    "interpolate_face_attributes": "inverse3d.renderer.mesh.utils",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
