"""The package's floors: higher floors use lower ones, never the reverse.

    cli -> tour, viewer -> tasks -> training / models / datasets / metrics -> viz -> the library (vis among it)

Every module under ``src/inverse3d`` is parsed (``ast``) and each ``import`` of an ``inverse3d`` module, at the top or
inside a function, is checked against the floor of the importing module. On top of the floors: a task uses no other
task, and the training core is written for every task, so it imports no model or dataset either.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "inverse3d"
LIBRARY = ("structures", "transforms", "renderer", "ops", "loss", "io", "utils", "common", "vis")
FLOORS = {
    **{name: 0 for name in LIBRARY},
    "viz": 1,
    "metrics": 2, "datasets": 2, "models": 2, "training": 2,
    "tasks": 3,
    "tour": 4, "viewer": 4,
    "cli": 5,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every inverse3d import in the file."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # ``from inverse3d.tasks import single_view`` names a subpackage
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name == "inverse3d" or name.startswith("inverse3d.")]


def _place(name: str) -> tuple[str | None, str | None]:
    """(top-level subpackage, task) of a module name, e.g. ("tasks", "single_view")."""
    parts = name.split(".")
    top = parts[1] if len(parts) > 1 else None
    task = parts[2] if top == "tasks" and len(parts) > 2 else None
    return top, task


def _violations(path: Path) -> list[str]:
    me, my_task = _place(_module_name(path))
    if me not in FLOORS:
        return []
    out = []
    for line, name in _imports(path):
        top, task = _place(name)
        if top not in FLOORS:
            continue
        where = f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
        if FLOORS[top] > FLOORS[me]:
            out.append(f"{where} (floor {top} is above {me})")
        elif me == "tasks" and top == "tasks" and my_task and task and task != my_task:
            out.append(f"{where} (a task uses no other task)")
        elif me == "training" and top in ("models", "datasets", "metrics", "tasks"):
            out.append(f"{where} (the training core serves every task)")
    return out


def test_no_module_imports_upward():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 50
    problems = [v for f in files for v in _violations(f)]
    assert not problems, "\n".join(problems)


def test_every_subpackage_has_a_floor():
    subpackages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert [name for name in subpackages if name not in FLOORS] == []


@pytest.mark.parametrize("source, expected", [
    ("from inverse3d.tasks.single_view import train\n", "floor tasks is above viz"),
    ("from ..tour import registry\n", "floor tour is above viz"),
])
def test_the_checker_sees_upward_imports(tmp_path, monkeypatch, source, expected):
    fake = PACKAGE / "viz" / "_layout_probe.py"
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: source)
    assert any(expected in v for v in _violations(fake))


def test_another_task_and_models_in_training_are_refused(monkeypatch):
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: "from inverse3d.tasks.nerf import fit\n")
    assert any("no other task" in v for v in _violations(PACKAGE / "tasks" / "single_view" / "train.py"))
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: "import inverse3d.models.single_view\n")
    assert any("serves every task" in v for v in _violations(PACKAGE / "training" / "loop.py"))


def test_the_engine_package_is_gone():
    assert not (PACKAGE / "engine").exists()
    assert importlib.util.find_spec("inverse3d.engine") is None
