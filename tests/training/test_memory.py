"""``keep_freed_memory``: after it, freeing and reallocating a large tensor reuses the same pages (few page faults),
where glibc's default returns them to the kernel. Run in subprocesses: the setting is process-wide."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import resource, sys, torch
sys.path.insert(0, {src!r})
from inverse3d.training.memory import keep_freed_memory
ok = keep_freed_memory() if sys.argv[1] == "1" else None
def churn():
    for _ in range(10):
        x = torch.ones(16 * 2**20)  # 64 MiB: above glibc's largest mmap threshold
        del x
churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
churn()
print(ok, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(keep: bool) -> tuple[str, int]:
    code = SCRIPT.format(src=str(REPO / "src"))
    out = subprocess.run([sys.executable, "-c", code, "1" if keep else "0"], capture_output=True, text=True,
                         check=True, timeout=120).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_memory_is_reused_without_page_faults():
    _, default = _faults(False)
    ok, kept = _faults(True)
    if ok != "True":
        pytest.skip("the C library is not glibc")
    pages = 10 * 64 * 2**20 // 4096
    assert default > pages // 2  # each 64 MiB tensor faults its pages in afresh
    assert kept < pages // 20  # ... but is reused once malloc keeps it


def test_run_clock_fraction():
    """The schedule's fraction: steps alone without a budget; with one, the larger share, capped at 1."""
    from inverse3d.training import RunClock

    clock = RunClock()
    assert clock.seconds() == 0.0 and clock.fraction(250, 1000) == 0.25
    resumed = RunClock(60.0)
    resumed.tick()
    assert 60.0 <= resumed.seconds() < 70.0
    assert abs(resumed.fraction(100, 1000, max_minutes=2.0) - 0.5) < 0.05
    assert resumed.fraction(900, 1000, max_minutes=2.0) == 0.9
    assert RunClock(600.0).fraction(1, 1000, max_minutes=2.0) == 1.0
