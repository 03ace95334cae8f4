"""Every public name resolves, and the PyTorch3D-named subset of CONVENTIONS.md is where a PyTorch3D user looks."""

import importlib

import pytest

import inverse3d

SUBPACKAGES = ["structures", "transforms", "renderer", "ops", "loss", "io", "utils", "common", "viz", "vis", "datasets",
               "datasets.scenes", "metrics", "models.fields", "viewer", "renderer.splatting", "renderer.sdf",
               "tasks.surface", "tasks.splat", "tasks.invert"]

# Names a program written against PyTorch3D imports (CONVENTIONS.md), by subpackage.
PYTORCH3D_NAMES = {
    "structures": ["Meshes", "Pointclouds", "Volumes", "join_meshes_as_batch", "join_meshes_as_scene"],
    "renderer": [
        "FoVPerspectiveCameras", "FoVOrthographicCameras", "PerspectiveCameras", "OrthographicCameras",
        "look_at_view_transform", "look_at_rotation", "RasterizationSettings", "MeshRasterizer", "MeshRenderer",
        "HardPhongShader", "SoftPhongShader", "HardGouraudShader", "HardFlatShader", "SoftSilhouetteShader",
        "PointLights", "DirectionalLights", "AmbientLights", "Materials", "BlendParams", "TexturesVertex",
        "TexturesUV", "PointsRasterizationSettings", "PointsRasterizer", "AlphaCompositor",
        "NormWeightedCompositor", "PointsRenderer", "hard_rgb_blend", "sigmoid_alpha_blend", "softmax_rgb_blend",
        "FishEyeCameras", "OpenGLPerspectiveCameras", "OpenGLOrthographicCameras", "SfMPerspectiveCameras",
        "SfMOrthographicCameras", "join_cameras_as_batch", "rotate_on_spot", "camera_to_eye_at_up", "Textures",
        "ndc_grid_sample", "ndc_to_grid_sample_coords", "convert_to_tensors_and_broadcast",
        "SoftGouraudShader", "SoftDepthShader", "HardDepthShader", "TexturedSoftPhongShader", "SplatterPhongShader",
        "SplatterBlender", "TexturesAtlas", "MeshRendererWithFragments", "phong_shading", "gouraud_shading",
    ],
    "ops": ["knn_points", "knn_gather", "sample_points_from_meshes", "cubify"],
    "loss": ["chamfer_distance", "mesh_laplacian_smoothing", "mesh_edge_loss", "mesh_normal_consistency"],
    "io": ["load_obj", "load_objs_as_meshes", "save_obj", "load_ply", "save_ply", "IO"],
    "utils": ["ico_sphere", "torus", "cameras_from_opencv_projection", "opencv_from_cameras_projection"],
    "common": ["Device", "get_device", "make_device"],
    "viz": ["render_turntable", "save_turntable"],
    "vis": [
        "AxisArgs", "Lighting", "get_camera_wireframe", "plot_scene", "plot_batch_individually",
        "texturesuv_image_matplotlib", "texturesuv_image_PIL",
    ],
    "datasets": [
        "R2N2", "ShapeNetCore", "BlenderCamera", "collate_batched_meshes", "collate_batched_R2N2",
        "render_cubified_voxels",
    ],
    "transforms": [
        "Transform3d", "euler_angles_to_matrix", "matrix_to_euler_angles", "quaternion_to_matrix",
        "matrix_to_quaternion", "axis_angle_to_matrix", "rotation_6d_to_matrix", "matrix_to_rotation_6d",
        "se3_exp_map", "se3_log_map", "so3_relative_angle", "so3_rotation_angle", "acos_linear_extrapolation",
        "so3_exponential_map",
    ],
}


@pytest.mark.parametrize("sub", SUBPACKAGES)
def test_every_exported_name_resolves(sub):
    module = importlib.import_module(f"inverse3d.{sub}")
    missing = [name for name in module.__all__ if getattr(module, name, None) is None]
    assert not missing, f"inverse3d.{sub} exports names that do not resolve: {missing}"


@pytest.mark.parametrize("sub", SUBPACKAGES)
def test_pytorch3d_names_exported(sub):
    module = importlib.import_module(f"inverse3d.{sub}")
    assert set(PYTORCH3D_NAMES.get(sub, [])) <= set(module.__all__)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute"):
        inverse3d.renderer.NoSuchThing  # noqa: B018


def test_import_is_light():
    # Importing the top-level package must not pull in the renderer (lazy subpackages).
    import subprocess
    import sys

    code = "import sys, inverse3d; print('inverse3d.renderer.mesh.rasterize_meshes' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
