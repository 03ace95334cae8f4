"""Small shared helpers with PyTorch3D's names (``pytorch3d.common``): device types and version shims."""

from inverse3d._lazy import attach

_EXPORTS = {
    "Device": ".datatypes",
    "get_device": ".datatypes",
    "make_device": ".datatypes",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
