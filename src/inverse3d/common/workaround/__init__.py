"""PyTorch3D's ``common.workaround``: ``symeig3x3``."""

from inverse3d.common.workaround.symeig3x3 import symeig3x3

__all__ = ["symeig3x3"]
