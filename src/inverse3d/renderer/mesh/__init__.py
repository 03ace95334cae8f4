"""Mesh rasterisation, shading and texturing."""
