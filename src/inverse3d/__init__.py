"""inverse3d: learning 3D vision through inverse graphics, in pure PyTorch.

Subpackages keep PyTorch3D's names: ``inverse3d.structures``, ``inverse3d.transforms``,
``inverse3d.renderer``, ``inverse3d.ops``, ``inverse3d.loss``, ``inverse3d.io``, ``inverse3d.utils`` and
``inverse3d.common``.
"""

import importlib

__version__ = "0.1.0"

_SUBPACKAGES = (
    "structures", "transforms", "renderer", "ops", "loss", "io", "utils", "common",
    "vis", "metrics", "datasets", "models", "training", "tasks", "viz", "tour", "cli",
)


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["__version__", *_SUBPACKAGES]
