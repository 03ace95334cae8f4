"""PyTorch3D's ``utils.torus`` path; ``torus`` lives in ``utils.primitives``."""

from inverse3d.utils.primitives import torus

__all__ = ["torus"]
