"""The tour end to end at tiny sizes: every section renders, the page links only files that exist, and a real
browser (headless Chromium, skipped where absent) loads every image and video on it."""

import re

import pytest

from inverse3d.cli.tour import Args, run

from .browser import chromium, media_status


@pytest.fixture(scope="module")
def tour_page(tmp_path_factory):
    out = tmp_path_factory.mktemp("tour")
    run(Args(output=out, size=40, frames=3, fps=5, quick=True))
    return out / "index.html"


def test_every_linked_file_exists(tour_page):
    html = tour_page.read_text()
    srcs = re.findall(r'(?:src)="([^"]+)"', html)
    assert len(srcs) >= 8
    for src in srcs:
        assert (tour_page.parent / src).is_file(), src
    assert "(failed)" not in html


@pytest.mark.skipif(chromium() is None, reason="chromium is not installed")
def test_browser_loads_every_figure(tour_page):
    total, failed, _ = media_status(tour_page)
    assert total >= 8
    assert failed == 0
