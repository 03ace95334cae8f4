"""``inverse3d --help`` lists every command and each command's --help documents every option; the console script
prints errors a user can fix in one line."""

import dataclasses
import importlib
import os
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


# ----------------------------------------------------------------------------------------------------------------
# The console script: one line for errors a user can fix, a traceback for bugs


def _entrypoint_error(monkeypatch, capsys, raised: BaseException):
    """Runs the console script with ``main`` raising ``raised``; returns (exit code, stderr lines)."""
    import inverse3d.cli.main as cli

    def fail(argv=None):
        raise raised

    monkeypatch.setattr(cli, "main", fail)
    with pytest.raises(SystemExit) as exc:
        cli.entrypoint(["info", "x.obj"])
    return exc.value.code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("error,expected", [
    (PermissionError(13, "Permission denied", "/data/out.gif"), "/data/out.gif: Permission denied"),
    (FileExistsError(17, "File exists", "out/checkpoint.pt"), "out/checkpoint.pt: File exists"),
    (NotADirectoryError(20, "Not a directory", "a.txt/b"), "a.txt/b: Not a directory"),
    (IsADirectoryError(21, "Is a directory", "meshes"), "meshes: Is a directory"),
    (OSError(30, "Read-only file system", "/mnt/ro/out.gif"), "/mnt/ro/out.gif: Read-only file system"),
    (OSError(28, "No space left on device", "out/frames"), "out/frames: No space left on device"),
    (OSError(28, "No space left on device"), "No space left on device"),
    (OSError(18, "Invalid cross-device link", "a.tmp", None, "b.gif"), "a.tmp -> b.gif: Invalid cross-device link"),
    (FileNotFoundError("cow.obj: no such file"), "cow.obj: no such file"),
    (ValueError("--size must be positive; got 0"), "--size must be positive; got 0"),
    (MemoryError("Unable to allocate 8.8 GiB for an array"), "out of memory: Unable to allocate 8.8 GiB"),
])
def test_file_system_and_user_errors_print_one_line(monkeypatch, capsys, error, expected):
    code, lines = _entrypoint_error(monkeypatch, capsys, error)
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"inverse3d: error: {expected}"), lines


def test_output_in_use_prints_one_line(monkeypatch, capsys):
    from inverse3d.io.outputs import OutputInUseError

    code, lines = _entrypoint_error(monkeypatch, capsys, OutputInUseError("out.gif: in use by PID 4242"))
    assert code == 2 and lines == ["inverse3d: error: out.gif: in use by PID 4242"]


def test_multi_line_messages_are_joined(monkeypatch, capsys):
    code, lines = _entrypoint_error(monkeypatch, capsys, ValueError("first\nsecond"))
    assert code == 2 and lines == ["inverse3d: error: first second"]


def test_bugs_keep_their_traceback(monkeypatch):
    import inverse3d.cli.main as cli

    monkeypatch.setattr(cli, "main", lambda argv=None: [][1])
    with pytest.raises(IndexError):
        cli.entrypoint(["info", "x.obj"])


def test_interrupt_exits_130(monkeypatch, capsys):
    code, lines = _entrypoint_error(monkeypatch, capsys, KeyboardInterrupt())
    assert code == 130 and lines == ["inverse3d: interrupted"]


def test_sigterm_handler_is_restored(monkeypatch, capsys):
    import signal

    before = signal.getsignal(signal.SIGTERM)
    _entrypoint_error(monkeypatch, capsys, ValueError("x"))
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True,
                    reason="root is not denied by folder permissions")
def test_permission_denied_from_a_real_command(tmp_path, monkeypatch, capsys):
    """A render into a read-only folder: the folder and the reason, in one line."""
    import numpy as np

    from inverse3d.cli.main import entrypoint

    monkeypatch.chdir(tmp_path)
    np.save("v.npy", np.ones((3, 3, 3), np.float32))
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(SystemExit) as exc:
            entrypoint(["render", "v.npy", "-o", "ro/out.gif", "--size", "16", "--frames", "2", "--no-progress"])
    finally:
        locked.chmod(0o700)
    lines = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(lines) == 1
    assert "ro/" in lines[0] and "Permission denied" in lines[0]


def test_commands_run_in_process_from_main(tmp_path, capsys):
    """main() runs a command and returns 0; errors propagate to the caller (the console script formats them)."""
    (tmp_path / "t.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    assert main(["info", str(tmp_path / "t.obj")]) == 0
    assert "faces: 1" in capsys.readouterr().out
    with pytest.raises(ValueError, match="is a folder"):
        main(["info", str(tmp_path)])
