"""Inverse problems through differentiable rendering (``inverse3d invert``): a camera's pose (``pose``), a known mesh's
texture (``texture``) and a shape deformed from an ico sphere (``shape``) recovered from images with the soft
rasteriser; the built-in cow-like mesh (``meshes``) and the pieces they share (``common``). Score distillation
(``sds``, ``sds_targets``, ``sds_train``; ``sds_tiny`` writes a tiny random diffusers model for tests) optimises an
image, a mesh's colours or a NeRF from text with a local diffusion model."""

from inverse3d._lazy import attach

_EXPORTS = {
    # pose
    "PoseConfig": ".pose",
    "PoseModel": ".pose",
    "PoseResult": ".pose",
    "fit_pose": ".pose",
    "camera_centers": ".pose",
    "random_rotations_within": ".pose",
    # texture
    "TextureConfig": ".texture",
    "TextureResult": ".texture",
    "fit_texture": ".texture",
    # shape
    "ShapeConfig": ".shape",
    "ShapeModel": ".shape",
    "ShapeResult": ".shape",
    "fit_shape": ".shape",
    "shape_metrics": ".shape",
    # shared
    "cow_like_mesh": ".meshes",
    "load_known_mesh": ".meshes",
    "soft_renderer": ".common",
    "orbit_cameras": ".common",
    "image_loss": ".common",
    "rotation_error_degrees": ".common",
    "read_image": ".common",
    # score distillation (needs the sds extra: diffusers, transformers)
    "SDSLoss": ".sds",
    "SDSModel": ".sds",
    "PromptEmbeddings": ".sds",
    "load_sds_model": ".sds",
    "SDSConfig": ".sds_train",
    "run_sds": ".sds_train",
    "write_tiny_model": ".sds_tiny",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
