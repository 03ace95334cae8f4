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
    with tempfile.TemporaryDirectory() as profile:
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
