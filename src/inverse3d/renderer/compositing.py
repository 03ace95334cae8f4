"""Compositing of rasterised point features (PyTorch3D's ``renderer.compositing``; defined in ``points.compositor``)."""

from inverse3d.renderer.points.compositor import alpha_composite, norm_weighted_sum, weighted_sum

__all__ = ["alpha_composite", "norm_weighted_sum", "weighted_sum"]
