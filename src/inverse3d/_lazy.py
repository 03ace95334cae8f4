"""Lazy public names for subpackages (PEP 562).

Each subpackage maps its public names to the module that defines them. A name is imported the first
time it is used, so ``import inverse3d`` stays fast and an optional dependency is needed only by the
code that uses it.
"""

from __future__ import annotations

import dis
import importlib
import sys
import types
from typing import Callable


class _LazyPackage(types.ModuleType):
    """A package whose exported functions win over same-named submodules.

    ``ops/cubify.py`` defines ``cubify``: once anything imports the submodule, the import system binds the module
    object as ``inverse3d.ops.cubify``. Reading the attribute then hands out the function the package exports, also
    where the submodule is only PyTorch3D's path to a name defined elsewhere (``utils/torus.py`` for
    ``utils.primitives.torus``).
    """

    def __getattribute__(self, name: str) -> object:
        value = super().__getattribute__(name)
        if isinstance(value, types.ModuleType) and not name.startswith("__"):
            exports = super().__getattribute__("__dict__").get("_EXPORTS", {})
            target = exports.get(name)
            package = super().__getattribute__("__name__")
            if target is not None and value.__name__ == f"{package}.{name}":  # a submodule shadows the export
                source = importlib.import_module(target, package)
                if hasattr(source, name):
                    return getattr(source, name)
        return value


class NotProvidedError(ImportError):
    """Importing a PyTorch3D name that inverse3d deliberately does not provide; the message says why."""


class NotProvidedAttributeError(AttributeError):
    """Reading such a name as an attribute (so ``hasattr`` is False and ``getattr(m, name, None)`` is None)."""


def _looked_up_by_import() -> bool:
    """Whether the attribute lookup in progress comes from ``from package import name``.

    The import statement reads the name through ``importlib._bootstrap._handle_fromlist`` (packages) and the
    ``IMPORT_FROM`` instruction; ``hasattr`` / ``getattr`` calls do neither. CPython-specific; anything unexpected
    counts as "not an import".
    """
    frame = sys._getframe(1)
    while frame is not None and (
        frame.f_globals.get("__name__") == __name__ or frame.f_code.co_name in ("__getattr__", "__getattribute__")
    ):
        frame = frame.f_back
    if frame is None:
        return False
    if frame.f_code.co_name == "_handle_fromlist":
        return True
    try:
        return dis.opname[frame.f_code.co_code[frame.f_lasti]] == "IMPORT_FROM"
    except (IndexError, AttributeError):
        return False


def not_provided(qualified_name: str, reason: str, attribute: bool = False) -> Exception:
    """The error for a PyTorch3D name that inverse3d does not provide, e.g. ``inverse3d.renderer.opengl``.

    Args:
        qualified_name: the name under ``inverse3d``.
        reason: why, and what to use instead.
        attribute: the name is being read as an attribute (from a module ``__getattr__``): then an import statement
            gets ``NotProvidedError`` (an ImportError, which ``from ... import`` shows as is) and any other lookup
            ``NotProvidedAttributeError`` (so ``hasattr`` stays False); without it, always ``NotProvidedError``.
    """
    message = f"{qualified_name} is not provided by inverse3d: {reason}"
    if attribute and not _looked_up_by_import():
        return NotProvidedAttributeError(message)
    return NotProvidedError(message)


def attach(
    package: str, exports: dict[str, str], not_provided_names: dict[str, str] | None = None
) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """Returns ``__getattr__``, ``__dir__`` and ``__all__`` for ``package``.

    Args:
        package: the subpackage's ``__name__``.
        exports: public name -> module path relative to ``package`` (".meshes") that defines it.
        not_provided_names: PyTorch3D names deliberately absent here -> why (and what to use instead). Reading
            one raises an error whose message gives the reason: ``NotProvidedError`` (an ImportError) from
            ``from package import name``, ``NotProvidedAttributeError`` from other lookups.
    """
    sys.modules[package].__class__ = _LazyPackage
    absent = dict(not_provided_names or {})

    def __getattr__(name: str) -> object:
        if name in absent:
            raise not_provided(f"{package}.{name}", absent[name], attribute=True)
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(exports[name], package)
        value = getattr(module, name)
        sys.modules[package].__dict__[name] = value  # cache: the next lookup skips __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(exports) | set(sys.modules[package].__dict__))

    return __getattr__, __dir__, sorted(exports)
