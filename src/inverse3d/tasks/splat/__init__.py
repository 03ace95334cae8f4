"""Gaussian splatting task: training 3D Gaussians on multi-view scenes with adaptive density control, rendering
turntables of any Gaussian PLY and evaluating test views (``inverse3d splat {train,render,eval}``)."""

from inverse3d._lazy import attach

_EXPORTS = {
    "GaussianModel": ".model",
    "init_from_points": ".model",
    "init_random": ".model",
    "DensityOptions": ".density",
    "DensifyStats": ".density",
    "accumulate_grad2d": ".density",
    "densify_and_prune": ".density",
    "reset_opacity": ".density",
    "keep_gaussians": ".density",
    "append_gaussians": ".density",
    "SplatTrainConfig": ".train",
    "SplatTask": ".train",
    "train": ".train",
    "load_splat": ".train",
    "splat_loss": ".train",
    "frame_cameras": ".render",
    "orbit_cameras": ".render",
    "orbit_c2w": ".render",
    "scene_orbit": ".render",
    "gaussians_orbit": ".render",
    "render_view": ".render",
    "render_turntable": ".render",
    "evaluate_splat": ".evaluate",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
