"""Radiance fields in pure PyTorch: world points (and view directions) -> density and colour.

- ``NeRFMLP``: the course's NeRF network (harmonic embeddings, 8 x 256 MLP with a skip, view-dependent colour).
- ``HashGridEncoding`` / ``HashGridField``: Instant-NGP's multiresolution hash encoding with tiny MLPs.
- ``DenseGridField``: Plenoxels/DVGO-style density and feature grids with trilinear interpolation, coarse-to-fine
  ``upsample`` and ``total_variation``.
- ``OccupancyGrid``, ``ray_sample_mask``, ``evaluate_occupied``: empty-space skipping updated during training.

Every field is an ``nn.Module`` with ``forward(points, directions=None) -> (sigma (..., 1), rgb (..., 3))`` and
``density(points) -> sigma (..., 1)`` (``base.RadianceField``).
"""

from inverse3d._lazy import attach

_EXPORTS = {
    "RadianceField": ".base",
    "NeRFMLP": ".nerf_mlp",
    "HashGridEncoding": ".hash_grid",
    "HashGridField": ".hash_grid",
    "level_resolutions": ".hash_grid",
    "DenseGridField": ".dense_grid",
    "grid_total_variation": ".dense_grid",
    "OccupancyGrid": ".occupancy",
    "ray_sample_mask": ".occupancy",
    "evaluate_occupied": ".occupancy",
    "spherical_harmonics": ".encodings",
    "SphericalHarmonicsEncoding": ".encodings",
    "trunc_exp": ".encodings",
    "SDFField": ".sdf",
    "SDFMLP": ".sdf",
    "HashGridSDF": ".sdf",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
