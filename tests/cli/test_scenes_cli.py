"""``inverse3d scenes list | make | info``: names, a tiny scene written end to end and described, one-line errors,
and --help documenting every option of every subcommand."""

from __future__ import annotations

import dataclasses
import json
import pytest

from inverse3d.cli.main import entrypoint, main
from inverse3d.cli.scenes import InfoArgs, ListArgs, MakeArgs

TINY = ["--image-size", "16", "--n-train", "2", "--n-val", "1", "--n-test", "1", "--no-progress"]


def test_list(capsys):
    assert main(["scenes", "list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["lego", "materials", "box", "forward"]
    assert all(len(line.split()) > 3 for line in lines), "each name with a description"
    assert main(["scenes", "list", "--names-only"]) == 0
    assert capsys.readouterr().out.split() == ["lego", "materials", "box", "forward"]


def test_make_then_info(tmp_path, capsys):
    out = tmp_path / "box"
    assert main(["scenes", "make", "box", "-o", str(out), *TINY]) == 0
    text = capsys.readouterr().out
    assert f"wrote {out}" in text and "2/1/1" in text and "16x16" in text
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["params"]["image_size"] == 16
    assert (out / "train/r_1.png").is_file() and (out / "mesh.ply").is_file() and (out / "points.ply").is_file()
    assert main(["scenes", "make", "box", "-o", str(out), *TINY]) == 0
    assert capsys.readouterr().out.startswith(f"up to date {out}: box")
    assert main(["scenes", "info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "blender" in info and "train" in info and "16" in info


@pytest.mark.parametrize("argv,message", [
    (["make", "legoo", "-o", "{tmp}/x"], "unknown scene 'legoo'; choose one of lego, materials, box, forward"),
    (["make", "lego", "-o", "{tmp}/x", "--image-size", "4"], "image_size must be an int >= 8; got 4"),
    (["make", "lego", "-o", "{tmp}/x", "--n-val", "0"], "n_val must be an int >= 1; got 0"),
    (["make", "lego", "-o", "{tmp}/file"], "is a file, not a folder"),
    (["make", "lego", "-o", "{tmp}/x", "--renderer", "mitsuba"], "unknown renderer 'mitsuba'"),
    (["make", "lego", "-o", "{tmp}/x", "--device", "tpu"], "--device 'tpu': unknown device"),
    (["info", "{tmp}/missing"], "missing"),
])
def test_errors_are_one_line(tmp_path, capsys, argv, message):
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit) as exc:
        entrypoint(["scenes", *[a.format(tmp=tmp_path) for a in argv]])
    lines = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("inverse3d: error: ") and message in lines[0]
    assert not (tmp_path / "x").exists()


def _help(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


def test_every_subcommand_option_is_documented(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    top = _help(["scenes"], capsys)
    assert all(sub in top for sub in ("list", "make", "info"))
    for sub, cls in (("list", ListArgs), ("make", MakeArgs), ("info", InfoArgs)):
        text = _help(["scenes", sub], capsys)
        assert " ".join(cls.__doc__.split()[:4]) in " ".join(text.split())
        assert "--command." not in text, "options without the subcommand's prefix"
        for field in dataclasses.fields(cls):
            positional = {"name": "NAME", "path": "DIR"}.get(field.name)
            flag = positional or "--" + field.name.replace("_", "-")
            assert flag in text, f"scenes {sub}: option {field.name} missing from --help"
            assert _has_docstring(cls, field.name), f"scenes {sub}: option {field.name} has no docstring"


def _has_docstring(cls, name):
    import inspect

    lines = inspect.getsource(cls).splitlines()
    i = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{name}:"))
    return next(line.strip() for line in lines[i + 1:] if line.strip()).startswith('"""')
