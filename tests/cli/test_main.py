"""``inverse3d --help`` lists every command and each command's --help documents every option."""

import dataclasses
import importlib
import subprocess
import sys

import pytest

from inverse3d.cli.main import COMMANDS, main


def _help(argv):
    proc = subprocess.run([sys.executable, "-m", "inverse3d.cli.main", *argv, "--help"],
                          capture_output=True, text=True, env={"COLUMNS": "200", "PATH": ""})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_top_level_help_lists_commands():
    text = _help([])
    for name in COMMANDS:
        assert name in text


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_option_is_documented(name):
    module = importlib.import_module(f"inverse3d.cli.{COMMANDS[name]}")
    assert module.Args.__doc__ and module.Args.__doc__.strip(), f"{name}: Args needs a docstring"
    text = _help([name])
    for field in dataclasses.fields(module.Args):
        flag = field.name.replace("_", "-")
        assert flag in text or field.name.upper() in text, f"{name}: option {field.name} missing from --help"
    # tyro shows a field's docstring beside it; a field with none shows only its type, so check each one has prose
    # (in the class of Args' MRO that declares it).
    for field in dataclasses.fields(module.Args):
        assert _field_docstring(module.Args, field.name), f"{name}: option {field.name} has no docstring"


def _field_docstring(cls, name):
    import inspect

    for klass in cls.__mro__:
        if name not in getattr(klass, "__annotations__", {}):
            continue
        lines = inspect.getsource(klass).splitlines()
        for i, line in enumerate(lines):
            if line.strip().startswith(f"{name}:"):
                following = next((ln.strip() for ln in lines[i + 1:] if ln.strip()), "")
                return following.startswith('"""')
    return False


def test_bad_command_exits_nonzero():
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code != 0
