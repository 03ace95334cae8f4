"""Lazy public names for subpackages (PEP 562).

Each subpackage maps its public names to the module that defines them. A name is imported the first
time it is used, so ``import inverse3d`` stays fast and an optional dependency is needed only by the
code that uses it.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Callable


class _LazyPackage(types.ModuleType):
    """A package whose exported functions win over same-named submodules.

    ``ops/cubify.py`` defines ``cubify``: once anything imports the submodule, the import system binds the module
    object as ``inverse3d.ops.cubify``. Reading the attribute then hands out the function the package exports.
    """

    def __getattribute__(self, name: str) -> object:
        value = super().__getattribute__(name)
        if isinstance(value, types.ModuleType) and not name.startswith("__"):
            exports = super().__getattribute__("__dict__").get("_EXPORTS", {})
            target = exports.get(name)
            if target is not None and value.__name__.endswith(target.lstrip(".")) and hasattr(value, name):
                return getattr(value, name)
        return value


def attach(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """Returns ``__getattr__``, ``__dir__`` and ``__all__`` for ``package``.

    Args:
        package: the subpackage's ``__name__``.
        exports: public name -> module path relative to ``package`` (".meshes") that defines it.
    """
    sys.modules[package].__class__ = _LazyPackage

    def __getattr__(name: str) -> object:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(exports[name], package)
        value = getattr(module, name)
        sys.modules[package].__dict__[name] = value  # cache: the next lookup skips __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(exports) | set(sys.modules[package].__dict__))

    return __getattr__, __dir__, sorted(exports)
