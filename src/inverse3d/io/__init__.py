"""Reading and writing meshes and point clouds (OBJ/MTL, PLY, GLB/glTF) with clear errors on bad files."""

from inverse3d._lazy import attach

_EXPORTS = {
    "MeshFileError": ".errors",
    "load_obj": ".obj_io",
    "load_objs_as_meshes": ".obj_io",
    "save_obj": ".obj_io",
    "load_ply": ".ply_io",
    "save_ply": ".ply_io",
    "load_pointcloud": ".ply_io",
    "load_glb": ".gltf_io",
    "load_mesh": ".mesh_io",
    "describe_file": ".mesh_io",
    "load_rgbd": ".rgbd_io",
    "RGBDImage": ".rgbd_io",
    "IO": ".pluggable",
    "load_gaussians_ply": ".gaussian_ply",
    "save_gaussians_ply": ".gaussian_ply",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
