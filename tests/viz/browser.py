"""Loads a local HTML page in headless Chromium and reads the page's own media self-check."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--virtual-time-budget=20000", "--allow-file-access-from-files",
]


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def media_status(page: Path, timeout: float = 120) -> tuple[int, int, str]:
    """(total media, failed media, DOM) after Chromium has loaded ``page``."""
    exe = chromium()
    assert exe, "no chromium"
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:  # helpers may linger
        proc = subprocess.run(
            [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri()],
            capture_output=True, text=True, timeout=timeout,
        )
    dom = proc.stdout
    total = re.search(r'data-media-total="(\d+)"', dom)
    failed = re.search(r'data-media-failed="(\d+)"', dom)
    if not total or not failed:
        raise AssertionError(f"page self-check did not run; chromium stderr:\n{proc.stderr[-2000:]}")
    return int(total.group(1)), int(failed.group(1)), dom


def check_page(page: Path) -> str:
    """Checks that every file ``page`` links exists and, where Chromium is installed, that every image and video on
    it loads; returns a one-line summary, raises SystemExit with the problem otherwise."""
    page = Path(page)
    if not page.is_file():
        raise SystemExit(f"{page}: the page was not written")
    refs = [r for r in re.findall(r'(?:src|href)="([^"#][^"]*)"', page.read_text(encoding="utf-8")) if "://" not in r]
    missing = [r for r in refs if not (page.parent / r).is_file()]
    if missing:
        raise SystemExit(f"{page}: links {len(missing)} missing file(s): {', '.join(missing[:10])}")
    if chromium() is None:
        return f"{page}: {len(refs)} linked files exist (chromium is absent: not loaded in a browser)"
    total, failed, _ = media_status(page)
    if failed or total == 0:
        raise SystemExit(f"{page}: {failed} of {total} figures failed to load in Chromium")
    return f"{page}: {len(refs)} linked files exist; Chromium loaded all {total} figures"


if __name__ == "__main__":
    import sys

    for arg in sys.argv[1:] or ["out/tour/index.html"]:
        print(check_page(Path(arg)))
