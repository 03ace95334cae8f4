"""Lazy public names for subpackages (PEP 562).

Each subpackage maps its public names to the module that defines them. A name is imported the first
time it is used, so ``import inverse3d`` stays fast and an optional dependency is needed only by the
code that uses it.
"""

from __future__ import annotations

import importlib
from typing import Callable


def attach(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """Returns ``__getattr__``, ``__dir__`` and ``__all__`` for ``package``.

    Args:
        package: the subpackage's ``__name__``.
        exports: public name -> module path relative to ``package`` (".meshes") that defines it.
    """

    def __getattr__(name: str) -> object:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(exports[name], package)
        value = getattr(module, name)
        globals_of_package = importlib.import_module(package).__dict__
        globals_of_package[name] = value  # cache: the next lookup skips __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(exports) | set(importlib.import_module(package).__dict__))

    return __getattr__, __dir__, sorted(exports)
