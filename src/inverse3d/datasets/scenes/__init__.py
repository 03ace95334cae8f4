"""Multi-view scenes: built-in scenes made by inverse3d, and readers of the formats people already have.

- Built-in scenes (``builtin``, ``make``): ``lego``, ``materials``, ``box`` and ``forward``, each generated from a
  seed, rendered by our rasteriser (``raster``; the box by volume rendering of its SDF, ``sdf_box``) or by Mitsuba 3's
  path tracer (``pathtrace``, the ``photoreal`` extra), and written in the NeRF-synthetic layout with depth and normal
  maps, ``mesh.ply`` and ``points.ply`` beside it (``make_scene``; ``inverse3d scenes make``).
- Readers (``load_scene``): NeRF-synthetic / Blender, nerfstudio, COLMAP (text and binary), LLFF, and the course's
  ``.pth`` + tall PNG, all into one ``SceneDataset`` of PyTorch3D-convention cameras (``conventions``). Writers of
  each format make round trips and fixtures possible.
"""

from inverse3d._lazy import attach

_EXPORTS = {
    # the description of a scene
    "SceneSpec": ".spec",
    "ScenePart": ".spec",
    "Material": ".spec",
    "Light": ".spec",
    "CameraLayout": ".spec",
    "layout_c2w": ".layouts",
    "look_at_c2w": ".layouts",
    # built-in scenes
    "scene_names": ".builtin",
    "scene_spec": ".builtin",
    "lego_scene": ".builtin",
    "materials_scene": ".builtin",
    "box_scene": ".builtin",
    "forward_scene": ".builtin",
    "BOX_CENTER": ".builtin",
    "BOX_SIDES": ".builtin",
    "make_scene": ".make",
    "render_rasterized": ".raster",
    "RasterViews": ".raster",
    "render_sdf_box": ".sdf_box",
    "box_sdf": ".sdf_box",
    "laplace_density": ".sdf_box",
    "join_parts": ".raster",
    "get_scene": ".builtin",
    "SCENES": ".builtin",
    "BuiltinScene": ".builtin",
    "BOX_BETA": ".builtin",
    "NERF_SYNTHETIC_CAMERA_ANGLE_X": ".builtin",
    "render_pathtraced": ".pathtrace",
    "default_variant": ".pathtrace",
    # cameras
    "cameras_from_c2w": ".conventions",
    "c2w_from_cameras": ".conventions",
    "intrinsics_from_cameras": ".conventions",
    "opengl_to_opencv": ".conventions",
    "opencv_to_opengl": ".conventions",
    "check_pose": ".conventions",
    "focal_from_fov": ".conventions",
    "fov_from_focal": ".conventions",
    "SceneFormatError": ".conventions",
    "SceneFileNotFoundError": ".conventions",
    # reading
    "SceneDataset": ".dataset",
    "Frame": ".dataset",
    "load_scene": ".dataset",
    "detect_format": ".dataset",
    "ndc_rays": ".dataset",
    "frame_rays": ".dataset",
    "estimate_near_far": ".dataset",
    "FORMATS": ".dataset",
    "scene_info": ".info",
    # what training on a scene needs
    "RayPool": ".rays",
    "RayBatch": ".rays",
    "scene_path": ".training",
    "open_scene": ".training",
    "scene_bounds": ".training",
    "manifest_bounds": ".training",
    "camera_summary": ".training",
    "orbit_cameras": ".training",
    "SceneTrainOptions": ".training",
    # scoring renders of a scene's views
    "score_views": ".scoring",
    "format_scores": ".scoring",
    "ssim_window": ".scoring",
    "check_n_views": ".scoring",
    # the formats
    "read_blender": ".blender",
    "write_blender_split": ".blender",
    "read_nerfstudio": ".nerfstudio",
    "write_nerfstudio": ".nerfstudio",
    "read_colmap": ".colmap",
    "write_colmap": ".colmap",
    "read_llff": ".llff",
    "write_llff": ".llff",
    "read_course": ".course",
    "write_course": ".course",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
