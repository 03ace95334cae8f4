"""Neural surfaces: signed distance fields fitted to point clouds (``points``) and, from images, VolSDF / NeuS.

- ``points``: ``fit_points(FitPointsConfig)`` (``inverse3d surface fit-points``), ``load_points_checkpoint``.
- ``losses``: surface, normal, eikonal and off-surface terms (shared by every SDF task).
- ``extract``: ``sdf_grid`` and ``extract_sdf_mesh`` (marching cubes of an SDF).
- ``shapes``: built-in target surfaces (``builtin_surface``, ``sample_surface``).
- from images: ``volsdf`` (Laplace-CDF density), ``neus`` (logistic density, discrete opacity), ``appearance``
  (colour from position, normal, view and SDF features), ``render`` (the model and its volume rendering), ``train``
  (``train_surface`` on the training core), ``evaluate`` (images, and geometry against the scene's mesh),
  ``study`` (the beta study, the tour's short run).
"""

from inverse3d._lazy import attach

_EXPORTS = {
    # point clouds (issue 12 part 1)
    "FitPointsConfig": ".points",
    "PointCloud": ".points",
    "load_point_cloud": ".points",
    "make_sdf_field": ".points",
    "fit_points": ".points",
    "load_points_checkpoint": ".points",
    "render_sdf_turntable": ".points",
    "surface_metrics": ".points",
    "surface_loss": ".losses",
    "normal_loss": ".losses",
    "eikonal_loss": ".losses",
    "off_surface_loss": ".losses",
    "random_points_in_box": ".losses",
    "points_near_surface": ".losses",
    "sdf_grid": ".extract",
    "extract_sdf_mesh": ".extract",
    "SHAPES": ".shapes",
    "SurfaceTarget": ".shapes",
    "builtin_surface": ".shapes",
    "sample_surface": ".shapes",
    # images: VolSDF / NeuS
    "laplace_cdf": ".volsdf",
    "volsdf_density": ".volsdf",
    "LaplaceDensity": ".volsdf",
    "logistic_cdf": ".neus",
    "logistic_density": ".neus",
    "neus_alpha": ".neus",
    "LogisticDensity": ".neus",
    "AppearanceNetwork": ".appearance",
    "SurfaceOptions": ".render",
    "SurfaceModel": ".render",
    "render_rays": ".render",
    "render_turntable": ".render",
    "SurfaceTrainConfig": ".train",
    "train_surface": ".train",
    "load_surface_checkpoint": ".train",
    "extract_surface_mesh": ".evaluate",
    "geometry_metrics": ".evaluate",
    "evaluate_surface": ".evaluate",
    "beta_study": ".study",
    "short_volsdf_figure": ".study",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
