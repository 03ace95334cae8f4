"""NeRF task: fitting the box scene, training radiance fields on multi-view scenes, rendering turntables,
evaluating test views and extracting meshes (``inverse3d nerf {train,render,eval,mesh,fit-box}``)."""

from inverse3d._lazy import attach

_EXPORTS = {
    "fit_box": ".box",
    "render_box_rays": ".box",
    "BoxFitResult": ".box",
    "box_rays_from_scene": ".box",
    "RayPool": ".rays",
    "RayBatch": ".rays",
    "FieldOptions": ".model",
    "NeRFModel": ".model",
    "build_field": ".model",
    "render_rays": ".model",
    "NeRFTrainConfig": ".train",
    "train": ".train",
    "load_nerf_checkpoint": ".train",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
