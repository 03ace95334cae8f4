"""PyTorch3D 0.7.9's public module paths and names resolve under ``inverse3d`` (rename ``pytorch3d`` -> ``inverse3d``).

``PYTORCH3D_API`` was written once from PyTorch3D 0.7.9's package ``__init__`` files and the public (documented,
non-underscore) names defined in each module; names that a module merely imports for its own use, and internal
helpers (Python references of C++ kernels, lookup tables, constants of the CUDA kernels), are left out.
Every listed name must resolve, be ``PENDING`` (someone is implementing it; the reason says who or what) or be
``NOT_PROVIDED`` (left out on purpose: importing or reading it raises an ImportError that says why).
"""

import importlib
import types
import warnings

import pytest

# fmt: off
PYTORCH3D_API = {
    "pytorch3d.common": ["Device", "get_device", "make_device"],
    "pytorch3d.common.compat": ["meshgrid_ij", "prod"],
    "pytorch3d.common.datatypes": ["Device", "make_device", "get_device"],
    "pytorch3d.common.linear_with_repeat": ["LinearWithRepeat"],
    "pytorch3d.common.workaround": ["symeig3x3"],
    "pytorch3d.common.workaround.symeig3x3": ["symeig3x3"],
    "pytorch3d.datasets": [
        "BlenderCamera", "collate_batched_R2N2", "R2N2", "render_cubified_voxels", "ShapeNetCore",
        "collate_batched_meshes",
    ],
    "pytorch3d.datasets.r2n2": ["BlenderCamera", "collate_batched_R2N2", "R2N2", "render_cubified_voxels"],
    "pytorch3d.datasets.shapenet": ["ShapeNetCore"],
    "pytorch3d.datasets.utils": ["collate_batched_meshes"],
    "pytorch3d.io": ["load_obj", "load_objs_as_meshes", "save_obj", "IO", "load_ply", "save_ply"],
    "pytorch3d.io.experimental_gltf_io": ["load_meshes", "MeshGlbFormat"],
    "pytorch3d.io.mtl_io": [
        "make_mesh_texture_atlas", "make_material_atlas", "MaterialProperties", "TextureFiles", "TextureImages",
        "load_mtl",
    ],
    "pytorch3d.io.obj_io": ["load_obj", "load_objs_as_meshes", "MeshObjFormat", "save_obj"],
    "pytorch3d.io.off_io": ["MeshOffFormat"],
    "pytorch3d.io.pluggable": ["IO"],
    "pytorch3d.io.pluggable_formats": ["endswith", "MeshFormatInterpreter", "PointcloudFormatInterpreter"],
    "pytorch3d.io.ply_io": ["load_ply", "save_ply", "MeshPlyFormat", "PointcloudPlyFormat"],
    "pytorch3d.io.utils": ["PathOrStr"],
    "pytorch3d.loss": [
        "chamfer_distance", "mesh_edge_loss", "mesh_laplacian_smoothing", "mesh_normal_consistency",
        "point_mesh_edge_distance", "point_mesh_face_distance",
    ],
    "pytorch3d.loss.chamfer": ["chamfer_distance"],
    "pytorch3d.loss.mesh_edge_loss": ["mesh_edge_loss"],
    "pytorch3d.loss.mesh_laplacian_smoothing": ["mesh_laplacian_smoothing"],
    "pytorch3d.loss.mesh_normal_consistency": ["mesh_normal_consistency"],
    "pytorch3d.loss.point_mesh_distance": [
        "point_face_distance", "face_point_distance", "point_edge_distance", "edge_point_distance",
        "point_mesh_edge_distance", "point_mesh_face_distance",
    ],
    "pytorch3d.ops": [
        "ball_query", "corresponding_cameras_alignment", "cubify", "GraphConv", "interpolate_face_attributes",
        "box3d_overlap", "knn_gather", "knn_points", "cot_laplacian", "laplacian", "norm_laplacian",
        "mesh_face_areas_normals", "taubin_smoothing", "packed_to_padded", "padded_to_packed", "efficient_pnp",
        "corresponding_points_alignment", "iterative_closest_point", "estimate_pointcloud_local_coord_frames",
        "estimate_pointcloud_normals", "add_pointclouds_to_volumes", "add_points_features_to_volume_densities_features",
        "sample_farthest_points", "sample_points_from_meshes", "SubdivideMeshes", "convert_pointclouds_to_tensor",
        "eyes", "get_point_covariances", "is_pointclouds", "wmean", "vert_align",
    ],
    "pytorch3d.ops.ball_query": ["ball_query"],
    "pytorch3d.ops.cameras_alignment": ["corresponding_cameras_alignment"],
    "pytorch3d.ops.cubify": ["cubify"],
    "pytorch3d.ops.graph_conv": ["GraphConv"],
    "pytorch3d.ops.interp_face_attrs": ["interpolate_face_attributes"],
    "pytorch3d.ops.iou_box3d": ["box3d_overlap"],
    "pytorch3d.ops.knn": ["knn_points", "knn_gather"],
    "pytorch3d.ops.laplacian_matrices": ["laplacian", "cot_laplacian", "norm_laplacian"],
    "pytorch3d.ops.marching_cubes": ["marching_cubes_naive", "marching_cubes"],
    "pytorch3d.ops.mesh_face_areas_normals": ["mesh_face_areas_normals"],
    "pytorch3d.ops.mesh_filtering": ["taubin_smoothing"],
    "pytorch3d.ops.packed_to_padded": ["packed_to_padded", "padded_to_packed"],
    "pytorch3d.ops.perspective_n_points": ["EpnpSolution", "efficient_pnp"],
    "pytorch3d.ops.points_alignment": [
        "SimilarityTransform", "ICPSolution", "iterative_closest_point", "corresponding_points_alignment",
    ],
    "pytorch3d.ops.points_normals": ["estimate_pointcloud_normals", "estimate_pointcloud_local_coord_frames"],
    "pytorch3d.ops.points_to_volumes": [
        "add_pointclouds_to_volumes", "add_points_features_to_volume_densities_features",
    ],
    "pytorch3d.ops.sample_farthest_points": ["sample_farthest_points"],
    "pytorch3d.ops.sample_points_from_meshes": ["sample_points_from_meshes"],
    "pytorch3d.ops.subdivide_meshes": ["SubdivideMeshes"],
    "pytorch3d.ops.utils": [
        "masked_gather", "wmean", "eyes", "convert_pointclouds_to_tensor", "is_pointclouds", "get_point_covariances",
    ],
    "pytorch3d.ops.vert_align": ["vert_align"],
    "pytorch3d.renderer": [
        "BlendParams", "hard_rgb_blend", "sigmoid_alpha_blend", "softmax_rgb_blend", "join_cameras_as_batch",
        "rotate_on_spot", "camera_position_from_spherical_angles", "CamerasBase", "FoVOrthographicCameras",
        "FoVPerspectiveCameras", "get_world_to_view_transform", "look_at_rotation", "look_at_view_transform",
        "OpenGLOrthographicCameras", "OpenGLPerspectiveCameras", "OrthographicCameras", "PerspectiveCameras",
        "SfMOrthographicCameras", "SfMPerspectiveCameras", "AbsorptionOnlyRaymarcher", "EmissionAbsorptionRaymarcher",
        "GridRaysampler", "HarmonicEmbedding", "HeterogeneousRayBundle", "ImplicitRenderer", "MonteCarloRaysampler",
        "MultinomialRaysampler", "NDCGridRaysampler", "NDCMultinomialRaysampler", "ray_bundle_to_ray_points",
        "ray_bundle_variables_to_ray_points", "RayBundle", "VolumeRenderer", "VolumeSampler", "AmbientLights",
        "diffuse", "DirectionalLights", "PointLights", "specular", "Materials", "gouraud_shading", "HardFlatShader",
        "HardGouraudShader", "HardPhongShader", "MeshRasterizer", "MeshRenderer", "MeshRendererWithFragments",
        "phong_shading", "RasterizationSettings", "rasterize_meshes", "SoftGouraudShader", "SoftPhongShader",
        "SoftSilhouetteShader", "SplatterPhongShader", "Textures", "TexturesAtlas", "TexturesUV", "TexturesVertex",
        "AlphaCompositor", "NormWeightedCompositor", "PointsRasterizationSettings", "PointsRasterizer",
        "PointsRenderer", "PulsarPointsRenderer", "rasterize_points", "SplatterBlender",
        "convert_to_tensors_and_broadcast", "ndc_grid_sample", "ndc_to_grid_sample_coords", "TensorProperties",
    ],
    "pytorch3d.renderer.blending": ["BlendParams", "hard_rgb_blend", "sigmoid_alpha_blend", "softmax_rgb_blend"],
    "pytorch3d.renderer.camera_conversions": [],
    "pytorch3d.renderer.camera_utils": ["camera_to_eye_at_up", "rotate_on_spot", "join_cameras_as_batch"],
    "pytorch3d.renderer.cameras": [
        "CamerasBase", "OpenGLPerspectiveCameras", "FoVPerspectiveCameras", "OpenGLOrthographicCameras",
        "FoVOrthographicCameras", "SfMPerspectiveCameras", "PerspectiveCameras", "SfMOrthographicCameras",
        "OrthographicCameras", "get_world_to_view_transform", "camera_position_from_spherical_angles",
        "look_at_rotation", "look_at_view_transform", "get_ndc_to_screen_transform", "get_screen_to_ndc_transform",
        "try_get_projection_transform",
    ],
    "pytorch3d.renderer.compositing": ["alpha_composite", "norm_weighted_sum", "weighted_sum"],
    "pytorch3d.renderer.fisheyecameras": ["FishEyeCameras"],
    "pytorch3d.renderer.implicit": [
        "HarmonicEmbedding", "AbsorptionOnlyRaymarcher", "EmissionAbsorptionRaymarcher", "GridRaysampler",
        "MonteCarloRaysampler", "MultinomialRaysampler", "NDCGridRaysampler", "NDCMultinomialRaysampler",
        "ImplicitRenderer", "VolumeRenderer", "VolumeSampler", "HeterogeneousRayBundle", "ray_bundle_to_ray_points",
        "ray_bundle_variables_to_ray_points", "RayBundle",
    ],
    "pytorch3d.renderer.implicit.harmonic_embedding": ["HarmonicEmbedding"],
    "pytorch3d.renderer.implicit.raymarching": ["EmissionAbsorptionRaymarcher", "AbsorptionOnlyRaymarcher"],
    "pytorch3d.renderer.implicit.raysampling": [
        "MultinomialRaysampler", "NDCMultinomialRaysampler", "MonteCarloRaysampler", "GridRaysampler",
        "NDCGridRaysampler",
    ],
    "pytorch3d.renderer.implicit.renderer": ["ImplicitRenderer", "VolumeRenderer", "VolumeSampler"],
    "pytorch3d.renderer.implicit.sample_pdf": ["sample_pdf"],
    "pytorch3d.renderer.implicit.utils": [
        "RayBundle", "HeterogeneousRayBundle", "ray_bundle_to_ray_points", "ray_bundle_variables_to_ray_points",
    ],
    "pytorch3d.renderer.lighting": ["diffuse", "specular", "DirectionalLights", "PointLights", "AmbientLights"],
    "pytorch3d.renderer.materials": ["Materials"],
    "pytorch3d.renderer.mesh": [
        "clip_faces", "ClipFrustum", "ClippedFaces", "convert_clipped_rasterization_to_original_faces",
        "rasterize_meshes", "MeshRasterizer", "RasterizationSettings", "MeshRenderer", "MeshRendererWithFragments",
        "BlendParams", "HardFlatShader", "HardGouraudShader", "HardPhongShader", "SoftGouraudShader", "SoftPhongShader",
        "SoftSilhouetteShader", "SplatterPhongShader", "TexturedSoftPhongShader", "gouraud_shading", "phong_shading",
        "Textures", "TexturesAtlas", "TexturesBase", "TexturesUV", "TexturesVertex",
    ],
    "pytorch3d.renderer.mesh.clip": [
        "ClippedFaces", "ClipFrustum", "clip_faces", "convert_clipped_rasterization_to_original_faces",
    ],
    "pytorch3d.renderer.mesh.rasterize_meshes": ["rasterize_meshes"],
    "pytorch3d.renderer.mesh.rasterizer": ["Fragments", "RasterizationSettings", "MeshRasterizer"],
    "pytorch3d.renderer.mesh.renderer": ["MeshRenderer", "MeshRendererWithFragments"],
    "pytorch3d.renderer.mesh.shader": [
        "ShaderBase", "HardPhongShader", "SoftPhongShader", "HardGouraudShader", "SoftGouraudShader",
        "TexturedSoftPhongShader", "HardFlatShader", "SoftSilhouetteShader", "SplatterPhongShader", "HardDepthShader",
        "SoftDepthShader",
    ],
    "pytorch3d.renderer.mesh.shading": ["phong_shading", "gouraud_shading", "flat_shading"],
    "pytorch3d.renderer.mesh.textures": ["TexturesBase", "Textures", "TexturesAtlas", "TexturesUV", "TexturesVertex"],
    "pytorch3d.renderer.mesh.utils": [
        "Rectangle", "PackedRectangle", "PackedRectangles", "pack_rectangles", "pack_unique_rectangles",
    ],
    "pytorch3d.renderer.opengl": ["EGLContext", "global_device_context_store", "MeshRasterizerOpenGL"],
    "pytorch3d.renderer.opengl.opengl_utils": ["EGLContext", "global_device_context_store"],
    "pytorch3d.renderer.opengl.rasterizer_opengl": ["MeshRasterizerOpenGL"],
    "pytorch3d.renderer.points": [
        "AlphaCompositor", "NormWeightedCompositor", "PulsarPointsRenderer", "rasterize_points",
        "PointsRasterizationSettings", "PointsRasterizer", "PointsRenderer",
    ],
    "pytorch3d.renderer.points.compositor": ["AlphaCompositor", "NormWeightedCompositor"],
    "pytorch3d.renderer.points.pulsar": ["Renderer"],
    "pytorch3d.renderer.points.pulsar.renderer": ["Renderer"],
    "pytorch3d.renderer.points.pulsar.unified": ["PulsarPointsRenderer"],
    "pytorch3d.renderer.points.rasterize_points": ["rasterize_points"],
    "pytorch3d.renderer.points.rasterizer": ["PointFragments", "PointsRasterizationSettings", "PointsRasterizer"],
    "pytorch3d.renderer.points.renderer": ["PointsRenderer"],
    "pytorch3d.renderer.splatter_blend": ["SplatterBlender"],
    "pytorch3d.renderer.utils": [
        "TensorAccessor", "BROADCAST_TYPES", "TensorProperties", "format_tensor", "convert_to_tensors_and_broadcast",
        "ndc_grid_sample", "ndc_to_grid_sample_coords", "parse_image_size",
    ],
    "pytorch3d.structures": [
        "join_meshes_as_batch", "join_meshes_as_scene", "Meshes", "join_pointclouds_as_batch",
        "join_pointclouds_as_scene", "Pointclouds", "list_to_packed", "list_to_padded", "packed_to_list",
        "padded_to_list", "Volumes",
    ],
    "pytorch3d.structures.meshes": ["Meshes", "join_meshes_as_batch", "join_meshes_as_scene"],
    "pytorch3d.structures.pointclouds": ["Pointclouds", "join_pointclouds_as_batch", "join_pointclouds_as_scene"],
    "pytorch3d.structures.utils": [
        "list_to_padded", "padded_to_list", "list_to_packed", "packed_to_list", "padded_to_packed",
    ],
    "pytorch3d.structures.volumes": ["Volumes", "VolumeLocator"],
    "pytorch3d.transforms": [
        "acos_linear_extrapolation", "axis_angle_to_matrix", "axis_angle_to_quaternion", "euler_angles_to_matrix",
        "matrix_to_axis_angle", "matrix_to_euler_angles", "matrix_to_quaternion", "matrix_to_rotation_6d",
        "quaternion_apply", "quaternion_invert", "quaternion_multiply", "quaternion_raw_multiply",
        "quaternion_to_axis_angle", "quaternion_to_matrix", "random_quaternions", "random_rotation", "random_rotations",
        "rotation_6d_to_matrix", "standardize_quaternion", "se3_exp_map", "se3_log_map", "so3_exp_map",
        "so3_exponential_map", "so3_log_map", "so3_relative_angle", "so3_rotation_angle", "Rotate", "RotateAxisAngle",
        "Scale", "Transform3d", "Translate",
    ],
    "pytorch3d.transforms.math": ["DEFAULT_ACOS_BOUND", "acos_linear_extrapolation"],
    "pytorch3d.transforms.rotation_conversions": [
        "quaternion_to_matrix", "matrix_to_quaternion", "euler_angles_to_matrix", "matrix_to_euler_angles",
        "random_quaternions", "random_rotations", "random_rotation", "standardize_quaternion",
        "quaternion_raw_multiply", "quaternion_multiply", "quaternion_invert", "quaternion_apply",
        "axis_angle_to_matrix", "matrix_to_axis_angle", "axis_angle_to_quaternion", "quaternion_to_axis_angle",
        "rotation_6d_to_matrix", "matrix_to_rotation_6d",
    ],
    "pytorch3d.transforms.se3": ["se3_exp_map", "se3_log_map"],
    "pytorch3d.transforms.so3": [
        "so3_relative_angle", "so3_rotation_angle", "so3_exp_map", "so3_exponential_map", "so3_log_map", "hat_inv",
        "hat",
    ],
    "pytorch3d.transforms.transform3d": ["Transform3d", "Translate", "Scale", "Rotate", "RotateAxisAngle"],
    "pytorch3d.utils": [
        "cameras_from_opencv_projection", "opencv_from_cameras_projection", "pulsar_from_cameras_projection",
        "pulsar_from_opencv_projection", "checkerboard", "ico_sphere", "torus",
    ],
    "pytorch3d.utils.camera_conversions": [
        "cameras_from_opencv_projection", "opencv_from_cameras_projection", "pulsar_from_opencv_projection",
        "pulsar_from_cameras_projection",
    ],
    "pytorch3d.utils.checkerboard": ["checkerboard"],
    "pytorch3d.utils.ico_sphere": ["ico_sphere"],
    "pytorch3d.utils.torus": ["torus"],
    "pytorch3d.vis": [
        "get_camera_wireframe", "plot_batch_individually", "plot_scene", "texturesuv_image_matplotlib",
        "texturesuv_image_PIL",
    ],
    "pytorch3d.vis.plotly_vis": [
        "get_camera_wireframe", "AxisArgs", "Lighting", "plot_scene", "plot_batch_individually",
    ],
    "pytorch3d.vis.texture_vis": ["texturesuv_image_matplotlib", "texturesuv_image_PIL"],
}




# module -> {name: reason}; the name "*" stands for the whole module.
PENDING: dict = {}  # empty: everything of PyTorch3D outside NOT_PROVIDED is implemented

PULSAR = "CUDA-only compiled renderer"
PULSAR_CAMERAS = "CUDA-only Pulsar renderer"
OPENGL = "OpenGL/EGL"

# module -> {name: words the error message must contain}; "*" for the whole module.
NOT_PROVIDED = {
    "pytorch3d.renderer": {"PulsarPointsRenderer": PULSAR},
    "pytorch3d.renderer.points": {"PulsarPointsRenderer": PULSAR},
    "pytorch3d.renderer.points.pulsar": {"*": PULSAR},
    "pytorch3d.renderer.points.pulsar.renderer": {"*": PULSAR},
    "pytorch3d.renderer.points.pulsar.unified": {"*": PULSAR},
    "pytorch3d.renderer.opengl": {"*": OPENGL},
    "pytorch3d.renderer.opengl.opengl_utils": {"*": OPENGL},
    "pytorch3d.renderer.opengl.rasterizer_opengl": {"*": OPENGL},
    "pytorch3d.utils": {
        "pulsar_from_cameras_projection": PULSAR_CAMERAS, "pulsar_from_opencv_projection": PULSAR_CAMERAS,
    },
    "pytorch3d.utils.camera_conversions": {
        "pulsar_from_cameras_projection": PULSAR_CAMERAS, "pulsar_from_opencv_projection": PULSAR_CAMERAS,
    },
}
# fmt: on


def _ours(module: str) -> str:
    return "inverse3d" + module[len("pytorch3d"):]


def _skipped(table: dict, module: str, name: str) -> bool:
    entry = table.get(module, {})
    return "*" in entry or name in entry


def _lookup(module: str, name: str) -> object:
    """``inverse3d``'s value for PyTorch3D's ``module.name``, or None when absent. A submodule of the same name
    (``inverse3d.ops.cubify`` the module rather than the function) does not count."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = getattr(importlib.import_module(_ours(module)), name)
        except (ImportError, AttributeError):
            return None
    return None if isinstance(value, types.ModuleType) else value


# whole modules that are pending or not provided are checked by the tests further down
PRESENT_MODULES = sorted(
    m for m in PYTORCH3D_API if "*" not in PENDING.get(m, {}) and "*" not in NOT_PROVIDED.get(m, {})
)


@pytest.mark.parametrize("module", PRESENT_MODULES)
def test_module_and_names_resolve(module):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = importlib.import_module(_ours(module))
    expected = [
        n for n in PYTORCH3D_API[module] if not (_skipped(PENDING, module, n) or _skipped(NOT_PROVIDED, module, n))
    ]
    missing = [n for n in expected if _lookup(module, n) is None]
    assert not missing, f"{_ours(module)} lacks PyTorch3D names {missing}"
    exported = getattr(ours, "__all__", None)
    if exported is not None:  # a star import must bring them too
        hidden = [n for n in expected if n not in exported]
        assert not hidden, f"{_ours(module)}.__all__ lacks {hidden}"


PENDING_ENTRIES = sorted((module, name) for module, names in PENDING.items() for name in names)


@pytest.mark.parametrize("module,name", PENDING_ENTRIES)
def test_pending_list_is_current(module, name):
    """A PENDING name that resolves has been implemented: move it out of PENDING (so it stays checked)."""
    names = PYTORCH3D_API[module] if name == "*" else [name]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importlib.import_module(_ours(module))
    except ImportError:
        return  # the module itself is still missing
    resolved = all(_lookup(module, n) is not None for n in names)
    assert not resolved, f"{_ours(module)}{'' if name == '*' else '.' + name} now resolves: remove it from PENDING"


NOT_PROVIDED_ENTRIES = sorted((module, name) for module, names in NOT_PROVIDED.items() for name in names)


@pytest.mark.parametrize("module,name", NOT_PROVIDED_ENTRIES)
def test_not_provided_raise_import_error_saying_why(module, name):
    words = NOT_PROVIDED[module][name]
    if name == "*":
        with pytest.raises(ImportError, match="not provided by inverse3d") as err:
            importlib.import_module(_ours(module))
        assert words in str(err.value)
        return
    ours = importlib.import_module(_ours(module))
    # the form PyTorch3D code uses: an ImportError that says why
    with pytest.raises(ImportError, match="not provided by inverse3d") as err:
        exec(f"from {_ours(module)} import {name}", {})
    assert words in str(err.value)
    # reading it as an attribute: an AttributeError that says why, so hasattr and getattr(..., None) still work
    with pytest.raises(AttributeError, match="not provided by inverse3d") as err:
        getattr(ours, name)
    assert words in str(err.value)
    assert not hasattr(ours, name) and getattr(ours, name, None) is None
    assert name not in dir(ours)


def test_tables_are_consistent():
    for table in (PENDING, NOT_PROVIDED):
        for module, names in table.items():
            assert module in PYTORCH3D_API, module
            for name in names:
                assert name == "*" or name in PYTORCH3D_API[module], (module, name)
    overlap = [(m, n) for m, ns in PENDING.items() for n in ns if _skipped(NOT_PROVIDED, m, n)]
    assert not overlap, overlap
    # the issue's examples of paths that failed before
    for module in ("pytorch3d.renderer.mesh", "pytorch3d.renderer.points", "pytorch3d.renderer.compositing",
                   "pytorch3d.utils.torus", "pytorch3d.renderer.camera_utils", "pytorch3d.renderer.fisheyecameras",
                   "pytorch3d.io.mtl_io", "pytorch3d.utils.ico_sphere", "pytorch3d.utils.camera_conversions",
                   "pytorch3d.common", "pytorch3d.common.compat"):
        assert module in PYTORCH3D_API and "*" not in PENDING.get(module, {})


def test_issue_examples_import():
    namespace: dict = {}
    exec(
        "from inverse3d.renderer.mesh import MeshRasterizer, HardPhongShader, TexturesUV\n"
        "from inverse3d.renderer.points import PointsRenderer\n"
        "from inverse3d.renderer.compositing import alpha_composite\n"
        "from inverse3d.utils.torus import torus\n"
        "from inverse3d.common import Device, get_device, make_device\n"
        "from inverse3d.common.compat import meshgrid_ij\n",
        namespace,
    )
    import inverse3d.renderer as renderer

    assert namespace["MeshRasterizer"] is renderer.MeshRasterizer
    compositor = importlib.import_module("inverse3d.renderer.points.compositor")
    assert namespace["alpha_composite"] is compositor.alpha_composite
    assert namespace["torus"](0.2, 1.0, 4, 5).verts_packed().shape == (20, 3)
