"""The README's commands as a user runs them: the ``inverse3d`` program in a subprocess, from a working directory that
is not the repository, with the README's relative output paths. Every page they write must link only files that exist
(and load in headless Chromium where it is installed).

Sizes are tiny so the whole file runs in well under a minute on two cores.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .viz.browser import chromium, media_status

TINY_DATA = ["--n-train", "2", "--n-val", "1", "--n-test", "1", "--image-size", "32", "--voxel-res", "8",
             "--data-points", "64", "--batch-size", "2"]


def inverse3d(cwd: Path, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """Runs ``inverse3d ARGS`` in ``cwd`` as the README does (the console script when installed, else ``-m``)."""
    script = Path(sys.executable).with_name("inverse3d")
    cmd = [str(script)] if script.is_file() else [sys.executable, "-m", "inverse3d.cli.main"]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    proc = subprocess.run([*cmd, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"inverse3d {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def linked_files(page: Path) -> list[Path]:
    """Every file an HTML page links with src= or href= (other than #anchors), resolved against the page's folder."""
    text = page.read_text(encoding="utf-8")
    refs = [r for r in re.findall(r'(?:src|href)="([^"#][^"]*)"', text) if "://" not in r]
    return [page.parent / r for r in refs]


def assert_page_complete(page: Path, min_media: int) -> None:
    assert page.is_file(), f"{page} was not written"
    files = linked_files(page)
    assert len(files) >= min_media, f"{page} links only {len(files)} files"
    missing = [str(f) for f in files if not f.is_file()]
    assert not missing, f"{page} links missing files: {missing}"
    if chromium() is not None:
        total, failed, _ = media_status(page)
        assert total >= min_media and failed == 0, (total, failed)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """An empty working directory outside the repository."""
    return tmp_path_factory.mktemp("user")


def test_tour_with_relative_output(workdir):
    proc = inverse3d(workdir, "tour", "-o", "out/tour", "--size", "40", "--frames", "3", "--fps", "5", "--quick")
    assert "out/tour/index.html" in proc.stdout
    page = workdir / "out" / "tour" / "index.html"
    assert_page_complete(page, min_media=20)
    text = page.read_text(encoding="utf-8")
    assert "(failed)" not in text
    assert str(workdir) not in text  # links are relative to the page: the folder can be moved


def test_fit_train_eval_with_relative_paths(workdir):
    inverse3d(workdir, "fit", "point", "--steps", "3", "--n-points", "64", "--n-frames", "2", "--image-size", "32",
              "--no-progress")
    assert (workdir / "out" / "fit").is_dir() and any((workdir / "out" / "fit").rglob("*.png"))
    inverse3d(workdir, "train", "--type", "point", "--iterations", "2", "--n-points", "64", "--no-progress",
              *TINY_DATA)
    assert (workdir / "out" / "train" / "checkpoint.pt").is_file()
    assert (workdir / "data" / "procedural").is_dir()
    # eval's own default --out-dir is relative too (out/eval)
    inverse3d(workdir, "eval", "--checkpoint", "out/train/checkpoint.pt", "--max-shapes", "1", "--gallery", "0",
              "--n-frames", "2", "--render-size", "32", "--n-eval-points", "64", "--no-progress")
    pages = list((workdir / "out" / "eval").glob("*.html"))
    assert pages, "eval wrote no page"
    for page in pages:
        assert_page_complete(page, min_media=2)


def test_render_and_info_with_relative_paths(workdir):
    from inverse3d.io import save_obj
    from inverse3d.utils import ico_sphere

    sphere = ico_sphere(1)
    save_obj(workdir / "mesh.obj", sphere.verts_packed(), sphere.faces_packed())
    proc = inverse3d(workdir, "info", "mesh.obj")
    assert "42" in proc.stdout  # vertices of a level-1 ico-sphere
    inverse3d(workdir, "render", "mesh.obj", "-o", "renders/mesh.gif", "--size", "32", "--frames", "2")
    assert (workdir / "renders" / "mesh.gif").stat().st_size > 0


def test_user_error_is_one_line(workdir):
    proc = inverse3d(workdir, "render", "missing.obj", "-o", "x.gif", check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing.obj" in lines[0], proc.stderr
    assert not (workdir / "x.gif").exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_makefile_demo_uses_relative_out_dir():
    """``make demo`` renders into out/tour relative to the repository; a dry run shows the command it runs."""
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.run(["make", "-n", "demo", "-o", ".venv/.installed"], cwd=repo, capture_output=True,
                          text=True, timeout=60)
    assert "tour -o out/tour" in proc.stdout, proc.stdout
