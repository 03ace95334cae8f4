"""Implicit and volume rendering: rays, raysamplers, raymarchers, renderers (PyTorch3D's ``renderer.implicit``).

Beyond PyTorch3D: the density form of NeRF (``density_weights``, ``density_render``, ``DensityRaymarcher``) and
``render_image_chunked`` for full images in bounded memory.
"""

from inverse3d._lazy import attach

_EXPORTS = {
    "HarmonicEmbedding": ".harmonic_embedding",
    "AbsorptionOnlyRaymarcher": ".raymarching",
    "EmissionAbsorptionRaymarcher": ".raymarching",
    "GridRaysampler": ".raysampling",
    "MonteCarloRaysampler": ".raysampling",
    "MultinomialRaysampler": ".raysampling",
    "NDCGridRaysampler": ".raysampling",
    "NDCMultinomialRaysampler": ".raysampling",
    "ImplicitRenderer": ".renderer",
    "VolumeRenderer": ".renderer",
    "VolumeSampler": ".renderer",
    "HeterogeneousRayBundle": ".utils",
    "RayBundle": ".utils",
    "ray_bundle_to_ray_points": ".utils",
    "ray_box_range": ".utils",
    "ray_bundle_variables_to_ray_points": ".utils",
    "sample_pdf": ".sample_pdf",
    "ray_deltas": ".density",
    "density_weights": ".density",
    "density_render": ".density",
    "DensityRender": ".density",
    "DensityRaymarcher": ".density",
    "render_image_chunked": ".chunked_rendering",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
