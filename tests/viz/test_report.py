"""The HTML report: relative media paths, missing figures refused, and a real browser loads every figure."""

import numpy as np
import pytest
from PIL import Image

from inverse3d.viz.report import Section, html_table, write_page

from .browser import chromium, media_status


def _png(path, color):
    Image.fromarray(np.full((8, 8, 3), color, np.uint8)).save(path)
    return path


def test_page_uses_relative_paths_and_escapes(tmp_path):
    (tmp_path / "media").mkdir()
    sec = Section("A & B", "text")
    sec.add(_png(tmp_path / "media" / "a.png", 200), "caption <1>")
    page = write_page(tmp_path / "index.html", "Title", [sec])
    text = page.read_text()
    assert 'src="media/a.png"' in text and str(tmp_path) not in text
    assert "caption &lt;1&gt;" in text and "A &amp; B" in text


def test_missing_figure_is_refused(tmp_path):
    sec = Section("s")
    sec.add(tmp_path / "nope.gif", "missing")
    with pytest.raises(FileNotFoundError, match="nope.gif"):
        write_page(tmp_path / "index.html", "t", [sec])


def test_html_table_formats_floats():
    assert "<td>0.123</td>" in html_table(["a"], [[0.12345]])


@pytest.mark.skipif(chromium() is None, reason="chromium is not installed")
def test_browser_sees_broken_and_good_media(tmp_path):
    sec = Section("s")
    good = sec.add(_png(tmp_path / "good.png", 10), "good")
    bad = _png(tmp_path / "bad.png", 20)
    sec.add(bad, "bad")
    page = write_page(tmp_path / "index.html", "t", [sec])
    bad.write_bytes(b"not a png")  # corrupt after writing: the browser must notice
    total, failed, _ = media_status(page)
    assert (total, failed) == (2, 1)
    assert good.path.exists()


def test_relative_figure_paths_are_relative_to_the_working_directory(tmp_path, monkeypatch):
    """A figure added as out/tour/media/a.png from the working directory is linked as media/a.png by
    out/tour/index.html (it was once joined onto the page's folder a second time)."""
    monkeypatch.chdir(tmp_path)
    media = tmp_path / "out" / "tour" / "media"
    media.mkdir(parents=True)
    _png(media / "a.png", 100)
    sec = Section("s")
    sec.add("out/tour/media/a.png", "a")
    monkeypatch.chdir("/")  # a later change of directory does not move the figure
    page = write_page(tmp_path / "out" / "tour" / "index.html", "t", [sec])
    assert 'src="media/a.png"' in page.read_text()


def test_every_text_is_escaped(tmp_path):
    evil = "<script>alert(1)</script>"
    sec = Section(evil, text=evil, note=evil)
    sec.add(_png(tmp_path / "a.png", 50), evil, title=evil)
    text = write_page(tmp_path / "index.html", evil, [sec], intro=evil).read_text()
    body = text.split("</style>", 1)[1]
    assert "<script>alert" not in body
    assert body.count("&lt;script&gt;") >= 6
    assert '<p class="note">' in text
